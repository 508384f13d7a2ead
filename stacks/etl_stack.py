"""Catalog and ETL of one environment: zone databases and crawlers, the two Glue jobs, data quality."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from datalake_constructs.catalog import CrawlerTrigger, DataLakeCatalog, ZoneCatalogSource
from datalake_constructs.etl import GlueDataQualityRole, GlueEtlJob, GlueFailureAlerts
from datalake_constructs.storage import DataLakeStorage, DataLakeZone
from stacks.base import PlatformStack
from stacks.config import PlatformConfig
from stacks.references import zone_bucket

GLUE_SCRIPTS = Path(__file__).resolve().parent.parent / "glue_scripts"
EVENTS_PREFIX = "events/"  # raw (Firehose) and processed table root
DAILY_PREFIX = "daily_event_summary/"  # consumer table root
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
    """Zone databases and crawlers, raw -> processed -> consumer jobs, a DQ ruleset and failure alerts."""

    def __init__(
        self, scope: Construct, *, config: PlatformConfig, storage: DataLakeStorage, alert_topic: sns.ITopic
    ) -> None:
        super().__init__(
            scope, config=config, component="etl", description="Glue catalog, crawlers and ETL jobs"
        )
        etl = config.etl
        self.key = self.new_key("GlueKey", "Glue logs and job bookmarks")
        trigger = CrawlerTrigger(etl.crawler_trigger)
        database_prefix = config.name_prefix.replace("-", "_")

        raw, processed, consumer = (zone_bucket(self, config, storage, z) for z in DataLakeZone)

        def zone(bucket: s3.IBucket, prefix: str, zone_trigger: CrawlerTrigger) -> ZoneCatalogSource:
            # On-demand crawls crawl everything: an incremental crawler creates tables only in its first
            # run, and the pipeline's first run may write nothing (no data yet, or all quarantined).
            return ZoneCatalogSource(
                bucket=bucket, prefixes=[prefix], trigger=zone_trigger, schedule=etl.crawler_schedule
            )

        # Only the raw bucket sends object events; the processed and consumer zones are written by
        # the pipeline's own jobs, which crawl them right after (an event-mode crawler there would
        # never see an event and never add a partition).
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
        self.raw_to_processed = GlueEtlJob(
            self,
            "RawToProcessed",
            script=str(GLUE_SCRIPTS / "raw_to_processed.py"),
            source_bucket=raw,
            source_prefix=EVENTS_PREFIX,
            target_bucket=processed,
            target_prefix=EVENTS_PREFIX,
            job_name=self.raw_to_processed_job_name,
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
            crawler_names=[self.catalog.crawler_name(z) for z in ("raw", "processed", "consumer")],
        )
