"""CDK Pipelines for teams on AWS-native CI (opt-in: ``delivery.pipeline`` in cdk.json).

Source: a CodeConnections connection (GitHub, GitHub Enterprise Server, GitLab or Bitbucket: no
CodeCommit). Synth: ``make synth``, the command a developer runs, so every validator (the four
cdk-nag packs, CDK's CloudFormation validation, cfn-lint, checkov, Control Tower's controls) gates the
pipeline. Then one stage per configured environment, in order. Where a stage needs a manual approval
(always for production), ``make diff`` of its stacks runs first and the approver reads its log. Each
stage ends with ``make check-deployment``, which reads the stage's outputs and checks the deployed
resources through the target account's read-only CDK lookup role.

The pipeline updates itself first (self-mutation), so a change to the stages deploys with the change.
Cross-account: every target account is bootstrapped with ``--trust <pipeline account>`` (README,
"Deploy"); the pipeline's artifacts are then encrypted with a customer-managed key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from datalake_constructs.storage import limit_grants_to_aws_services
from stacks.compliance import CrossStackReferences, guard_suppress, nag_format
from stacks.config import PlatformConfig
from stacks.delivery_config import DeliveryConfig
from stacks.platform import Platform, add_platform

ROOT = Path(__file__).resolve().parent.parent


def pinned_cdk_cli_version() -> str:
    """The CDK CLI version package-lock.json pins: the pipeline's self-mutation and asset steps use it
    (the registry's newest major cannot read this app's cloud assemblies)."""
    lock = json.loads((ROOT / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/aws-cdk"]["version"])


# CodeBuild's standard image holds Python 3.11 and Node; the Makefile installs everything else, pinned.
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
ARTIFACT_RETENTION = cdk.Duration.days(90)
RUNTIME_VERSIONS = {"python": "3.11", "nodejs": "20"}
CACHE_PATHS = ["/root/.cache/uv/**/*", "/root/.npm/**/*"]


class PlatformStage(cdk.Stage):
    """One environment's stacks, as a pipeline deploys them (the same stack names as ``cdk deploy``)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id, env=config.cdk_environment)
        # CDK Pipelines synthesizes a stage as it adds it, before the app's aspects run: the stage
        # carries its own (cdk-nag's plugins do reach it).
        cdk.Aspects.of(self).add(CrossStackReferences())
        self.config = config
        self.platform: Platform = add_platform(self, config)


class PipelineStack(cdk.Stack):
    """The delivery pipeline: source, ``make synth``, then each environment's stage in order.

    Attributes: ``pipeline`` (the CDK Pipelines ``CodePipeline``), ``stages`` (by environment).
    """

    def __init__(self, scope: Construct, *, delivery: DeliveryConfig) -> None:
        if delivery.pipeline is None:
            raise ValueError("delivery.pipeline: required to build the pipeline stack")
        settings = delivery.pipeline
        name = f"{delivery.project}-pipeline"
        env = (
            cdk.Environment(account=settings.account, region=settings.region)
            if settings.account or settings.region
            else None
        )
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=env,
            description=(
                f"{delivery.project}: CDK Pipelines delivery from {settings.repository}@{settings.branch}"
            ),
            termination_protection=True,
        )
        self.delivery = delivery
        source = pipelines.CodePipelineSource.connection(
            settings.repository, settings.branch, connection_arn=settings.connection_arn, trigger_on_push=True
        )
        cross_account = delivery.pipeline_is_cross_account
        # Every CodeBuild step logs to one KMS-encrypted log group, kept a year.
        self.log_key = kms.Key(
            self, "BuildLogsKey", description=f"{name} build logs", enable_key_rotation=True
        )
        limit_grants_to_aws_services(self.log_key)
        self.build_logs = logs.LogGroup(
            self,
            "BuildLogs",
            log_group_name=f"{name}-builds",
            encryption_key=self.log_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.log_key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}")],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": self.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=f"{name}-*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        synth = pipelines.CodeBuildStep(
            "Synth", input=source, commands=["make synth"], primary_output_directory="cdk.out"
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=name,
            synth=synth,
            cli_version=pinned_cdk_cli_version(),
            cross_account_keys=cross_account,
            enable_key_rotation=cross_account or None,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.MEDIUM
                ),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {
                        "phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}},
                        "cache": {"paths": CACHE_PATHS},
                    }
                ),
                cache=codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM),
                # CloudWatch Logs, explicit (Control Tower CT.CODEBUILD.PR.3), into the encrypted group.
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs)
                ),
                timeout=cdk.Duration.minutes(60),
            ),
            publish_assets_in_parallel=False,  # one asset project instead of one per asset
            docker_enabled_for_synth=False,
        )
        self.stages: dict[str, PlatformStage] = {}
        for stage_settings in settings.stages:
            config = delivery.environments[stage_settings.environment]
            title = config.env_name.capitalize()
            stage = PlatformStage(self, title, config=config)
            pre: list[pipelines.Step] = []
            if stage_settings.manual_approval:
                # The approver reads what would change first: the Diff step's log is `cdk diff` of
                # every stack of the stage against the deployed ones.
                diff = self._diff(stage, source, synth)
                approval = pipelines.ManualApprovalStep(
                    f"Approve{title}",
                    comment=(
                        f"Read the Diff{title} action's log (cdk diff of every {config.env_name} stack), "
                        "then approve the deployment."
                    ),
                )
                approval.add_step_dependency(diff)
                pre = [diff, approval]
            self.pipeline.add_stage(stage, pre=pre, post=[self._check(stage, source)])
            self.stages[config.env_name] = stage
        self.pipeline.build_pipeline()
        self._secure_artifacts()

    def lookup_role_arn(self, config: PlatformConfig) -> str:
        """The target account's read-only CDK lookup role (bootstrapped with ``--trust``)."""
        return self.delivery.bootstrap_role_arn(config.env_name, "lookup")

    def _diff(
        self, stage: PlatformStage, source: pipelines.IFileSetProducer, synth: pipelines.CodeBuildStep
    ) -> pipelines.CodeBuildStep:
        """``make diff`` of the stage's stacks, on the synthesized cloud assembly, as the target account's
        lookup role (which the CDK CLI assumes itself)."""
        env = stage.config.env_name
        primary = synth.primary_output
        assert primary is not None
        return pipelines.CodeBuildStep(
            f"Diff{env.capitalize()}",
            input=source,
            additional_inputs={"cdk.out": primary},
            commands=[f"make diff ENV={env} STACKS='{self.stack_name}/{stage.stage_name}/*'"],
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"], resources=[self.lookup_role_arn(stage.config)]
                )
            ],
        )

    def _check(self, stage: PlatformStage, source: pipelines.IFileSetProducer) -> pipelines.CodeBuildStep:
        """``make check-deployment`` on the source (Makefile, tools/): the stage's outputs, read as the
        target account's lookup role, in the stage's region."""
        lookup_role = self.lookup_role_arn(stage.config)
        region = f" REGION={stage.config.region}" if stage.config.region else ""
        return pipelines.CodeBuildStep(
            f"Check{stage.config.env_name.capitalize()}",
            input=source,
            commands=[f"make check-deployment ENV={stage.config.env_name}{region}"],
            env={"CHECK_ROLE_ARN": lookup_role},
            env_from_cfn_outputs=stage.platform.outputs,
            role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[lookup_role])],
        )

    def _secure_artifacts(self) -> None:
        """CDK Pipelines' artifact bucket and roles: the findings that come with them, each recorded
        where it occurs with its reason; anything outside the known grants stays a finding."""
        bucket = self.pipeline.pipeline.artifact_bucket
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        transient = (
            "The pipeline's artifact bucket holds transient copies of the source revision and the "
            "synthesized cloud assembly, written and read only by this pipeline's roles, recreated by "
            "every run and reproducible from the repository; CloudTrail records the API calls."
        )
        for rule in ("AwsSolutions-S1", *(f"{pack}-S3BucketLoggingEnabled" for pack in _OTHER_PACKS)):
            _acknowledge(cfn_bucket, rule, transient)
        for pack in _OTHER_PACKS:
            _acknowledge(cfn_bucket, f"{pack}-S3BucketReplicationEnabled", transient)
            _acknowledge(cfn_bucket, f"{pack}-S3BucketVersioningEnabled", transient)
        for control in (
            "s3_bucket_logging_enabled_check",
            "s3_bucket_versioning_enabled_check",
            "s3_bucket_object_lock_enabled_check",
            "s3_event_notifications_enabled_check",
        ):
            guard_suppress(cfn_bucket, control, transient)
        cfn_bucket.add_metadata(
            "checkov",
            {"skip": [{"id": check, "comment": transient} for check in ("CKV_AWS_18", "CKV_AWS_21")]},
        )
        if isinstance(bucket, s3.Bucket):
            # Old runs' artifacts expire; a run older than this cannot be retried, only re-run.
            bucket.add_lifecycle_rule(
                id="ExpireOldArtifacts",
                expiration=ARTIFACT_RETENTION,
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
        key = bucket.encryption_key
        if key is not None:
            limit_grants_to_aws_services(key)
        cfn_pipeline = self.pipeline.pipeline.node.default_child
        assert isinstance(cfn_pipeline, cdk.CfnResource)
        # aws-cdk-lib renders the pipeline's ARNs with Fn::Join and adds a DependsOn its GetAtt implies.
        cfn_pipeline.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3703", "W3005"]}})
        for node in self.pipeline.node.find_all():  # the pipeline's own resources, not the stages'
            if isinstance(node, iam.CfnPolicy):
                self._acknowledge_pipeline_grants(node)
            elif isinstance(node, codebuild.CfnProject):
                for pack in ("HIPAA.Security", "PCI.DSS.321"):
                    _acknowledge(
                        node,
                        f"{pack}-CodeBuildProjectSourceRepoUrl",
                        "The project's source is the pipeline's artifact (CODEPIPELINE), not a repository "
                        "URL with credentials: the CodeConnections connection authenticates the source.",
                    )

    def _acknowledge_pipeline_grants(self, policy: iam.CfnPolicy) -> None:
        reason = (
            "aws-cdk-lib's CDK Pipelines role policy (the pipeline, its CodeBuild steps, asset publishing "
            "and self-mutation), generated for this pipeline; attached to the one role it was made for."
        )
        for pack in _OTHER_PACKS:
            _acknowledge(policy, f"{pack}-IAMNoInlinePolicy", reason)
        document = self.resolve(policy.policy_document)
        unconstrained: list[str] = []
        for statement in document.get("Statement", []):
            actions = _as_list(statement.get("Action"))
            resources = [nag_format(self, r) for r in _as_list(statement.get("Resource"))]
            findings = [f"Action::{a}" for a in actions if "*" in a] + [
                f"Resource::{r}" for r in resources if "*" in r
            ]
            for finding in findings:
                grant = next((g for g in _PIPELINE_GRANTS if g.matches(finding, actions)), None)
                if grant is not None:
                    _acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", grant.reason)
                    if finding == "Resource::*":
                        unconstrained.append(grant.reason)
        if unconstrained:  # checkov's view of the same statements: write actions on "*"
            policy.add_metadata(
                "checkov", {"skip": [{"id": "CKV_AWS_111", "comment": " ".join(unconstrained)}]}
            )


_OTHER_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")


@dataclass(frozen=True)
class _Grant:
    """A wildcard CDK Pipelines writes into its roles' policies, and why it is acceptable."""

    finding: re.Pattern[str]
    reason: str
    only_actions: frozenset[str] | None = None  # a Resource::* finding: the statement's actions

    def matches(self, finding: str, actions: list[str]) -> bool:
        if not self.finding.fullmatch(finding):
            return False
        return self.only_actions is None or set(actions) <= self.only_actions


_PIPELINE_GRANTS = (
    _Grant(
        re.compile(r"Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*"),
        "aws-cdk-lib's read/write grant on the pipeline's own artifact bucket (the resource is that bucket "
        "and its objects only); S3 has no narrower action group for artifact hand-over.",
    ),
    _Grant(
        re.compile(r"Resource::<PipelineArtifactsBucket[0-9A-F]{8}\.Arn>/\*"),
        "The objects of the pipeline's own artifact bucket: each run writes new artifact keys, so the "
        "grant cannot name them in advance.",
    ),
    _Grant(
        re.compile(r"Action::kms:(GenerateDataKey|ReEncrypt)\*"),
        "Encrypt/decrypt grant on the pipeline's own artifact key (the resource is that one key); the "
        "wildcard covers the GenerateDataKey and ReEncrypt variants S3 uses.",
    ),
    _Grant(
        re.compile(r"Resource::arn:[^:]+:logs:[^:]+:[^:]+:log-group:/aws/codebuild/[^:]*(:\*)?"),
        "A CodeBuild project's own log group (/aws/codebuild/<project>): its log streams are named per "
        "build at run time.",
    ),
    _Grant(
        re.compile(r"Resource::arn:[^:]+:codebuild:[^:]+:[^:]+:report-group/[^:]*"),
        "A CodeBuild project's own test-report groups (<project>-*), named per report at run time.",
    ),
    _Grant(
        re.compile(r"Resource::arn:\*:iam::[0-9]{12}:role/\*"),
        "Self-mutation assumes the CDK bootstrap roles (deploy, file and image publishing) only: the "
        "statement is conditioned on their aws-cdk:bootstrap-role tag.",
        only_actions=frozenset({"sts:AssumeRole"}),
    ),
    _Grant(
        re.compile(r"Resource::\*"),
        "Self-mutation reads stack status (cloudformation:DescribeStacks) and bucket names "
        "(s3:ListBucket) of stacks it deploys, named only at run time; read-only.",
        only_actions=frozenset({"cloudformation:DescribeStacks", "s3:ListBucket"}),
    ),
    _Grant(
        re.compile(r"Resource::\*"),
        "Asset publishing starts and watches its own CodeBuild builds, whose project ARNs CDK Pipelines "
        "does not pass to this statement; codebuild:StartBuild/StopBuild/BatchGetBuilds only.",
        only_actions=frozenset({"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"}),
    ),
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))
