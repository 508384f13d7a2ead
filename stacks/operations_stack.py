"""Operations of one environment: the alert topic every alarm and failure event targets."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import PlatformConfig


class OperationsStack(cdk.Stack):
    """The KMS-encrypted, TLS-only alert topic (subscriptions, dashboard and budgets come later)."""

    def __init__(self, scope: Construct, *, config: PlatformConfig) -> None:
        name = config.stack_name("operations")
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=config.cdk_environment,
            description=f"{config.project} ({config.env_name}): alerting",
            termination_protection=config.production,
        )
        self.key = kms.Key(
            self,
            "AlertsKey",
            description=f"{config.name_prefix} alert topic",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        # CloudWatch alarms and EventBridge rules publish to the encrypted topic: both need the key.
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            self.key.grant_encrypt_decrypt(iam.ServicePrincipal(service))
        self.alert_topic = sns.Topic(
            self,
            "Alerts",
            display_name=f"{config.name_prefix} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
