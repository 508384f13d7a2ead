"""Orchestration of one environment: the event-driven pipeline from raw arrival to the consumer zone."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from constructs import Construct

from datalake_constructs.dashboard import PipelineDashboard
from datalake_constructs.orchestration import (
    DataPipelineOrchestration,
    DataQualityCheck,
    QualityGate,
    RunManifest,
)
from datalake_constructs.storage import DataLakeStorage, DataLakeZone
from stacks.base import PlatformStack
from stacks.config import PlatformConfig
from stacks.etl_stack import EVENTS_PREFIX, RUNS_PREFIX, EtlStack
from stacks.ingestion_stack import IngestionStack
from stacks.operations_stack import OperationsStack
from stacks.references import zone_bucket
from stacks.serving_stack import ServingStack


class OrchestrationStack(PlatformStack):
    """The Step Functions pipeline, its trigger and its alarms."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: PlatformConfig,
        storage: DataLakeStorage,
        etl: EtlStack,
        operations: OperationsStack,
        ingestion: IngestionStack | None = None,
        serving: ServingStack | None = None,
    ) -> None:
        super().__init__(scope, config=config, component="orchestration", description="event-driven pipeline")
        self.key = self.new_key("LogsKey", "pipeline execution logs")
        catalog = etl.catalog

        def crawler(zone: str) -> str | None:  # crawled zones only (crawlerTrigger other than "none")
            return catalog.crawler_name(zone) if zone in catalog.crawlers else None

        self.pipeline = DataPipelineOrchestration(
            self,
            "Pipeline",
            state_machine_name=f"{config.name_prefix}-pipeline",
            trigger_bucket=zone_bucket(self, config, storage, DataLakeZone.RAW),
            trigger_prefix=EVENTS_PREFIX,
            raw_crawler=crawler("raw"),
            processed_crawler=crawler("processed"),
            consumer_crawler=crawler("consumer"),
            raw_to_processed_job=etl.raw_to_processed_job_name,
            processed_to_consumer_job=etl.processed_to_consumer_job_name,
            quality_check=DataQualityCheck(
                ruleset_name=etl.processed_ruleset_name,
                database_name=etl.processed_database_name,
                table_name="events",
                role=etl.processed_quality_role.role,
                gate=QualityGate(config.orchestration.quality_gate),
                # Per batch: the partitions raw_to_processed appended to (its run manifest).
                batch=RunManifest(
                    bucket=zone_bucket(self, config, storage, DataLakeZone.PROCESSED),
                    prefix=f"{EVENTS_PREFIX}{RUNS_PREFIX}",
                ),
            ),
            serving_refresh=serving.refresh if serving is not None else None,
            alert_topic=operations.alert_topic,
            alert_key=operations.key,
            log_key=self.key,
            timeout=cdk.Duration.hours(config.orchestration.timeout_hours),
            # Files landing while a run is past its raw job wait for the next event; this catches the
            # rest. Daily: an idle full pipeline run costs Glue DPU-minutes.
            schedule=(
                events.Schedule.expression(config.orchestration.backstop_schedule)
                if config.orchestration.backstop_schedule is not None
                else None
            ),
            removal_policy=config.removal_policy,
        )
        self.dashboard = (
            self._dashboard(config, etl, ingestion, serving) if config.operations.dashboard else None
        )

    def _dashboard(
        self,
        config: PlatformConfig,
        etl: EtlStack,
        ingestion: IngestionStack | None,
        serving: ServingStack | None,
    ) -> PipelineDashboard:
        """Pipeline health on one page: ingestion, transform, Glue, this state machine, serving."""
        warehouse = serving.warehouse if serving is not None else None
        return PipelineDashboard(
            self,
            "Dashboard",
            dashboard_name=f"{config.name_prefix}-pipeline-health",
            delivery_stream_name=(
                ingestion.delivery.delivery_stream.delivery_stream_name if ingestion is not None else None
            ),
            kinesis_stream_name=(
                ingestion.data_stream.stream.stream_name
                if ingestion is not None and ingestion.data_stream is not None
                else None
            ),
            transform_function_name=(
                ingestion.transform_function.function_name
                if ingestion is not None and ingestion.transform_function is not None
                else None
            ),
            transform_metrics_namespace=f"{config.project}/{config.env_name}/Ingestion",
            glue_job_names=[etl.raw_to_processed_job_name, etl.processed_to_consumer_job_name],
            crawler_names=[etl.catalog.crawler_name(zone) for zone in etl.catalog.crawlers],
            state_machine_name=f"{config.name_prefix}-pipeline",
            athena_workgroup_names=list(serving.athena.workgroups) if serving is not None else [],
            redshift_serverless_workgroup_name=(
                warehouse.name if warehouse is not None and warehouse.workgroup is not None else None
            ),
            alarms=self.pipeline.alarms,
        )
