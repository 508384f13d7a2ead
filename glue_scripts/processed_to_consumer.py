"""Processed zone -> consumer zone: analyst-ready daily aggregates of the processed events.

Grain: one row per ``event_date``, ``event_type`` and ``currency`` (``currency`` is null for events
without one, e.g. page views; amounts in different currencies are never added together):

=====================  ===========================================================================
``event_date``         UTC date of the events (the partition column)
``event_type``         as in the processed zone
``currency``           ISO 4217 code, or null
``event_count``        events
``unique_users``       exact count of distinct non-null ``user_id`` in the row's slice; like every
                       distinct count it does not add up across rows (a user paying in two
                       currencies counts in both)
``total_amount``       sum of ``amount`` (decimal(28,2)); null when no event of the slice has one
``first_event_time``   earliest ``event_time``
``last_event_time``    latest ``event_time``
=====================  ===========================================================================

Written as snappy Parquet partitioned by ``event_date``. A run recomputes the selected dates completely
from the processed events and replaces exactly those ``event_date`` partitions (dynamic partition
overwrite): re-runs are idempotent and other dates are not touched.

Which dates: those raw_to_processed appended to since the last successful run. It leaves an empty
marker ``<source>/_changed_dates/<yyyy-MM-dd>.<run id>`` per date; this job recomputes those dates and
then removes the markers it read (a failed run leaves them for the next). So a day that received late
events is recomputed and a run without new data reads nothing. A day whose processed files have
partly expired (lifecycle) is not recomputed from what is left, unless a late event for that day
arrives (keep processed data at least as long as consumer data to rule that out).
``--since-date yyyy-MM-dd`` also recomputes every date from that day on (a backfill, e.g. for
processed data that predates the markers).

Run locally: ``python processed_to_consumer.py --source DIR --target DIR [--since-date yyyy-MM-dd]``.
In Glue (``--JOB_NAME`` present): ``--source`` and ``--target`` required, ``--since-date`` optional;
``--catalog_database`` and ``--catalog_table`` name the consumer table whose partitions the job
registers (the dates it wrote; an existing partition is left as it is). The tables' columns come from
``lake_tables`` (shipped to Glue with ``--extra-py-files``), which the CDK app's Glue tables use too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as sf

from lake_tables import DAILY_EVENT_SUMMARY, PROCESSED_EVENTS, register_partitions, spark_schema

LOG = logging.getLogger("processed_to_consumer")

PROCESSED_SCHEMA = spark_schema([*PROCESSED_EVENTS.columns, *PROCESSED_EVENTS.partition_keys])
GRAIN = ("event_date", "event_type", "currency")
CONSUMER_COLUMNS = (*DAILY_EVENT_SUMMARY.partition_names, *DAILY_EVENT_SUMMARY.column_names)
DATE_PARTITION_PREFIX = "event_date="
CHANGED_DATES_DIR = "_changed_dates"  # raw_to_processed writes the same name


@dataclass(frozen=True)
class CatalogTable:
    """Where the job registers the consumer partitions it writes: a boto3 Glue client and the table."""

    glue: Any
    database: str
    table: str


@dataclass(frozen=True)
class RunSummary:
    events_read: int = 0
    rows_written: int = 0
    dates_written: list[str] | None = None
    since_date: str | None = None
    markers_consumed: int = 0
    partitions_registered: int = 0

    def summary(self, **extra: Any) -> dict[str, Any]:
        return {"job": "processed_to_consumer", **asdict(self), **extra}


def daily_aggregates(events: DataFrame) -> DataFrame:
    """Processed events -> one row per ``GRAIN`` with the consumer metrics (pure, no action)."""
    return events.groupBy(*GRAIN).agg(
        sf.count(sf.lit(1)).alias("event_count"),
        sf.countDistinct("user_id").alias("unique_users"),  # exact; nulls are not counted
        sf.sum("amount").alias("total_amount"),
        sf.min("event_time").alias("first_event_time"),
        sf.max("event_time").alias("last_event_time"),
    )


def configure_session(spark: SparkSession) -> None:
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    # An overwrite replaces only the partitions the new data has, never the whole table.
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    # Instants before 1582 (which raw_to_processed accepts) read and written as they are, in the
    # proleptic Gregorian calendar; Spark's default (EXCEPTION) would fail the write of such a day.
    spark.conf.set("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
    spark.conf.set("spark.sql.parquet.datetimeRebaseModeInWrite", "CORRECTED")


def _filesystem(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm  # Hadoop's FileSystem: the same client Spark uses (local, s3://)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def changed_dates(spark: SparkSession, source: str) -> tuple[set[date], list[str]]:
    """The dates raw_to_processed's markers under ``<source>/_changed_dates/`` name, and the markers'
    paths (one listing; the marker's name holds its date)."""
    filesystem, hadoop_path = _filesystem(spark, f"{source.rstrip('/')}/{CHANGED_DATES_DIR}")
    if not filesystem.exists(hadoop_path):
        return set(), []
    dates: set[date] = set()
    paths: list[str] = []
    for status in filesystem.listStatus(hadoop_path):
        day = _iso_date(status.getPath().getName().split(".", 1)[0])
        if status.isFile() and day is not None:
            dates.add(day)
            paths.append(str(status.getPath().toString()))
    return dates, sorted(paths)


def remove_markers(spark: SparkSession, paths: Sequence[str]) -> None:
    for path in paths:
        filesystem, hadoop_path = _filesystem(spark, path)
        filesystem.delete(hadoop_path, False)


def date_partitions(
    spark: SparkSession, source: str, since: date | None = None, dates: Collection[date] = ()
) -> list[str]:
    """Paths of the ``event_date=`` partitions of ``source`` in ``dates`` or on or after ``since``, from
    one listing (cheaper on S3 than listing every file of the table and pruning afterwards)."""
    filesystem, hadoop_path = _filesystem(spark, source)
    if not filesystem.exists(hadoop_path):
        return []
    selected = []
    for status in filesystem.listStatus(hadoop_path):
        name = status.getPath().getName()
        if not status.isDirectory() or not name.startswith(DATE_PARTITION_PREFIX):
            continue
        day = _iso_date(name[len(DATE_PARTITION_PREFIX) :])
        if day is not None and (day in dates or (since is not None and day >= since)):
            selected.append(f"{source.rstrip('/')}/{name}")
    return sorted(selected)


def read_processed(spark: SparkSession, source: str, partitions: Sequence[str]) -> DataFrame:
    return spark.read.schema(PROCESSED_SCHEMA).option("basePath", source).parquet(*partitions)


def write_consumer(aggregates: DataFrame, target: str) -> None:
    (
        aggregates.repartition("event_date")  # one file per date
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .option("compression", "snappy")
        .partitionBy("event_date")
        .parquet(target)
    )


def process(
    spark: SparkSession,
    source: str,
    target: str,
    since: date | None = None,
    catalog: CatalogTable | None = None,
) -> RunSummary:
    """Recomputes the aggregates of the processed dates that changed (markers) or are on or after
    ``since``, replaces those consumer partitions, then removes the markers it read. Nothing selected
    writes nothing."""
    configure_session(spark)
    started = time.monotonic()
    changed, markers = changed_dates(spark, source)
    partitions = date_partitions(spark, source, since, changed)
    dates = [path.rsplit(DATE_PARTITION_PREFIX, 1)[1] for path in partitions]
    result = RunSummary(since_date=since.isoformat() if since else None, dates_written=[])
    if partitions:
        read_observation, write_observation = Observation("read"), Observation("written")
        events = read_processed(spark, source, partitions).observe(
            read_observation, sf.count(sf.lit(1)).alias("rows")
        )
        aggregates = daily_aggregates(events).select(*CONSUMER_COLUMNS)
        write_consumer(aggregates.observe(write_observation, sf.count(sf.lit(1)).alias("rows")), target)
        result = RunSummary(
            events_read=read_observation.get["rows"],
            rows_written=write_observation.get["rows"],
            dates_written=dates,
            since_date=result.since_date,
        )
    if catalog is not None and result.dates_written:
        registered = register_partitions(
            catalog.glue, catalog.database, catalog.table, target, [[day] for day in result.dates_written]
        )
        result = replace(result, partitions_registered=registered)
    # Only after the write: a failed run leaves its markers for the next. A marker of a date with no
    # processed partition left (expired) has nothing to recompute and goes too.
    remove_markers(spark, markers)
    result = replace(result, markers_consumed=len(markers))
    LOG.info(
        json.dumps(result.summary(source=source, target=target, seconds=round(time.monotonic() - started, 3)))
    )
    return result


def _since_parser() -> argparse.ArgumentParser:
    """The job's optional arguments (getResolvedOptions only takes required ones)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--since-date", "--since_date", dest="since_date", type=date.fromisoformat)
    parser.add_argument("--catalog_database", "--catalog-database", help="register partitions here")
    parser.add_argument("--catalog_table", "--catalog-table", help="in this table (with --catalog_database)")
    return parser


def _catalog(options: argparse.Namespace) -> CatalogTable | None:
    if bool(options.catalog_database) != bool(options.catalog_table):
        raise ValueError("--catalog_database and --catalog_table go together")
    if not options.catalog_database:
        return None
    import boto3  # noqa: PLC0415 (only to register partitions)

    return CatalogTable(boto3.client("glue"), options.catalog_database, options.catalog_table)


def _glue_main(argv: list[str]) -> RunSummary:
    # Only importable inside Glue (the Glue runtime's JARs back GlueContext).
    from awsglue.context import GlueContext  # noqa: PLC0415
    from awsglue.job import Job  # noqa: PLC0415
    from awsglue.utils import getResolvedOptions  # noqa: PLC0415
    from pyspark.context import SparkContext  # noqa: PLC0415

    args = getResolvedOptions(argv, ["JOB_NAME", "source", "target"])
    options = _since_parser().parse_known_args(argv[1:])[0]  # optional: not getResolvedOptions'
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    summary = process(
        glue_context.spark_session, args["source"], args["target"], options.since_date, _catalog(options)
    )
    job.commit()
    return summary


def _local_main(argv: list[str]) -> RunSummary:
    parser = argparse.ArgumentParser(
        description="Processed zone -> consumer zone (plain PySpark).", parents=[_since_parser()]
    )
    parser.add_argument("--source", required=True, help="processed events directory or URL")
    parser.add_argument("--target", required=True, help="consumer aggregates directory or URL")
    args = parser.parse_args(argv)
    running = SparkSession.getActiveSession()  # e.g. a caller's (tests): used, and left running
    spark = running or SparkSession.builder.master("local[*]").appName("processed_to_consumer").getOrCreate()
    try:
        return process(spark, args.source, args.target, args.since_date, _catalog(args))
    finally:
        if running is None:
            spark.stop()


def _setup_logging() -> None:
    """The summary line goes to stdout whatever the runtime configured for the root logger."""
    if not LOG.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False


def main(argv: Sequence[str] | None = None) -> RunSummary:
    argv = list(sys.argv if argv is None else argv)
    _setup_logging()
    if "--JOB_NAME" in argv:
        return _glue_main(argv)
    return _local_main(argv[1:])


if __name__ == "__main__":
    main()
