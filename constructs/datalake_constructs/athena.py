"""Athena workgroups per persona, sharing one encrypted query-results bucket, with cost guardrails.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from athena import ...``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

ENGINE_VERSION = "Athena engine version 3"
MIN_CUTOFF_BYTES = 10_000_000  # Athena's smallest per-query data-usage control
_WORKGROUP_RE = re.compile(r"^[a-zA-Z0-9._-]{1,128}$")
_GIB = 2**30
# Query states whose scanned bytes are billed (DDL scans nothing).
_BILLED_STATES = ("SUCCEEDED", "FAILED", "CANCELED")


@dataclass(frozen=True)
class AthenaWorkgroupSpec:
    """One persona's workgroup.

    Args:
        name: the workgroup name (unique in the account and region).
        description: shown in the console.
        bytes_scanned_cutoff_per_query: queries scanning more are cancelled. Default: the construct's.
        alarm_bytes_scanned_per_hour: alarm above this many bytes scanned in an hour. Default: the
            construct's.
    """

    name: str
    description: str
    bytes_scanned_cutoff_per_query: int | None = None
    alarm_bytes_scanned_per_hour: int | None = None


@dataclass(frozen=True)
class NamedQuerySpec:
    """A saved query offered in every workgroup's console, e.g. over a consumer table."""

    name: str
    description: str
    database: str
    query: str


class AthenaWorkgroups(Construct):
    """Engine-v3 workgroups with enforced settings and one KMS-encrypted, TLS-only results bucket.

    Each workgroup enforces its configuration (clients cannot override the results location or
    encryption), writes results under ``s3://<results bucket>/<workgroup>/`` encrypted with the key,
    cancels queries above its bytes-scanned cutoff, publishes CloudWatch metrics, and has requester
    pays off. Results expire after ``results_expiry``. An alarm per workgroup fires when the bytes
    scanned in an hour (succeeded, failed and cancelled queries; all are billed) exceed a threshold.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_iam as iam
        from aws_cdk import aws_kms as kms
        from aws_cdk import aws_sns as sns

        from athena import AthenaWorkgroups, AthenaWorkgroupSpec

        app = cdk.App()
        stack = cdk.Stack(app, "Serving")
        key = kms.Key(stack, "Key", enable_key_rotation=True)
        alerts = sns.Topic(stack, "Alerts", master_key=key, enforce_ssl=True)
        serving = AthenaWorkgroups(
            stack, "Athena",
            workgroups=[AthenaWorkgroupSpec(name="sales-dev-analysts", description="Analysts")],
            encryption_key=key,  # results and their access logs get buckets of their own
            alert_topic=alerts,  # the hourly bytes-scanned alarm
        )
        analyst = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
        serving.grant_query(analyst, "sales-dev-analysts")
        app.synth()

    Args:
        workgroups: one spec per persona, at least one.
        encryption_key: encrypts the results bucket and query results.
        bytes_scanned_cutoff_per_query: default per-query cutoff. Default: 10 GiB.
        alarm_bytes_scanned_per_hour: default hourly alarm threshold. Default: 100 GiB.
        alert_topic: where the alarms go. Default: none (wire them later, e.g. ``add_alarm_actions``).
        named_queries: saved in every workgroup. Default: none.
        results_bucket_name: Default: generated.
        results_expiry: Default: 30 days.
        access_logs_bucket, access_logs_prefix: server access logging of the results bucket. Default: a
            new SSE-S3 log bucket (S3 log delivery does not support SSE-KMS targets), logs kept 365 days.
        removal_policy: of the results bucket. Default: RETAIN.
        auto_delete_objects: empty the bucket on removal (only with DESTROY). Default: False.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workgroups: Sequence[AthenaWorkgroupSpec],
        encryption_key: kms.IKey,
        bytes_scanned_cutoff_per_query: int = 10 * _GIB,
        alarm_bytes_scanned_per_hour: int = 100 * _GIB,
        alert_topic: sns.ITopic | None = None,
        named_queries: Sequence[NamedQuerySpec] = (),
        results_bucket_name: str | None = None,
        results_expiry: cdk.Duration | None = None,
        access_logs_bucket: s3.IBucket | None = None,
        access_logs_prefix: str = "athena-results/",
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        auto_delete_objects: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # Log delivery through the log bucket's policy, whatever the host app's feature flags.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        results_expiry = results_expiry if results_expiry is not None else cdk.Duration.days(30)
        _validate(workgroups, bytes_scanned_cutoff_per_query, alarm_bytes_scanned_per_hour, results_expiry)
        if auto_delete_objects and removal_policy != cdk.RemovalPolicy.DESTROY:
            raise ValueError("auto_delete_objects: True is only allowed with removal_policy DESTROY")
        self.encryption_key = encryption_key
        self.access_logs_bucket: s3.IBucket = (
            access_logs_bucket
            if access_logs_bucket is not None
            else self._access_logs_bucket(removal_policy, auto_delete_objects)
        )
        self.results_bucket = s3.Bucket(
            self,
            "ResultsBucket",
            bucket_name=results_bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=access_logs_prefix,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-query-results",
                    expiration=results_expiry,
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete_objects,
        )
        if auto_delete_objects:
            _acknowledge_cdk_provider(
                self, "Custom::S3AutoDeleteObjectsCustomResourceProvider", "empties the bucket on deletion"
            )
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            cdk.Validations.of(self.results_bucket).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-S3BucketReplicationEnabled",
                    reason="Query results are disposable copies that expire; the data they derive from "
                    "is in the versioned, retained zone buckets.",
                )
            )

        _guard_suppress(
            self.results_bucket,
            "s3_bucket_object_lock_enabled_check",
            "Query results are disposable copies that expire by lifecycle, which Object Lock would block.",
        )
        _guard_suppress(
            self.results_bucket,
            "s3_event_notifications_enabled_check",
            "Nothing consumes the arrival of query results; Athena returns them to the caller.",
        )
        self.workgroups: dict[str, athena.CfnWorkGroup] = {}
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self.named_queries: list[athena.CfnNamedQuery] = []
        for spec in workgroups:
            # No Athena L2 exists in aws-cdk-lib: the workgroup is the L1.
            workgroup = athena.CfnWorkGroup(
                self,
                _construct_id(spec.name),
                name=spec.name,
                description=spec.description,
                state="ENABLED",
                recursive_delete_option=removal_policy == cdk.RemovalPolicy.DESTROY,
                work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                    enforce_work_group_configuration=True,
                    publish_cloud_watch_metrics_enabled=True,
                    requester_pays_enabled=False,
                    bytes_scanned_cutoff_per_query=(
                        spec.bytes_scanned_cutoff_per_query
                        if spec.bytes_scanned_cutoff_per_query is not None
                        else bytes_scanned_cutoff_per_query
                    ),
                    engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                        selected_engine_version=ENGINE_VERSION
                    ),
                    result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                        output_location=self.results_bucket.s3_url_for_object(f"{spec.name}/"),
                        expected_bucket_owner=cdk.Aws.ACCOUNT_ID,
                        encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                            encryption_option="SSE_KMS", kms_key=encryption_key.key_arn
                        ),
                    ),
                ),
            )
            workgroup.apply_removal_policy(removal_policy)
            self.workgroups[spec.name] = workgroup
            threshold = (
                spec.alarm_bytes_scanned_per_hour
                if spec.alarm_bytes_scanned_per_hour is not None
                else alarm_bytes_scanned_per_hour
            )
            self.alarms[spec.name] = self._bytes_scanned_alarm(spec.name, threshold, alert_topic)
            for query in named_queries:
                named = athena.CfnNamedQuery(
                    self,
                    f"{_construct_id(spec.name)}{_construct_id(query.name)}",
                    name=query.name,
                    description=query.description,
                    database=query.database,
                    query_string=query.query,
                    work_group=workgroup.ref,
                )
                self.named_queries.append(named)

    def _access_logs_bucket(self, removal_policy: cdk.RemovalPolicy, auto_delete: bool) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access log delivery supports only SSE-S3 on the target bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(365),
                    noncurrent_version_expiration=cdk.Duration.days(7),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete,
        )
        kms_reason = (
            "S3 server access log delivery does not support SSE-KMS target buckets, so this bucket uses "
            "SSE-S3; it holds request logs of the results bucket only."
        )
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            for rule, reason in (
                ("S3DefaultEncryptionKMS", kms_reason),
                (
                    "S3BucketReplicationEnabled",
                    "Access logs of disposable query results; replication is a per-deployment choice.",
                ),
            ):
                cdk.Validations.of(bucket).acknowledge(cdk.Acknowledgment(id=f"{pack}-{rule}", reason=reason))
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            cdk.Validations.of(bucket).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-S3BucketLoggingEnabled",
                    reason="This is the access-log target; logging it to itself would loop. API access to "
                    "it is audited by CloudTrail.",
                )
            )
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="This is the access-log target; logging it to itself would loop. API access to it "
                "is audited by CloudTrail.",
            )
        )
        for rule, why in (
            ("s3_bucket_default_encryption_kms_check", kms_reason),
            (
                "s3_bucket_logging_enabled_check",
                "This is the access-log target; logging it to itself would loop. API access to it is "
                "audited by CloudTrail.",
            ),
            (
                "s3_event_notifications_enabled_check",
                "Nothing consumes the arrival of access-log files: they are read on demand, when someone "
                "audits requests.",
            ),
            (
                "s3_bucket_object_lock_enabled_check",
                "Access logs expire by lifecycle (their retention), which Object Lock (WORM) would block.",
            ),
        ):
            _guard_suppress(bucket, rule, why)
        cfn = bucket.node.default_child
        assert isinstance(cfn, cdk.CfnResource)
        cfn.add_metadata(
            "checkov",
            {
                "skip": [
                    {
                        "id": "CKV_AWS_18",
                        "comment": "The access-log target; logging it to itself would loop. API access to "
                        "it is audited by CloudTrail.",
                    }
                ]
            },
        )
        return bucket

    def metric_processed_bytes(
        self, workgroup: str, *, period: cdk.Duration | None = None
    ) -> cloudwatch.MathExpression:
        """Bytes scanned by the workgroup's queries (every billed query state) per ``period`` (1 hour)."""
        period = period if period is not None else cdk.Duration.hours(1)
        self._require(workgroup)
        metrics = {
            state.lower(): cloudwatch.Metric(
                namespace="AWS/Athena",
                metric_name="ProcessedBytes",
                dimensions_map={"WorkGroup": workgroup, "QueryState": state, "QueryType": "DML"},
                statistic="Sum",
                period=period,
            )
            for state in _BILLED_STATES
        }
        return cloudwatch.MathExpression(
            # FILL: a state with no queries in the period has no datapoint; count it as zero.
            expression=" + ".join(f"FILL({name}, 0)" for name in metrics),
            using_metrics=metrics,
            label=f"{workgroup} bytes scanned",
            period=period,
        )

    def grant_query(self, grantee: iam.IGrantable, workgroup: str) -> iam.Grant:
        """Run queries in ``workgroup`` and read their results (data access is granted separately)."""
        self._require(workgroup)
        arn = cdk.Stack.of(self).format_arn(service="athena", resource="workgroup", resource_name=workgroup)
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetQueryResultsStream",
                "athena:BatchGetQueryExecution",
                "athena:ListQueryExecutions",
                "athena:GetWorkGroup",
                "athena:GetNamedQuery",
                "athena:ListNamedQueries",
            ],
            resource_arns=[arn],
        )
        self.results_bucket.grant_read_write(grantee, f"{workgroup}/*")
        return grant

    def _require(self, workgroup: str) -> None:
        if workgroup not in self.workgroups:
            raise ValueError(
                f"workgroup: {workgroup!r} is not one of this construct's: {', '.join(self.workgroups)}"
            )

    def _bytes_scanned_alarm(
        self, workgroup: str, threshold: int, topic: sns.ITopic | None
    ) -> cloudwatch.Alarm:
        alarm = self.metric_processed_bytes(workgroup).create_alarm(
            self,
            f"{_construct_id(workgroup)}BytesScannedAlarm",
            alarm_description=(
                f"Athena workgroup {workgroup} scanned more than {threshold / _GIB:g} GiB in an hour"
            ),
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
            alarm.add_ok_action(cw_actions.SnsAction(topic))
        return alarm


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]", name) if part)


def _validate(
    workgroups: Sequence[AthenaWorkgroupSpec],
    cutoff: int,
    alarm_threshold: int,
    results_expiry: cdk.Duration,
) -> None:
    if not workgroups:
        raise ValueError("workgroups: at least one workgroup is required")
    names = [spec.name for spec in workgroups]
    if len(set(names)) != len(names):
        raise ValueError(f"workgroups: names {names} have duplicates")
    if "primary" in names:
        raise ValueError("workgroups: 'primary' is not allowed; it is the account's unmanaged default")
    if isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < MIN_CUTOFF_BYTES:
        raise ValueError(
            f"bytes_scanned_cutoff_per_query: {cutoff!r} is not allowed; "
            f"expected at least {MIN_CUTOFF_BYTES} bytes"
        )
    if isinstance(alarm_threshold, bool) or not isinstance(alarm_threshold, int) or alarm_threshold < 1:
        raise ValueError(f"alarm_bytes_scanned_per_hour: {alarm_threshold!r} is not allowed; expected >= 1")
    for spec in workgroups:
        if not _WORKGROUP_RE.fullmatch(spec.name):
            raise ValueError(
                f"workgroups: name {spec.name!r} is not allowed; expected 1-128 letters, digits, . _ or -"
            )
        own = spec.bytes_scanned_cutoff_per_query
        if own is not None and (isinstance(own, bool) or own < MIN_CUTOFF_BYTES):
            raise ValueError(
                f"workgroups[{spec.name}].bytes_scanned_cutoff_per_query: {own!r} is not allowed; "
                f"expected at least {MIN_CUTOFF_BYTES} bytes"
            )
        alarm = spec.alarm_bytes_scanned_per_hour
        if alarm is not None and (isinstance(alarm, bool) or alarm < 1):
            raise ValueError(
                f"workgroups[{spec.name}].alarm_bytes_scanned_per_hour: {alarm!r} is not allowed; "
                "expected >= 1"
            )
    days = results_expiry.to_days()
    if not 1 <= days <= 3650:
        raise ValueError(f"results_expiry: {results_expiry} is not allowed; expected 1 to 3650 days")


def _acknowledge_cdk_provider(scope: Construct, provider_id: str, purpose: str) -> None:
    """Record accepted findings on an aws-cdk-lib-owned custom-resource provider Lambda of the stack."""
    provider = cdk.Stack.of(scope).node.try_find_child(provider_id)
    handler = provider.node.try_find_child("Handler") if provider is not None else None
    if not isinstance(handler, cdk.CfnResource):
        return
    reason = (
        f"aws-cdk-lib's provider that {purpose}: it runs only on stack create/update/delete, touches no "
        "data and its code and role are owned by aws-cdk-lib; a DLQ, VPC or reserved concurrency adds "
        "cost without protecting anything."
    )
    skips = [{"id": check, "comment": reason} for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117")]
    handler.add_metadata("checkov", {"skip": skips})
    _guard_suppress(handler, "lambda_inside_vpc_check", reason)
    # aws-cdk-lib adds a DependsOn on the role that the handler's GetAtt already implies (W3005).
    handler.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})


def _guard_suppress(scope: IConstruct, rule: str, reason: str) -> None:
    """Record an AWS Control Tower proactive control (a cfn-guard rule) that does not apply to a
    resource, with the reason, in its metadata (``guard.SuppressedRules``, the cfn-guard rules registry's
    convention, and ``guard.Reasons``)."""
    resource = scope if isinstance(scope, cdk.CfnResource) else scope.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    guard = resource.get_metadata("guard") or {}
    rules = [r for r in guard.get("SuppressedRules", []) if r != rule] + [rule]
    resource.add_metadata(
        "guard", {"SuppressedRules": rules, "Reasons": {**guard.get("Reasons", {}), rule: reason}}
    )
