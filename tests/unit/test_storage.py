"""DataLakeStorage: secure defaults, options, grants and every validation error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from datalake_constructs.storage import (
    MAX_BUCKET_NAME_PREFIX_LENGTH,
    DataLakeStorage,
    DataLakeZone,
    ZoneLifecycle,
)
from tests.conftest import app_with_context

days = cdk.Duration.days
ZONE_IDS = {
    "raw": "DataLakeRawBucket",
    "processed": "DataLakeProcessedBucket",
    "consumer": "DataLakeConsumerBucket",
}


def build(**props: Any) -> tuple[cdk.Stack, DataLakeStorage]:
    stack = cdk.Stack(app_with_context(), "Test")
    return stack, DataLakeStorage(stack, "DataLake", **props)


def buckets(template: Template) -> dict[str, dict[str, Any]]:
    return template.find_resources("AWS::S3::Bucket")


def bucket(template: Template, zone: str) -> dict[str, Any]:
    (resource,) = [r for k, r in buckets(template).items() if k.startswith(ZONE_IDS[zone])]
    return resource


def lifecycle_rule(template: Template, zone: str) -> dict[str, Any]:
    (rule,) = bucket(template, zone)["Properties"]["LifecycleConfiguration"]["Rules"]
    return rule


@pytest.fixture(scope="module")
def default() -> tuple[Template, DataLakeStorage]:
    stack, storage = build()
    return Template.from_stack(stack), storage


# --- secure defaults -------------------------------------------------------------------------------


def test_creates_three_zones_and_a_log_bucket(default: tuple[Template, DataLakeStorage]) -> None:
    template, storage = default

    template.resource_count_is("AWS::S3::Bucket", 4)
    assert set(storage.buckets) == set(DataLakeZone)
    assert storage.raw_bucket is storage.bucket("raw") is storage.buckets[DataLakeZone.RAW]
    assert storage.processed_bucket is storage.bucket(DataLakeZone.PROCESSED)
    assert storage.consumer_bucket is storage.bucket(DataLakeZone.CONSUMER)
    assert isinstance(storage.access_logs_bucket, s3.Bucket)


def test_creates_a_rotating_customer_managed_key(default: tuple[Template, DataLakeStorage]) -> None:
    template, storage = default

    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {"EnableKeyRotation": True, "PendingWindowInDays": 30},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    assert isinstance(storage.encryption_key, kms.Key)


@pytest.mark.parametrize("zone", ["raw", "processed", "consumer"])
def test_zone_buckets_are_kms_encrypted_with_bucket_keys(
    default: tuple[Template, DataLakeStorage], zone: str
) -> None:
    template, _ = default
    (key_id,) = template.find_resources("AWS::KMS::Key")

    encryption = bucket(template, zone)["Properties"]["BucketEncryption"]

    assert encryption["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                "SSEAlgorithm": "aws:kms",
            },
        }
    ]


@pytest.mark.parametrize("zone", ["raw", "processed", "consumer"])
def test_zone_buckets_are_private_versioned_retained_and_logged(
    default: tuple[Template, DataLakeStorage], zone: str
) -> None:
    template, _ = default
    (log_id,) = [k for k in buckets(template) if k.startswith("DataLakeAccessLogsBucket")]

    resource = bucket(template, zone)
    props = resource["Properties"]

    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_id},
        "LogFilePrefix": f"{zone}/",
    }
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"
    assert "BucketName" not in props  # CloudFormation-generated names unless a prefix is given


def test_every_bucket_policy_denies_plain_http_and_old_tls(default: tuple[Template, DataLakeStorage]) -> None:
    template, _ = default
    policies = template.find_resources("AWS::S3::BucketPolicy")

    assert len(policies) == 4
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        conditions = [s["Condition"] for s in statements if s["Effect"] == "Deny"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_default_lifecycles(default: tuple[Template, DataLakeStorage]) -> None:
    template, _ = default

    raw = lifecycle_rule(template, "raw")
    assert raw["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
        {"StorageClass": "GLACIER", "TransitionInDays": 90},
    ]
    assert "ExpirationInDays" not in raw
    assert lifecycle_rule(template, "processed")["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": 90}
    ]
    assert "Transitions" not in lifecycle_rule(template, "consumer")
    for zone in ZONE_IDS:
        rule = lifecycle_rule(template, zone)
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
        assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
        assert rule["Status"] == "Enabled"


def test_only_the_raw_zone_notifies_eventbridge_natively(default: tuple[Template, DataLakeStorage]) -> None:
    template, _ = default

    assert bucket(template, "raw")["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert "NotificationConfiguration" not in bucket(template, "processed")["Properties"]
    assert "NotificationConfiguration" not in bucket(template, "consumer")["Properties"]
    # native CloudFormation setting: no notifications custom resource, no Lambda at all
    template.resource_count_is("Custom::S3BucketNotifications", 0)
    template.resource_count_is("AWS::Lambda::Function", 0)


def test_access_log_bucket_uses_sse_s3_and_expires_logs(default: tuple[Template, DataLakeStorage]) -> None:
    template, _ = default
    (log,) = [r for k, r in buckets(template).items() if k.startswith("DataLakeAccessLogsBucket")]

    props = log["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert log["DeletionPolicy"] == "Retain"
    # S3 log delivery is granted by bucket policy (ACLs are disabled)
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": "s3:PutObject", "Principal": {"Service": "logging.s3.amazonaws.com"}}
                        )
                    ]
                )
            }
        },
    )


def test_nothing_is_emptied_on_deletion_by_default(default: tuple[Template, DataLakeStorage]) -> None:
    template, _ = default

    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


# --- options ---------------------------------------------------------------------------------------


def test_bucket_name_prefix_gives_globally_unique_names() -> None:
    stack, _ = build(bucket_name_prefix="sales-dev")
    template = Template.from_stack(stack)

    name = bucket(template, "processed")["Properties"]["BucketName"]

    assert name == {
        "Fn::Join": ["", ["sales-dev-processed-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]
    }


def test_an_existing_key_is_used_instead_of_creating_one() -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )

    storage = DataLakeStorage(stack, "DataLake", encryption_key=key)
    template = Template.from_stack(stack)

    template.resource_count_is("AWS::KMS::Key", 0)
    assert storage.encryption_key is key
    sse = bucket(template, "raw")["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert (
        sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        == "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )


def test_an_existing_log_bucket_is_used_instead_of_creating_one() -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    logs = s3.Bucket.from_bucket_name(stack, "Logs", "central-access-logs")

    storage = DataLakeStorage(stack, "DataLake", server_access_logs_bucket=logs)
    template = Template.from_stack(stack)

    template.resource_count_is("AWS::S3::Bucket", 3)
    assert storage.access_logs_bucket is logs
    assert bucket(template, "raw")["Properties"]["LoggingConfiguration"]["DestinationBucketName"] == (
        "central-access-logs"
    )


def test_custom_lifecycles_and_retention() -> None:
    stack, _ = build(
        raw_lifecycle=ZoneLifecycle(glacier_after=days(1), expire_after=days(400)),
        consumer_lifecycle=ZoneLifecycle(infrequent_access_after=days(30), expire_after=days(31)),
        noncurrent_version_expiry=days(5),
        abort_incomplete_multipart_upload_after=days(2),
        access_log_retention=days(90),
    )
    template = Template.from_stack(stack)

    raw = lifecycle_rule(template, "raw")
    assert raw["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 1}]
    assert raw["ExpirationInDays"] == 400
    consumer = lifecycle_rule(template, "consumer")
    assert consumer["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
    assert consumer["ExpirationInDays"] == 31
    assert consumer["NoncurrentVersionExpiration"] == {"NoncurrentDays": 5}
    assert consumer["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    (log,) = [r for k, r in buckets(template).items() if k.startswith("DataLakeAccessLogsBucket")]
    assert log["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90


def test_raw_eventbridge_can_be_turned_off() -> None:
    stack, _ = build(raw_event_bridge_enabled=False)

    assert "NotificationConfiguration" not in bucket(Template.from_stack(stack), "raw")["Properties"]


def test_destroy_with_auto_delete_empties_and_deletes_everything() -> None:
    stack, _ = build(removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True)
    template = Template.from_stack(stack)

    for resource in buckets(template).values():
        assert resource["DeletionPolicy"] == "Delete"
    template.resource_count_is("Custom::S3AutoDeleteObjects", 4)
    template.has_resource(
        "AWS::KMS::Key", {"DeletionPolicy": "Delete", "Properties": {"PendingWindowInDays": 7}}
    )


# --- grants ----------------------------------------------------------------------------------------


def policy_statements(template: Template) -> list[dict[str, Any]]:
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def resources_text(statement: dict[str, Any]) -> str:
    return str(statement["Resource"])


@pytest.mark.parametrize(
    ("grant", "s3_action", "kms_action"),
    [
        (DataLakeStorage.grant_read, "s3:GetObject*", "kms:Decrypt"),
        (DataLakeStorage.grant_write, "s3:PutObject", "kms:GenerateDataKey*"),
        (DataLakeStorage.grant_read_write, "s3:DeleteObject*", "kms:Encrypt"),
    ],
)
def test_grants_cover_one_zone_and_its_key(
    grant: Callable[..., iam.Grant], s3_action: str, kms_action: str
) -> None:
    stack, storage = build()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))

    result = grant(storage, DataLakeZone.PROCESSED, role)
    statements = policy_statements(Template.from_stack(stack))

    assert isinstance(result, iam.Grant)
    s3_statements = [s for s in statements if any(a.startswith("s3:") for a in actions(s))]
    kms_statements = [s for s in statements if any(a.startswith("kms:") for a in actions(s))]
    assert any(s3_action in actions(s) for s in s3_statements)
    assert any(kms_action in actions(s) for s in kms_statements)
    for statement in s3_statements:
        assert "DataLakeProcessedBucket" in resources_text(statement)
        assert "DataLakeRawBucket" not in resources_text(statement)
        assert "DataLakeConsumerBucket" not in resources_text(statement)
    for statement in kms_statements:
        assert "DataLakeKey" in resources_text(statement)


def test_grant_can_be_limited_to_a_key_pattern() -> None:
    stack, storage = build()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))

    storage.grant_read("raw", role, objects_key_pattern="events/*")

    statements = policy_statements(Template.from_stack(stack))
    s3_resources = [r for s in statements if "s3:GetObject*" in actions(s) for r in s["Resource"]]
    object_suffixes = [r["Fn::Join"][1][1] for r in s3_resources if "Fn::Join" in r]
    assert object_suffixes == ["/events/*"]


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"auto_delete_objects": True},
            r"auto_delete_objects: True is only allowed with removal_policy=DESTROY",
        ),
        (
            {"removal_policy": cdk.RemovalPolicy.SNAPSHOT},
            r"removal_policy: .* is not allowed; expected RETAIN or DESTROY",
        ),
        ({"bucket_name_prefix": "Sales"}, r"bucket_name_prefix: 'Sales' is not allowed; expected 3-"),
        ({"bucket_name_prefix": "sales-"}, r"bucket_name_prefix: 'sales-' is not allowed"),
        ({"bucket_name_prefix": "xn--sales"}, r"bucket_name_prefix: 'xn--sales' is not allowed.*xn--"),
        ({"bucket_name_prefix": "ab"}, r"bucket_name_prefix: 'ab' is not allowed"),
        (
            {"bucket_name_prefix": "a" * (MAX_BUCKET_NAME_PREFIX_LENGTH + 1)},
            rf"bucket_name_prefix: 'a+' is not allowed; expected 3-{MAX_BUCKET_NAME_PREFIX_LENGTH}",
        ),
        (
            {"raw_lifecycle": ZoneLifecycle(infrequent_access_after=days(10))},
            r"raw_lifecycle\.infrequent_access_after: 10 days is not allowed; S3 requires at least 30",
        ),
        (
            {"processed_lifecycle": ZoneLifecycle(infrequent_access_after=days(30), glacier_after=days(45))},
            r"processed_lifecycle\.glacier_after: 45 days is not allowed; .* >= 60",
        ),
        (
            {"consumer_lifecycle": ZoneLifecycle(glacier_after=days(90), expire_after=days(90))},
            r"consumer_lifecycle\.expire_after: 90 days is not allowed; it must be later than the last "
            r"transition \(90 days\)",
        ),
        (
            {"raw_lifecycle": ZoneLifecycle(expire_after=cdk.Duration.hours(36))},
            r"raw_lifecycle\.expire_after: must be a whole number of days",
        ),
        ({"noncurrent_version_expiry": days(0)}, r"noncurrent_version_expiry: must be at least 1 day"),
        (
            {"abort_incomplete_multipart_upload_after": cdk.Duration.hours(1)},
            r"abort_incomplete_multipart_upload_after: must be a whole number of days",
        ),
    ],
)
def test_bad_props_fail_with_a_clear_message(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**props)


def test_log_retention_cannot_apply_to_a_bucket_passed_in() -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    logs = s3.Bucket.from_bucket_name(stack, "Logs", "central-access-logs")

    with pytest.raises(
        ValueError, match=r"access_log_retention: only applies to the log bucket this construct"
    ):
        DataLakeStorage(stack, "DataLake", server_access_logs_bucket=logs, access_log_retention=days(30))


def test_unknown_zone_names_the_allowed_zones(default: tuple[Template, DataLakeStorage]) -> None:
    _, storage = default

    with pytest.raises(
        ValueError, match=r"zone: 'gold' is not allowed; expected one of raw, processed, consumer"
    ):
        storage.bucket("gold")


def test_access_logs_from_another_bucket_are_admitted_by_name_for_this_account_only() -> None:
    stack, storage = build()
    storage.allow_access_logs_from("other-bucket", "other/", sid="OtherLogs")
    policies = Template.from_stack(stack).find_resources("AWS::S3::BucketPolicy").values()
    (statement,) = [
        s
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "OtherLogs"
    ]

    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert "other/*" in str(statement["Resource"])
    assert ":s3:::other-bucket" in str(statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    with pytest.raises(ValueError, match="prefix: 'other' is not allowed"):
        storage.allow_access_logs_from("other-bucket", "other")


def test_access_logs_from_another_bucket_need_a_log_bucket_managed_here() -> None:
    stack = cdk.Stack(app_with_context(), "Passed")
    logs_bucket = s3.Bucket.from_bucket_name(stack, "Logs", "existing-logs")
    storage = DataLakeStorage(stack, "DataLake", server_access_logs_bucket=logs_bucket)
    with pytest.raises(ValueError, match="the access-log bucket was passed in"):
        storage.allow_access_logs_from("other-bucket", "other/")
