"""The tables the platform owns: one definition of their columns and partition keys for the CDK app (its
Glue tables) and the Glue scripts (their Spark schemas, the partitions they register).

Standard library only: the CDK app imports it at synth (no Spark there), and the Glue jobs receive it
through ``--extra-py-files``; Spark and boto3 are imported inside the functions that need them.

* ``RAW_EVENTS``: what the transform Lambda delivers, JSON lines under
  ``events/event_type=<type>/dt=<arrival date>/``. Its shape is the Lambda's: ``event_id``,
  ``event_type``, ``event_time`` (normalized ISO-8601 UTC text) always present, the rest passed through.
* ``PROCESSED_EVENTS``: raw_to_processed's output, Parquet under
  ``events/event_date=<date>/event_type=<type>/``.
* ``DAILY_EVENT_SUMMARY``: processed_to_consumer's output, Parquet under
  ``daily_event_summary/event_date=<date>/``.

Partitions: each job registers the partitions it wrote (``register_partitions``: ``BatchCreatePartition``,
an existing partition is not an error), so Athena and Redshift Spectrum see new data as soon as the job
ends, without a crawler.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BATCH_CREATE_LIMIT = 100  # partitions per BatchCreatePartition call (Glue's limit)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the catalog's (Hive) type: string, bigint, decimal(18,2), timestamp, date, map<k,v> ...
    comment: str = ""
    required: bool = False  # a value is always present (Spark: not nullable)


@dataclass(frozen=True)
class TableSpec:
    name: str
    prefix: str  # under the zone bucket, ending with "/"
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    data_format: str  # "parquet" | "json"
    description: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def partition_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.partition_keys)


EVENT_ID = Column("event_id", "string", "producer's id of the event: unique per event", required=True)
EVENT_TYPE = Column("event_type", "string", "[a-z0-9][a-z0-9_-]{0,63}", required=True)
USER_ID = Column("user_id", "string", "the user, if known")
SESSION_ID = Column("session_id", "string", "the session, if known")
CURRENCY = Column("currency", "string", "ISO 4217 code; with amount")
ATTRIBUTES = Column("attributes", "map<string,string>", "free-form attributes")

RAW_EVENTS = TableSpec(
    name="events",
    prefix="events/",
    # event_type is in every record and is also the partition key (the folder): the key holds it.
    columns=(
        EVENT_ID,
        Column("event_time", "string", "ISO-8601 UTC, as normalized by the transform Lambda", required=True),
        USER_ID,
        SESSION_ID,
        Column("amount", "string", "as sent (a JSON number or numeric text)"),
        CURRENCY,
        ATTRIBUTES,
    ),
    partition_keys=(
        Column("event_type", "string", "the Lambda's partition key"),
        Column("dt", "string", "Firehose arrival date, yyyy-MM-dd UTC"),
    ),
    data_format="json",
    description="Events as the transform Lambda delivered them (GZIP JSON lines)",
)

PROCESSED_EVENTS = TableSpec(
    name="events",
    prefix="events/",
    columns=(
        EVENT_ID,
        Column("event_time", "timestamp", "when it happened (UTC)", required=True),
        USER_ID,
        SESSION_ID,
        Column("amount", "decimal(18,2)", ">= 0; with currency"),
        CURRENCY,
        ATTRIBUTES,
    ),
    partition_keys=(
        Column("event_date", "date", "UTC date of event_time", required=True),
        Column("event_type", "string", "[a-z0-9][a-z0-9_-]{0,63}"),
    ),
    data_format="parquet",
    description="Validated, deduplicated events (snappy Parquet)",
)

DAILY_EVENT_SUMMARY = TableSpec(
    name="daily_event_summary",
    prefix="daily_event_summary/",
    columns=(
        EVENT_TYPE,
        Column("currency", "string", "ISO 4217 code, or null for events without an amount"),
        Column("event_count", "bigint", "events", required=True),
        Column("unique_users", "bigint", "distinct non-null user_id in the row's slice", required=True),
        Column("total_amount", "decimal(28,2)", "sum of amount in one currency; null without amounts"),
        Column("first_event_time", "timestamp", "earliest event_time", required=True),
        Column("last_event_time", "timestamp", "latest event_time", required=True),
    ),
    partition_keys=(Column("event_date", "date", "UTC date of the events", required=True),),
    data_format="parquet",
    description="One row per event_date, event_type and currency (snappy Parquet)",
)

TABLES = (RAW_EVENTS, PROCESSED_EVENTS, DAILY_EVENT_SUMMARY)

# --- Spark ----------------------------------------------------------------------------------------------

_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_MAP = re.compile(r"map<(\w+),\s*(\w+)>")


def spark_type(hive_type: str) -> Any:
    """The Spark SQL type of a catalog type."""
    from pyspark.sql import types  # noqa: PLC0415 (only the Glue scripts need Spark)

    simple = {
        "string": types.StringType(),
        "bigint": types.LongType(),
        "int": types.IntegerType(),
        "double": types.DoubleType(),
        "boolean": types.BooleanType(),
        "timestamp": types.TimestampType(),
        "date": types.DateType(),
    }
    if hive_type in simple:
        return simple[hive_type]
    if match := _DECIMAL.fullmatch(hive_type):
        return types.DecimalType(int(match.group(1)), int(match.group(2)))
    if match := _MAP.fullmatch(hive_type):
        return types.MapType(spark_type(match.group(1)), spark_type(match.group(2)))
    raise ValueError(f"catalog type {hive_type} has no Spark type here")


def spark_schema(columns: Iterable[Column]) -> Any:
    """A Spark StructType of these columns, in order."""
    from pyspark.sql import types  # noqa: PLC0415

    return types.StructType(
        [types.StructField(c.name, spark_type(c.type), nullable=not c.required) for c in columns]
    )


# --- partitions ------------------------------------------------------------------------------------------


def partition_location(root: str, keys: Sequence[str], values: Sequence[str]) -> str:
    """``<root>/<key>=<value>/...`` (Hive's layout, as Spark writes it)."""
    return root.rstrip("/") + "/" + "".join(f"{k}={v}/" for k, v in zip(keys, values, strict=True))


def partition_predicate(keys: Sequence[str], partitions: Iterable[Sequence[str]]) -> str:
    """A predicate selecting exactly these partitions (Glue's ``pushDownPredicate`` syntax: Spark SQL
    on the partition columns), e.g. ``(event_date = '2026-12-06' AND event_type = 'order')``."""
    clauses = sorted(
        "(" + " AND ".join(f"{k} = '{v}'" for k, v in zip(keys, values, strict=True)) + ")"
        for values in set(map(tuple, partitions))
    )
    return " OR ".join(clauses)


def register_partitions(
    glue: Any,
    database: str,
    table: str,
    root: str,
    partitions: Iterable[Sequence[str]],
) -> int:
    """Adds each partition (values in the table's key order) under ``root`` to the catalog, with the
    table's storage descriptor; one already there is left as it is. Returns how many were new.

    ``glue`` is a boto3 Glue client. Nothing to add makes no call.
    """
    wanted = sorted(set(map(tuple, partitions)))
    if not wanted:
        return 0
    described = glue.get_table(DatabaseName=database, Name=table)["Table"]
    keys = [k["Name"] for k in described.get("PartitionKeys", [])]
    descriptor: Mapping[str, Any] = described["StorageDescriptor"]
    created = 0
    for start in range(0, len(wanted), BATCH_CREATE_LIMIT):
        batch = wanted[start : start + BATCH_CREATE_LIMIT]
        response = glue.batch_create_partition(
            DatabaseName=database,
            TableName=table,
            PartitionInputList=[
                {
                    "Values": list(values),
                    "StorageDescriptor": {**descriptor, "Location": partition_location(root, keys, values)},
                }
                for values in batch
            ],
        )
        errors = response.get("Errors", [])
        unexpected = [e for e in errors if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
        if unexpected:
            raise RuntimeError(f"registering partitions of {database}.{table} failed: {unexpected}")
        created += len(batch) - len(errors)
    return created
