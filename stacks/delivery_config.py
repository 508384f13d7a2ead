"""Typed, validated delivery configuration: how the platform reaches its accounts (``datalake.delivery``).

Two paths, both optional and both gated by the same validation as a developer's ``make synth``:

- ``github``: GitHub Actions assume one deploy role per environment through GitHub's OIDC provider
  (stacks/github_oidc_stack.py; workflows in .github/workflows/).
- ``pipeline``: a CDK Pipelines pipeline in AWS CodePipeline, its source a CodeConnections connection
  (stacks/pipeline_stack.py).

Example (cdk.json)::

    "delivery": {
      "github": {"repository": "my-org/datalake-platform", "oidcProviderArn": null},
      "pipeline": {
        "connectionArn": "arn:aws:codeconnections:eu-west-1:111111111111:connection/<uuid>",
        "repository": "my-org/datalake-platform", "branch": "main",
        "account": "111111111111", "region": "eu-west-1",
        "stages": [{"environment": "dev", "manualApproval": false},
                   {"environment": "prod", "manualApproval": true}]
      }
    }

The CDK bootstrap qualifier the roles name is the app's own (context ``@aws-cdk/core:bootstrapQualifier``,
as ``cdk bootstrap --qualifier`` asks you to set it), so the roles and the synthesized stacks agree.

Every error names its key, e.g. ``datalake.delivery.pipeline.stages[1].manualApproval``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from stacks.config import (
    _ACCOUNT_RE,
    _REGION_RE,
    CONTEXT_KEY,
    ConfigError,
    PlatformConfig,
    _Section,
    parse_config,
)

DEFAULT_QUALIFIER = "hnb659fds"  # `cdk bootstrap`'s default
QUALIFIER_CONTEXT_KEY = "@aws-cdk/core:bootstrapQualifier"
# GitHub: an owner (user or organization) of 1-39 letters, digits or single hyphens, and a repository
# name of letters, digits, '.', '_' or '-' (not '.' or '..').
_REPOSITORY_RE = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")
_QUALIFIER_RE = re.compile(r"[a-z0-9]{1,10}")  # cdk bootstrap --qualifier: it is part of bucket names
_BRANCH_RE = re.compile(r"(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}(?<![/.])")
_CONNECTION_RE = re.compile(
    r"arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):[a-z]{2}(-gov)?-[a-z]+-\d:\d{12}:"
    r"connection/[0-9a-f-]{36}"
)
_OIDC_PROVIDER_RE = re.compile(
    r"arn:aws(-[a-z]+)*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com"
)


@dataclass(frozen=True)
class GitHubConfig:
    """GitHub Actions deployment through OIDC: one deploy role per environment."""

    repository: str  # "owner/name": the only repository the roles trust
    oidc_provider_arn: str | None  # the account's existing GitHub provider; None: the stack creates one


@dataclass(frozen=True)
class PipelineStageConfig:
    environment: str  # a key of datalake.environments
    manual_approval: bool  # a person approves before this stage deploys (required for production)


@dataclass(frozen=True)
class PipelineConfig:
    """A CDK Pipelines pipeline (AWS CodePipeline V2) fed by a CodeConnections connection."""

    connection_arn: str
    repository: str
    branch: str
    account: str | None  # where the pipeline lives; required when a stage names its account
    region: str | None
    stages: tuple[PipelineStageConfig, ...]


@dataclass(frozen=True)
class DeliveryConfig:
    project: str
    bootstrap_qualifier: str
    github: GitHubConfig | None
    pipeline: PipelineConfig | None
    environments: Mapping[str, PlatformConfig]  # every configured environment, parsed and validated

    def environments_in_account_of(self, env_name: str) -> list[PlatformConfig]:
        """The environments that share ``env_name``'s account (an unset account is one shared account):
        the deploy roles one GitHub OIDC stack holds, since it is deployed once per account."""
        account = self.environments[env_name].account
        return [config for config in self.environments.values() if config.account == account]

    def bootstrap_role_arn(self, env_name: str, role: str) -> str:
        """The ARN of one CDK bootstrap role (``deploy``, ``file-publishing``, ``lookup``) of the app's
        qualifier in ``env_name``'s account and region (the deploying stack's where those are unset)."""
        config = self.environments[env_name]
        account = config.account or cdk.Aws.ACCOUNT_ID
        region = config.region or cdk.Aws.REGION
        qualifier = self.bootstrap_qualifier
        return f"arn:{cdk.Aws.PARTITION}:iam::{account}:role/cdk-{qualifier}-{role}-role-{account}-{region}"

    @property
    def pipeline_is_cross_account(self) -> bool:
        """A stage deploys into an account other than the pipeline's: artifacts then need a KMS key."""
        pipeline = self.pipeline
        return pipeline is not None and any(
            self.environments[stage.environment].account not in (None, pipeline.account)
            for stage in pipeline.stages
        )


def parse_delivery(context: Mapping[str, Any], *, qualifier: str = DEFAULT_QUALIFIER) -> DeliveryConfig:
    """Build the delivery configuration from the ``datalake`` context block (every environment) and the
    app's bootstrap qualifier."""
    root = _Section(context, CONTEXT_KEY)
    names = root.section("environments").keys()
    environments = {name: parse_config(context, name) for name in names}
    project = next(iter(environments.values())).project
    if not _QUALIFIER_RE.fullmatch(qualifier):
        raise ConfigError(
            f"{QUALIFIER_CONTEXT_KEY}: {qualifier!r} is not allowed; "
            "expected 1-10 lowercase letters or digits"
        )
    if context.get("delivery") is None:
        return DeliveryConfig(project, qualifier, None, None, environments)
    section = root.section("delivery")
    github_section = section.optional_section("github")
    pipeline_section = section.optional_section("pipeline")
    delivery = DeliveryConfig(
        project=project,
        bootstrap_qualifier=qualifier,
        github=_github(github_section) if github_section else None,
        pipeline=_pipeline(pipeline_section, environments) if pipeline_section else None,
        environments=environments,
    )
    section.done()
    return delivery


def _repository(section: _Section) -> str:
    return section.string("repository", _REPOSITORY_RE, "a GitHub repository as owner/name")


def _github(section: _Section) -> GitHubConfig:
    github = GitHubConfig(
        repository=_repository(section),
        oidc_provider_arn=section.optional_string(
            "oidcProviderArn",
            _OIDC_PROVIDER_RE,
            "the ARN of the account's token.actions.githubusercontent.com provider, or null to create one",
        ),
    )
    section.done()
    return github


def _pipeline(section: _Section, environments: Mapping[str, PlatformConfig]) -> PipelineConfig:
    connection = section.string(
        "connectionArn", _CONNECTION_RE, "the ARN of a CodeConnections (or CodeStar) connection"
    )
    repository = section.string(
        "repository", re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)+"), "owner/name (GitLab: group/.../name)"
    )
    branch = section.string("branch", _BRANCH_RE, "a branch name such as main")
    account = section.optional_string("account", _ACCOUNT_RE, "a 12-digit AWS account id or null")
    region = section.optional_string("region", _REGION_RE, "an AWS region name such as eu-west-1, or null")
    raw_stages = section.value("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise ConfigError(f"{section.path}.stages: {raw_stages!r} is not allowed; expected a list of stages")
    stages: list[PipelineStageConfig] = []
    for index, raw in enumerate(raw_stages):
        stage_section = _Section(raw, f"{section.path}.stages[{index}]")
        name = stage_section.string("environment", re.compile(r".+"), "an environment name")
        if name not in environments:
            raise ConfigError(
                f"{stage_section.path}.environment: unknown environment {name!r}; allowed values: "
                f"{', '.join(sorted(environments))}"
            )
        if any(stage.environment == name for stage in stages):
            raise ConfigError(f"{stage_section.path}.environment: {name!r} is already a stage")
        stage = PipelineStageConfig(environment=name, manual_approval=stage_section.boolean("manualApproval"))
        stage_section.done()
        if environments[name].production and not stage.manual_approval:
            raise ConfigError(
                f"{stage_section.path}.manualApproval: false is not allowed for {name!r}, a production "
                "environment: a person approves every production deployment"
            )
        stages.append(stage)
    section.done()
    stage_configs = tuple(environments[stage.environment] for stage in stages)
    named = [config.env_name for config in stage_configs if config.account or config.region]
    if named and (account is None or region is None):
        raise ConfigError(
            f"{section.path}.account/region: required when a stage's environment names its account or "
            f"region ({', '.join(named)}): CDK Pipelines deploys across accounts only from a pipeline "
            "stack with an explicit environment"
        )
    return PipelineConfig(
        connection_arn=connection,
        repository=repository,
        branch=branch,
        account=account,
        region=region,
        stages=tuple(stages),
    )


def load_delivery(scope: Construct) -> DeliveryConfig:
    """Read the ``datalake`` block, delivery and every environment, from the construct context."""
    context = scope.node.try_get_context(CONTEXT_KEY)
    if context is None:
        raise ConfigError(f"{CONTEXT_KEY}: context block is missing (is cdk.json's context loaded?)")
    qualifier = scope.node.try_get_context(QUALIFIER_CONTEXT_KEY) or DEFAULT_QUALIFIER
    return parse_delivery(context, qualifier=str(qualifier))
