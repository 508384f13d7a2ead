"""The Firehose twin on the platform's own delivery stream and transform Lambda (no Spark needed)."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from local_twin.models import InvalidRequest
from local_twin.producer import Produced
from local_twin.twin import LocalTwin
from tests.conftest import SynthesizedPlatform

START = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def record(event_type: str, seconds: float, **fields: object) -> Produced:
    event = {
        "event_id": f"id-{event_type}-{seconds}",
        "event_type": event_type,
        "event_time": "2026-12-06T09:59:59+01:00",
        **fields,
    }
    return Produced(
        json.dumps(event).encode(),
        START + timedelta(seconds=seconds),
        "valid",
        1,
        event=event,
        partition_key=event_type,
    )


def lines(twin: LocalTwin, key: str) -> list[str]:
    stream = twin.delivery_stream
    return gzip.decompress(twin.s3.path(stream.bucket, key).read_bytes()).decode().splitlines()


def test_delivery_renders_the_prefix_names_objects_and_writes_failures_as_firehose_does(
    dev: SynthesizedPlatform, twin_on: Callable[..., LocalTwin]
) -> None:
    twin = twin_on(dev.outdir)
    bad = Produced(b'{"event_id": "x"', START, "firehose_reject", 1, reason="invalid_json")
    keys = twin.ingest([record("order", 0), record("page_view", 1), bad])

    stream = twin.delivery_stream
    name = re.escape(stream.name)
    data = sorted(k for k in keys if k.startswith("events/"))
    assert [re.sub(rf"{name}-1-2026-12-06-10-00-0\d-[0-9a-f-]{{36}}\.gz$", "<object>", k) for k in data] == [
        "events/event_type=order/dt=2026-12-06/<object>",
        "events/event_type=page_view/dt=2026-12-06/<object>",
    ]
    # The transform Lambda's output, as written: one normalized JSON line per event.
    assert json.loads(lines(twin, data[0])[0])["event_time"] == "2026-12-06T08:59:59.000Z"
    (errors,) = [k for k in keys if k.startswith("errors/")]
    assert errors.startswith("errors/processing-failed/dt=2026-12-06/")
    (failure,) = [json.loads(line) for line in lines(twin, errors)]
    assert failure["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert base64.b64decode(failure["rawData"]) == bad.data
    assert set(failure) == {
        "attemptsMade",
        "arrivalTimestamp",
        "errorCode",
        "errorMessage",
        "attemptEndingTimestamp",
        "rawData",
        "lambdaArn",
    }
    assert failure["lambdaArn"] == stream.processor["LambdaArn"]  # type: ignore[index]


def test_each_partition_is_buffered_on_its_own_and_flushed_by_interval(
    dev: SynthesizedPlatform, twin_on: Callable[..., LocalTwin]
) -> None:
    twin = twin_on(dev.outdir)
    # Ten minutes of one type, one record a minute, and a second type once: a 300 s buffer each.
    keys = twin.ingest([record("order", 60 * i) for i in range(10)] + [record("search", 30)])

    orders = sorted(k for k in keys if "event_type=order" in k)
    assert len(orders) == 2  # minutes 0-4, then 5-9 (flushed by the interval)
    assert [len(lines(twin, k)) for k in orders] == [5, 5]
    assert len([k for k in keys if "event_type=search" in k]) == 1
    stats = twin.delivery_stream.stats
    assert (stats.records_in, stats.ok, stats.failed) == (11, 11, 0)
    assert stats.invocations >= 10  # the Lambda buffer flushes every 60 s of arrivals


def test_put_record_batch_enforces_firehose_limits(
    dev: SynthesizedPlatform, twin_on: Callable[..., LocalTwin]
) -> None:
    stream = twin_on(dev.outdir).delivery_stream
    with pytest.raises(InvalidRequest, match="Member must have length less than or equal to 1024000"):
        stream.put_record_batch([b"{}", b"x" * 1_024_001], START)
    with pytest.raises(InvalidRequest, match="takes 1 to 500 records"):
        stream.put_record_batch([b"{}"] * 501, START)


def test_with_a_kinesis_source_records_enter_through_the_stream_read_by_the_source_role(
    prod: SynthesizedPlatform, twin_on: Callable[..., LocalTwin]
) -> None:
    twin = twin_on(prod.outdir)
    stream = twin.delivery_stream
    assert stream.source_stream is not None
    with pytest.raises(InvalidRequest, match="takes no PutRecordBatch"):
        stream.put_record_batch([b"{}"], START)

    keys = twin.ingest([record("order", 0), record("order", 1)])

    assert len(keys) == 1 and len(lines(twin, keys[0])) == 2
    reads = {d.action for d in twin.iam.decisions if d.principal == stream.source_role}
    assert {"kinesis:GetRecords", "kinesis:GetShardIterator", "kms:Decrypt"} <= reads
