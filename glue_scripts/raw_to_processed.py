"""Raw zone -> processed zone: validate, deduplicate and store Firehose's JSON-lines events as Parquet.

Input: GZIP JSON-lines objects that Amazon Data Firehose writes under
``<source>/event_type=<type>/dt=<arrival date>/<name>.gz``. Output:

* ``<target>/event_date=<yyyy-MM-dd>/event_type=<type>/*.snappy.parquet``, appended (existing processed
  data is never overwritten). ``event_date`` is the UTC date of ``event_time``, not the arrival date, so
  a late event lands in its own day's partition.
* ``<target>/_changed_dates/<yyyy-MM-dd>.<run id>``: an empty marker per ``event_date`` the run
  appended to, left for processed_to_consumer, which recomputes those days and removes the markers
  (Spark and the crawlers skip ``_`` folders).
* ``<quarantine>/ingestion_date=<arrival date>/*.json.gz``: every rejected line with ``reason``, the
  original ``raw`` line, its ``source_file`` and ``quarantined_at``.

Event schema (``EVENT_SCHEMA``): ``event_id``, ``event_type``, ``event_time`` required; ``user_id``,
``session_id``, ``amount`` decimal(18,2) >= 0, ``currency`` (3 upper-case letters), ``attributes``
map<string,string> optional. Unknown fields are ignored (schema drift); a missing optional field is null.

Quarantine reasons, checked in this order (a line gets the first that applies), see ``REASONS``:

========================  =====================================================================
``malformed_json``        not exactly one JSON object (syntax error, array, scalar, trailing text,
                          objects concatenated on one line: ``{..}{..}``, ``{..}, {..}``)
``missing_event_id``      ``event_id`` absent, null or blank
``missing_event_type``    ``event_type`` absent, null or blank
``invalid_event_type``    ``event_type`` does not match ``^[a-z0-9][a-z0-9_-]{0,63}$``
``missing_event_time``    ``event_time`` absent, null or blank
``invalid_event_time``    not ISO-8601 with a date, a time and an explicit zone (``Z`` or
                          ``+hh:mm``), not a real instant (``2026-02-30...``), or outside years
                          1-9999 once in UTC (``0001-01-01T00:00:00+01:00``)
``invalid_amount``        not a number, more than 2 decimals, or beyond decimal(18,2)
``negative_amount``       ``amount`` < 0
``invalid_currency``      ``currency`` present but not 3 upper-case letters
``invalid_attributes``    ``attributes`` present but not a JSON object
``invalid_field_type``    a field of a JSON type the schema cannot hold that no rule above names
                          (e.g. ``attributes`` sent as a JSON-encoded string)
========================  =====================================================================

Lenient on purpose: a JSON number where a string is expected becomes its text (``"event_id": 42`` is
``"42"``), a numeric string is accepted as ``amount`` (``"12.50"``), non-string attribute values become
their JSON text. Blank lines are not records: they are skipped and not counted.

Deduplication. Events are immutable facts identified by ``event_id``:

* within a batch, exact duplicates collapse and, among records sharing an ``event_id``, the one with the
  latest ``event_time`` is kept; ties are broken by the record's content (a total order over every
  field), so the result never depends on Spark's ordering or on file names;
* across runs, Firehose's at-least-once delivery can bring an event again in a later batch: a record
  whose ``event_id`` is already stored under its ``event_date`` is a redelivery, not an update, and is
  dropped (the stored event stays). Only ``event_id`` of the affected ``event_date`` partitions is read.
  An event redelivered with a different ``event_time`` on another day is not detected.

Row accounting, checked on every run and logged as one JSON line::

    rows_read == rows_written + rows_quarantined + duplicates_in_batch + duplicates_already_present

Each term is measured on its own (rows read on the parsed input, written and quarantined rows by
observing the two writes, duplicates by id aggregations), so a lost or doubled row fails the run.

Run locally (plain PySpark):
``python raw_to_processed.py --source DIR_OR_URL --target DIR [--quarantine DIR]``
(default quarantine: ``<target>_quarantine``). In Glue (``--JOB_NAME`` present): ``--source``,
``--target`` and ``--quarantine`` are required and job bookmarks track the files already processed.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import operator
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, Row, SparkSession, Window
from pyspark.sql import functions as sf
from pyspark.sql.types import (
    ArrayType,
    DecimalType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lake_tables import EVENT_TYPE, PROCESSED_EVENTS, partition_predicate, register_partitions, spark_schema

LOG = logging.getLogger("raw_to_processed")

# The processed table's columns (lake_tables, shared with the CDK app's Glue table), with event_type,
# which the table holds as a partition key, after event_id.
EVENT_SCHEMA = spark_schema([PROCESSED_EVENTS.columns[0], EVENT_TYPE, *PROCESSED_EVENTS.columns[1:]])
EVENT_COLUMNS = tuple(f.name for f in EVENT_SCHEMA.fields)
PARTITION_COLUMNS = PROCESSED_EVENTS.partition_names  # ("event_date", "event_type")
_EVENT_DATE = [key for key in PROCESSED_EVENTS.partition_keys if key.name == "event_date"]
PROCESSED_SCHEMA = StructType([*EVENT_SCHEMA.fields, *spark_schema(_EVENT_DATE)])
QUARANTINE_COLUMNS = ("reason", "raw", "source_file", "quarantined_at", "ingestion_date")

REASONS = (
    "malformed_json",
    "missing_event_id",
    "missing_event_type",
    "invalid_event_type",
    "missing_event_time",
    "invalid_event_time",
    "invalid_amount",
    "negative_amount",
    "invalid_currency",
    "invalid_attributes",
    "invalid_field_type",
)

EVENT_TYPE_RE = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
CURRENCY_RE = r"^[A-Z]{3}$"
# ISO-8601 date-time with an explicit zone; Spark's cast does the calendar check (no 30 February).
EVENT_TIME_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
JSON_NUMBER_RE = r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$"
ARRIVAL_DATE_RE = r"/dt=(\d{4}-\d{2}-\d{2})/"
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_FIRST_SECOND = -62135596800  # 0001-01-01T00:00:00Z
_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z
MAX_AMOUNT = Decimal("1e16")  # decimal(18,2) holds 16 integer digits
WHITESPACE = " \t\r\n\f"

_CORRUPT = "__corrupt_record__"  # the parser's own column: never a field of ours
_JSON_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT, "allowSingleQuotes": "false"}
_STRING_FIELDS = ("event_id", "event_type", "event_time", "user_id", "session_id", "currency")
# First parse: the target types where the parser can hold them exactly (amount as a wide decimal, so
# 12.345 is seen as such rather than rounded); event_time as text, checked below.
_TYPED_JSON_SCHEMA = StructType(
    [
        *(StructField(name, StringType()) for name in _STRING_FIELDS),
        StructField("amount", DecimalType(38, 18)),
        StructField("attributes", MapType(StringType(), StringType())),
        StructField(_CORRUPT, StringType()),
    ]
)
# Second parse, only of lines the first rejected: every field as text, to tell malformed JSON from a
# field of the wrong type and name the field.
_TEXT_JSON_SCHEMA = StructType(
    [StructField(name, StringType()) for name in (*_STRING_FIELDS, "amount", "attributes", _CORRUPT)]
)

# How objects get concatenated on one line ("{..}{..}", "{..}, {..}", ...): byte searches, as a regex
# (which converts every line to a Java string) cost ~2 s per million lines. Other text between two
# objects ("{..} x {..}") is not looked for.
_CONCATENATIONS = ("}{", "} {", "},{", "}, {")
_VALUES_SCHEMA = ArrayType(StringType())

# Glue reads whole lines through its CSV reader (see read_glue_lines): a separator no JSON line holds.
GLUE_LINE_SEPARATOR = "\u0001"


class AccountingError(RuntimeError):
    """Rows read do not equal rows written + quarantined + duplicates removed."""


@dataclass(frozen=True)
class CatalogTable:
    """Where the job registers the processed partitions it appends to: a boto3 Glue client and the
    table (the app's ``events`` table of the processed database)."""

    glue: Any
    database: str
    table: str


@dataclass(frozen=True)
class RunOptions:
    """What a Glue run adds to the transformation. ``run_id``: write the run manifest
    ``<target>/_runs/<run_id>.json`` (the partitions appended to, and a ``pushDownPredicate`` selecting
    them: what the pipeline's quality check evaluates). ``lookback_days``: the redelivery index's window
    (0: no index)."""

    catalog: CatalogTable | None = None
    run_id: str | None = None
    lookback_days: int = 7


@dataclass(frozen=True)
class RunCounts:
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    duplicates_in_batch: int = 0
    duplicates_already_present: int = 0  # stored before: same event_date, or another within the lookback
    redeliveries_other_day: int = 0  # of those, found by the index under another event_date
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    min_event_date: str | None = None
    max_event_date: str | None = None
    partitions: list[list[str]] = field(default_factory=list)  # [event_date, event_type] appended to
    partitions_registered: int = 0

    @property
    def duplicates_removed(self) -> int:
        return self.duplicates_in_batch + self.duplicates_already_present

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_written + self.rows_quarantined + self.duplicates_removed

    def summary(self, **extra: Any) -> dict[str, Any]:
        return {
            "job": "raw_to_processed",
            **asdict(self),
            "duplicates_removed": self.duplicates_removed,
            "accounting_ok": self.balanced,
            **extra,
        }


# ---------------------------------------------------------------------------------------------------
# Pure transformations (DataFrame -> DataFrame, no action)
# ---------------------------------------------------------------------------------------------------


def parse(lines: DataFrame, *, barrier: bool = True) -> DataFrame:
    """Lines (``raw``, ``source_file``) -> typed event columns plus ``_``-prefixed parse diagnostics.

    Blank lines are dropped. Each line is parsed once with the event types; only lines that parse
    fails for are parsed a second time, as text, to find out why.

    ``barrier``: put each parse in a one-element explode. A Generate stops the optimizer from pushing
    a later filter on a parsed field (``reason IS NULL``) down by rewriting it into copies of
    from_json (a function without generated code, so the filter would also run interpreted). Needed
    when the result is filtered as is (``validate``); the job materializes the classified rows first,
    which stops the filters as well, so it parses without.
    """

    def parsed_once(column: Column) -> Column:
        return sf.explode(sf.array(column)) if barrier else column

    raw = sf.col("raw")
    # Nearly every line is "{...}" exactly: checking that first skips trimming (which copies the
    # line, and was a large share of the parse's cost) for all but the odd line.
    plain_object = raw.startswith("{") & raw.endswith("}")
    trimmed = sf.btrim(raw, sf.lit(WHITESPACE))
    object_line = sf.when(plain_object, sf.lit(True)).otherwise(
        trimmed.startswith("{") & trimmed.endswith("}")
    )
    # The parser reads the first object of "{...}{...}" and ignores the rest, which would pass as one
    # event and lose the others. Read as the elements of "[<line>]", such a line is not exactly one
    # value; only lines where "}" meets "{" pay for that second parse.
    elements = sf.from_json(sf.concat(sf.lit("["), raw, sf.lit("]")), _VALUES_SCHEMA, _JSON_OPTIONS)
    concatenated = functools.reduce(operator.or_, (raw.contains(joint) for joint in _CONCATENATIONS))
    several_values = sf.when(concatenated, sf.coalesce(sf.size(elements), sf.lit(0)) != 1).otherwise(
        sf.lit(False)
    )
    typed = lines.where(sf.when(raw.startswith("{"), sf.lit(True)).otherwise(trimmed != "")).select(
        "raw",
        "source_file",
        (object_line & ~several_values).alias("_object_line"),
        parsed_once(sf.from_json("raw", _TYPED_JSON_SCHEMA, _JSON_OPTIONS)).alias("_typed"),
    )
    type_error = sf.col(f"_typed.{_CORRUPT}").isNotNull()
    text = sf.when(type_error, sf.from_json("raw", _TEXT_JSON_SCHEMA, _JSON_OPTIONS))
    with_text = typed.select("*", parsed_once(text).alias("_text"))

    def pick(name: str, alias: str | None = None) -> Column:
        value = sf.when(type_error, sf.col(f"_text.{name}")).otherwise(sf.col(f"_typed.{name}"))
        return value.alias(alias or name)

    event_time_text = sf.col("_event_time_text")
    parsed = with_text.select(
        "raw",
        "source_file",
        (~sf.col("_object_line") | sf.col(f"_text.{_CORRUPT}").isNotNull()).alias("_malformed"),
        type_error.alias("_type_error"),
        *(pick(name) for name in ("event_id", "event_type", "user_id", "session_id", "currency")),
        pick("event_time", "_event_time_text"),
        sf.col("_typed.amount").alias("_amount_exact"),
        sf.col("_text.amount").alias("_amount_text"),
        sf.col("_typed.attributes").alias("attributes"),
        sf.col("_text.attributes").alias("_attributes_text"),
    )
    instant = sf.try_to_timestamp(event_time_text)
    # Years 1-9999 in UTC: an event_date outside them cannot be collected into Python (the run
    # would fail on that line every time, as its file is read again until a run succeeds).
    in_range = sf.unix_seconds(instant).between(_FIRST_SECOND, _LAST_SECOND)
    return parsed.select(
        "*", sf.when(event_time_text.rlike(EVENT_TIME_RE) & in_range, instant).alias("event_time")
    )


_NOT_WHITESPACE_RE = r"[^ \t\r\n\f]"  # any character outside WHITESPACE


def _is_blank(column: Column) -> Column:
    """Null, empty or only ``WHITESPACE`` (a regex search: no trimmed copy of the value)."""
    return column.isNull() | ~column.rlike(_NOT_WHITESPACE_RE)


def classify(parsed: DataFrame) -> DataFrame:
    """Adds ``reason`` (null for a valid event), final typed ``amount`` and ``event_date``; keeps ``raw``
    and ``source_file`` only for rejected lines (valid ones never need them again: less to cache)."""
    exact = sf.col("_amount_exact")
    type_error = sf.col("_type_error")
    amount_text = sf.col("_amount_text")
    attributes_text = sf.col("_attributes_text")
    # A line the typed parse rejected names its bad field through the text parse.
    bad_amount_text = amount_text.isNotNull() & (
        ~amount_text.rlike(JSON_NUMBER_RE) | sf.expr("try_cast(_amount_text AS DECIMAL(38, 18))").isNull()
    )
    # The text parse renders a JSON object as its JSON text; any other value does not start with "{".
    # (No from_json here: it has no generated code and would take this whole projection out of
    # whole-stage code generation.)
    bad_attributes_text = attributes_text.isNotNull() & ~attributes_text.startswith("{")
    amount_fits = (sf.abs(exact) < sf.lit(MAX_AMOUNT)) & (sf.round(exact, 2) == exact)
    reason = (
        sf.when(sf.col("_malformed"), "malformed_json")
        .when(_is_blank(sf.col("event_id")), "missing_event_id")
        .when(_is_blank(sf.col("event_type")), "missing_event_type")
        .when(~sf.col("event_type").rlike(EVENT_TYPE_RE), "invalid_event_type")
        .when(_is_blank(sf.col("_event_time_text")), "missing_event_time")
        .when(sf.col("event_time").isNull(), "invalid_event_time")
        .when(type_error & bad_amount_text, "invalid_amount")
        .when(exact.isNotNull() & ~amount_fits, "invalid_amount")
        .when(exact < 0, "negative_amount")
        .when(sf.col("currency").isNotNull() & ~sf.col("currency").rlike(CURRENCY_RE), "invalid_currency")
        .when(type_error & bad_attributes_text, "invalid_attributes")
        .when(type_error, "invalid_field_type")
    )
    classified = parsed.select("*", reason.alias("reason"))
    valid = sf.col("reason").isNull()
    return add_event_date(
        classified.select(
            sf.when(~valid, sf.col("raw")).alias("raw"),
            sf.when(~valid, sf.col("source_file")).alias("source_file"),
            "reason",
            *(sf.when(valid, sf.col(name)).alias(name) for name in ("event_id", "event_type", "event_time")),
            "user_id",
            "session_id",
            sf.when(valid, exact.cast(DecimalType(18, 2))).alias("amount"),
            "currency",
            "attributes",
        )
    )


def add_event_date(events: DataFrame) -> DataFrame:
    """``event_date``: the UTC calendar date of ``event_time``, whatever the session time zone."""
    epoch_day = sf.floor(sf.unix_seconds(sf.col("event_time")) / 86400).cast("int")
    return events.withColumn("event_date", sf.date_from_unix_date(epoch_day))


def split_valid(classified: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid events: ``EVENT_COLUMNS`` + ``event_date``; rejected: ``reason``, ``raw``, ``source_file``)."""
    valid = classified.where(sf.col("reason").isNull()).select(*EVENT_COLUMNS, "event_date")
    invalid = classified.where(sf.col("reason").isNotNull()).select("reason", "raw", "source_file")
    return valid, invalid


def validate(parsed: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Parsed lines -> (valid events, rejected lines with ``reason``). See ``REASONS``."""
    return split_valid(classify(parsed))


def duplicate_ids(events: DataFrame) -> DataFrame:
    """``event_id`` and ``copies`` of every id that occurs more than once. Shuffles ids only."""
    return events.groupBy("event_id").agg(sf.count(sf.lit(1)).alias("copies")).where(sf.col("copies") > 1)


def _content_order(events: DataFrame) -> list[Column]:
    """Greatest content first: a total order over what a record says (maps are not orderable, so
    attributes compare as their entries sorted, as JSON)."""
    columns = [sf.col(name) for name in EVENT_COLUMNS if name not in ("event_id", "attributes")]
    if "attributes" in events.columns:
        columns.append(sf.to_json(sf.array_sort(sf.map_entries(sf.col("attributes")))))
    return [column.desc_nulls_last() for column in columns]


def dedupe(events: DataFrame, duplicates: DataFrame | None = None, *, broadcast: bool = False) -> DataFrame:
    """Keeps one record per ``event_id``: the latest ``event_time``, then the greatest content (a total
    order over every field), so the choice never depends on Spark's ordering and exact duplicates
    collapse.

    Only records whose id occurs more than once are shuffled: unique records (nearly all) keep their
    input partitioning, so the output files follow the input files. ``duplicates`` may be given
    precomputed (``duplicate_ids``); ``broadcast`` when it is known to be small.
    """
    ids = (duplicates if duplicates is not None else duplicate_ids(events)).select("event_id")
    if broadcast:
        ids = sf.broadcast(ids)
    unique = events.join(ids, "event_id", "left_anti")
    repeated = events.join(ids, "event_id", "left_semi")
    window = Window.partitionBy("event_id").orderBy(sf.col("event_time").desc(), *_content_order(events))
    latest = repeated.withColumn("_rank", sf.row_number().over(window)).where("_rank = 1").drop("_rank")
    return unique.unionByName(latest).select(*events.columns)


def drop_already_present(events: DataFrame, present_ids: DataFrame, *, broadcast: bool = False) -> DataFrame:
    """Drops events whose ``event_id`` is in ``present_ids`` (redeliveries of stored events)."""
    ids = present_ids.select("event_id")
    return events.join(sf.broadcast(ids) if broadcast else ids, "event_id", "left_anti")


def to_quarantine(rejected: DataFrame, quarantined_at: datetime) -> DataFrame:
    """Rejected lines in the quarantine layout; ``ingestion_date`` is the Firehose arrival date (``dt=``
    in the source path), or the quarantine date for files outside that layout."""
    arrival = sf.to_date(sf.regexp_extract(sf.col("source_file"), ARRIVAL_DATE_RE, 1), "yyyy-MM-dd")
    return rejected.select(
        "reason",
        "raw",
        "source_file",
        sf.lit(quarantined_at).cast(TimestampType()).alias("quarantined_at"),
        sf.coalesce(arrival, sf.lit(quarantined_at.date())).alias("ingestion_date"),
    )


# ---------------------------------------------------------------------------------------------------
# I/O and the job
# ---------------------------------------------------------------------------------------------------

LINES_SCHEMA = StructType([StructField("raw", StringType()), StructField("source_file", StringType())])
# Id sets (duplicated ids, redelivered ids) up to this size are collected and broadcast; larger ones
# (a replayed day) are joined by shuffling ids, still never whole records.
LOCAL_IDS_MAX = 200_000
ID_SCHEMA = StructType([StructField("event_id", StringType())])


def configure_session(spark: SparkSession) -> None:
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # Parquet's standard timestamp (Athena, DuckDB, Trino read it as an instant) instead of legacy INT96.
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    # Instants before 1582 (e.g. a client's 0001-01-01 "no date") are written as they are, in the
    # proleptic Gregorian calendar every modern reader uses. Spark's default (EXCEPTION) fails the
    # write: the job would stop on that one event, run after run, as the bookmark never advances.
    spark.conf.set("spark.sql.parquet.datetimeRebaseModeInWrite", "CORRECTED")
    spark.conf.set("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
    # The parsed batch is cached for a few passes of one run only: compressing the cached columns
    # (on by default) cost about as much CPU as the rest of the caching and made reading it back
    # slower; memory is not the constraint (MEMORY_AND_DISK spills if it were).
    spark.conf.set("spark.sql.inMemoryColumnarStorage.compressed", "false")
    # The job's only shuffles carry ids or the few repeated records: Spark's default of 200 shuffle
    # partitions cost more in tasks and shuffle files than the data did. A few per core (adaptive
    # execution still coalesces or splits them).
    spark.conf.set("spark.sql.shuffle.partitions", str(max(8, 2 * spark.sparkContext.defaultParallelism)))


def _hadoop_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm  # Hadoop's FileSystem: the same client Spark uses (local, s3://)
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path


def path_exists(spark: SparkSession, path: str) -> bool:
    filesystem, hadoop_path = _hadoop_path(spark, path)
    return bool(filesystem.exists(hadoop_path))


def read_lines(spark: SparkSession, source: str) -> DataFrame:
    """Every line under ``source`` (recursively; gzip by extension) with its file. No partition
    discovery: the ``event_type=`` directories would otherwise add a second ``event_type`` column."""
    if not path_exists(spark, source):
        LOG.warning("source %s does not exist: nothing to process", source)
        return spark.createDataFrame([], LINES_SCHEMA)
    return (
        spark.read.option("recursiveFileLookup", "true")
        .text(source)
        .select(sf.col("value").alias("raw"), sf.input_file_name().alias("source_file"))
    )


def existing_date_partitions(spark: SparkSession, target: str, dates: Sequence[date]) -> list[str]:
    """Paths of ``target``'s ``event_date=`` partitions among ``dates`` that exist (one listing)."""
    if not dates or not path_exists(spark, target):
        return []
    filesystem, hadoop_path = _hadoop_path(spark, target)
    present = {
        status.getPath().getName() for status in filesystem.listStatus(hadoop_path) if status.isDirectory()
    }
    return [
        f"{target.rstrip('/')}/{name}"
        for d in sorted(dates)
        if (name := f"event_date={d.isoformat()}") in present
    ]


def stored_ids(spark: SparkSession, target: str, partitions: Sequence[str]) -> DataFrame:
    """``event_id`` of the given processed partitions (reads that one column only)."""
    return (
        spark.read.schema(PROCESSED_SCHEMA).option("basePath", target).parquet(*partitions).select("event_id")
    )


def write_processed(events: DataFrame, target: str) -> None:
    (
        events.sortWithinPartitions(*PARTITION_COLUMNS, "event_time")
        .write.mode("append")
        .partitionBy(*PARTITION_COLUMNS)
        .option("compression", "snappy")
        .parquet(target)
    )


CHANGED_DATES_DIR = "_changed_dates"  # processed_to_consumer reads the same name


def record_changed_dates(spark: SparkSession, target: str, dates: Sequence[date], run_id: str) -> None:
    """Leaves an empty ``<target>/_changed_dates/<date>.<run_id>`` per date: the dates the consumer
    zone must recompute. A marker per date, named by it: reading them is one listing."""
    for day in dates:
        path = f"{target.rstrip('/')}/{CHANGED_DATES_DIR}/{day.isoformat()}.{run_id}"
        filesystem, hadoop_path = _hadoop_path(spark, path)
        filesystem.create(hadoop_path, True).close()


EVENT_IDS_DIR = "_event_ids"  # the redelivery index: <target>/_event_ids/processed_date=<date>/
RUNS_DIR = "_runs"  # run manifests: <target>/_runs/<run id>.json
ID_INDEX_SCHEMA = StructType([StructField("event_id", StringType()), *PROCESSED_SCHEMA.fields[-1:]])


def recent_id_partitions(spark: SparkSession, target: str, today: date, lookback_days: int) -> list[str]:
    """The redelivery index's folders of the last ``lookback_days`` processing days (one listing)."""
    root = f"{target.rstrip('/')}/{EVENT_IDS_DIR}"
    if lookback_days <= 0 or not path_exists(spark, root):
        return []
    filesystem, hadoop_path = _hadoop_path(spark, root)
    first = date.fromordinal(today.toordinal() - lookback_days + 1)
    found = []
    for status in filesystem.listStatus(hadoop_path):
        name = status.getPath().getName()
        day = name.removeprefix("processed_date=")
        if status.isDirectory() and name != day and first.isoformat() <= day <= today.isoformat():
            found.append(f"{root}/{name}")
    return sorted(found)


INDEX_ROWS_PER_FILE = 5_000_000  # ids per index file (~100 MB of snappy Parquet at most)


def write_event_ids(events: DataFrame, target: str, today: date, *, files: int = 1) -> None:
    """Adds the stored events' ids (and dates) to today's folder of the redelivery index, in ``files``
    files. A shuffle of the ids, not a coalesce: coalesce(1) would run the whole scan in one task."""
    (
        events.select("event_id", "event_date")
        .repartition(files)
        .write.mode("append")
        .option("compression", "snappy")
        .parquet(f"{target.rstrip('/')}/{EVENT_IDS_DIR}/processed_date={today.isoformat()}")
    )


def write_run_manifest(spark: SparkSession, target: str, run_id: str, counts: RunCounts) -> str:
    """``<target>/_runs/<run_id>.json``: the partitions this run appended to, and the predicate that
    selects them (Glue's ``pushDownPredicate``, empty when there are none)."""
    path = f"{target.rstrip('/')}/{RUNS_DIR}/{run_id}.json"
    manifest = {
        "runId": run_id,
        "partitionKeys": list(PARTITION_COLUMNS),
        "partitions": counts.partitions,
        "pushDownPredicate": partition_predicate(PARTITION_COLUMNS, counts.partitions),
        "rowsWritten": counts.rows_written,
    }
    filesystem, hadoop_path = _hadoop_path(spark, path)
    stream = filesystem.create(hadoop_path, True)
    try:
        stream.write(bytearray(json.dumps(manifest, sort_keys=True).encode()))
    finally:
        stream.close()
    return path


def write_quarantine(rows: DataFrame, quarantine: str) -> None:
    (
        # One file per arrival date. Shuffles only the rejected rows; coalesce(1) would also have run
        # the scan that picks them out of the whole batch in a single task.
        rows.repartition("ingestion_date")
        .write.mode("append")
        .partitionBy("ingestion_date")
        .option("compression", "gzip")
        .json(quarantine)
    )


class _StepTimer:
    """``with steps("name"):`` adds the block's wall time to ``seconds["name"]`` (for the summary)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.monotonic() - started, 3)


def _materialize(frame: DataFrame) -> DataFrame:
    return frame.persist(StorageLevel.MEMORY_AND_DISK)


def _collect_if_small(frame: DataFrame, limit: int = LOCAL_IDS_MAX) -> list[Row] | None:
    rows = frame.limit(limit + 1).collect()
    return rows if len(rows) <= limit else None


def _id_frame(spark: SparkSession, rows: list[Row]) -> DataFrame:
    return spark.createDataFrame([(row["event_id"],) for row in rows], ID_SCHEMA)


def _drop_stored(spark: SparkSession, events: DataFrame, stored: DataFrame) -> tuple[DataFrame, int]:
    """``events`` without those whose ``event_id`` is in ``stored``, and how many that drops. The
    matching ids are collected and broadcast when few (``LOCAL_IDS_MAX``), else joined by shuffling."""
    present = events.select("event_id").join(stored, "event_id", "left_semi")
    local = _collect_if_small(present)
    if local is None:
        count, broadcast = present.count(), False
    else:
        count, present, broadcast = len(local), _id_frame(spark, local), True
    return (drop_already_present(events, present, broadcast=broadcast) if count else events), count


def _observed_count(frame: DataFrame, name: str) -> tuple[DataFrame, Observation]:
    observation = Observation(name)
    return frame.observe(observation, sf.count(sf.lit(1)).alias("rows")), observation


def process(
    spark: SparkSession,
    lines: DataFrame,
    target: str,
    quarantine: str,
    *,
    now: datetime | None = None,
    options: RunOptions | None = None,
) -> RunCounts:
    """Runs the whole transformation on ``lines`` (``raw``, ``source_file``), writes, checks the row
    accounting (raises ``AccountingError``), registers the partitions and writes the run manifest
    (``options``), and returns the counts."""
    options = options if options is not None else RunOptions()
    configure_session(spark)
    started = time.monotonic()
    now = now or datetime.now(UTC)
    steps = _StepTimer()
    classified = _materialize(classify(parse(lines, barrier=False)))
    try:
        counts = _process_classified(
            spark, classified, target, quarantine, now=now, steps=steps, lookback_days=options.lookback_days
        )
    finally:
        classified.unpersist()
    if options.catalog is not None and counts.balanced:
        with steps("register_partitions"):
            catalog = options.catalog
            registered = register_partitions(
                catalog.glue, catalog.database, catalog.table, target, counts.partitions
            )
            counts = replace(counts, partitions_registered=registered)
    summary = counts.summary(
        target=target,
        quarantine=quarantine,
        seconds=round(time.monotonic() - started, 3),
        step_seconds=steps.seconds,
    )
    LOG.info(json.dumps(summary, sort_keys=True))
    if not counts.balanced:
        raise AccountingError(f"row accounting does not balance: {json.dumps(summary, sort_keys=True)}")
    if options.run_id is not None:
        write_run_manifest(spark, target, options.run_id, counts)
    return counts


def _process_classified(
    spark: SparkSession,
    classified: DataFrame,
    target: str,
    quarantine: str,
    *,
    now: datetime,
    steps: _StepTimer,
    lookback_days: int,
) -> RunCounts:
    # One pass over the parsed input (which it caches): the ids seen more than once (ids only are
    # shuffled) and, observed on the way, the rows read, the reasons and the dates with valid events.
    with steps("read_parse_count"):
        observation = Observation("read")
        reason = sf.col("reason")
        observed = classified.observe(
            observation,
            sf.count(sf.lit(1)).alias("rows"),
            *(sf.count(sf.when(reason == name, 1)).alias(name) for name in REASONS),
            sf.to_json(sf.collect_set(sf.when(reason.isNull(), sf.unix_date("event_date")))).alias("days"),
        )
        duplicates = duplicate_ids(split_valid(observed)[0])
        local = _collect_if_small(duplicates)
        metrics = observation.get
    if not metrics:  # Spark drops the observation from a plan it knows is empty: make sure it is
        if not classified.isEmpty():
            raise AccountingError("the read was not observed: rows read are unknown")
        metrics = {"rows": 0, "days": "[]", **dict.fromkeys(REASONS, 0)}
    rows_read = int(metrics["rows"])
    reasons = {name: int(metrics[name]) for name in REASONS if metrics[name]}
    dates = sorted(date.fromordinal(_EPOCH_ORDINAL + day) for day in json.loads(metrics["days"] or "[]"))
    valid, rejected = split_valid(classified)
    counts = RunCounts(rows_read=rows_read, quarantine_reasons=reasons)
    if dates:
        if local is None:  # a huge redelivery: join by shuffling ids
            extra_copies = duplicates.agg(sf.sum(sf.col("copies") - 1)).first()[0] or 0
            in_batch = _Duplicates(duplicates, broadcast=False, extra_copies=int(extra_copies))
        else:
            extra = sum(row["copies"] - 1 for row in local)
            in_batch = _Duplicates(_id_frame(spark, local), broadcast=True, extra_copies=extra)
        counts = _append_valid(
            spark,
            valid,
            target,
            dates,
            counts,
            in_batch=in_batch,
            steps=steps,
            today=now.date(),
            lookback_days=lookback_days,
        )
        # Every date with valid events, even if all were redeliveries: recomputing a day is idempotent,
        # missing one is not. A retry after a failure below leaves the same dates again.
        record_changed_dates(spark, target, dates, f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}")

    # Last, after the processed append: if that fails, the retry (same files: the bookmark has not
    # moved) quarantines the lines once; the processed rows a failed quarantine write leaves behind are
    # redeliveries to the retry, which drops and counts them.
    if reasons:
        with steps("quarantine"):
            rows, observation = _observed_count(to_quarantine(rejected, now), "quarantined")
            write_quarantine(rows, quarantine)
            counts = replace(counts, rows_quarantined=observation.get["rows"])
    return counts


@dataclass(frozen=True)
class _Duplicates:
    """The batch's duplicated ids (``event_id``, ``copies``), how to join them, and the copies to drop."""

    ids: DataFrame
    broadcast: bool
    extra_copies: int


def _append_valid(
    spark: SparkSession,
    valid: DataFrame,
    target: str,
    dates: list[date],
    counts: RunCounts,
    *,
    in_batch: _Duplicates,
    steps: _StepTimer,
    today: date,
    lookback_days: int,
) -> RunCounts:
    """Deduplicates the valid events against the batch, the stored dates and the redelivery index,
    appends the rest and adds their ids to the index."""
    extra_copies = in_batch.extra_copies
    deduped = dedupe(valid, in_batch.ids, broadcast=in_batch.broadcast) if extra_copies else valid

    # Redeliveries: ids of this batch already stored under the affected dates.
    already_present = 0
    with steps("redeliveries"):
        partitions = existing_date_partitions(spark, target, dates)
        if partitions:
            deduped, already_present = _drop_stored(spark, deduped, stored_ids(spark, target, partitions))

    # Redeliveries under another event_date (sent again with another event_time), within the lookback:
    # ids the index holds from the last days' runs.
    other_day = 0
    with steps("redeliveries_other_days"):
        index = recent_id_partitions(spark, target, today, lookback_days)
        if index:
            recent = spark.read.schema(ID_INDEX_SCHEMA).parquet(*index).select("event_id")
            deduped, other_day = _drop_stored(spark, deduped, recent)

    with steps("write"):
        # Counted as written, with the partitions the rows went to: a partition whose events were all
        # redeliveries gets no file, so it is neither registered nor checked.
        observation = Observation("written")
        rows = deduped.select(*PROCESSED_SCHEMA.fieldNames()).observe(
            observation,
            sf.count(sf.lit(1)).alias("rows"),
            # A set of (day number, type) pairs, rendered as one JSON string once (observed metrics come
            # back to Python only as scalars): a third of the cost of formatting a date on every row.
            sf.to_json(
                sf.collect_set(
                    sf.struct(sf.unix_date("event_date").alias("d"), sf.col("event_type").alias("t"))
                )
            ).alias("partitions"),
        )
        write_processed(rows, target)
        written = observation.get["rows"]
        written_partitions = sorted(
            [date.fromordinal(_EPOCH_ORDINAL + p["d"]).isoformat(), p["t"]]
            for p in json.loads(observation.get["partitions"] or "[]")
        )
    if lookback_days > 0 and written:
        with steps("index_ids"):
            # Every valid id of the batch, not only the written ones: a dropped duplicate or redelivery
            # has the id of a stored event, so the index holds the same ids, without the joins.
            write_event_ids(valid, target, today, files=1 + counts.rows_read // INDEX_ROWS_PER_FILE)

    return replace(
        counts,
        rows_written=written,
        partitions=written_partitions,
        duplicates_in_batch=int(extra_copies),
        duplicates_already_present=already_present + other_day,
        redeliveries_other_day=other_day,
        min_event_date=dates[0].isoformat(),
        max_event_date=dates[-1].isoformat(),
    )


# ---------------------------------------------------------------------------------------------------
# Entry points: Glue and local
# ---------------------------------------------------------------------------------------------------


def recent_source_paths(spark: SparkSession, source: str, today: date, days: int) -> list[str]:
    """The arrival-day folders ``<source>/event_type=<t>/dt=<d>/`` of the last ``days`` days (UTC): what
    a Glue run lists, so its listing follows the window, not the raw zone's history. Firehose writes an
    object under its arrival day, so new objects are only ever there; the bookmark still skips the
    ones read before. One listing of the source and one per event type."""
    root = source.rstrip("/")
    if not path_exists(spark, root):
        return []
    filesystem, hadoop_path = _hadoop_path(spark, root)
    first = date.fromordinal(today.toordinal() - days + 1).isoformat()
    found = []
    for type_folder in filesystem.listStatus(hadoop_path):
        if not type_folder.isDirectory() or not type_folder.getPath().getName().startswith("event_type="):
            continue
        for day_folder in filesystem.listStatus(type_folder.getPath()):
            day = day_folder.getPath().getName().removeprefix("dt=")
            if day_folder.isDirectory() and first <= day <= today.isoformat():
                found.append(f"{root}/{type_folder.getPath().getName()}/dt={day}/")
    return sorted(found)


def read_glue_lines(glue_context: Any, source: str, paths: Sequence[str] | None = None) -> DataFrame:
    """The source's new lines through a bookmark-aware DynamicFrame read.

    Glue's JSON reader would turn a malformed line into an error record without its text, and job
    bookmarks only track DynamicFrame sources: so the lines are read with Glue's CSV reader set up to
    return each whole line as one column (quoting off, a separator that valid JSON cannot contain
    unescaped, no header). Should a malformed line contain the separator, its pieces are joined back.
    ``paths``: the folders to list instead of the whole source (``recent_source_paths``).
    """
    if paths is not None and not paths:
        return glue_context.spark_session.createDataFrame([], LINES_SCHEMA)
    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": list(paths) if paths is not None else [source], "recurse": True},
        format="csv",
        format_options={
            "separator": GLUE_LINE_SEPARATOR,
            "quoteChar": -1,
            "withHeader": False,
            "multiLine": False,
            "attachFilename": "source_file",
        },
        transformation_ctx="raw_source",
    )
    frame = frame.resolveChoice(choice="cast:string")  # the CSV reader may type a numeric line
    data = frame.toDF()
    pieces = sorted((c for c in data.columns if c.startswith("col")), key=lambda c: int(c[3:]))
    if not pieces:  # nothing new since the last bookmark
        return data.sparkSession.createDataFrame([], LINES_SCHEMA)
    source_file = sf.col("source_file") if "source_file" in data.columns else sf.input_file_name()
    return data.select(
        sf.concat_ws(GLUE_LINE_SEPARATOR, *(sf.col(c).cast("string") for c in pieces)).alias("raw"),
        source_file.alias("source_file"),
    )


def _options_parser(*, add_help: bool = False) -> argparse.ArgumentParser:
    """The job's optional arguments (getResolvedOptions only takes required ones)."""
    parser = argparse.ArgumentParser(add_help=add_help, allow_abbrev=False)
    parser.add_argument(
        "--catalog_database", "--catalog-database", help="register partitions in this database"
    )
    parser.add_argument(
        "--catalog_table", "--catalog-table", help="... in this table (with --catalog_database)"
    )
    parser.add_argument(
        "--redelivery_lookback_days",
        "--redelivery-lookback-days",
        type=int,
        default=RunOptions.lookback_days,
        help=f"days of the redelivery index (default {RunOptions.lookback_days}; 0: none)",
    )
    parser.add_argument(
        "--source_lookback_days",
        "--source-lookback-days",
        type=int,
        default=0,
        help="Glue: list only the source's arrival-day folders of these last days (default 0: all)",
    )
    return parser


def _run_options(options: argparse.Namespace, run_id: str | None) -> RunOptions:
    if bool(options.catalog_database) != bool(options.catalog_table):
        raise ValueError("--catalog_database and --catalog_table go together")
    catalog = None
    if options.catalog_database:
        import boto3  # noqa: PLC0415 (only to register partitions)

        catalog = CatalogTable(boto3.client("glue"), options.catalog_database, options.catalog_table)
    if options.redelivery_lookback_days < 0:
        raise ValueError("--redelivery_lookback_days must be 0 or more")
    return RunOptions(catalog=catalog, run_id=run_id, lookback_days=options.redelivery_lookback_days)


def _glue_main(argv: list[str]) -> RunCounts:
    # Only importable inside Glue (the Glue runtime's JARs back GlueContext).
    from awsglue.context import GlueContext  # noqa: PLC0415
    from awsglue.job import Job  # noqa: PLC0415
    from awsglue.utils import getResolvedOptions  # noqa: PLC0415
    from pyspark.context import SparkContext  # noqa: PLC0415

    args = getResolvedOptions(argv, ["JOB_NAME", "source", "target", "quarantine"])
    options = _run_options(_options_parser().parse_known_args(argv[1:])[0], args.get("JOB_RUN_ID"))
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    configure_session(spark)
    parsed = _options_parser().parse_known_args(argv[1:])[0]
    if parsed.source_lookback_days < 0:
        raise ValueError("--source_lookback_days must be 0 or more")
    paths = (
        recent_source_paths(spark, args["source"], datetime.now(UTC).date(), parsed.source_lookback_days)
        if parsed.source_lookback_days
        else None
    )
    lines = read_glue_lines(glue_context, args["source"], paths)
    counts = process(spark, lines, args["target"], args["quarantine"], options=options)
    job.commit()  # only after a balanced run: a failed run's files are read again next time
    return counts


def _local_main(argv: list[str]) -> RunCounts:
    parser = argparse.ArgumentParser(
        description="Raw zone -> processed zone (plain PySpark).", parents=[_options_parser()]
    )
    parser.add_argument("--source", required=True, help="raw events directory or URL")
    parser.add_argument("--target", required=True, help="processed events directory or URL")
    parser.add_argument("--quarantine", help="rejected lines (default: <target>_quarantine)")
    parser.add_argument("--run-id", help="write the run manifest <target>/_runs/<run id>.json")
    args = parser.parse_args(argv)
    quarantine = args.quarantine or f"{args.target.rstrip('/')}_quarantine"
    options = _run_options(args, args.run_id)
    running = SparkSession.getActiveSession()  # e.g. a caller's (tests): used, and left running
    spark = running or SparkSession.builder.master("local[*]").appName("raw_to_processed").getOrCreate()
    try:
        configure_session(spark)
        return process(spark, read_lines(spark, args.source), args.target, quarantine, options=options)
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


def main(argv: Sequence[str] | None = None) -> RunCounts:
    argv = list(sys.argv if argv is None else argv)
    _setup_logging()
    if "--JOB_NAME" in argv:
        return _glue_main(argv)
    return _local_main(argv[1:])


if __name__ == "__main__":
    main()
