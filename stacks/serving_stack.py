"""Serving of one environment: Athena workgroups and Redshift (with Spectrum) over the consumer zone."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from datalake_constructs.athena import AthenaWorkgroups, AthenaWorkgroupSpec, NamedQuerySpec
from datalake_constructs.network import IsolatedVpc
from datalake_constructs.orchestration import RedshiftSqlRefresh
from datalake_constructs.redshift import (
    ProvisionedOptions,
    RedshiftDeployment,
    RedshiftWarehouse,
    ServerlessOptions,
)
from datalake_constructs.storage import DataLakeStorage, DataLakeZone, zone_bucket_name
from stacks.base import PlatformStack
from stacks.config import PlatformConfig
from stacks.etl_stack import DAILY_PREFIX, EVENTS_PREFIX, EtlStack
from stacks.references import zone_bucket
from stacks.storage_stack import ATHENA_LOGS_PREFIX, ATHENA_RESULTS_BUCKET

_MIB, _GIB = 2**20, 2**30
UNLOAD_PREFIX = "redshift_unload/"
# Redshift Serverless places a workgroup in subnets of at least three AZs.
SERVERLESS_AZS = 3


def consumer_queries(database: str) -> list[NamedQuerySpec]:
    """Saved queries over the consumer table; each filters on the partition column so it prunes by date."""
    table = f'"{database}"."daily_event_summary"'
    return [
        # The table's grain is (date, type, currency): event counts add up across currencies, amounts
        # only within one, and distinct users never (a user paying in two currencies is in both rows).
        NamedQuerySpec(
            name="daily-events-by-type",
            description="Events per event type for the last 7 days",
            database=database,
            query=(
                f"SELECT event_date, event_type, SUM(event_count) AS events FROM {table} "
                # event_date is a date partition key (projected for Athena): the filter prunes by date.
                "WHERE event_date >= current_date - INTERVAL '7' DAY "
                "GROUP BY event_date, event_type ORDER BY event_date DESC, events DESC"
            ),
        ),
        NamedQuerySpec(
            name="revenue-by-currency",
            description="Daily amount per currency for the last 30 days",
            database=database,
            query=(
                f"SELECT event_date, currency, SUM(total_amount) AS amount FROM {table} "
                "WHERE event_date >= current_date - INTERVAL '30' DAY "
                "AND currency IS NOT NULL "
                "GROUP BY event_date, currency ORDER BY event_date DESC, currency"
            ),
        ),
    ]


class ServingStack(PlatformStack):
    """Athena workgroups per persona and a private Redshift warehouse reading the lake via Spectrum."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: PlatformConfig,
        storage: DataLakeStorage,
        etl: EtlStack,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, config=config, component="serving", description="Athena and Redshift serving")
        serving = config.serving
        self.key = self.new_key("ServingKey", "Athena results, Redshift data and secret, flow logs")
        consumer_database, processed_database = etl.consumer_database_name, etl.processed_database_name
        processed, consumer = (
            zone_bucket(self, config, storage, z) for z in (DataLakeZone.PROCESSED, DataLakeZone.CONSUMER)
        )

        athena = serving.athena
        self.athena = AthenaWorkgroups(
            self,
            "Athena",
            workgroups=[
                AthenaWorkgroupSpec(name=f"{config.name_prefix}-{persona}", description=f"{persona} queries")
                for persona in athena.workgroups
            ],
            encryption_key=self.key,
            bytes_scanned_cutoff_per_query=athena.bytes_scanned_cutoff_per_query_mib * _MIB,
            alarm_bytes_scanned_per_hour=athena.alarm_bytes_scanned_per_hour_gib * _GIB,
            alert_topic=alert_topic,
            named_queries=consumer_queries(consumer_database),
            results_bucket_name=zone_bucket_name(config.name_prefix, ATHENA_RESULTS_BUCKET),
            results_expiry=cdk.Duration.days(athena.results_expiry_days),
            access_logs_bucket=s3.Bucket.from_bucket_name(
                self, "AccessLogsBucket", zone_bucket_name(config.name_prefix, "access-logs")
            ),
            access_logs_prefix=ATHENA_LOGS_PREFIX,
            removal_policy=config.removal_policy,
            auto_delete_objects=config.allow_destroy,
        )
        cdk.Annotations.of(self.athena.results_bucket).acknowledge_warning(
            "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
            "The storage stack's access-log bucket policy allows this bucket by name "
            "(statement AthenaResultsAccessLogs).",
        )

        redshift = serving.redshift
        self.network = IsolatedVpc(
            self,
            "Network",
            cidr=redshift.vpc_cidr,
            max_azs=SERVERLESS_AZS,
            interface_endpoints=redshift.interface_endpoints,
            endpoint_azs=redshift.endpoint_azs,
            flow_log_key=self.key,
            removal_policy=config.removal_policy,
        )
        provisioned = redshift.provisioned
        self.warehouse = RedshiftWarehouse(
            self,
            "Warehouse",
            name=config.name_prefix,
            vpc=self.network.vpc,
            encryption_key=self.key,
            deployment=RedshiftDeployment(redshift.deployment),
            serverless=(
                ServerlessOptions(
                    base_rpu=redshift.base_rpu,
                    max_rpu=redshift.max_rpu,
                    max_query_execution_seconds=redshift.max_query_execution_seconds,
                    alarm_rpu_hours_per_day=redshift.alarm_rpu_hours_per_day,
                    usage_limit_rpu_hours_per_day=redshift.usage_limit_rpu_hours_per_day,
                    usage_limit_breach_action=redshift.usage_limit_breach_action,
                )
                if provisioned is None
                else None
            ),
            provisioned=(
                ProvisionedOptions(
                    node_type=provisioned.node_type,
                    number_of_nodes=provisioned.number_of_nodes,
                    snapshot_retention_days=provisioned.snapshot_retention_days,
                    statement_timeout_seconds=redshift.max_query_execution_seconds,
                )
                if provisioned is not None
                else None
            ),
            enhanced_vpc_routing=redshift.enhanced_vpc_routing,
            client_peers=[ec2.Peer.ipv4(redshift.vpc_cidr)],
            alert_topic=alert_topic,
            removal_policy=config.removal_policy,
        )
        zone_key = storage.encryption_key
        self.warehouse.grant_spectrum_read(
            consumer, DAILY_PREFIX, databases=[consumer_database], data_key=zone_key
        )
        self.warehouse.grant_spectrum_read(
            processed, EVENTS_PREFIX, databases=[processed_database], data_key=zone_key
        )
        self.warehouse.grant_unload(consumer, UNLOAD_PREFIX, data_key=zone_key)

        # Run by the pipeline after the consumer crawler: creates the Spectrum schemas once, then no-ops.
        self.refresh = RedshiftSqlRefresh(
            target=self.warehouse.data_api_target,
            resource_arn=self.warehouse.arn,
            database=self.warehouse.database_name,
            secret_arn=self.warehouse.admin_secret_arn,
            secret_key=self.key,
            sqls=[
                self.warehouse.external_schema_sql("consumer", consumer_database),
                self.warehouse.external_schema_sql("processed", processed_database),
            ],
        )

    @property
    def availability_zones(self) -> list[str]:
        """Three AZs even when environment-agnostic (CDK's default there is two)."""
        if cdk.Token.is_unresolved(self.region):
            return [cdk.Fn.select(i, cdk.Fn.get_azs()) for i in range(SERVERLESS_AZS)]
        return list(super().availability_zones)
