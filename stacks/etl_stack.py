"""Catalog and ETL of one environment: zone databases and tables, the two Glue jobs, data quality."""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from constructs import Construct

from datalake_constructs.catalog import CrawlerTrigger, DataLakeCatalog, ZoneCatalogSource
from datalake_constructs.etl import GlueDataQualityRole, GlueEtlJob, GlueFailureAlerts
from datalake_constructs.storage import DataLakeStorage, DataLakeZone
from glue_scripts.lake_tables import DAILY_EVENT_SUMMARY, PROCESSED_EVENTS, RAW_EVENTS, Column, TableSpec
from stacks.base import PlatformStack
from stacks.config import PlatformConfig
from stacks.references import zone_bucket

GLUE_SCRIPTS = Path(__file__).resolve().parent.parent / "glue_scripts"
EVENTS_PREFIX = RAW_EVENTS.prefix  # raw (Firehose) and processed table root
DAILY_PREFIX = DAILY_EVENT_SUMMARY.prefix  # consumer table root
# Under EVENTS_PREFIX of the processed zone: raw_to_processed's run manifests (the partitions each run
# appended to), which the pipeline's quality check reads.
RUNS_PREFIX = "_runs/"
# Athena partition projection where the keys are predictable (dates); partitions are also registered
# by the jobs, for Redshift Spectrum, which does not read projection settings.
PROJECTION_START = "2020-01-01"
# Under EVENTS_PREFIX of the processed zone: raw_to_processed leaves a marker per date it appended to,
# processed_to_consumer recomputes those dates and deletes the markers (both scripts use this name).
CHANGED_DATES_PREFIX = "_changed_dates/"

# Rules on the processed events table, evaluated by the pipeline after raw -> processed. DQDL fails a
# ColumnValues rule on NULL rows and reads a NULL as length 0 in ColumnLength, so rules on optional
# columns (a page view has no amount or currency) check the rows that have a value.
PROCESSED_EVENTS_DQDL = """Rules = [
    RowCount > 0,
    IsComplete "event_id",
    IsUnique "event_id",
    IsComplete "event_type",
    IsComplete "event_time",
    IsComplete "event_date",
    ColumnValues "amount" >= 0 where "amount IS NOT NULL",
    ColumnLength "currency" = 3 where "currency IS NOT NULL"
]"""


class EtlStack(PlatformStack):
    """Zone databases and tables (crawlers only if configured), raw -> processed -> consumer jobs that
    register their partitions, a DQ ruleset and failure alerts."""

    def __init__(
        self, scope: Construct, *, config: PlatformConfig, storage: DataLakeStorage, alert_topic: sns.ITopic
    ) -> None:
        super().__init__(
            scope, config=config, component="etl", description="Glue catalog, tables and ETL jobs"
        )
        etl = config.etl
        self.key = self.new_key("GlueKey", "Glue logs and job bookmarks")
        trigger = CrawlerTrigger(etl.crawler_trigger)
        database_prefix = config.name_prefix.replace("-", "_")

        raw, processed, consumer = (zone_bucket(self, config, storage, z) for z in DataLakeZone)

        def zone(bucket: s3.IBucket, prefix: str, zone_trigger: CrawlerTrigger) -> ZoneCatalogSource:
            # The tables exist from the deployment on (defined below): a crawler only adds the partitions
            # of new folders (or those its events name) and only logs schema changes (new partitions are
            # added whatever the schema-change policy), so the app's column types stay as defined.
            return ZoneCatalogSource(
                bucket=bucket,
                prefixes=[prefix],
                trigger=zone_trigger,
                schedule=etl.crawler_schedule,
                new_folders_only=None if zone_trigger == CrawlerTrigger.S3_EVENTS else True,
            )

        # The platform's tables are defined below and their jobs register what they write ("none",
        # the shipped setting): no crawler. With crawlers configured instead, only the raw bucket sends
        # object events; the processed and consumer zones are written by the pipeline's own jobs, which
        # crawl them right after (an event-mode crawler there would never see an event).
        written_by_jobs = CrawlerTrigger.ON_DEMAND if trigger == CrawlerTrigger.S3_EVENTS else trigger
        self.catalog = DataLakeCatalog(
            self,
            "Catalog",
            database_prefix=database_prefix,
            encryption_key=self.key,
            data_key=storage.encryption_key,
            zones={
                "raw": zone(raw, EVENTS_PREFIX, trigger),
                "processed": zone(processed, EVENTS_PREFIX, written_by_jobs),
                "consumer": zone(consumer, DAILY_PREFIX, written_by_jobs),
            },
            removal_policy=config.removal_policy,
        )
        common = {
            "security_configuration": self.catalog.security_configuration,
            "encryption_key": self.key,
            "worker_type": glue.WorkerType[etl.worker_type.replace(".", "_")],
            "number_of_workers": etl.number_of_workers,
            "timeout": cdk.Duration.minutes(etl.timeout_minutes),
        }
        # Plain names (not tokens) for the orchestration stack's IAM scoping and state definitions.
        self.raw_to_processed_job_name = f"{config.name_prefix}-raw-to-processed"
        self.processed_to_consumer_job_name = f"{config.name_prefix}-processed-to-consumer"
        self.processed_database_name = f"{database_prefix}_processed"
        self.consumer_database_name = f"{database_prefix}_consumer"
        self.processed_ruleset_name = f"{config.name_prefix}-processed-events"
        self.raw_table = self._table("RawEventsTable", RAW_EVENTS, "raw", raw)
        self.processed_table = self._table("ProcessedEventsTable", PROCESSED_EVENTS, "processed", processed)
        self.consumer_table = self._table("DailyEventSummaryTable", DAILY_EVENT_SUMMARY, "consumer", consumer)
        # lake_tables.py (the tables' columns) for the scripts: a zip holding that one module, so it is
        # importable by its name (a .py asset would be named after its hash).
        lake_tables_zip = s3_assets.Asset(
            self, "LakeTablesModule", path=str(GLUE_SCRIPTS), exclude=["*", "!lake_tables.py"]
        )
        lake_tables = glue.Code.from_bucket(lake_tables_zip.bucket, lake_tables_zip.s3_object_key)
        lookback = {
            "--redelivery_lookback_days": str(etl.redelivery_lookback_days),
            # Firehose writes under the arrival day: a run lists the last days' folders, not the history.
            "--source_lookback_days": str(etl.source_lookback_days),
        }
        self.raw_to_processed = GlueEtlJob(
            self,
            "RawToProcessed",
            script=str(GLUE_SCRIPTS / "raw_to_processed.py"),
            source_bucket=raw,
            source_prefix=EVENTS_PREFIX,
            target_bucket=processed,
            target_prefix=EVENTS_PREFIX,
            job_name=self.raw_to_processed_job_name,
            catalog_table=self.processed_table,
            extra_python_files=[lake_tables],
            extra_arguments=lookback,
            **common,  # type: ignore[arg-type]
        )
        self.processed_to_consumer = GlueEtlJob(
            self,
            "ProcessedToConsumer",
            script=str(GLUE_SCRIPTS / "processed_to_consumer.py"),
            source_bucket=processed,
            source_prefix=EVENTS_PREFIX,
            target_bucket=consumer,
            target_prefix=DAILY_PREFIX,
            source_consumed_prefix=CHANGED_DATES_PREFIX,
            job_name=self.processed_to_consumer_job_name,
            catalog_table=self.consumer_table,
            extra_python_files=[lake_tables],
            **common,  # type: ignore[arg-type]
        )
        self.processed_ruleset = glue.DataQualityRuleset(
            self,
            "ProcessedEventsQuality",
            ruleset_name=self.processed_ruleset_name,
            description="Completeness, uniqueness and validity of processed events",
            dqdl=glue.Dqdl.from_string(PROCESSED_EVENTS_DQDL),
            target_table=glue.DataQualityTargetTable.from_table_name(
                self.catalog.databases["processed"], "events"
            ),
        )
        self.processed_quality_role = GlueDataQualityRole(
            self,
            "ProcessedEventsQualityRole",
            database_name=self.processed_database_name,
            table_name="events",
            bucket=processed,
            prefix=EVENTS_PREFIX,
        )
        self.failure_alerts = GlueFailureAlerts(
            self,
            "GlueFailureAlerts",
            topic=alert_topic,
            job_names=[self.raw_to_processed_job_name, self.processed_to_consumer_job_name],
            crawler_names=[self.catalog.crawler_name(z) for z in self.catalog.crawlers],
        )

    def _table(self, construct_id: str, spec: TableSpec, zone: str, bucket: s3.IBucket) -> glue.S3Table:
        """A Glue table of ``spec`` (lake_tables.py, which the scripts use too) at ``bucket/prefix``.

        Date partition keys are projected for Athena (from PROJECTION_START to today); a table whose
        keys are not all dates (event types are open-ended) is read through its registered partitions,
        which the jobs add as they write. The raw table has no writer among the jobs: its event_type is
        projected as "injected" (an Athena query on it names the event_type it reads).
        """
        projection: dict[str, glue.PartitionProjectionConfiguration] = {}
        dates = [k for k in spec.partition_keys if k.type == "date" or k.name == "dt"]
        if spec is RAW_EVENTS or len(dates) == len(spec.partition_keys):
            for column in spec.partition_keys:
                projection[column.name] = (
                    glue.PartitionProjectionConfiguration.date(
                        format="yyyy-MM-dd", min=PROJECTION_START, max="NOW"
                    )
                    if column in dates
                    else glue.PartitionProjectionConfiguration.injected()
                )
        return glue.S3Table(
            self,
            construct_id,
            database=self.catalog.databases[zone],
            table_name=spec.name,
            description=spec.description,
            storage=glue.S3TableStorage.from_bucket(bucket),
            s3_prefix=spec.prefix,
            columns=[_column(c) for c in spec.columns],
            partition_keys=[_column(c) for c in spec.partition_keys],
            data_format=glue.DataFormat.PARQUET if spec.data_format == "parquet" else glue.DataFormat.JSON,
            compressed=spec.data_format == "json",  # GZIP JSON lines; Parquet compresses itself
            partition_projection=projection or None,
            # Objects are SSE-KMS encrypted by S3 with the zone key (the bucket default and Glue's
            # security configuration): readers need kms:Decrypt on it; no table-level setting applies.
        )


def _column(column: Column) -> glue.Column:
    return glue.Column(name=column.name, type=_glue_type(column.type), comment=column.comment or None)


_SIMPLE_TYPES = {
    "string": glue.Schema.STRING,
    "bigint": glue.Schema.BIG_INT,
    "int": glue.Schema.INTEGER,
    "double": glue.Schema.DOUBLE,
    "boolean": glue.Schema.BOOLEAN,
    "timestamp": glue.Schema.TIMESTAMP,
    "date": glue.Schema.DATE,
}


def _glue_type(hive_type: str) -> glue.Type:
    """aws-cdk-lib's Glue type of a catalog type string of lake_tables."""
    if hive_type in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[hive_type]
    if match := re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", hive_type):
        return glue.Schema.decimal(int(match.group(1)), int(match.group(2)))
    if match := re.fullmatch(r"map<(\w+),\s*(\w+)>", hive_type):
        return glue.Schema.map(_glue_type(match.group(1)), _glue_type(match.group(2)))
    raise ValueError(f"lake_tables type {hive_type!r} has no aws-cdk-lib Glue type here")
