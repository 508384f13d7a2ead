"""raw_to_processed: parsing, every quarantine reason, deduplication, redelivery, layout and accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import awsglue.job
import duckdb
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import DateType, DecimalType, MapType, StringType, TimestampType

import raw_to_processed as job
from tests.glue.conftest import RawZone, event, marker_dates

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
DAY = "2026-11-23"


def assert_balanced(counts: job.RunCounts) -> None:
    assert counts.balanced
    assert counts.rows_read == (
        counts.rows_written
        + counts.rows_quarantined
        + counts.duplicates_in_batch
        + counts.duplicates_already_present
    )


def rows_by_id(frame: DataFrame) -> dict[str, dict[str, Any]]:
    return {row["event_id"]: row.asDict() for row in frame.collect()}


def run(spark: SparkSession, raw: RawZone | Path, out: Path) -> job.RunCounts:
    counts = job.process(
        spark, job.read_lines(spark, str(raw)), str(out / "processed"), str(out / "quarantine"), now=NOW
    )
    assert_balanced(counts)
    return counts


def lines_frame(spark: SparkSession, lines: list[str], source_file: str = "s3://raw/x.gz") -> DataFrame:
    return spark.createDataFrame([(line, source_file) for line in lines], job.LINES_SCHEMA)


# --- validation rules (pure functions, no I/O) -------------------------------------------------------

REASON_CASES: dict[str, str | None] = {
    # valid, lenient where documented
    json.dumps(event("ok-1", amount=0, currency="EUR", attributes={"a": "b"})): None,
    json.dumps(event("ok-2", event_time="2026-11-23T10:30:00+01:00")): None,
    json.dumps(event("ok-3", amount="12.50")): None,
    json.dumps(event("ok-4", attributes={"n": 1, "o": {"p": True}})): None,
    json.dumps(event(42)): None,  # type: ignore[arg-type]  # a number where a string is expected
    json.dumps(event("ok-5", attributes={"k": "} {"})): None,  # "} {" inside a string
    json.dumps({**event("ok-6"), "items": [{"a": 1}, {"b": 2}]}): None,  # "},{" in a nested array
    # malformed_json: anything but exactly one JSON object
    "not json": "malformed_json",
    '{"event_id": "x", "event_type": "page_view"': "malformed_json",
    "[1, 2, 3]": "malformed_json",
    '"just a string"': "malformed_json",
    "null": "malformed_json",
    json.dumps(event("m-1")) + " trailing": "malformed_json",
    # several objects on a line: the parser alone would read the first and drop the rest unseen
    json.dumps(event("m-3")) + json.dumps(event("m-4")): "malformed_json",
    json.dumps(event("m-5")) + ", " + json.dumps(event("m-6")): "malformed_json",
    "{'event_id': 'm-2', 'event_type': 'pv', 'event_time': '2026-11-23T09:30:00Z'}": "malformed_json",
    # required fields
    json.dumps({"event_type": "page_view", "event_time": "2026-11-23T09:30:00.000Z"}): "missing_event_id",
    json.dumps(event("  ")): "missing_event_id",
    json.dumps(event(None)): "missing_event_id",  # type: ignore[arg-type]
    json.dumps({"event_id": "r-1", "event_time": "2026-11-23T09:30:00.000Z"}): "missing_event_type",
    json.dumps(event("r-2", event_type="")): "missing_event_type",
    json.dumps(event("r-3", event_type="Page View")): "invalid_event_type",
    json.dumps(event("r-4", event_type="-starts-with-dash")): "invalid_event_type",
    json.dumps(event("r-5", event_type="x" * 65)): "invalid_event_type",
    json.dumps({"event_id": "r-6", "event_type": "page_view"}): "missing_event_time",
    json.dumps(event("r-7", event_time="yesterday")): "invalid_event_time",
    json.dumps(event("r-8", event_time="2026-02-30T09:30:00.000Z")): "invalid_event_time",
    json.dumps(event("r-9", event_time="2026-11-23T09:30:00")): "invalid_event_time",  # no zone
    json.dumps(event("r-10", event_time=1763890200000)): "invalid_event_time",  # epoch millis
    json.dumps(event("r-11", event_time="0001-01-01T00:00:00+01:00")): "invalid_event_time",  # year 0 in UTC
    json.dumps(event("r-12", event_time="9999-12-31T23:30:00-01:00")): "invalid_event_time",  # year 10000
    # optional fields
    json.dumps(event("o-1", amount="abc")): "invalid_amount",
    json.dumps(event("o-2", amount=True)): "invalid_amount",
    json.dumps(event("o-3", amount=1.234)): "invalid_amount",  # would need rounding
    json.dumps(event("o-4"))[:-1] + ', "amount": 1e17}': "invalid_amount",  # beyond decimal(18,2)
    json.dumps(event("o-5", amount=" 12")): "invalid_amount",
    json.dumps(event("o-6", amount=-0.01)): "negative_amount",
    json.dumps(event("o-7", currency="usd")): "invalid_currency",
    json.dumps(event("o-8", currency="EURO")): "invalid_currency",
    json.dumps(event("o-9", attributes=[1, 2])): "invalid_attributes",
    json.dumps(event("o-10", attributes="a=b")): "invalid_attributes",
    json.dumps(event("o-11", attributes=json.dumps({"a": "b"}))): "invalid_field_type",  # JSON in a string
    # the first failing rule names the line
    json.dumps({"event_type": "Bad Type", "amount": -1}): "missing_event_id",
}


def test_every_reason_and_its_precedence(spark: SparkSession) -> None:
    valid, rejected = job.validate(job.parse(lines_frame(spark, list(REASON_CASES))))
    got = {row["raw"]: row["reason"] for row in rejected.collect()}
    expected = {line: reason for line, reason in REASON_CASES.items() if reason is not None}
    assert got == expected
    assert sorted(row["event_id"] for row in valid.collect()) == [
        "42",
        "ok-1",
        "ok-2",
        "ok-3",
        "ok-4",
        "ok-5",
        "ok-6",
    ]
    assert set(expected.values()) == set(job.REASONS)
    assert rejected.columns == ["reason", "raw", "source_file"]


def test_whitespace_around_lines_and_in_required_fields(spark: SparkSession) -> None:
    """The parse checks the common "{...}" line without trimming it; padded lines still get trimmed."""
    lines = {
        " \t" + json.dumps(event("padded")) + " \r": None,
        "\f" + json.dumps(event("m-1")) + " x": "malformed_json",
        "  [1, 2]  ": "malformed_json",
        json.dumps(event(" \t\r\n\f")): "missing_event_id",
        json.dumps(event("vt", event_type="\u000b")): "invalid_event_type",  # not WHITESPACE: not blank
        json.dumps(event("t", event_time=" \t ")): "missing_event_time",
    }
    valid, rejected = job.validate(job.parse(lines_frame(spark, [*lines, " \f\t ", ""])))
    assert {row["raw"]: row["reason"] for row in rejected.collect()} == {
        line: reason for line, reason in lines.items() if reason is not None
    }
    assert [row["event_id"] for row in valid.collect()] == ["padded"]


def test_parse_types_values_exactly(spark: SparkSession) -> None:
    big = '{"event_id": "big", "event_type": "purchase", "event_time": "2026-11-23T09:30:00.5+02:00", '
    big += '"amount": 9999999999999999.99, "currency": "JPY", "user_id": "u", "session_id": "s"}'
    lines = [big, json.dumps(event("attrs", attributes={"n": 1, "nested": {"k": [1, "x"]}, "null": None}))]
    valid, rejected = job.validate(job.parse(lines_frame(spark, lines)))
    assert rejected.count() == 0
    rows = rows_by_id(valid)
    assert rows["big"] == {
        "event_id": "big",
        "event_type": "purchase",
        "event_time": datetime(2026, 11, 23, 7, 30, 0, 500000),  # UTC
        "user_id": "u",
        "session_id": "s",
        "amount": Decimal("9999999999999999.99"),
        "currency": "JPY",
        "attributes": None,
        "event_date": date(2026, 11, 23),
    }
    assert rows["attrs"]["attributes"] == {"n": "1", "nested": '{"k":[1,"x"]}', "null": None}
    types = dict(valid.dtypes)
    assert types["amount"] == "decimal(18,2)"
    assert types["event_time"] == "timestamp"
    assert types["attributes"] == "map<string,string>"
    assert types["event_date"] == "date"


def test_event_date_is_the_utc_date_whatever_the_session_time_zone(spark: SparkSession) -> None:
    lines = [json.dumps(event("late-evening", event_time="2026-11-23T23:30:00.000Z"))]
    spark.conf.set("spark.sql.session.timeZone", "Asia/Tokyo")
    try:
        valid, _ = job.validate(job.parse(lines_frame(spark, lines)))
        assert valid.first()["event_date"] == date(2026, 11, 23)
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def test_blank_lines_are_not_records(spark: SparkSession) -> None:
    parsed = job.parse(lines_frame(spark, ["", "   ", "\t", json.dumps(event("a"))]))
    assert [row["event_id"] for row in parsed.collect()] == ["a"]


def test_dedupe_keeps_latest_with_deterministic_ties(spark: SparkSession) -> None:
    lines = {
        "f1.gz": [
            event("same", user_id="u"),
            event("same", user_id="u"),  # exact duplicate
            event("moved", event_time="2026-11-23T09:00:00.000Z", user_id="old"),
            event("tie", user_id="b"),
            event("tie", user_id="a"),
            event("single"),
        ],
        "f2.gz": [
            event("moved", event_time="2026-11-23T10:00:00.000Z", user_id="new"),
            event("moved", event_time="2026-11-22T10:00:00.000Z", user_id="older"),
            event("file-tie", user_id="from-f2"),
        ],
        "f3.gz": [event("file-tie", user_id="from-f3")],
    }
    rows = [(json.dumps(e), f"s3://raw/{name}") for name, events in lines.items() for e in events]
    valid, _ = job.validate(job.parse(spark.createDataFrame(rows, job.LINES_SCHEMA)))
    valid = valid.cache()
    duplicates = {row["event_id"]: row["copies"] for row in job.duplicate_ids(valid).collect()}
    assert duplicates == {"same": 2, "moved": 3, "tie": 2, "file-tie": 2}
    for candidate in (valid, valid.orderBy("event_id", ascending=False), valid.repartition(2, "user_id")):
        kept = rows_by_id(job.dedupe(candidate, broadcast=True))
        assert sorted(kept) == ["file-tie", "moved", "same", "single", "tie"]
        assert kept["moved"]["user_id"] == "new"  # latest event_time wins
        assert kept["moved"]["event_date"] == date(2026, 11, 23)
        assert kept["file-tie"]["user_id"] == "from-f3"  # same time: the greatest content, wherever it is
        assert kept["tie"]["user_id"] == "b"
    valid.unpersist()


# --- a realistic batch, end to end -------------------------------------------------------------------

BIG_AMOUNT_LINE = (
    '{"event_id": "p-big", "event_type": "purchase", "event_time": "2026-11-23T12:00:00.000Z", '
    '"amount": 1234567890123456.78, "currency": "USD", "user_id": "u2"}'
)


@dataclass
class Batch:
    raw: RawZone
    out: Path
    counts: job.RunCounts
    bad_file: Path

    @property
    def processed(self) -> Path:
        return self.out / "processed"

    @property
    def quarantine(self) -> Path:
        return self.out / "quarantine"


@pytest.fixture(scope="module")
def batch(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    base = tmp_path_factory.mktemp("batch")
    raw = RawZone(base / "raw" / "events")
    raw.add(
        "page_view",
        DAY,
        [
            event("pv-1", user_id="u1", session_id="s1", attributes={"page": "/home", "ref": "ad"}),
            event("pv-1", user_id="u1", session_id="s1", attributes={"page": "/home", "ref": "ad"}),  # again
            event("pv-2", user_id="u2", event_time="2026-11-23T23:59:59.999Z"),
            event("pv-late", user_id="u1", event_time="2026-11-20T08:00:00.000Z"),  # 3 days late
            event("pv-3", user_id="old", event_time="2026-11-23T09:00:00.000Z"),
            event("pv-drift", user_id="u3", new_field="ignored", nested={"x": [1, 2]}),  # extra fields
            {"event_id": "pv-min", "event_type": "page_view", "event_time": "2026-11-23T01:00:00.000Z"},
            "",
        ],
    )
    raw.add("page_view", DAY, [event("pv-3", user_id="new", event_time="2026-11-23T10:00:00.000Z")])
    raw.add(
        "purchase",
        DAY,
        [
            event("p-1", "purchase", amount=19.99, currency="EUR", user_id="u1"),
            event("p-2", "purchase", amount=5, currency="USD", user_id="u2"),
            BIG_AMOUNT_LINE,
        ],
    )
    bad_file = raw.add(
        "purchase",
        "2026-11-22",
        [
            "not json",
            {"event_type": "purchase", "event_time": "2026-11-22T09:00:00.000Z"},  # missing required field
            event("bad-amount", "purchase", amount=-3),
            event("bad-time", "purchase", event_time="2026-11-22 09:00"),
        ],
    )
    out = base / "out"
    return Batch(raw=raw, out=out, counts=run(spark, raw, out), bad_file=bad_file)


def test_batch_counts(batch: Batch) -> None:
    assert batch.counts == job.RunCounts(
        rows_read=15,
        rows_written=9,
        rows_quarantined=4,
        duplicates_in_batch=2,
        duplicates_already_present=0,
        quarantine_reasons={
            "malformed_json": 1,
            "missing_event_id": 1,
            "negative_amount": 1,
            "invalid_event_time": 1,
        },
        min_event_date="2026-11-20",
        max_event_date="2026-11-23",
        partitions=[["2026-11-20", "page_view"], ["2026-11-23", "page_view"], ["2026-11-23", "purchase"]],
    )


def test_batch_rows_and_types(spark: SparkSession, batch: Batch) -> None:
    frame = spark.read.parquet(str(batch.processed))
    types = {f.name: f.dataType for f in frame.schema.fields}
    assert types == {
        "event_id": StringType(),
        "event_time": TimestampType(),
        "user_id": StringType(),
        "session_id": StringType(),
        "amount": DecimalType(18, 2),
        "currency": StringType(),
        "attributes": MapType(StringType(), StringType()),
        "event_date": DateType(),
        "event_type": StringType(),
    }
    rows = rows_by_id(frame)
    assert sorted(rows) == ["p-1", "p-2", "p-big", "pv-1", "pv-2", "pv-3", "pv-drift", "pv-late", "pv-min"]
    assert rows["pv-1"] == {
        "event_id": "pv-1",
        "event_time": datetime(2026, 11, 23, 9, 30),
        "user_id": "u1",
        "session_id": "s1",
        "amount": None,
        "currency": None,
        "attributes": {"page": "/home", "ref": "ad"},
        "event_date": date(2026, 11, 23),
        "event_type": "page_view",
    }
    assert rows["pv-2"]["event_time"] == datetime(2026, 11, 23, 23, 59, 59, 999000)
    assert rows["pv-3"]["user_id"] == "new"  # the later event_time of the same id
    assert rows["pv-late"]["event_date"] == date(2026, 11, 20)
    assert rows["p-1"]["amount"] == Decimal("19.99")
    assert rows["p-big"]["amount"] == Decimal("1234567890123456.78")
    # schema drift: the extra fields are ignored, missing optional fields are null
    assert "new_field" not in frame.columns
    assert rows["pv-drift"]["user_id"] == "u3"
    optional = ("user_id", "session_id", "amount", "currency", "attributes")
    assert [rows["pv-min"][name] for name in optional] == [None] * 5


def test_batch_layout_and_snappy(batch: Batch) -> None:
    partitions = sorted(
        str(path.relative_to(batch.processed)) for path in batch.processed.glob("event_date=*/event_type=*")
    )
    assert partitions == [
        "event_date=2026-11-20/event_type=page_view",
        "event_date=2026-11-23/event_type=page_view",
        "event_date=2026-11-23/event_type=purchase",
    ]
    files = sorted(batch.processed.glob("event_date=*/event_type=*/*.parquet"))
    assert files
    assert all(path.name.endswith(".snappy.parquet") for path in files)
    for path in files:
        codecs = duckdb.sql(f"SELECT DISTINCT compression FROM parquet_metadata('{path}')").fetchall()
        assert codecs == [("SNAPPY",)]
        schema = duckdb.sql(f"SELECT type FROM parquet_schema('{path}') WHERE name = 'event_time'")
        assert schema.fetchall() == [("INT64",)]  # TIMESTAMP_MICROS, not legacy INT96


def test_batch_quarantine(spark: SparkSession, batch: Batch) -> None:
    partitions = sorted(path.name for path in batch.quarantine.glob("ingestion_date=*"))
    assert partitions == ["ingestion_date=2026-11-22"]  # the arrival date of the bad lines' file
    assert all(path.name.endswith(".json.gz") for path in batch.quarantine.glob("ingestion_date=*/part-*"))
    rows = spark.read.json(str(batch.quarantine)).collect()
    assert {row["reason"]: row["raw"] for row in rows} == {
        "malformed_json": "not json",
        "missing_event_id": json.dumps({"event_type": "purchase", "event_time": "2026-11-22T09:00:00.000Z"}),
        "negative_amount": json.dumps(event("bad-amount", "purchase", amount=-3)),
        "invalid_event_time": json.dumps(event("bad-time", "purchase", event_time="2026-11-22 09:00")),
    }
    assert {row["source_file"] for row in rows} == {f"file://{batch.bad_file}"}
    assert {row["quarantined_at"] for row in rows} == {"2026-11-24T06:00:00.000Z"}
    assert sorted(rows[0].asDict()) == sorted(job.QUARANTINE_COLUMNS)


# --- runs over time ----------------------------------------------------------------------------------


def test_quarantine_writes_one_file_per_arrival_date(spark: SparkSession, tmp_path: Path) -> None:
    # Rejected lines of two arrival dates, spread round-robin over four partitions (four tasks). Fails
    # if the write keeps the input partitioning (a file per task and date); coalesce(1) would pass too,
    # but ran the whole scan in one task.
    lines = [
        (text, f"s3://raw/events/event_type=page_view/dt={dt}/f{n}.gz")
        for dt in ("2026-11-22", "2026-11-23")
        for n in range(4)
        for text in (json.dumps(event(f"ok-{dt}-{n}")), "{broken", "[1]")
    ]
    frame = spark.createDataFrame(lines, job.LINES_SCHEMA).repartition(4)
    counts = job.process(spark, frame, str(tmp_path / "processed"), str(tmp_path / "quarantine"), now=NOW)
    assert counts.rows_quarantined == 16
    folders = sorted(path.parent.name for path in (tmp_path / "quarantine").glob("*/*.json.gz"))
    assert folders == ["ingestion_date=2026-11-22", "ingestion_date=2026-11-23"]  # one file each


def test_second_run_drops_redelivered_events(spark: SparkSession, raw_zone: RawZone, tmp_path: Path) -> None:
    late = event("late", event_time="2026-11-21T10:00:00.000Z")
    raw_zone.add("page_view", DAY, [event("a"), event("b"), late])
    first = run(spark, raw_zone, tmp_path)
    assert (first.rows_read, first.rows_written) == (3, 3)
    assert marker_dates(tmp_path / "processed") == ["2026-11-21", "2026-11-23"]  # for processed_to_consumer

    # The next batch holds only new files: Firehose redelivered "a" (twice) and "late", plus one new event.
    second_raw = RawZone(tmp_path / "raw2")
    second_raw.add(
        "page_view",
        "2026-11-24",
        [event("a"), event("a"), event("c"), late],
    )
    second = run(spark, second_raw.root, tmp_path)
    assert second == job.RunCounts(
        rows_read=4,
        rows_written=1,
        duplicates_in_batch=1,
        duplicates_already_present=2,
        min_event_date="2026-11-21",
        max_event_date="2026-11-23",
        partitions=[["2026-11-23", "page_view"]],  # where "c" went; the redeliveries' got no file
    )
    stored = spark.read.parquet(str(tmp_path / "processed"))
    assert sorted(row["event_id"] for row in stored.collect()) == ["a", "b", "c", "late"]
    # Every date with valid events is marked again, even one that only saw redeliveries.
    assert marker_dates(tmp_path / "processed") == ["2026-11-21", "2026-11-21", "2026-11-23", "2026-11-23"]


def test_empty_inputs_succeed_and_write_nothing(spark: SparkSession, tmp_path: Path) -> None:
    empty_files = RawZone(tmp_path / "empty-files")
    empty_files.add("page_view", DAY, [])
    (empty_files.root / "event_type=page_view" / f"dt={DAY}" / "zero-bytes.gz").write_bytes(b"")
    empty_files.add("page_view", DAY, ["", "  "])  # blank lines only
    empty_dir = tmp_path / "empty-dir"
    empty_dir.mkdir()
    for source in (empty_files.root, empty_dir, tmp_path / "missing"):
        out = tmp_path / f"out-{source.name}"
        assert run(spark, source, out) == job.RunCounts()
        assert not out.exists()


def test_events_before_1582_are_written_as_they_are(
    spark: SparkSession, raw_zone: RawZone, tmp_path: Path
) -> None:
    # Spark's default refuses to write such instants to Parquet, and a date before year 1 cannot be
    # collected: either would fail the job on this file on every run (the bookmark only moves on success).
    raw_zone.add(
        "page_view",
        DAY,
        [
            event("min", event_time="0001-01-01T00:00:00Z"),
            event("old", event_time="1500-06-01T12:00:00Z"),
            event("year-0", event_time="0001-01-01T00:00:00+01:00"),  # .NET's MinValue east of UTC
        ],
    )
    counts = run(spark, raw_zone, tmp_path)
    assert (counts.rows_written, counts.min_event_date) == (2, "0001-01-01")
    assert counts.quarantine_reasons == {"invalid_event_time": 1}
    stored = duckdb.sql(
        "SELECT event_id, strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S'), event_date "
        f"FROM read_parquet('{tmp_path}/processed/event_date=*/*/*.parquet', hive_partitioning = true) "
        "ORDER BY 1"
    ).fetchall()
    assert stored == [
        ("min", "0001-01-01T00:00:00", date(1, 1, 1)),
        ("old", "1500-06-01T12:00:00", date(1500, 6, 1)),
    ]


def test_a_failed_append_leaves_no_quarantine_to_repeat(
    spark: SparkSession, raw_zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The retry of a failed run reads the same files (the bookmark has not moved): the quarantine is
    # written after the processed append, so the rejected lines are quarantined once, not per attempt.
    raw_zone.add("page_view", DAY, [event("a"), "{broken", event("b")])
    original = job.write_processed

    def failing_write(events: DataFrame, target: str) -> None:
        raise RuntimeError("S3 is down")

    monkeypatch.setattr(job, "write_processed", failing_write)
    with pytest.raises(RuntimeError, match="S3 is down"):
        run(spark, raw_zone, tmp_path)
    assert not (tmp_path / "quarantine").exists()

    monkeypatch.setattr(job, "write_processed", original)
    retry = run(spark, raw_zone, tmp_path)
    assert (retry.rows_written, retry.rows_quarantined) == (2, 1)
    assert spark.read.json(str(tmp_path / "quarantine")).count() == 1


def test_a_lost_row_fails_the_run(
    spark: SparkSession, raw_zone: RawZone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_zone.add("page_view", DAY, [event("a"), event("a"), event("b")])

    def lossy_dedupe(events: DataFrame, *args: Any, **kwargs: Any) -> DataFrame:
        return events.dropDuplicates(["event_id"]).where("event_id != 'b'")

    monkeypatch.setattr(job, "dedupe", lossy_dedupe)
    with pytest.raises(job.AccountingError, match='"accounting_ok": false'):
        job.process(spark, job.read_lines(spark, str(raw_zone)), str(tmp_path / "p"), str(tmp_path / "q"))


def test_cli_end_to_end(raw_zone: RawZone, tmp_path: Path) -> None:
    raw_zone.add("page_view", DAY, [event("a", user_id="u"), event("a", user_id="u"), "{broken"])
    raw_zone.add("purchase", "2026-11-24", [event("p", "purchase", amount=1.5, currency="EUR")])
    target = tmp_path / "processed"
    script = ROOT / "glue_scripts" / "raw_to_processed.py"
    result = subprocess.run(
        [sys.executable, str(script), "--source", str(raw_zone), "--target", str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    counted = ("rows_read", "rows_written", "rows_quarantined", "duplicates_removed")
    assert {name: summary[name] for name in counted} == {
        "rows_read": 4,
        "rows_written": 2,
        "rows_quarantined": 1,
        "duplicates_removed": 1,
    }
    assert summary["accounting_ok"] is True
    assert sorted(p.name for p in target.glob("event_date=*")) == ["event_date=2026-11-23"]
    assert list((tmp_path / "processed_quarantine").glob("ingestion_date=2026-11-23/*.json.gz"))


# --- the Glue entry point, against stand-ins for the Glue runtime -------------------------------------


class FakeGlue:
    """Stand-ins for ``awsglue.context`` and ``awsglue.job`` (GlueContext needs Glue's JARs)."""

    def __init__(self, spark: SparkSession, lines: list[tuple[str | None, ...]], columns: list[str]) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.frame = spark.createDataFrame(lines, columns)
        fake = self

        class DynamicFrame:
            def resolveChoice(self, choice: str) -> DynamicFrame:  # noqa: N802 (Glue's API)
                fake.calls.append(("resolveChoice", choice))
                return self

            def toDF(self) -> DataFrame:  # noqa: N802 (Glue's API)
                return fake.frame

        class Reader:
            def from_options(self, **options: Any) -> DynamicFrame:
                fake.calls.append(("from_options", options))
                return DynamicFrame()

        class GlueContext:
            def __init__(self, spark_context: Any) -> None:
                self.spark_session = spark
                self.create_dynamic_frame = Reader()

        class Job(awsglue.job.Job):  # the real class methods (getResolvedOptions uses them)
            def __init__(self, glue_context: GlueContext) -> None:
                pass

            def init(self, name: str, args: dict[str, Any]) -> None:
                fake.calls.append(("init", name))

            def commit(self) -> None:
                fake.calls.append(("commit", None))

        self.context_module = type(sys)("awsglue.context")
        self.context_module.GlueContext = GlueContext  # type: ignore[attr-defined]
        self.job_module = type(sys)("awsglue.job")
        self.job_module.Job = Job  # type: ignore[attr-defined]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "awsglue.context", self.context_module)
        monkeypatch.setitem(sys.modules, "awsglue.job", self.job_module)


def glue_argv(tmp_path: Path) -> list[str]:
    return [
        "raw_to_processed.py",
        "--JOB_NAME",
        "raw-to-processed",
        "--JOB_RUN_ID",
        "jr_1",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--source",
        "s3://raw-bucket/events/",
        "--target",
        str(tmp_path / "processed"),
        "--quarantine",
        str(tmp_path / "quarantine"),
    ]


def test_glue_entry_point_reads_lines_with_bookmarks_and_commits(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_file = "s3://raw-bucket/events/event_type=page_view/dt=2026-11-23/f.gz"
    glue = FakeGlue(
        spark,
        [
            (json.dumps(event("a")), None, source_file),
            ("bad", "line", source_file),  # a malformed line holding the separator comes back in pieces
        ],
        ["col0", "col1", "source_file"],
    )
    glue.install(monkeypatch)
    counts = job.main(glue_argv(tmp_path))
    assert (counts.rows_read, counts.rows_written, counts.quarantine_reasons) == (2, 1, {"malformed_json": 1})
    read = dict(glue.calls)["from_options"]
    assert read == {
        "connection_type": "s3",
        "connection_options": {"paths": ["s3://raw-bucket/events/"], "recurse": True},
        "format": "csv",
        "format_options": {
            "separator": "\u0001",
            "quoteChar": -1,
            "withHeader": False,
            "multiLine": False,
            "attachFilename": "source_file",
        },
        "transformation_ctx": "raw_source",
    }
    assert [name for name, _ in glue.calls] == ["init", "from_options", "resolveChoice", "commit"]
    quarantined = spark.read.json(str(tmp_path / "quarantine")).first()
    assert (quarantined["raw"], quarantined["source_file"]) == ("bad\u0001line", source_file)


def test_glue_entry_point_does_not_commit_a_failed_run(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    glue = FakeGlue(spark, [(json.dumps(event("a")),)], ["col0"])
    glue.install(monkeypatch)

    def failing(*args: Any, **kwargs: Any) -> job.RunCounts:
        raise job.AccountingError("does not balance")

    monkeypatch.setattr(job, "process", failing)
    with pytest.raises(job.AccountingError):
        job.main(glue_argv(tmp_path))
    assert ("commit", None) not in glue.calls


def test_glue_entry_point_lists_only_the_window_of_arrival_days(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw_zone: RawZone
) -> None:
    today = datetime.now(UTC).date()
    for back in (0, 1, 5):
        raw_zone.add("page_view", date.fromordinal(today.toordinal() - back).isoformat(), [event(f"e{back}")])
    glue = FakeGlue(spark, [(json.dumps(event("a")), str(raw_zone.root))], ["col0", "source_file"])
    glue.install(monkeypatch)
    argv = glue_argv(tmp_path)
    argv[argv.index("--source") + 1] = str(raw_zone.root)

    job.main([*argv, "--source_lookback_days", "2"])

    paths = dict(glue.calls)["from_options"]["connection_options"]["paths"]
    assert paths == [
        f"{raw_zone.root}/event_type=page_view/dt={date.fromordinal(today.toordinal() - back).isoformat()}/"
        for back in (1, 0)
    ]


def test_glue_entry_point_with_nothing_in_the_window_reads_nothing_and_commits(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw_zone: RawZone
) -> None:
    raw_zone.add("page_view", "2020-01-01", [event("old")])
    glue = FakeGlue(spark, [(json.dumps(event("a")),)], ["col0"])
    glue.install(monkeypatch)
    argv = glue_argv(tmp_path)
    argv[argv.index("--source") + 1] = str(raw_zone.root)

    counts = job.main([*argv, "--source_lookback_days", "3"])

    assert counts.rows_read == 0
    assert [name for name, _ in glue.calls] == ["init", "commit"]
