"""The Firehose transform Lambda: exact output per record, failure handling, size limit, logs, metrics."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firehose_transform import handler as transform

INVOCATION_ID = "invocationIdExample"
DELIVERY_STREAM_ARN = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/datalake-dev-raw"
SOURCE_STREAM_ARN = "arn:aws:kinesis:eu-west-1:123456789012:stream/datalake-dev-events"
ARRIVAL_MS = 1_795_426_260_000
RESULTS = {"Ok", "Dropped", "ProcessingFailed"}
CANONICAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
LAMBDA_RESPONSE_LIMIT = 6_291_456


# --- event builders: the shapes Firehose sends (AWS docs' sample events) ---


def encode(payload: bytes | str | dict[str, Any]) -> str:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return base64.b64encode(payload).decode()


def direct_put_record(record_id: str, data: str) -> dict[str, Any]:
    return {"recordId": record_id, "approximateArrivalTimestamp": ARRIVAL_MS, "data": data}


def kinesis_record(record_id: str, data: str, sequence: int = 0) -> dict[str, Any]:
    return {
        **direct_put_record(record_id, data),
        "kinesisRecordMetadata": {
            "shardId": "shardId-000000000000",
            "partitionKey": "4d1ad2b9-24f8-4b9d-a088-76e9947c317a",
            "approximateArrivalTimestamp": "2026-11-23T09:31:00.000Z",
            "sequenceNumber": f"49546986683135544286507457936321625675700192471156785{sequence:03d}",
            "subsequenceNumber": "",
        },
    }


def direct_put_event(*datas: str) -> dict[str, Any]:
    return {
        "invocationId": INVOCATION_ID,
        "deliveryStreamArn": DELIVERY_STREAM_ARN,
        "region": "eu-west-1",
        "records": [direct_put_record(f"record-{index}", data) for index, data in enumerate(datas)],
    }


def kinesis_event(*datas: str) -> dict[str, Any]:
    return {
        "invocationId": INVOCATION_ID,
        "deliveryStreamArn": DELIVERY_STREAM_ARN,
        "sourceKinesisStreamArn": SOURCE_STREAM_ARN,
        "region": "eu-west-1",
        "records": [kinesis_record(f"record-{index}", data, index) for index, data in enumerate(datas)],
    }


def an_event(**fields: Any) -> dict[str, Any]:
    """A valid event object; keyword arguments override or (with None) remove fields."""
    event: dict[str, Any] = {
        "event_id": "0b7c9d1e-5f3a-4c2b-9e8d-1a2b3c4d5e6f",
        "event_type": "order_placed",
        "event_time": "2026-11-23T09:30:00.000Z",
        "payload": {"order_id": 4711, "items": [{"sku": "A-1", "qty": 2}], "note": "Grüße ✓"},
    }
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def line(obj: dict[str, Any]) -> bytes:
    """The exact output line the transform emits for a (normalized) object."""
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def run(event: dict[str, Any]) -> list[dict[str, Any]]:
    response = transform.handler(event, None)
    assert list(response) == ["records"]
    return response["records"]


def decoded(entry: dict[str, Any]) -> bytes:
    return base64.b64decode(entry["data"], validate=True)


def ok_keys(event_type: str) -> dict[str, Any]:
    return {"partitionKeys": {"event_type": event_type}}


def log_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(text) for text in captured.splitlines()]


def emf_line(captured: str) -> dict[str, Any]:
    (document,) = [entry for entry in log_lines(captured) if "_aws" in entry]
    return document


def failure_logs(captured: str) -> list[dict[str, Any]]:
    return [entry for entry in log_lines(captured) if entry.get("message") == "record failed"]


# --- Ok records ---


def test_single_object_is_one_compact_line_with_partition_keys() -> None:
    event = an_event()
    (entry,) = run(direct_put_event(encode(event)))

    assert entry["recordId"] == "record-0"
    assert entry["result"] == "Ok"
    assert decoded(entry) == (
        b'{"event_id":"0b7c9d1e-5f3a-4c2b-9e8d-1a2b3c4d5e6f","event_type":"order_placed",'
        b'"event_time":"2026-11-23T09:30:00.000Z","payload":{"order_id":4711,"items":[{"sku":"A-1",'
        b'"qty":2}],"note":"Gr\xc3\xbc\xc3\x9fe \xe2\x9c\x93"}}\n'
    )
    assert entry["metadata"] == ok_keys("order_placed")


def test_kinesis_source_records_are_transformed_alike() -> None:
    entries = run(kinesis_event(encode(an_event()), encode(an_event(event_type="page_view"))))

    assert [entry["recordId"] for entry in entries] == ["record-0", "record-1"]
    assert [entry["result"] for entry in entries] == ["Ok", "Ok"]
    assert decoded(entries[1]) == line(an_event(event_type="page_view"))
    assert entries[1]["metadata"] == ok_keys("page_view")


def test_fields_pass_through_unchanged_in_their_order() -> None:
    event = {
        "z_first": [1, 2.5, None, True, {"nested": "ü"}],
        "event_time": "2026-11-23T11:30:00+02:00",
        "event_type": "search",
        "event_id": "e-1",
        "big": 12345678901234567890,
    }
    (entry,) = run(direct_put_event(encode(json.dumps(event, indent=2))))  # pretty-printed: one object

    assert entry["result"] == "Ok"
    assert decoded(entry) == line({**event, "event_time": "2026-11-23T09:30:00.000Z"})


def test_newline_delimited_objects_give_one_line_each() -> None:
    objects = [
        an_event(event_id="a", event_time="2026-11-23T00:00:01Z"),
        an_event(event_id="b", event_time="2026-11-23T12:00:00+01:00"),
        an_event(event_id="c", event_time=1_795_426_200),
    ]
    data = "\n".join(json.dumps(obj) for obj in objects[:2]) + "\n\n  \r\n" + json.dumps(objects[2]) + "\n"
    (entry,) = run(direct_put_event(encode(data)))

    assert entry["result"] == "Ok"
    assert decoded(entry) == (
        line({**objects[0], "event_time": "2026-11-23T00:00:01.000Z"})
        + line({**objects[1], "event_time": "2026-11-23T11:00:00.000Z"})
        + line({**objects[2], "event_time": "2026-11-23T09:30:00.000Z"})
    )
    assert entry["metadata"] == ok_keys("order_placed")


def test_a_record_may_span_event_dates_because_raw_is_partitioned_by_arrival() -> None:
    objects = [an_event(event_id="a"), an_event(event_id="b", event_time="2026-11-23T23:30:00-01:00")]

    (entry,) = run(direct_put_event(encode("\n".join(json.dumps(obj) for obj in objects))))

    assert entry["result"] == "Ok"
    second = json.loads(decoded(entry).splitlines()[1])
    assert second["event_time"] == "2026-11-24T00:30:00.000Z"  # the next UTC day, same record
    assert entry["metadata"] == ok_keys("order_placed")


@pytest.mark.parametrize(
    ("event_time", "normalized"),
    [
        pytest.param("2026-11-23T11:30:00+02:00", "2026-11-23T09:30:00.000Z", id="iso-offset"),
        pytest.param("2026-11-23T01:30:00.250+05:30", "2026-11-22T20:00:00.250Z", id="iso-offset-day-before"),
        pytest.param("2026-11-23T09:30:00-0500", "2026-11-23T14:30:00.000Z", id="iso-offset-no-colon"),
        pytest.param("2026-11-23T09:30:00-05", "2026-11-23T14:30:00.000Z", id="iso-offset-hours"),
        pytest.param("2026-11-23T09:30:00", "2026-11-23T09:30:00.000Z", id="iso-naive-is-utc"),
        pytest.param("2026-11-23 09:30:00.5", "2026-11-23T09:30:00.500Z", id="iso-space-separator"),
        pytest.param("2026-11-23T09:30Z", "2026-11-23T09:30:00.000Z", id="iso-no-seconds"),
        pytest.param("2026-11-23T09:30:00.123Z", "2026-11-23T09:30:00.123Z", id="iso-canonical"),
        pytest.param("2026-11-23T09:30:00.123999999Z", "2026-11-23T09:30:00.123Z", id="iso-nanos-truncated"),
        pytest.param("2026-11-23T09:30:00+00:00", "2026-11-23T09:30:00.000Z", id="iso-zero-offset"),
        pytest.param(1_795_426_200, "2026-11-23T09:30:00.000Z", id="epoch-seconds"),
        pytest.param(1_795_426_200.25, "2026-11-23T09:30:00.250Z", id="epoch-seconds-float"),
        pytest.param(1_795_426_200_123, "2026-11-23T09:30:00.123Z", id="epoch-millis"),
        pytest.param(1_795_426_200_123.0, "2026-11-23T09:30:00.123Z", id="epoch-millis-float"),
        pytest.param(100_000_000_000, "5138-11-16T09:46:40.000Z", id="epoch-1e11-is-seconds"),
        pytest.param(100_000_000_001, "1973-03-03T09:46:40.001Z", id="epoch-above-1e11-is-millis"),
        pytest.param(-1, "1969-12-31T23:59:59.000Z", id="epoch-negative-seconds"),
    ],
)
def test_event_time_is_normalized_to_utc_milliseconds(event_time: object, normalized: str) -> None:
    (entry,) = run(direct_put_event(encode(an_event(event_time=event_time))))

    assert entry["result"] == "Ok"
    assert decoded(entry) == line(an_event(event_time=normalized))
    assert entry["metadata"] == ok_keys("order_placed")


def test_an_unpaired_surrogate_escape_stays_escaped_and_valid_utf8() -> None:
    data = '{"event_id":"\\ud800x","event_type":"a","event_time":0}'
    (entry,) = run(direct_put_event(encode(data)))

    assert entry["result"] == "Ok"
    assert (
        decoded(entry)
        == b'{"event_id":"\\ud800x","event_type":"a","event_time":"1970-01-01T00:00:00.000Z"}\n'
    )


def test_an_empty_batch_returns_no_records(capsys: pytest.CaptureFixture[str]) -> None:
    assert transform.handler(direct_put_event(), None) == {"records": []}
    metrics = emf_line(capsys.readouterr().out)
    assert (metrics["RecordsIn"], metrics["RecordsOk"], metrics["RecordsFailed"]) == (0, 0, 0)


# --- failed records: original data back, one reason each ---


def ndjson(*objects: dict[str, Any] | str) -> str:
    return encode("\n".join(obj if isinstance(obj, str) else json.dumps(obj) for obj in objects))


VALID = json.dumps(an_event())
BAD_RECORDS = [
    pytest.param("SGVsbG8gV29ybGQ", "invalid_base64", "Incorrect padding", id="base64-padding"),
    pytest.param("not base64!", "invalid_base64", None, id="base64-characters"),
    pytest.param("SGVsbG8=\n", "invalid_base64", None, id="base64-trailing-newline"),
    pytest.param("Grüße", "invalid_base64", None, id="base64-non-ascii"),
    pytest.param(encode(b'{"event_id": "\xff"}'), "invalid_utf8", "invalid start byte at byte 14", id="utf8"),
    pytest.param(encode(b"\xef\xbb\xbf" + VALID.encode()), "invalid_json", None, id="utf8-bom"),
    pytest.param(encode('{"event_id": "a",'), "invalid_json", None, id="truncated"),
    pytest.param(encode("{'event_id': 'a'}"), "invalid_json", None, id="single-quotes"),
    pytest.param(encode(VALID[:-1] + ',"x":NaN}'), "invalid_json", None, id="nan"),
    pytest.param(encode(VALID[:-1] + ',"x":-Infinity}'), "invalid_json", None, id="infinity"),
    pytest.param(encode(VALID[:-1] + ',"x":1e400}'), "invalid_json", None, id="beyond-float-range"),
    pytest.param(encode("[" * 100_000 + "]" * 100_000), "invalid_json", None, id="too-deep"),
    pytest.param(encode("1" * 5000), "invalid_json", None, id="int-too-long"),
    pytest.param(encode(VALID + " {}"), "invalid_json", "Extra data", id="two-on-one-line"),
    pytest.param(ndjson(VALID, "{oops"), "invalid_json", "line 2: Expecting property name", id="ndjson"),
    pytest.param(encode("[1, 2]"), "not_an_object", "a JSON array", id="array"),
    pytest.param(encode('"order_placed"'), "not_an_object", "a JSON string", id="string"),
    pytest.param(encode("42"), "not_an_object", "a JSON number", id="number"),
    pytest.param(encode("null"), "not_an_object", "a JSON null", id="null"),
    pytest.param(encode("true"), "not_an_object", "a JSON boolean", id="boolean"),
    pytest.param(ndjson(VALID, "[]"), "not_an_object", "line 2: a JSON array", id="ndjson-array"),
    pytest.param(encode(an_event(event_id=None)), "missing_field", "event_id", id="no-event_id"),
    pytest.param(encode(an_event(event_type=None)), "missing_field", "event_type", id="no-event_type"),
    pytest.param(encode(an_event(event_time=None)), "missing_field", "event_time", id="no-event_time"),
    pytest.param(
        ndjson(VALID, an_event(event_id=None)), "missing_field", "line 2: event_id", id="ndjson-missing"
    ),
    pytest.param(
        ndjson(VALID, an_event(event_id="")), "invalid_field", "line 2: event_id: ", id="ndjson-invalid"
    ),
    pytest.param("", "empty_record", None, id="empty"),
    pytest.param(encode(" \n\t\r\n "), "empty_record", None, id="whitespace"),
    pytest.param(
        ndjson(VALID, an_event(event_type="page_view")),
        "mixed_partition_keys",
        "line 2: event_type differs from line 1",
        id="mixed-event_type",
    ),
]

INVALID_FIELDS = [
    pytest.param("event_id", "", id="event_id-empty"),
    pytest.param("event_id", "x" * 257, id="event_id-too-long"),
    pytest.param("event_id", 42, id="event_id-number"),
    pytest.param("event_id", ["a"], id="event_id-array"),
    pytest.param("event_type", "../etc", id="event_type-path"),
    pytest.param("event_type", "orders/placed", id="event_type-slash"),
    pytest.param("event_type", "Order_Placed", id="event_type-upper-case"),
    pytest.param("event_type", "order placed", id="event_type-space"),
    pytest.param("event_type", "order_placed\n", id="event_type-trailing-newline"),
    pytest.param("event_type", "_order", id="event_type-leading-underscore"),
    pytest.param("event_type", "a" * 65, id="event_type-too-long"),
    pytest.param("event_type", "", id="event_type-empty"),
    pytest.param("event_type", 7, id="event_type-number"),
    pytest.param("event_time", True, id="event_time-true"),
    pytest.param("event_time", False, id="event_time-false"),
    pytest.param("event_time", "yesterday", id="event_time-text"),
    pytest.param("event_time", "2026-11-23", id="event_time-date-only"),
    pytest.param("event_time", "2026-13-01T00:00:00Z", id="event_time-month-13"),
    pytest.param("event_time", "2026-11-23T09:30:00+25:00", id="event_time-offset-out-of-range"),
    pytest.param("event_time", "2026-11-23X09:30:00", id="event_time-separator"),
    pytest.param("event_time", "0001-01-01T00:30:00+01:00", id="event_time-before-year-1-in-utc"),
    pytest.param("event_time", 10**20, id="event_time-epoch-too-large"),
    pytest.param("event_time", -(10**11), id="event_time-epoch-too-small"),
    pytest.param("event_time", {"seconds": 1}, id="event_time-object"),
]


def assert_fails_alone(data: str, reason: str, detail: str | None, captured: str, entries: list[Any]) -> None:
    """The middle record of three failed with its original data and one log line; the others are Ok."""
    assert [entry["recordId"] for entry in entries] == ["record-0", "record-1", "record-2"]
    assert [entry["result"] for entry in entries] == ["Ok", "ProcessingFailed", "Ok"]
    assert entries[1] == {"recordId": "record-1", "result": "ProcessingFailed", "data": data}
    (log,) = failure_logs(captured)
    assert log["level"] == "WARNING"
    assert (log["reason"], log["recordId"], log["invocationId"]) == (reason, "record-1", INVOCATION_ID)
    if detail is not None:
        assert log["detail"].startswith(detail)


@pytest.mark.parametrize(("data", "reason", "detail"), BAD_RECORDS)
def test_bad_records_fail_alone_with_their_original_data(
    data: str, reason: str, detail: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = run(kinesis_event(encode(an_event()), data, encode(an_event())))
    assert_fails_alone(data, reason, detail, capsys.readouterr().out, entries)


@pytest.mark.parametrize(("field", "value"), INVALID_FIELDS)
def test_invalid_fields_fail_and_say_which(
    field: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    data = encode(an_event(**{field: value}))
    entries = run(direct_put_event(encode(an_event()), data, encode(an_event())))
    assert_fails_alone(data, "invalid_field", f"{field}: ", capsys.readouterr().out, entries)


def test_a_null_field_is_invalid_not_missing(capsys: pytest.CaptureFixture[str]) -> None:
    data = encode('{"event_id":null,"event_type":"a","event_time":0}')
    entries = run(direct_put_event(encode(an_event()), data, encode(an_event())))
    assert_fails_alone(data, "invalid_field", "event_id: ", capsys.readouterr().out, entries)


def test_data_that_is_not_a_string_fails_with_empty_data() -> None:
    event = direct_put_event(encode(an_event()))
    event["records"][0]["data"] = None

    assert run(event) == [{"recordId": "record-0", "result": "ProcessingFailed", "data": ""}]


def test_oversize_records_fail(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    at_limit = json.dumps(an_event(payload="x" * 100))
    monkeypatch.setenv("MAX_RECORD_BYTES", str(len(at_limit)))
    over = json.dumps(an_event(payload="x" * 101))
    entries = run(direct_put_event(encode(at_limit), encode(over)))

    assert [entry["result"] for entry in entries] == ["Ok", "ProcessingFailed"]
    assert entries[1]["data"] == encode(over)
    (log,) = failure_logs(capsys.readouterr().out)
    assert log["reason"] == "oversize_record"
    assert log["detail"] == f"{len(over)} bytes > MAX_RECORD_BYTES {len(at_limit)}"


def test_default_max_record_size_is_firehose_record_limit() -> None:
    assert transform.DEFAULT_MAX_RECORD_BYTES == 1_024_000  # 1,000 KiB, Firehose's quota


def test_an_unexpected_error_fails_only_its_record(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_normalize = transform._normalize

    def normalize(obj: dict[str, Any]) -> tuple[str, str]:
        if obj["event_id"] == "boom":
            raise KeyError("SECRET-PAYLOAD-VALUE")
        return real_normalize(obj)

    monkeypatch.setattr(transform, "_normalize", normalize)
    boom = encode(an_event(event_id="boom"))
    entries = run(direct_put_event(encode(an_event()), boom, encode(an_event())))

    assert [entry["result"] for entry in entries] == ["Ok", "ProcessingFailed", "Ok"]
    assert entries[1]["data"] == boom
    out = capsys.readouterr().out
    (log,) = failure_logs(out)
    assert log["reason"] == "internal_error"
    assert log["detail"].startswith("KeyError in normalize line ")
    assert "SECRET" not in out
    assert emf_line(out)["Failed_internal_error"] == 1


# --- the response size limit ---


def sized_batch() -> tuple[dict[str, Any], list[str]]:
    datas = [encode(an_event(event_id=f"e-{index}", event_time=1_795_426_200 + index)) for index in range(6)]
    return kinesis_event(*datas), datas


def failed_entry(record_id: str, data: str) -> dict[str, Any]:
    return {"recordId": record_id, "result": "ProcessingFailed", "data": data}


def test_records_beyond_the_response_budget_fail_with_their_original_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    event, datas = sized_batch()
    unlimited = run(event)
    assert all(entry["result"] == "Ok" for entry in unlimited)
    capsys.readouterr()
    # Room for exactly two Ok records, with the other four failing with their original data (+2 because
    # the budget counts a separator after every entry, one more than JSON has).
    expected = unlimited[:2] + [failed_entry(f"record-{index}", datas[index]) for index in range(2, 6)]
    budget = len(json.dumps({"records": expected})) + 2
    monkeypatch.setenv("RESPONSE_BUDGET_BYTES", str(budget))

    response = transform.handler(event, None)

    assert response == {"records": expected}
    assert len(json.dumps(response)) <= budget
    out = capsys.readouterr().out
    logs = failure_logs(out)
    assert [(log["reason"], log["recordId"]) for log in logs] == [
        ("response_size_limit", f"record-{index}") for index in range(2, 6)
    ]
    metrics = emf_line(out)
    assert (metrics["RecordsIn"], metrics["RecordsOk"], metrics["RecordsFailed"]) == (6, 2, 4)
    assert metrics["Failed_response_size_limit"] == 4


def test_failed_records_after_the_cut_keep_their_own_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    event, datas = sized_batch()
    event["records"][4]["data"] = datas[4] = "not base64!"
    unlimited = run(event)
    expected = unlimited[:2] + [failed_entry(f"record-{index}", datas[index]) for index in range(2, 6)]
    monkeypatch.setenv("RESPONSE_BUDGET_BYTES", str(len(json.dumps({"records": expected})) + 2))

    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert run(event) == expected
    # Validation failures are logged as they happen, budget failures once the whole size is known.
    logs = [(log["reason"], log["recordId"]) for log in failure_logs(out.getvalue())]
    assert logs == [
        ("invalid_base64", "record-4"),
        ("response_size_limit", "record-2"),
        ("response_size_limit", "record-3"),
        ("response_size_limit", "record-5"),
    ]


@pytest.mark.parametrize(
    ("budget", "limit", "ok_records"),
    [
        pytest.param(None, transform.DEFAULT_RESPONSE_BUDGET_BYTES, 2, id="default-budget"),
        pytest.param("1000000000", LAMBDA_RESPONSE_LIMIT, 3, id="capped-at-lambda-limit"),
    ],
)
def test_a_response_never_exceeds_the_budget_or_lambda_limit(
    budget: str | None, limit: int, ok_records: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Normalizing epoch seconds grows these short lines by 28%: 4 records of ~950 kB are 5.1 MB as
    # base64 (so all of them fit as failures), 6.5 MB once transformed.
    if budget is None:
        monkeypatch.delenv("RESPONSE_BUDGET_BYTES", raising=False)
    else:
        monkeypatch.setenv("RESPONSE_BUDGET_BYTES", budget)
    compact = '{"event_id":"a","event_type":"a","event_time":1795426200}\n'
    datas = [encode(compact * (950_000 // len(compact))) for _ in range(4)]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        response = transform.handler(direct_put_event(*datas), None)

    assert len(json.dumps(response)) <= limit
    results = [entry["result"] for entry in response["records"]]
    assert results == ["Ok"] * ok_records + ["ProcessingFailed"] * (4 - ok_records)
    assert [entry["data"] for entry in response["records"][ok_records:]] == datas[ok_records:]
    assert emf_line(out.getvalue())["Failed_response_size_limit"] == 4 - ok_records


def test_a_misconfigured_limit_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESPONSE_BUDGET_BYTES", "6MB")
    with pytest.raises(ValueError, match="RESPONSE_BUDGET_BYTES must be a positive integer"):
        transform.handler(direct_put_event(encode(an_event())), None)


# --- logs and metrics ---


def test_one_emf_line_with_counts_per_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METRICS_NAMESPACE", "datalake/dev/Ingestion")
    monkeypatch.setenv("SERVICE_NAME", "firehose-transform-dev")
    before = int(time.time() * 1000)
    run(kinesis_event(encode(an_event()), "@@", encode("[]"), encode("{]"), encode(an_event())))
    after = int(time.time() * 1000)

    document = emf_line(capsys.readouterr().out)
    aws = document["_aws"]
    assert before <= aws["Timestamp"] <= after
    (directive,) = aws["CloudWatchMetrics"]
    assert directive["Namespace"] == "datalake/dev/Ingestion"
    assert directive["Dimensions"] == [["Service"]]
    names = ["RecordsIn", "RecordsOk", "RecordsFailed", "Failed_invalid_base64", "Failed_invalid_json"]
    names.append("Failed_not_an_object")
    assert directive["Metrics"] == [{"Name": name, "Unit": "Count"} for name in names]
    assert document["Service"] == "firehose-transform-dev"
    assert [document[name] for name in names] == [5, 2, 3, 1, 1, 1]


def test_metrics_default_namespace_and_service(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("METRICS_NAMESPACE", raising=False)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    run(direct_put_event(encode(an_event())))

    document = emf_line(capsys.readouterr().out)
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "DataPlatform/FirehoseTransform"
    assert document["Service"] == "firehose-transform"
    assert (document["RecordsIn"], document["RecordsOk"], document["RecordsFailed"]) == (1, 1, 0)
    assert not [key for key in document if key.startswith("Failed_")]


def test_logs_carry_reason_and_record_id_but_never_record_content(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "SECRET-4711-card-4111111111111111"
    bad = [
        encode(an_event(event_type=secret)),  # invalid_field, the value is content
        encode(an_event(event_time=secret)),
        encode(f'{{"event_id": "{secret}", oops}}'),  # invalid_json
        encode(f'["{secret}"]'),  # not_an_object
    ]
    run(direct_put_event(*bad))

    out = capsys.readouterr().out
    assert secret not in out
    logs = failure_logs(out)
    assert [(log["recordId"], log["reason"]) for log in logs] == [
        ("record-0", "invalid_field"),
        ("record-1", "invalid_field"),
        ("record-2", "invalid_json"),
        ("record-3", "not_an_object"),
    ]
    assert all(
        set(log) == {"level", "message", "reason", "detail", "recordId", "invocationId"} for log in logs
    )
    (summary,) = [entry for entry in log_lines(out) if entry.get("message") == "batch processed"]
    assert summary["level"] == "INFO"
    assert (summary["recordsIn"], summary["recordsOk"], summary["recordsFailed"]) == (4, 0, 4)
    assert summary["failures"] == {"invalid_field": 2, "invalid_json": 1, "not_an_object": 1}


# --- property: whatever comes in, the contract holds ---

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
iso_times = st.builds(
    lambda moment, separator: moment.isoformat(separator),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.none() | offsets
    ),
    st.sampled_from("T T"),
)
event_times = iso_times | st.integers() | st.floats() | st.booleans() | st.text(max_size=30) | json_values
valid_looking_objects = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.text(min_size=1, max_size=300) | st.integers(),
        "event_type": st.from_regex(transform.EVENT_TYPE_PATTERN, fullmatch=True) | st.text(max_size=70),
        "event_time": event_times,
        "payload": json_values,
    },
)
good_objects = st.fixed_dictionaries(
    {
        "event_id": st.text(min_size=1, max_size=20),
        "event_type": st.sampled_from(["order_placed", "page_view"]),
        "event_time": iso_times | st.integers(min_value=0, max_value=253_402_300_799),
    },
    optional={"payload": json_values},
)
payloads = st.one_of(
    st.binary(max_size=200).map(encode),
    json_values.map(lambda value: encode(json.dumps(value))),
    (valid_looking_objects | good_objects).map(lambda obj: encode(json.dumps(obj))),
    st.lists(valid_looking_objects | good_objects, min_size=1, max_size=3).map(
        lambda objs: encode("\n".join(json.dumps(obj) for obj in objs))
    ),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n!é", max_size=40),
)


@contextlib.contextmanager
def response_budget(budget: int | None) -> Iterator[None]:
    values = {} if budget is None else {"RESPONSE_BUDGET_BYTES": str(budget)}
    with mock.patch.dict(os.environ, values):
        yield


def original_objects(data: str) -> list[Any]:
    text = base64.b64decode(data).decode()
    try:
        return [json.loads(text)]
    except ValueError:
        return [json.loads(part) for part in text.split("\n") if part.strip()]


@settings(max_examples=200, deadline=None, database=None)
@given(datas=st.lists(payloads, max_size=12), budget=st.none() | st.integers(min_value=15, max_value=6000))
def test_every_record_comes_back_once_in_order_with_a_valid_result(
    datas: list[str], budget: int | None
) -> None:
    event = kinesis_event(*datas)
    with response_budget(budget), contextlib.redirect_stdout(io.StringIO()) as out:
        response = transform.handler(event, None)

    entries = response["records"]
    assert [entry["recordId"] for entry in entries] == [record["recordId"] for record in event["records"]]
    for entry, data in zip(entries, datas, strict=True):
        assert entry["result"] in RESULTS
        if entry["result"] != "Ok":
            assert entry["data"] == data  # as it came: valid base64 whenever Firehose sent it
            continue
        output = decoded(entry)
        # Ok: newline-terminated lines, each the input object with only event_time rewritten.
        lines = output.decode().split("\n")
        assert lines.pop() == ""
        objects = [json.loads(text) for text in lines]
        originals = original_objects(data)
        assert len(objects) == len(originals)
        keys = entry["metadata"]["partitionKeys"]
        for obj, original in zip(objects, originals, strict=True):
            assert list(obj) == list(original)
            assert {**obj, "event_time": None} == {**original, "event_time": None}
            assert CANONICAL_TIME.fullmatch(obj["event_time"])
            assert keys == {"event_type": obj["event_type"]}

    failed = sum(entry["result"] == "ProcessingFailed" for entry in entries)
    assert len(failure_logs(out.getvalue())) == failed
    metrics = emf_line(out.getvalue())
    assert (metrics["RecordsIn"], metrics["RecordsFailed"]) == (len(datas), failed)
    if budget is not None:
        all_failed = [failed_entry(record["recordId"], record["data"]) for record in event["records"]]
        if len(json.dumps({"records": all_failed})) <= budget:
            assert len(json.dumps(response)) <= budget
