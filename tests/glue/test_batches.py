"""What makes a run's cost follow its batch: the redelivery index and its lookback, the run manifest the
quality gate reads, and the partitions a job registers (against the local twin's Glue catalog)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pyspark.sql import SparkSession

import raw_to_processed as job
from glue_scripts.lake_tables import partition_location, partition_predicate, register_partitions
from local_twin import sdk
from local_twin.twin import LocalTwin
from tests.conftest import SynthesizedPlatform
from tests.glue.conftest import event

pytestmark = pytest.mark.slow

DAY0 = datetime(2026, 11, 10, 6, 0, tzinfo=UTC)


def process(
    spark: SparkSession, out: Path, events: list[dict[str, Any]], *, now: datetime, **options: Any
) -> job.RunCounts:
    lines = spark.createDataFrame([(json.dumps(e), "s3://raw/x.gz") for e in events], job.LINES_SCHEMA)
    return job.process(
        spark,
        lines,
        str(out / "processed"),
        str(out / "quarantine"),
        now=now,
        options=job.RunOptions(**options),
    )


def at(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the redelivery index -----------------------------------------------------------------------------


@pytest.mark.parametrize(("days_later", "dropped"), [(3, True), (7 - 1, True), (8, False)])
def test_a_redelivery_under_another_day_is_dropped_within_the_lookback(
    spark: SparkSession, tmp_path: Path, days_later: int, dropped: bool
) -> None:
    # Given "a" stored from a batch processed on DAY0
    original = event("a", event_time=at(DAY0 - timedelta(hours=1)))
    process(spark, tmp_path, [original, event("b", event_time=at(DAY0 - timedelta(hours=1)))], now=DAY0)

    # When it arrives again days later with an event_time a day later (another event_date partition)
    moved = {**original, "event_time": at(DAY0 + timedelta(days=1))}
    counts = process(spark, tmp_path, [moved], now=DAY0 + timedelta(days=days_later), lookback_days=7)

    # Then within the 7 processing days of the index it is dropped; beyond them it is stored again
    # (the documented limit: docs/scaling.md)
    if dropped:
        assert (counts.rows_written, counts.redeliveries_other_day, counts.duplicates_already_present) == (
            0,
            1,
            1,
        )
        assert counts.partitions == []
    else:
        assert (counts.rows_written, counts.redeliveries_other_day) == (1, 0)
    stored = spark.read.parquet(str(tmp_path / "processed"))
    assert stored.where("event_id = 'a'").count() == (1 if dropped else 2)


def test_the_index_reads_only_the_lookback_s_folders(spark: SparkSession, tmp_path: Path) -> None:
    for offset in range(10):  # one run per processing day
        moment = DAY0 + timedelta(days=offset)
        process(spark, tmp_path, [event(f"e{offset}", event_time=at(moment))], now=moment)
    target = str(tmp_path / "processed")

    folders = job.recent_id_partitions(spark, target, (DAY0 + timedelta(days=9)).date(), 7)

    assert [f.rsplit("=", 1)[-1] for f in folders] == [
        (DAY0 + timedelta(days=d)).date().isoformat() for d in range(3, 10)
    ]
    assert job.recent_id_partitions(spark, target, DAY0.date(), 0) == []


# --- the run manifest ----------------------------------------------------------------------------------


def test_the_manifest_selects_exactly_the_partitions_the_run_appended_to(
    spark: SparkSession, tmp_path: Path
) -> None:
    # Given a first batch, then a second touching one of its partitions, a new one, and a redelivery
    process(spark, tmp_path, [event("a"), event("b", event_type="search")], now=DAY0, run_id="jr_1")
    second = [
        event("c"),  # 2026-11-23 page_view: a partition of the first run
        event("d", event_type="order_placed", event_time="2026-11-22T10:00:00.000Z"),  # a new one
        event("b", event_type="search"),  # redelivered: its partition gets no file
    ]
    counts = process(spark, tmp_path, second, now=DAY0, run_id="jr_2")

    manifest = json.loads((tmp_path / "processed" / "_runs" / "jr_2.json").read_text())
    assert (
        manifest["partitions"]
        == counts.partitions
        == [
            ["2026-11-22", "order_placed"],
            ["2026-11-23", "page_view"],
        ]
    )
    assert manifest["rowsWritten"] == 2
    # The predicate, as Glue applies it to the partition columns, selects those partitions' rows only
    stored = spark.read.parquet(str(tmp_path / "processed"))
    selected = stored.where(manifest["pushDownPredicate"])
    assert sorted(r["event_id"] for r in selected.collect()) == ["a", "c", "d"]


def test_a_run_appending_nothing_leaves_an_empty_predicate(spark: SparkSession, tmp_path: Path) -> None:
    process(spark, tmp_path, [event("a")], now=DAY0, run_id="jr_1")

    counts = process(spark, tmp_path, [event("a"), "not json"], now=DAY0, run_id="jr_2")  # type: ignore[list-item]

    manifest = json.loads((tmp_path / "processed" / "_runs" / "jr_2.json").read_text())
    assert counts.rows_written == 0 and manifest["partitions"] == []
    assert manifest["pushDownPredicate"] == ""  # the pipeline skips the quality check


def test_partition_predicate_quotes_and_orders() -> None:
    predicate = partition_predicate(
        ["d", "t"], [["2026-01-02", "b"], ["2026-01-01", "a"], ["2026-01-01", "a"]]
    )

    assert predicate == "(d = '2026-01-01' AND t = 'a') OR (d = '2026-01-02' AND t = 'b')"
    assert partition_predicate(["d"], []) == ""
    assert partition_location("s3://b/events/", ["d", "t"], ["2026-01-01", "a"]) == (
        "s3://b/events/d=2026-01-01/t=a/"
    )


# --- registering partitions, against the twin's catalog --------------------------------------------------


@pytest.fixture
def catalog(
    dev: SynthesizedPlatform, tmp_path: Path
) -> Iterator[tuple[LocalTwin, Callable[[], Any], list[str]]]:
    """The dev twin's catalog, a boto3 Glue client answered by it as raw_to_processed's role, and the
    operations that client called."""
    twin = LocalTwin(dev.outdir, tmp_path / "twin")
    (glue_job,) = [j for name, j in twin.glue.jobs.items() if name.endswith("raw-to-processed")]
    calls: list[str] = []

    def recorded(
        name: str, handler: Callable[..., dict[str, Any]]
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def answer(params: dict[str, Any]) -> dict[str, Any]:
            calls.append(name)
            return handler(glue_job.role, params, "test")

        return answer

    answers = {
        ("glue", "GetTable"): recorded("GetTable", twin.glue.get_table),
        ("glue", "BatchCreatePartition"): recorded("BatchCreatePartition", twin.glue.batch_create_partition),
    }
    with sdk.answered_by(twin.assembly.env.region, answers):
        import boto3  # noqa: PLC0415 (patched by answered_by)

        yield twin, lambda: boto3.client("glue"), calls
    twin.close()


def processed_table(twin: LocalTwin) -> Any:
    table = twin.glue.catalog.table("datalake_dev_processed", "events")
    assert table is not None
    return table


def test_registering_is_idempotent_and_copies_the_table_s_storage(
    catalog: tuple[LocalTwin, Callable[[], Any], list[str]],
) -> None:
    twin, client, calls = catalog
    table = processed_table(twin)
    root = table.location
    partitions = [["2026-11-23", "page_view"], ["2026-11-23", "search"]]

    first = register_partitions(client(), "datalake_dev_processed", "events", root, partitions)
    again = register_partitions(
        client(), "datalake_dev_processed", "events", root, [*partitions, partitions[0]]
    )

    assert (first, again) == (2, 0)  # an existing partition is not an error, and not counted
    assert table.partitions == {
        ("2026-11-23", "page_view"): f"{root}event_date=2026-11-23/event_type=page_view/",
        ("2026-11-23", "search"): f"{root}event_date=2026-11-23/event_type=search/",
    }
    assert calls == ["GetTable", "BatchCreatePartition"] * 2


def test_registering_batches_by_the_api_limit_and_nothing_makes_no_call(
    catalog: tuple[LocalTwin, Callable[[], Any], list[str]],
) -> None:
    twin, client, calls = catalog
    root = processed_table(twin).location
    days = [(DAY0 - timedelta(days=d)).date().isoformat() for d in range(250)]

    assert register_partitions(client(), "datalake_dev_processed", "events", root, []) == 0
    assert calls == []
    # The twin's BatchCreatePartition refuses more than 100 entries, as Glue does.
    assert (
        register_partitions(client(), "datalake_dev_processed", "events", root, [[d, "x"] for d in days])
        == 250
    )
    assert calls == ["GetTable"] + ["BatchCreatePartition"] * 3


def test_registering_in_a_table_the_role_may_not_write_is_denied(
    catalog: tuple[LocalTwin, Callable[[], Any], list[str]],
) -> None:
    twin, client, _ = catalog
    consumer = twin.glue.catalog.table("datalake_dev_consumer", "daily_event_summary")
    assert consumer is not None

    with pytest.raises(ClientError) as denied:
        register_partitions(
            client(), "datalake_dev_consumer", "daily_event_summary", consumer.location, [["2026-11-23"]]
        )

    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert consumer.partitions == {}


# --- one schema: what the scripts write is what the app's tables declare -----------------------------


def table_columns(platform: SynthesizedPlatform, zone: str, name: str) -> list[tuple[str, str]]:
    """Columns then partition keys of table ``name`` in the app's ``zone`` database, as synthesized."""
    etl = platform.template(platform.platform.etl)
    (table,) = [
        t["Properties"]["TableInput"]
        for t in etl.find_resources("AWS::Glue::Table").values()
        if t["Properties"]["TableInput"]["Name"] == name
        and t["Properties"]["DatabaseName"]["Ref"].startswith(f"Catalog{zone.capitalize()}Database")
    ]
    return [(c["Name"], c["Type"]) for c in (*table["StorageDescriptor"]["Columns"], *table["PartitionKeys"])]


def written_columns(spark: SparkSession, root: Path) -> list[tuple[str, str]]:
    """The Parquet files' columns then the partition folders' keys, in catalog type names."""
    frame = spark.read.parquet(str(root))  # partition discovery appends the keys, typed as written
    return [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]


def test_the_scripts_write_exactly_the_columns_of_the_app_s_tables(
    spark: SparkSession, dev: SynthesizedPlatform, tmp_path: Path
) -> None:
    import processed_to_consumer as consumer  # noqa: PLC0415

    process(
        spark,
        tmp_path,
        [event("a", amount="12.50", currency="EUR", attributes={"k": "v"}, user_id="u", session_id="s")],
        now=DAY0,
    )
    consumer.process(spark, str(tmp_path / "processed"), str(tmp_path / "consumer"))

    # A drift either way (a column renamed, retyped or added in a script, or in the table) fails here.
    assert written_columns(spark, tmp_path / "processed") == table_columns(dev, "processed", "events")
    assert written_columns(spark, tmp_path / "consumer") == table_columns(
        dev, "consumer", "daily_event_summary"
    )


# --- the source window: a run lists the last arrival days, not the raw zone's history ------------------


def test_a_run_lists_only_the_arrival_days_of_its_window(spark: SparkSession, tmp_path: Path) -> None:
    from tests.glue.conftest import RawZone  # noqa: PLC0415

    raw = RawZone(tmp_path / "raw" / "events")
    for back in range(10):
        day = (DAY0 - timedelta(days=back)).date().isoformat()
        for event_type in ("page_view", "search"):
            raw.add(event_type, day, [event(f"{event_type}-{back}")])
    (raw.root / "_quarantine").mkdir()  # not an event type folder

    paths = job.recent_source_paths(spark, str(raw.root), DAY0.date(), 3)

    days = [(DAY0 - timedelta(days=back)).date().isoformat() for back in (2, 1, 0)]
    assert paths == sorted(
        f"{raw.root}/event_type={t}/dt={d}/" for t in ("page_view", "search") for d in days
    )
    assert job.recent_source_paths(spark, str(tmp_path / "missing"), DAY0.date(), 3) == []
