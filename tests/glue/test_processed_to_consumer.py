"""processed_to_consumer: exact daily aggregates, idempotent re-runs, only the changed dates replaced."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pyspark.sql import SparkSession

import processed_to_consumer as consumer
import raw_to_processed
from tests.glue.conftest import event, marker_dates

pytestmark = pytest.mark.slow

D1, D2 = date(2026, 11, 22), date(2026, 11, 23)


def processed_event(
    event_id: str,
    event_type: str,
    hour: int,
    user_id: str | None,
    *,
    amount: str | None = None,
    currency: str | None = None,
    day: date = D2,
) -> tuple[Any, ...]:
    return (
        event_id,
        event_type,
        datetime(day.year, day.month, day.day, hour),
        user_id,
        None,
        Decimal(amount) if amount is not None else None,
        currency,
        None,
        day,
    )


PROCESSED = [
    processed_event("v1", "page_view", 9, "u1"),
    processed_event("v2", "page_view", 10, "u1"),
    processed_event("v3", "page_view", 11, "u2"),
    processed_event("v4", "page_view", 12, None),
    processed_event("p1", "purchase", 8, "u1", amount="10.00", currency="EUR"),
    processed_event("p2", "purchase", 9, "u2", amount="5.50", currency="EUR"),
    processed_event("p3", "purchase", 13, "u1", amount="0.25", currency="EUR"),
    processed_event("p4", "purchase", 14, "u3", amount="100.00", currency="USD"),
    processed_event("p5", "purchase", 15, "u4", amount="2.00"),  # an amount without currency
    processed_event("o1", "page_view", 7, "u1", day=D1),
]


def write_processed(
    spark: SparkSession, target: Path, rows: list[tuple[Any, ...]], *, markers: bool = True
) -> None:
    """Appends ``rows`` as raw_to_processed does, with its change markers unless ``markers=False``."""
    frame = spark.createDataFrame(rows, raw_to_processed.PROCESSED_SCHEMA)
    raw_to_processed.write_processed(frame.coalesce(1), str(target))
    if markers:
        days = sorted({row[-1] for row in rows})
        raw_to_processed.record_changed_dates(spark, str(target), days, uuid.uuid4().hex)


def consumer_rows(target: Path) -> set[tuple[Any, ...]]:
    """The consumer table as DuckDB (an analyst's engine) reads it."""
    query = f"""
        SELECT event_date, event_type, currency, event_count, unique_users, total_amount,
               timezone('UTC', first_event_time), timezone('UTC', last_event_time)
        FROM read_parquet(
            '{target}/*/*.parquet', hive_partitioning = true, hive_types = {{'event_date': DATE}}
        )
    """
    return set(duckdb.sql(query).fetchall())


def partition_files(target: Path, day: date) -> dict[str, tuple[int, int]]:
    directory = target / f"event_date={day.isoformat()}"
    return {path.name: (path.stat().st_size, path.stat().st_mtime_ns) for path in directory.glob("*.parquet")}


def t(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


EXPECTED = {
    (D2, "page_view", None, 4, 2, None, t(D2, 9), t(D2, 12)),
    (D2, "purchase", "EUR", 3, 2, Decimal("15.75"), t(D2, 8), t(D2, 13)),
    (D2, "purchase", "USD", 1, 1, Decimal("100.00"), t(D2, 14), t(D2, 14)),
    (D2, "purchase", None, 1, 1, Decimal("2.00"), t(D2, 15), t(D2, 15)),
    (D1, "page_view", None, 1, 1, None, t(D1, 7), t(D1, 7)),
}


def test_daily_aggregates_exact(spark: SparkSession, tmp_path: Path) -> None:
    write_processed(spark, tmp_path / "processed", PROCESSED)
    summary = consumer.process(spark, str(tmp_path / "processed"), str(tmp_path / "consumer"))
    assert summary == consumer.RunSummary(
        events_read=10,
        rows_written=5,
        dates_written=["2026-11-22", "2026-11-23"],
        since_date=None,
        markers_consumed=2,
    )
    assert consumer_rows(tmp_path / "consumer") == EXPECTED
    assert marker_dates(tmp_path / "processed") == []  # consumed
    schema = spark.read.parquet(str(tmp_path / "consumer")).dtypes
    assert schema == [
        ("event_type", "string"),
        ("currency", "string"),
        ("event_count", "bigint"),
        ("unique_users", "bigint"),
        ("total_amount", "decimal(28,2)"),
        ("first_event_time", "timestamp"),
        ("last_event_time", "timestamp"),
        ("event_date", "date"),
    ]
    files = list((tmp_path / "consumer").glob("event_date=*/*"))
    assert sorted(p.parent.name for p in files if p.suffix == ".parquet") == [
        "event_date=2026-11-22",
        "event_date=2026-11-23",
    ]  # one file per date
    assert all(p.name.endswith(".snappy.parquet") for p in files if p.suffix == ".parquet")


def test_a_late_event_recomputes_its_day_only(spark: SparkSession, tmp_path: Path) -> None:
    processed, target = tmp_path / "processed", tmp_path / "consumer"
    write_processed(spark, processed, PROCESSED)
    consumer.process(spark, str(processed), str(target))
    untouched = partition_files(target, D1)
    before_d2 = partition_files(target, D2)

    # A late page view for D2 reaches the processed zone, with raw_to_processed's marker for D2.
    write_processed(spark, processed, [processed_event("late", "page_view", 20, "u9")])
    assert marker_dates(processed) == ["2026-11-23"]
    summary = consumer.process(spark, str(processed), str(target))
    assert (summary.events_read, summary.rows_written, summary.dates_written) == (10, 4, ["2026-11-23"])

    late_expected = (EXPECTED - {(D2, "page_view", None, 4, 2, None, t(D2, 9), t(D2, 12))}) | {
        (D2, "page_view", None, 5, 3, None, t(D2, 9), t(D2, 20))
    }
    assert consumer_rows(target) == late_expected
    assert partition_files(target, D1) == untouched  # same files, same bytes, not rewritten
    after_d2 = partition_files(target, D2)
    assert len(after_d2) == 1
    assert after_d2.keys() != before_d2.keys()  # replaced, not appended to

    # Nothing new: a run reads and writes nothing. A backfill of every date changes no result.
    idle = consumer.process(spark, str(processed), str(target))
    assert (idle.events_read, idle.dates_written, idle.markers_consumed) == (0, [], 0)
    consumer.process(spark, str(processed), str(target), since=D1)
    consumer.process(spark, str(processed), str(target), since=D1)
    assert consumer_rows(target) == late_expected
    assert [len(partition_files(target, day)) for day in (D1, D2)] == [1, 1]


def test_expired_processed_files_never_shrink_a_consumer_day(spark: SparkSession, tmp_path: Path) -> None:
    # Processed objects expire by age (lifecycle): a day written by two runs loses its older file
    # first. With no marker for that day, nothing recomputes it from what is left.
    processed, target = tmp_path / "processed", tmp_path / "consumer"
    write_processed(spark, processed, [processed_event("o1", "page_view", 7, "u1", day=D1)])
    write_processed(spark, processed, [processed_event("o2", "page_view", 8, "u2", day=D1)])
    consumer.process(spark, str(processed), str(target))
    (older, _) = sorted(
        (processed / "event_date=2026-11-22").glob("*/*.parquet"), key=lambda p: p.stat().st_mtime_ns
    )
    older.unlink()

    summary = consumer.process(spark, str(processed), str(target))
    assert summary.dates_written == []
    assert consumer_rows(target) == {(D1, "page_view", None, 2, 2, None, t(D1, 7), t(D1, 8))}


def test_a_failed_run_keeps_its_markers(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processed, target = tmp_path / "processed", tmp_path / "consumer"
    write_processed(spark, processed, PROCESSED)

    def failing_write(aggregates: Any, target: str) -> None:
        raise RuntimeError("S3 is down")

    original = consumer.write_consumer
    monkeypatch.setattr(consumer, "write_consumer", failing_write)
    with pytest.raises(RuntimeError, match="S3 is down"):
        consumer.process(spark, str(processed), str(target))
    assert marker_dates(processed) == ["2026-11-22", "2026-11-23"]

    monkeypatch.setattr(consumer, "write_consumer", original)
    assert consumer.process(spark, str(processed), str(target)).dates_written == ["2026-11-22", "2026-11-23"]
    assert consumer_rows(target) == EXPECTED


def test_empty_input_writes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    (tmp_path / "processed").mkdir()
    for source in (tmp_path / "processed", tmp_path / "missing"):
        summary = consumer.process(spark, str(source), str(tmp_path / "consumer"))
        assert summary == consumer.RunSummary(
            events_read=0, rows_written=0, dates_written=[], since_date=None
        )
    assert not (tmp_path / "consumer").exists()


def test_main_parses_since_date_and_returns_the_summary(spark: SparkSession, tmp_path: Path) -> None:
    write_processed(spark, tmp_path / "processed", PROCESSED, markers=False)  # e.g. older data: a backfill
    source, target = str(tmp_path / "processed"), str(tmp_path / "c")
    summary = consumer.main(["consumer.py", "--source", source, "--target", target, "--since-date", str(D2)])
    assert summary.since_date == "2026-11-23"
    assert (summary.dates_written, summary.rows_written) == (["2026-11-23"], 4)
    assert sorted(p.name for p in (tmp_path / "c").glob("event_date=*")) == ["event_date=2026-11-23"]
    assert not spark.sparkContext._jsc.sc().isStopped()  # the caller's session is left running


def test_end_to_end_from_raw_lines(spark: SparkSession, tmp_path: Path) -> None:
    lines = [
        event("a", "purchase", amount=3.5, currency="EUR", user_id="u1"),
        event("a", "purchase", amount=3.5, currency="EUR", user_id="u1"),
        event("b", "purchase", amount=1, currency="EUR", user_id="u2", event_time="2026-11-23T18:00:00.000Z"),
    ]
    raw = spark.createDataFrame(
        [(json.dumps(line), "s3://raw/x.gz") for line in lines], raw_to_processed.LINES_SCHEMA
    )
    raw_to_processed.process(spark, raw, str(tmp_path / "processed"), str(tmp_path / "quarantine"))
    summary = consumer.process(spark, str(tmp_path / "processed"), str(tmp_path / "consumer"))
    assert (summary.dates_written, summary.markers_consumed) == (["2026-11-23"], 1)
    assert consumer_rows(tmp_path / "consumer") == {
        (D2, "purchase", "EUR", 2, 2, Decimal("4.50"), datetime(2026, 11, 23, 9, 30), t(D2, 18))
    }
