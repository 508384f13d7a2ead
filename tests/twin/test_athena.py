"""The twin's Athena on the platform's own catalog: Trino's type rules, partition projection."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from local_twin.athena import QueryError
from local_twin.twin import LocalTwin
from tests.conftest import SynthesizedPlatform


def write_summary_row(twin: LocalTwin, day: str, event_type: str, count: int) -> None:
    """A consumer-zone Parquet file, as processed_to_consumer writes it, put in place without the job."""
    table = twin.glue.catalog.table("datalake_prod_consumer", "daily_event_summary")
    assert table is not None
    bucket, _, root = table.location.removeprefix("s3://").partition("/")
    path = twin.s3.path(bucket, f"{root}event_date={day}/part-00000.snappy.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.execute(
        f"COPY (SELECT '{event_type}' AS event_type, 'EUR' AS currency, {count}::BIGINT AS event_count, "
        "1::BIGINT AS unique_users, 9.99::DECIMAL(28,2) AS total_amount, "
        "TIMESTAMPTZ '2026-01-01 00:00:00+00' AS first_event_time, "
        "TIMESTAMPTZ '2026-01-01 00:00:00+00' AS last_event_time) "
        f"TO '{path}' (FORMAT parquet)"
    )


def test_shipped_queries_read_projected_partitions_the_catalog_never_registered(
    prod: SynthesizedPlatform, twin_on: Callable[..., LocalTwin]
) -> None:
    # Given the consumer table with partition projection and no partition in the catalog
    twin = twin_on(prod.outdir)
    table = twin.glue.catalog.table("datalake_prod_consumer", "daily_event_summary")
    assert table is not None and table.projected and not table.partitions
    today = datetime.now(UTC).date()
    write_summary_row(twin, today.isoformat(), "purchase", 3)
    write_summary_row(
        twin, (today - timedelta(days=40)).isoformat(), "purchase", 100
    )  # outside 7 and 30 days

    # When the saved queries run
    results = {r.query.name: r for r in twin.athena.run_named_queries()}

    # Then they see today's file through projection, and their date filters exclude the old one
    assert results
    events = next(r for r in results.values() if "event_count" in r.query.query)
    assert [row[1:] for row in events.rows] == [("purchase", 3)]
    assert str(events.rows[0][0]) == today.isoformat()


def test_a_date_compared_with_text_is_rejected_as_trino_rejects_it(
    prod: SynthesizedPlatform, twin_on: Callable[..., LocalTwin]
) -> None:
    twin = twin_on(prod.outdir)
    (query, *_) = twin.athena.named_queries()
    as_text = dataclasses.replace(
        query, query=query.query.replace("current_date - INTERVAL '7' DAY", "'2026-12-01'")
    )
    assert as_text.query != query.query

    with pytest.raises(QueryError, match="cannot compare DATE with VARCHAR"):
        twin.athena.run(as_text)


def test_a_query_on_a_table_the_catalog_lacks_fails(
    prod: SynthesizedPlatform, twin_on: Callable[..., LocalTwin], tmp_path: Path
) -> None:
    twin = twin_on(prod.outdir)
    (query, *_) = twin.athena.named_queries()
    missing = dataclasses.replace(query, query=query.query.replace("daily_event_summary", "daily_summary"))

    with pytest.raises(QueryError, match=r"datalake_prod_consumer\.daily_summary does not exist"):
        twin.athena.run(missing)
