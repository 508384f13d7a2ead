"""GitHub Actions deploy access through OIDC: no stored AWS keys, one role per environment.

Deployed once per account (``cdk deploy <project>-github-oidc``, from a laptop, before the first
workflow run). For every environment in that account it creates two roles:

- ``<project>-<env>-github-deploy``, trusted only by jobs of the configured repository that run in
  the GitHub environment ``<env>`` (token subject ``repo:<owner>/<repo>:environment:<env>``,
  audience ``sts.amazonaws.com``), allowed only to assume the CDK bootstrap roles of the configured
  qualifier in that environment's account and region: deploy, file publishing and lookup. Everything
  a deployment changes is done by CloudFormation's execution role, which ``cdk bootstrap`` created.
- ``<project>-<env>-github-diff``, trusted only by the repository's ``pull_request`` jobs, allowed
  only to read the environment's deployed templates (``cloudformation:DescribeStacks`` and
  ``GetTemplate`` on ``<project>-<env>-*``) and the bootstrap version: what ``cdk diff
  --method=template`` needs. Not the lookup role, whose ReadOnlyAccess any pull request of any branch
  would get. Pull requests from forks get no OIDC token from GitHub, so they cannot use it.

Which branches may deploy is the GitHub environment's setting (deployment branches and required
reviewers): the role trusts the environment, and the environment decides who may enter it.

The account's OIDC provider for ``token.actions.githubusercontent.com`` is created here, or taken from
``delivery.github.oidcProviderArn`` when the account already has one (an account holds one provider
per URL).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.compliance import nag_format
from stacks.config import PlatformConfig
from stacks.delivery_config import DeliveryConfig

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_TOKEN_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
MAX_SESSION = cdk.Duration.hours(1)
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "lookup")


class GitHubOidcStack(cdk.Stack):
    """The GitHub OIDC provider and the deploy and diff roles of every environment in one account.

    Attributes: ``provider`` (the OIDC provider), ``deploy_roles`` and ``diff_roles`` (by environment).
    """

    def __init__(self, scope: Construct, *, delivery: DeliveryConfig, env_name: str) -> None:
        if delivery.github is None:
            raise ValueError("delivery.github: required to build the GitHub OIDC stack")
        github = delivery.github
        environments = delivery.environments_in_account_of(env_name)
        selected = delivery.environments[env_name]
        name = f"{delivery.project}-github-oidc"
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=selected.cdk_environment,
            description=(
                f"{delivery.project}: GitHub Actions OIDC deploy access for {github.repository} "
                f"(environments {', '.join(e.env_name for e in environments)})"
            ),
            termination_protection=any(e.production for e in environments),
        )
        self.qualifier = delivery.bootstrap_qualifier
        self.repository = github.repository
        if github.oidc_provider_arn is not None:
            self.provider: iam.IOidcProvider | iam.IOpenIdConnectProvider = (
                iam.OpenIdConnectProvider.from_open_id_connect_provider_arn(
                    self, "GitHubProvider", github.oidc_provider_arn
                )
            )
            provider_arn = github.oidc_provider_arn
        else:
            # OidcProviderNative is the AWS::IAM::OIDCProvider resource itself (no custom-resource
            # Lambda); IAM secures GitHub's endpoint with its own root CAs, so no thumbprint is pinned.
            native = iam.OidcProviderNative(
                self, "GitHubProvider", url=GITHUB_OIDC_URL, client_ids=[AUDIENCE]
            )
            self.provider = native
            provider_arn = native.oidc_provider_arn
        self.deploy_roles: dict[str, iam.Role] = {}
        self.diff_roles: dict[str, iam.Role] = {}
        for config in environments:
            self.deploy_roles[config.env_name] = self._role(
                config,
                provider_arn,
                kind="deploy",
                subject=f"repo:{github.repository}:environment:{config.env_name}",
                purpose=f"GitHub Actions deploys {config.name_prefix} from {github.repository}",
                statement=iam.PolicyStatement(
                    sid="AssumeCdkBootstrapRoles",
                    actions=["sts:AssumeRole"],
                    resources=[
                        delivery.bootstrap_role_arn(config.env_name, name) for name in BOOTSTRAP_ROLES
                    ],
                ),
            )
            self.diff_roles[config.env_name] = self._role(
                config,
                provider_arn,
                kind="diff",
                subject=f"repo:{github.repository}:pull_request",
                purpose=f"GitHub Actions pull requests of {github.repository} diff {config.name_prefix}",
                statement=self._read_templates(config),
            )

    def _read_templates(self, config: PlatformConfig) -> iam.PolicyStatement:
        """What ``cdk diff --method=template`` reads, and no more: the environment's deployed templates
        and the bootstrap version. Not the lookup role: its ReadOnlyAccess would open the whole account
        to any pull request of the repository (every branch has the same ``pull_request`` subject)."""
        account = config.account or cdk.Aws.ACCOUNT_ID
        region = config.region or cdk.Aws.REGION
        partition = cdk.Aws.PARTITION
        return iam.PolicyStatement(
            sid="ReadDeployedTemplates",
            actions=["cloudformation:DescribeStacks", "cloudformation:GetTemplate", "ssm:GetParameter"],
            resources=[
                f"arn:{partition}:cloudformation:{region}:{account}:stack/{config.name_prefix}-*/*",
                f"arn:{partition}:ssm:{region}:{account}:parameter/cdk-bootstrap/{self.qualifier}/version",
            ],
        )

    def _role(
        self,
        config: PlatformConfig,
        provider_arn: str,
        *,
        kind: str,
        subject: str,
        purpose: str,
        statement: iam.PolicyStatement,
    ) -> iam.Role:
        # StringEquals on both claims: no wildcard, so no other repository, branch, pull request
        # source or environment matches (IAM compares the subject case-sensitively).
        principal = iam.WebIdentityPrincipal(
            provider_arn,
            conditions={
                "StringEquals": {f"{GITHUB_TOKEN_HOST}:aud": AUDIENCE, f"{GITHUB_TOKEN_HOST}:sub": subject}
            },
        )
        role = iam.Role(
            self,
            f"{config.env_name.capitalize()}{kind.capitalize()}Role",
            role_name=f"{config.name_prefix}-github-{kind}",
            assumed_by=principal,
            max_session_duration=MAX_SESSION,
            description=purpose,
        )
        # A managed policy, not an inline one: the policy is a reviewable resource of its own.
        policy = iam.ManagedPolicy(
            self,
            f"{config.env_name.capitalize()}{kind.capitalize()}Policy",
            description=f"{purpose}: {statement.sid}, nothing else",
            roles=[role],
            statements=[statement],
        )
        for resource in statement.resources:
            if "*" in nag_format(self, resource):
                cdk.Validations.of(policy).acknowledge(
                    cdk.Acknowledgment(
                        id=f"AwsSolutions-IAM5[Resource::{nag_format(self, resource)}]",
                        reason=(
                            "The environment's stacks, by their name prefix: a stack ARN ends in an id "
                            "CloudFormation assigns at creation, which no policy can name in advance."
                        ),
                    )
                )
        return role
