"""Builds the whole platform for one environment; ``app.py`` and the tests share this entry point."""

from __future__ import annotations

from dataclasses import dataclass, field

import aws_cdk as cdk
from constructs import Construct

from datalake_constructs.alerts import add_alarm_actions
from stacks.compliance import add_compliance_checks
from stacks.config import PlatformConfig, load_config
from stacks.etl_stack import EtlStack
from stacks.ingestion_stack import IngestionStack
from stacks.operations_stack import OperationsStack
from stacks.orchestration_stack import OrchestrationStack
from stacks.serving_stack import ServingStack
from stacks.storage_stack import StorageStack

# CDK's built-in CloudFormation validation plugin (on by default since 2.27x) adds 4-6 s to every
# synth of this app (benchmarks/synth_time.py). It is not dropped: tests/validators.py runs the same
# plugin on the synthesized templates in `make synth` and the tests, next to cfn-lint and checkov.
# cdk-nag runs on every synth.
APP_OPTIONS: dict[str, bool] = {"builtin_cloud_formation_validation": False}


@dataclass(frozen=True)
class Platform:
    """The stacks of one environment, for wiring and for tests."""

    config: PlatformConfig
    operations: OperationsStack
    storage: StorageStack
    ingestion: IngestionStack
    etl: EtlStack
    serving: ServingStack
    orchestration: OrchestrationStack
    outputs: dict[str, cdk.CfnOutput] = field(default_factory=dict)  # OUTPUTS, by name

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.operations, self.storage, self.ingestion, self.etl, self.serving, self.orchestration]


def build_platform(app: cdk.App) -> Platform:
    """Add every stack of the environment selected by ``-c env=NAME`` to ``app``, tagged and validated."""
    platform = add_platform(app, load_config(app))
    add_compliance_checks(app)
    return platform


def add_platform(scope: Construct, config: PlatformConfig) -> Platform:
    """Add every stack of one environment to ``scope`` (the app, or a pipeline's stage), tagged, with
    the outputs a post-deployment check reads (``OUTPUTS``)."""
    operations = OperationsStack(scope, config=config)
    storage = StorageStack(scope, config=config)
    ingestion = IngestionStack(
        scope, config=config, storage=storage.storage, alert_topic=operations.alert_topic
    )
    etl = EtlStack(scope, config=config, storage=storage.storage, alert_topic=operations.alert_topic)
    serving = ServingStack(
        scope, config=config, storage=storage.storage, etl=etl, alert_topic=operations.alert_topic
    )
    orchestration = OrchestrationStack(
        scope,
        config=config,
        storage=storage.storage,
        etl=etl,
        operations=operations,
        ingestion=ingestion,
        serving=serving,
    )
    # Safety net: any alarm a construct did not wire itself still reaches on-call.
    add_alarm_actions(scope, operations.alert_topic)
    platform = Platform(
        config=config,
        operations=operations,
        storage=storage,
        ingestion=ingestion,
        etl=etl,
        serving=serving,
        orchestration=orchestration,
    )
    for stack in platform.stacks:  # not the app: its delivery stacks belong to no one environment
        for key, value in config.tags.items():
            cdk.Tags.of(stack).add(key, value)
    _add_outputs(platform)
    return platform


# What tools/check_deployment.py verifies after a deployment: output name -> what it names.
OUTPUTS = {
    "AlertTopicArn": "the SNS topic on-call subscribes to",
    "RawBucketName": "the raw zone's bucket",
    "ProcessedBucketName": "the processed zone's bucket",
    "ConsumerBucketName": "the consumer zone's bucket",
    "DeliveryStreamName": "the Firehose stream into the raw zone",
    "StateMachineArn": "the pipeline's state machine",
}


def _add_outputs(platform: Platform) -> dict[str, cdk.CfnOutput]:
    storage = platform.storage.storage
    values = {
        "AlertTopicArn": (platform.operations, platform.operations.alert_topic.topic_arn),
        "RawBucketName": (platform.storage, storage.raw_bucket.bucket_name),
        "ProcessedBucketName": (platform.storage, storage.processed_bucket.bucket_name),
        "ConsumerBucketName": (platform.storage, storage.consumer_bucket.bucket_name),
        "DeliveryStreamName": (
            platform.ingestion,
            platform.ingestion.delivery.delivery_stream.delivery_stream_name,
        ),
        "StateMachineArn": (
            platform.orchestration,
            platform.orchestration.pipeline.state_machine.state_machine_arn,
        ),
    }
    assert set(values) == set(OUTPUTS)
    outputs = {
        name: cdk.CfnOutput(stack, name, value=value, description=OUTPUTS[name])
        for name, (stack, value) in values.items()
    }
    platform.outputs.update(outputs)
    return outputs
