"""Medallion storage zones of a data lake: raw, processed and consumer S3 buckets.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from storage import ...``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

# Longest zone label and the account/region suffix bound the prefix: bucket names are <= 63 chars.
_LONGEST_SUFFIX = len("-access-logs-") + 12 + 1 + len("ap-southeast-5")
MAX_BUCKET_NAME_PREFIX_LENGTH = 63 - _LONGEST_SUFFIX
_BUCKET_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
# S3 rejects STANDARD_IA transitions earlier than 30 days, and a later transition out of IA less
# than 30 days after the IA one.
_MIN_IA_DAYS = 30
_MIN_DAYS_IN_IA = 30
_S3_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
_OBJECT_LOCK_REASON = (
    "Object Lock (WORM) would block what the zones rely on: lifecycle expiry, noncurrent-version cleanup "
    "and the jobs replacing a day's partition. Versioning, RETAIN and KMS protect the data instead."
)
_LOG_TARGET_REASON = (
    "This is the server-access-log target; logging it to itself would loop. API access to it is audited "
    "by CloudTrail."
)


class DataLakeZone(enum.StrEnum):
    """The three medallion zones."""

    RAW = "raw"
    PROCESSED = "processed"
    CONSUMER = "consumer"


@dataclass(frozen=True)
class ZoneLifecycle:
    """Lifecycle of current object versions in one zone. ``None`` disables that step.

    Args:
        infrequent_access_after: transition to S3 Standard-IA (at least 30 days).
        glacier_after: transition to S3 Glacier Flexible Retrieval (at least 30 days after IA, if any).
        expire_after: delete current versions (after the last transition).
    """

    infrequent_access_after: cdk.Duration | None = None
    glacier_after: cdk.Duration | None = None
    expire_after: cdk.Duration | None = None


# Secure, cost-aware defaults (days: IA, Glacier, expiry): raw is replayable history that cools
# quickly, processed stays warm for reprocessing, consumer is queried constantly. Kept as plain ints so
# importing this module makes no jsii calls.
_DEFAULT_LIFECYCLE_DAYS: dict[DataLakeZone, tuple[int | None, int | None, int | None]] = {
    DataLakeZone.RAW: (30, 90, None),
    DataLakeZone.PROCESSED: (90, None, None),
    DataLakeZone.CONSUMER: (None, None, None),
}


def default_lifecycle(zone: DataLakeZone) -> ZoneLifecycle:
    """The lifecycle a zone gets when none is passed."""
    ia, glacier, expire = _DEFAULT_LIFECYCLE_DAYS[zone]
    return ZoneLifecycle(
        infrequent_access_after=cdk.Duration.days(ia) if ia is not None else None,
        glacier_after=cdk.Duration.days(glacier) if glacier is not None else None,
        expire_after=cdk.Duration.days(expire) if expire is not None else None,
    )


def _whole_days(option: str, value: cdk.Duration) -> int:
    try:
        days = int(value.to_days())
    except Exception as error:  # jsii raises a generic error for fractional days
        raise ValueError(f"{option}: must be a whole number of days, got {value}") from error
    if days < 1:
        raise ValueError(f"{option}: must be at least 1 day, got {days}")
    return days


def _validate_lifecycle(zone: DataLakeZone, lifecycle: ZoneLifecycle) -> dict[str, int]:
    """Check the order S3 enforces, at synth time; return the steps in days."""
    option = f"{zone.value}_lifecycle"
    steps = {
        name: _whole_days(f"{option}.{name}", value)
        for name, value in (
            ("infrequent_access_after", lifecycle.infrequent_access_after),
            ("glacier_after", lifecycle.glacier_after),
            ("expire_after", lifecycle.expire_after),
        )
        if value is not None
    }
    ia = steps.get("infrequent_access_after")
    glacier = steps.get("glacier_after")
    expire = steps.get("expire_after")
    if ia is not None and ia < _MIN_IA_DAYS:
        raise ValueError(
            f"{option}.infrequent_access_after: {ia} days is not allowed; S3 requires at least "
            f"{_MIN_IA_DAYS} days before a Standard-IA transition"
        )
    if ia is not None and glacier is not None and glacier < ia + _MIN_DAYS_IN_IA:
        raise ValueError(
            f"{option}.glacier_after: {glacier} days is not allowed; it must be at least "
            f"{_MIN_DAYS_IN_IA} days after infrequent_access_after ({ia} days), "
            f"i.e. >= {ia + _MIN_DAYS_IN_IA}"
        )
    last_transition = max((d for d in (ia, glacier) if d is not None), default=0)
    if expire is not None and expire <= last_transition:
        raise ValueError(
            f"{option}.expire_after: {expire} days is not allowed; it must be later than the last "
            f"transition ({last_transition} days)"
        )
    return steps


def _validate_bucket_name_prefix(prefix: str) -> None:
    allowed = (
        f"3-{MAX_BUCKET_NAME_PREFIX_LENGTH} lowercase letters, digits or hyphens, starting and ending "
        f"with a letter or digit, not starting with {', '.join(_RESERVED_PREFIXES)}"
    )
    if (
        cdk.Token.is_unresolved(prefix)
        or not 3 <= len(prefix) <= MAX_BUCKET_NAME_PREFIX_LENGTH
        or not _BUCKET_PREFIX_RE.fullmatch(prefix)
        or prefix.startswith(_RESERVED_PREFIXES)
    ):
        raise ValueError(f"bucket_name_prefix: {prefix!r} is not allowed; expected {allowed}")


def zone_bucket_name(bucket_name_prefix: str, zone: DataLakeZone | str) -> str:
    """Physical name of a zone bucket created with ``bucket_name_prefix``; lets other stacks import it
    by name instead of a cross-stack export.

    Account and region make the name globally unique while stacks stay environment-agnostic.
    """
    label = zone.value if isinstance(zone, DataLakeZone) else zone
    return f"{bucket_name_prefix}-{label}-{cdk.Aws.ACCOUNT_ID}-{cdk.Aws.REGION}"


class DataLakeStorage(Construct):
    """Raw, processed and consumer buckets plus a server-access-log bucket, secure by default.

    Every zone bucket is KMS-encrypted with one customer-managed key (rotation on, S3 Bucket Keys on to
    cut KMS request cost), versioned, TLS-only (TLS >= 1.2), blocks all public access, has ACLs
    disabled (bucket owner enforced), logs server access to the log bucket under ``<zone>/``, expires
    noncurrent versions and aborts incomplete multipart uploads. The raw bucket sends object events
    to Amazon EventBridge for event-driven orchestration. Everything is retained on stack deletion
    unless ``removal_policy=DESTROY`` is passed explicitly.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_iam as iam

        from storage import DataLakeStorage, DataLakeZone, ZoneLifecycle

        app = cdk.App()
        stack = cdk.Stack(app, "Storage")
        storage = DataLakeStorage(
            stack, "DataLake",
            bucket_name_prefix="analytics-dev",
            raw_lifecycle=ZoneLifecycle(
                infrequent_access_after=cdk.Duration.days(30), glacier_after=cdk.Duration.days(90)
            ),
        )
        ingestion = iam.Role(stack, "Ingestion", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
        analyst = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
        storage.grant_write(DataLakeZone.RAW, ingestion)
        storage.grant_read(DataLakeZone.PROCESSED, analyst, objects_key_pattern="sales/*")
        app.synth()

    Args:
        encryption_key: KMS key for the zone buckets. Default: a new customer-managed key with
            automatic rotation.
        bucket_name_prefix: prefix of physical bucket names, which become
            ``<prefix>-<zone>-<account>-<region>``. Default: CloudFormation-generated names.
        raw_lifecycle, processed_lifecycle, consumer_lifecycle: transitions and expiry per zone.
            Default: ``default_lifecycle(zone)`` (raw: IA at 30 d, Glacier at 90 d; processed: IA at
            90 d; consumer: none; nothing expires).
        noncurrent_version_expiry: delete noncurrent versions after this long. Default: 30 days.
        abort_incomplete_multipart_upload_after: Default: 7 days.
        server_access_logs_bucket: an existing bucket for server access logs (must not use SSE-KMS,
            which S3 log delivery does not support). Default: a new SSE-S3 bucket.
        access_log_retention: expiry of access logs in the created log bucket. Default: 365 days.
        raw_event_bridge_enabled: send raw-zone object events to EventBridge. Default: True.
        removal_policy: what happens to buckets and key on stack deletion. Default: RETAIN.
        auto_delete_objects: empty the buckets on stack deletion (needs ``removal_policy=DESTROY``).
            Default: False.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None = None,
        bucket_name_prefix: str | None = None,
        raw_lifecycle: ZoneLifecycle | None = None,
        processed_lifecycle: ZoneLifecycle | None = None,
        consumer_lifecycle: ZoneLifecycle | None = None,
        noncurrent_version_expiry: cdk.Duration | None = None,
        abort_incomplete_multipart_upload_after: cdk.Duration | None = None,
        server_access_logs_bucket: s3.IBucket | None = None,
        access_log_retention: cdk.Duration | None = None,
        raw_event_bridge_enabled: bool = True,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        auto_delete_objects: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # Log delivery through the log bucket's policy (not the LogDeliveryWrite ACL, which object
        # ownership BUCKET_OWNER_ENFORCED forbids), whatever the host app's feature flags: set for this
        # construct's subtree, before any child exists.
        self.node.set_context(_S3_ACCESS_LOGS_USE_BUCKET_POLICY, True)

        # --- validation: fail synth with a clear message, before creating anything ---
        if bucket_name_prefix is not None:
            _validate_bucket_name_prefix(bucket_name_prefix)
        if removal_policy not in (cdk.RemovalPolicy.RETAIN, cdk.RemovalPolicy.DESTROY):
            raise ValueError(f"removal_policy: {removal_policy} is not allowed; expected RETAIN or DESTROY")
        if auto_delete_objects and removal_policy != cdk.RemovalPolicy.DESTROY:
            raise ValueError(
                "auto_delete_objects: True is only allowed with removal_policy=DESTROY "
                "(RETAIN keeps the buckets, so there is nothing to empty)"
            )
        if server_access_logs_bucket is not None and access_log_retention is not None:
            raise ValueError(
                "access_log_retention: only applies to the log bucket this construct creates; "
                "omit it when passing server_access_logs_bucket"
            )
        lifecycles = {
            DataLakeZone.RAW: raw_lifecycle,
            DataLakeZone.PROCESSED: processed_lifecycle,
            DataLakeZone.CONSUMER: consumer_lifecycle,
        }
        zone_steps = {
            zone: _validate_lifecycle(zone, lifecycle if lifecycle is not None else default_lifecycle(zone))
            for zone, lifecycle in lifecycles.items()
        }
        noncurrent_days = _whole_days(
            "noncurrent_version_expiry",
            noncurrent_version_expiry if noncurrent_version_expiry is not None else cdk.Duration.days(30),
        )
        abort_days = _whole_days(
            "abort_incomplete_multipart_upload_after",
            abort_incomplete_multipart_upload_after
            if abort_incomplete_multipart_upload_after is not None
            else cdk.Duration.days(7),
        )
        log_days = _whole_days(
            "access_log_retention",
            access_log_retention if access_log_retention is not None else cdk.Duration.days(365),
        )

        self._prefix = bucket_name_prefix
        self._removal_policy = removal_policy
        self._auto_delete = auto_delete_objects

        # --- encryption key ---
        self.encryption_key: kms.IKey = (
            encryption_key
            if encryption_key is not None
            else kms.Key(
                self,
                "Key",
                description="Data-lake zone buckets (raw, processed, consumer)",
                enable_key_rotation=True,
                removal_policy=removal_policy,
                # The shortest window only where destroying data was explicitly allowed.
                pending_window=cdk.Duration.days(7 if removal_policy == cdk.RemovalPolicy.DESTROY else 30),
            )
        )
        if encryption_key is None:
            limit_grants_to_aws_services(self.encryption_key)

        # --- server access logs ---
        self.access_logs_bucket: s3.IBucket = (
            server_access_logs_bucket
            if server_access_logs_bucket is not None
            else self._create_access_logs_bucket(log_days, noncurrent_days, abort_days)
        )

        # --- zones ---
        self.buckets: dict[DataLakeZone, s3.Bucket] = {
            zone: self._create_zone_bucket(
                zone,
                steps,
                noncurrent_days=noncurrent_days,
                abort_days=abort_days,
                event_bridge=zone == DataLakeZone.RAW and raw_event_bridge_enabled,
            )
            for zone, steps in zone_steps.items()
        }
        self.raw_bucket: s3.Bucket = self.buckets[DataLakeZone.RAW]
        self.processed_bucket: s3.Bucket = self.buckets[DataLakeZone.PROCESSED]
        self.consumer_bucket: s3.Bucket = self.buckets[DataLakeZone.CONSUMER]

        if auto_delete_objects:
            self._acknowledge_auto_delete_provider()

    # --- public API ---

    def bucket(self, zone: DataLakeZone | str) -> s3.Bucket:
        """The bucket of ``zone`` (``DataLakeZone`` or its value, e.g. ``"raw"``)."""
        try:
            return self.buckets[DataLakeZone(zone)]
        except ValueError:
            allowed = ", ".join(z.value for z in DataLakeZone)
            raise ValueError(f"zone: {zone!r} is not allowed; expected one of {allowed}") from None

    def grant_read(
        self, zone: DataLakeZone | str, grantee: iam.IGrantable, objects_key_pattern: str = "*"
    ) -> iam.Grant:
        """Read objects of one zone (and decrypt with the zone key)."""
        return self.bucket(zone).grant_read(grantee, objects_key_pattern)

    def grant_write(
        self, zone: DataLakeZone | str, grantee: iam.IGrantable, objects_key_pattern: str = "*"
    ) -> iam.Grant:
        """Write objects to one zone (and encrypt with the zone key)."""
        return self.bucket(zone).grant_write(grantee, objects_key_pattern)

    def grant_read_write(
        self, zone: DataLakeZone | str, grantee: iam.IGrantable, objects_key_pattern: str = "*"
    ) -> iam.Grant:
        """Read and write objects of one zone (and use the zone key)."""
        return self.bucket(zone).grant_read_write(grantee, objects_key_pattern)

    def allow_access_logs_from(self, source_bucket_name: str, prefix: str, *, sid: str | None = None) -> None:
        """Let S3 deliver server access logs of another bucket (e.g. one in another stack, which cannot
        add itself to this policy) under ``prefix`` of the access-log bucket; this account only."""
        if not prefix.endswith("/") or prefix.startswith("/"):
            raise ValueError(f"prefix: {prefix!r} is not allowed; expected a key prefix such as 'athena/'")
        bucket = self.access_logs_bucket
        result = bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": f"arn:{cdk.Aws.PARTITION}:s3:::{source_bucket_name}"},
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                },
            )
        )
        if not result.statement_added:
            raise ValueError(
                "allow_access_logs_from: the access-log bucket was passed in, so its policy is not managed "
                "here; add the statement to that bucket's policy instead"
            )

    # --- internals ---

    def _bucket_name(self, label: str) -> str | None:
        return zone_bucket_name(self._prefix, label) if self._prefix is not None else None

    def _common_bucket_props(self) -> dict[str, object]:
        return {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            "enforce_ssl": True,
            "minimum_tls_version": 1.2,
            "versioned": True,
            "removal_policy": self._removal_policy,
            "auto_delete_objects": self._auto_delete,
        }

    def _create_access_logs_bucket(self, log_days: int, noncurrent_days: int, abort_days: int) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            bucket_name=self._bucket_name("access-logs"),
            # S3 server access log delivery supports only SSE-S3 on the target bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(log_days),
                    noncurrent_version_expiration=cdk.Duration.days(noncurrent_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(abort_days),
                )
            ],
            **self._common_bucket_props(),  # type: ignore[arg-type]
        )
        reason_kms = (
            "S3 server access log delivery does not support SSE-KMS target buckets, so this bucket "
            "uses SSE-S3 (AES-256); it holds request logs only, no data-lake objects."
        )
        for rule in (
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "HIPAA.Security-S3DefaultEncryptionKMS",
            "PCI.DSS.321-S3DefaultEncryptionKMS",
        ):
            cdk.Validations.of(bucket).acknowledge(cdk.Acknowledgment(id=rule, reason=reason_kms))
        _checkov_skip(
            bucket,
            (
                "CKV_AWS_18",
                "This is the server-access-log target; logging it to itself would create a feedback "
                "loop. API access to it is audited by CloudTrail.",
            ),
        )
        self._acknowledge_no_replication(bucket)
        for rule, why in (
            ("s3_bucket_default_encryption_kms_check", reason_kms),
            ("s3_bucket_logging_enabled_check", _LOG_TARGET_REASON),
            (
                "s3_event_notifications_enabled_check",
                "Nothing consumes the arrival of access-log files: they are read on demand, when someone "
                "audits requests.",
            ),
            ("s3_bucket_object_lock_enabled_check", _OBJECT_LOCK_REASON),
        ):
            _guard_suppress(bucket, rule, why)
        return bucket

    def _create_zone_bucket(
        self,
        zone: DataLakeZone,
        steps: dict[str, int],
        *,
        noncurrent_days: int,
        abort_days: int,
        event_bridge: bool,
    ) -> s3.Bucket:
        transitions = []
        if "infrequent_access_after" in steps:
            transitions.append(
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=cdk.Duration.days(steps["infrequent_access_after"]),
                )
            )
        if "glacier_after" in steps:
            transitions.append(
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER,
                    transition_after=cdk.Duration.days(steps["glacier_after"]),
                )
            )
        expire = steps.get("expire_after")
        bucket = s3.Bucket(
            self,
            f"{zone.value.capitalize()}Bucket",
            bucket_name=self._bucket_name(zone.value),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.encryption_key,
            bucket_key_enabled=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=f"{zone.value}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id=f"{zone.value}-zone-lifecycle",
                    transitions=transitions or None,
                    expiration=cdk.Duration.days(expire) if expire is not None else None,
                    noncurrent_version_expiration=cdk.Duration.days(noncurrent_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(abort_days),
                )
            ],
            **self._common_bucket_props(),  # type: ignore[arg-type]
        )
        if event_bridge:
            # The L2's event_bridge_enabled deploys a notifications custom-resource Lambda;
            # CloudFormation supports the setting natively, so set it on the L1 instead.
            cfn_bucket = bucket.node.default_child
            assert isinstance(cfn_bucket, s3.CfnBucket)
            cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                    event_bridge_enabled=True
                )
            )
        else:
            _guard_suppress(
                bucket,
                "s3_event_notifications_enabled_check",
                f"Nothing consumes the {zone.value} zone's object events: its writers (the pipeline's jobs) "
                "start the next step themselves; the raw zone, written by Firehose, sends its events.",
            )
        _guard_suppress(bucket, "s3_bucket_object_lock_enabled_check", _OBJECT_LOCK_REASON)
        self._acknowledge_no_replication(bucket)
        return bucket

    def _acknowledge_no_replication(self, bucket: s3.Bucket) -> None:
        reason = (
            "Cross-region replication is a disaster-recovery choice made per deployment (it doubles "
            "storage cost); versioning, noncurrent-version retention and RETAIN protect the data here."
        )
        for rule in (
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "HIPAA.Security-S3BucketReplicationEnabled",
            "PCI.DSS.321-S3BucketReplicationEnabled",
        ):
            cdk.Validations.of(bucket).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))

    def _acknowledge_auto_delete_provider(self) -> None:
        """Record accepted findings on the CDK-owned provider Lambda that empties buckets on deletion."""
        provider = cdk.Stack.of(self).node.try_find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
        handler = provider.node.try_find_child("Handler") if provider is not None else None
        if not isinstance(handler, cdk.CfnResource):
            return
        reason = (
            "aws-cdk-lib's provider that empties the buckets on stack deletion: it exists only where the "
            "configuration explicitly allows destroying data (never in production), runs once per "
            "deletion, touches no data-lake records and its code and role are owned by aws-cdk-lib."
        )
        _checkov_skip(handler, ("CKV_AWS_115", reason), ("CKV_AWS_116", reason), ("CKV_AWS_117", reason))
        _guard_suppress(handler, "lambda_inside_vpc_check", reason)
        # aws-cdk-lib adds a DependsOn on the role that the handler's GetAtt already implies (W3005).
        handler.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})


def _checkov_skip(scope: Construct, *checks: tuple[str, str]) -> None:
    """Record checkov skips (check id, reason) in the CloudFormation metadata of a resource."""
    resource = scope if isinstance(scope, cdk.CfnResource) else scope.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    existing = resource.get_metadata("checkov") or {"skip": []}
    skips = list(existing["skip"]) + [{"id": check_id, "comment": reason} for check_id, reason in checks]
    resource.add_metadata("checkov", {"skip": skips})


def limit_grants_to_aws_services(key: kms.IKey) -> None:
    """Only AWS services may create grants on a key made here (AWS Control Tower CT.KMS.PR.3): people
    and roles use the key through its policy and IAM; services integrated with KMS (Redshift, Firehose,
    CloudWatch Logs ...) create the grants they need on their resources' behalf."""
    if not isinstance(key, kms.Key):
        return
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={
                "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
            },
        )
    )


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
