"""What every stack of the platform shares: naming, environment, protection and key conventions."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from datalake_constructs.storage import limit_grants_to_aws_services
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

    def new_key(self, construct_id: str, purpose: str) -> kms.IKey:
        """A customer-managed key with rotation, removed only where the environment allows it.

        With ``sharedEncryptionKey`` (dev) every stack uses the operations stack's key instead: one key
        ($1/month) rather than one per stack. Grants then land in the principals' own policies (the
        key policy trusts the account) and service statements in that key's policy.
        """
        shared = self.shared_key
        if shared is not None:
            return shared
        key = kms.Key(
            self,
            construct_id,
            description=f"{self.config.name_prefix} {purpose}",
            enable_key_rotation=True,
            removal_policy=self.config.removal_policy,
        )
        limit_grants_to_aws_services(key)
        return key

    @property
    def shared_key(self) -> kms.IKey | None:
        """The environment's one key when the configuration shares it, else None (a key per stack)."""
        operations_name = self.config.stack_name("operations")
        if not self.config.shared_encryption_key or self.stack_name == operations_name:
            return None
        stage = cdk.Stage.of(self)  # the app, or a pipeline's stage
        assert stage is not None
        operations = stage.node.try_find_child(operations_name)
        key = getattr(operations, "key", None)
        if not isinstance(key, kms.Key):
            raise ValueError(
                f"sharedEncryptionKey: the {operations_name} stack and its key must be created first"
            )
        return key
