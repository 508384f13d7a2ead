"""Builds the whole platform for one environment; ``app.py`` and the tests share this entry point."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

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

    @property
    def stacks(self) -> list[cdk.Stack]:
        return [self.operations, self.storage, self.ingestion, self.etl, self.serving, self.orchestration]


def build_platform(app: cdk.App) -> Platform:
    """Add every stack of the environment selected by ``-c env=NAME`` to ``app``, tagged and validated."""
    config = load_config(app)
    operations = OperationsStack(app, config=config)
    storage = StorageStack(app, config=config)
    ingestion = IngestionStack(
        app, config=config, storage=storage.storage, alert_topic=operations.alert_topic
    )
    etl = EtlStack(app, config=config, storage=storage.storage, alert_topic=operations.alert_topic)
    serving = ServingStack(
        app, config=config, storage=storage.storage, etl=etl, alert_topic=operations.alert_topic
    )
    orchestration = OrchestrationStack(
        app,
        config=config,
        storage=storage.storage,
        etl=etl,
        operations=operations,
        ingestion=ingestion,
        serving=serving,
    )
    # Safety net: any alarm a construct did not wire itself still reaches on-call.
    add_alarm_actions(app, operations.alert_topic)
    platform = Platform(
        config=config,
        operations=operations,
        storage=storage,
        ingestion=ingestion,
        etl=etl,
        serving=serving,
        orchestration=orchestration,
    )
    for key, value in config.tags.items():
        cdk.Tags.of(app).add(key, value)
    add_compliance_checks(app)
    return platform
