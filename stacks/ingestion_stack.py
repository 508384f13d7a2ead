"""Streaming ingestion of one environment: (Kinesis →) Firehose → transform Lambda → raw zone."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from datalake_constructs.data_stream import IngestionDataStream
from datalake_constructs.raw_zone_delivery import RawZoneDeliveryStream
from datalake_constructs.storage import DataLakeStorage, DataLakeZone
from stacks.base import PlatformStack
from stacks.compliance import guard_suppress
from stacks.config import PlatformConfig
from stacks.references import zone_bucket

TRANSFORM_CODE = Path(__file__).resolve().parent.parent / "lambda_src" / "firehose_transform"


class IngestionStack(PlatformStack):
    """Events into the raw zone, partitioned by event type and arrival date, losing no record."""

    def __init__(
        self, scope: Construct, *, config: PlatformConfig, storage: DataLakeStorage, alert_topic: sns.ITopic
    ) -> None:
        super().__init__(
            scope, config=config, component="ingestion", description="streaming ingestion into the raw zone"
        )
        settings = config.ingestion
        removal = config.removal_policy

        # One key for everything this stack encrypts at rest: stream, Firehose, logs.
        self.key = self.new_key("Key", "ingestion: stream, Firehose and logs")
        self.alert_topic = alert_topic

        self.data_stream: IngestionDataStream | None = None
        if settings.source == "kinesis":
            self.data_stream = IngestionDataStream(
                self,
                "Events",
                stream_mode=(
                    kinesis.StreamMode.PROVISIONED
                    if settings.kinesis_shards is not None
                    else kinesis.StreamMode.ON_DEMAND
                ),
                shard_count=settings.kinesis_shards,
                retention=cdk.Duration.hours(settings.kinesis_retention_hours),
                encryption_key=self.key,
                alarm_topic=self.alert_topic,
                iterator_age_threshold=cdk.Duration.minutes(settings.alarm_iterator_age_minutes),
                removal_policy=removal,
            )

        self.transform_function = (
            self._transform_function(config, removal) if settings.transform_lambda else None
        )
        raw_bucket = zone_bucket(self, config, storage, DataLakeZone.RAW)
        self.delivery = RawZoneDeliveryStream(
            self,
            "ToRaw",
            destination_bucket=raw_bucket,
            source_stream=self.data_stream.stream if self.data_stream is not None else None,
            encryption_key=self.key,
            processor=self.transform_function,
            buffering_interval=cdk.Duration.seconds(settings.buffering_interval_seconds),
            buffering_size=cdk.Size.mebibytes(settings.buffering_size_mib),
            alarm_topic=self.alert_topic,
            freshness_threshold=cdk.Duration.minutes(settings.alarm_freshness_minutes),
            removal_policy=removal,
        )

        # The Firehose L2 adds a CIDR mapping used only by Redshift/Splunk destinations; unused here
        # it is dead template weight that cfn-lint and CloudFormation validation warn about (W7001).
        self.node.try_remove_child("@aws-cdk--aws-kinesisfirehose.CidrBlocks")

    def _transform_function(self, config: PlatformConfig, removal: cdk.RemovalPolicy) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            "TransformLogs",
            encryption_key=self.key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=removal,
        )
        function = lambda_.Function(
            self,
            "Transform",
            description="Firehose transformation: validate, normalize, partition keys; bad records fail",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(TRANSFORM_CODE), exclude=["__pycache__", "*.pyc"]),
            memory_size=512,
            # Firehose waits up to 5 minutes per invocation; a batch of 3 MiB takes well under 10 s.
            timeout=cdk.Duration.minutes(1),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment={
                "METRICS_NAMESPACE": f"{config.project}/{config.env_name}/Ingestion",
                "SERVICE_NAME": "firehose-transform",
            },
            environment_encryption=self.key,
        )
        self._acknowledge_transform_findings(function)
        return function

    def _acknowledge_transform_findings(self, function: lambda_.Function) -> None:
        """Findings on the transform Lambda that do not apply to a Firehose processor, with why."""
        invoked_sync = (
            "Firehose invokes the processor synchronously and bounds its concurrency itself; records of "
            "a failed invocation are retried and then written to the error prefix, so an async DLQ "
            "or reserved concurrency (which fails deploys in accounts at the default quota) adds nothing."
        )
        no_vpc = (
            "The processor reads only its invocation payload and writes only CloudWatch logs; it reaches "
            "no VPC resource, and a VPC would add NAT or endpoint cost without reducing exposure."
        )
        acks = {
            "AwsSolutions-L1": (
                "Pinned to Python 3.12, the interpreter the handler and its tests target; runtime upgrades "
                "are deliberate, tested changes."
            ),
            "NIST.800.53.R5-LambdaConcurrency": invoked_sync,
            "HIPAA.Security-LambdaConcurrency": invoked_sync,
            "NIST.800.53.R5-LambdaDLQ": invoked_sync,
            "HIPAA.Security-LambdaDLQ": invoked_sync,
            "NIST.800.53.R5-LambdaInsideVPC": no_vpc,
            "HIPAA.Security-LambdaInsideVPC": no_vpc,
            "PCI.DSS.321-LambdaInsideVPC": no_vpc,
        }
        for rule, reason in acks.items():
            cdk.Validations.of(function).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
        cfn_function = function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.add_metadata(
            "checkov",
            {
                "skip": [
                    {"id": "CKV_AWS_115", "comment": invoked_sync},
                    {"id": "CKV_AWS_116", "comment": invoked_sync},
                    {"id": "CKV_AWS_117", "comment": no_vpc},
                ]
            },
        )
        # aws-cdk-lib adds a DependsOn on the role that the function's GetAtt already implies (W3005).
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        guard_suppress(cfn_function, "lambda_inside_vpc_check", no_vpc)
        role = function.role
        assert role is not None
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                reason=(
                    "AWS's basic execution policy lets the function write its own log streams; the log "
                    "group itself is ours, KMS-encrypted and retained for a year."
                ),
            )
        )
        policy = role.node.try_find_child("DefaultPolicy")
        assert policy is not None
        cdk.Validations.of(policy).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level scoping.",
            )
        )
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            cdk.Validations.of(policy).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-IAMNoInlinePolicy",
                    reason=(
                        "aws-cdk-lib attaches the function's tracing and key grants as this role's own "
                        "policy, bound to this one role; a separate managed policy would add no control."
                    ),
                )
            )
