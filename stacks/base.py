"""What every stack of the platform shares: naming, environment, protection and key conventions."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.config import PlatformConfig


class PlatformStack(cdk.Stack):
    """A stack named ``<project>-<env>-<component>``, termination-protected in production."""

    def __init__(self, scope: Construct, *, config: PlatformConfig, component: str, description: str) -> None:
        name = config.stack_name(component)
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=config.cdk_environment,
            description=f"{config.project} ({config.env_name}): {description}",
            termination_protection=config.production,
        )
        self.config = config

    def new_key(self, construct_id: str, purpose: str) -> kms.Key:
        """A customer-managed key with rotation, removed only where the environment allows it."""
        return kms.Key(
            self,
            construct_id,
            description=f"{self.config.name_prefix} {purpose}",
            enable_key_rotation=True,
            removal_policy=self.config.removal_policy,
        )
