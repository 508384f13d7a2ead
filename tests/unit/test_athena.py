"""AthenaWorkgroups: enforced engine-v3 workgroups, the encrypted results bucket, alarms, grants, errors."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from datalake_constructs.athena import AthenaWorkgroups, AthenaWorkgroupSpec, NamedQuerySpec
from tests.conftest import SynthesizedPlatform, app_with_context

GIB = 2**30


def build(**overrides: Any) -> tuple[AthenaWorkgroups, cdk.Stack]:
    stack = cdk.Stack(app_with_context(), "Test")
    props: dict[str, Any] = {
        "workgroups": [
            AthenaWorkgroupSpec(name="analysts", description="Analysts"),
            AthenaWorkgroupSpec(
                name="pipeline",
                description="Pipeline",
                bytes_scanned_cutoff_per_query=50 * GIB,
                alarm_bytes_scanned_per_hour=5 * GIB,
            ),
        ],
        "encryption_key": kms.Key(stack, "Key"),
        "alert_topic": sns.Topic(stack, "Alerts"),
        "named_queries": [NamedQuerySpec(name="daily", description="d", database="db", query="SELECT 1")],
    }
    props.update(overrides)
    return AthenaWorkgroups(stack, "Athena", **props), stack


@pytest.fixture(scope="module")
def template() -> Template:
    _, stack = build()
    return Template.from_stack(stack)


def test_without_a_log_bucket_the_results_are_access_logged_to_one_of_its_own(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    (results,) = [b for i, b in buckets.items() if i.startswith("AthenaResults")]
    (logs_id, logs) = next((i, b) for i, b in buckets.items() if i.startswith("AthenaAccessLogs"))

    assert results["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": "athena-results/",
    }
    # S3 log delivery needs SSE-S3 on the target, and writes through its bucket policy (not an ACL)
    encryption = logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    assert "AccessControl" not in logs["Properties"]
    (policy,) = [
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logs_id}
    ]
    assert "logging.s3.amazonaws.com" in str(policy["Properties"]["PolicyDocument"])


def workgroup(template: Template, name: str) -> dict[str, Any]:
    (found,) = [
        w
        for w in template.find_resources("AWS::Athena::WorkGroup").values()
        if w["Properties"]["Name"] == name
    ]
    config: dict[str, Any] = found["Properties"]["WorkGroupConfiguration"]
    return config


def test_workgroups_enforce_engine_v3_metrics_and_no_requester_pays(template: Template) -> None:
    for name in ("analysts", "pipeline"):
        config = workgroup(template, name)
        assert config["EnforceWorkGroupConfiguration"] is True
        assert config["EngineVersion"] == {"SelectedEngineVersion": "Athena engine version 3"}
        assert config["PublishCloudWatchMetricsEnabled"] is True
        assert config["RequesterPaysEnabled"] is False


def test_bytes_scanned_cutoff_default_and_per_persona(template: Template) -> None:
    assert workgroup(template, "analysts")["BytesScannedCutoffPerQuery"] == 10 * GIB  # the default
    assert workgroup(template, "pipeline")["BytesScannedCutoffPerQuery"] == 50 * GIB


def test_results_go_to_a_per_workgroup_prefix_encrypted_with_the_key(template: Template) -> None:
    results = workgroup(template, "analysts")["ResultConfiguration"]
    (key_id,) = template.find_resources("AWS::KMS::Key")
    (bucket_id,) = [
        b for b in template.find_resources("AWS::S3::Bucket") if b.startswith("AthenaResultsBucket")
    ]

    assert results["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert results["OutputLocation"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/analysts/"]]}
    assert results["ExpectedBucketOwner"] == {"Ref": "AWS::AccountId"}


def test_results_bucket_is_kms_encrypted_private_tls_only_and_expires_results(template: Template) -> None:
    (bucket,) = [
        b for i, b in template.find_resources("AWS::S3::Bucket").items() if i.startswith("AthenaResults")
    ]
    props = bucket["Properties"]
    (key_id,) = template.find_resources("AWS::KMS::Key")
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                "SSEAlgorithm": "aws:kms",
            },
        }
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 30
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    (policy,) = [
        p
        for p in template.find_resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"]["Ref"].startswith("AthenaResults")
    ]
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]
    assert bucket["DeletionPolicy"] == "Retain"


def test_hourly_bytes_scanned_alarm_sums_every_billed_query_state(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    (pipeline,) = [a for a in alarms.values() if "pipeline" in a["Properties"]["AlarmDescription"]]
    props = pipeline["Properties"]

    assert props["Threshold"] == 5 * GIB  # the persona's own threshold
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    expression = next(m["Expression"] for m in props["Metrics"] if "Expression" in m)
    stats = [m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m]
    assert expression.count("FILL(") == 3
    states = set()
    for stat in stats:
        assert stat["Metric"]["Namespace"] == "AWS/Athena"
        assert stat["Metric"]["MetricName"] == "ProcessedBytes"
        assert stat["Stat"] == "Sum" and stat["Period"] == 3600
        dims = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert dims["WorkGroup"] == "pipeline" and dims["QueryType"] == "DML"
        states.add(dims["QueryState"])
    assert states == {"SUCCEEDED", "FAILED", "CANCELED"}
    assert props["AlarmActions"] and props["OKActions"]
    (analysts,) = [a for a in alarms.values() if "analysts" in a["Properties"]["AlarmDescription"]]
    assert analysts["Properties"]["Threshold"] == 100 * GIB  # the construct default


def test_named_queries_in_every_workgroup(template: Template) -> None:
    queries = template.find_resources("AWS::Athena::NamedQuery").values()
    assert len(queries) == 2
    assert {json.dumps(q["Properties"]["WorkGroup"]) for q in queries} == {
        json.dumps({"Ref": wg}) for wg in template.find_resources("AWS::Athena::WorkGroup")
    }


def test_grant_query_is_scoped_to_the_workgroup_and_its_results() -> None:
    athena, stack = build()
    role = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    athena.grant_query(role, "analysts")
    text = json.dumps(Template.from_stack(stack).find_resources("AWS::IAM::Policy"))

    assert "athena:StartQueryExecution" in text and "workgroup/analysts" in text
    assert "workgroup/pipeline" not in text
    assert "/analysts/*" in text  # results prefix only
    assert "kms:Decrypt" in text
    with pytest.raises(ValueError, match="workgroup: 'other' is not one of"):
        athena.grant_query(role, "other")


def test_shipped_workgroups_per_persona_with_configured_cutoffs(env_platform: SynthesizedPlatform) -> None:
    template = env_platform.template(env_platform.platform.serving)
    config = env_platform.platform.config
    names = {w["Properties"]["Name"] for w in template.find_resources("AWS::Athena::WorkGroup").values()}
    assert names == {f"{config.name_prefix}-{p}" for p in config.serving.athena.workgroups}
    for name in names:
        cutoff = workgroup(template, name)["BytesScannedCutoffPerQuery"]
        assert cutoff == config.serving.athena.bytes_scanned_cutoff_per_query_mib * 2**20


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"workgroups": []}, "workgroups: at least one workgroup is required"),
        (
            {"workgroups": [AthenaWorkgroupSpec("a", "x"), AthenaWorkgroupSpec("a", "y")]},
            "workgroups: names .* have duplicates",
        ),
        ({"workgroups": [AthenaWorkgroupSpec("primary", "x")]}, "'primary' is not allowed"),
        ({"workgroups": [AthenaWorkgroupSpec("has space", "x")]}, "name 'has space' is not allowed"),
        ({"bytes_scanned_cutoff_per_query": 1000}, "bytes_scanned_cutoff_per_query: 1000 is not allowed"),
        (
            {"workgroups": [AthenaWorkgroupSpec("a", "x", bytes_scanned_cutoff_per_query=5)]},
            r"workgroups\[a\].bytes_scanned_cutoff_per_query: 5 is not allowed",
        ),
        ({"alarm_bytes_scanned_per_hour": 0}, "alarm_bytes_scanned_per_hour: 0 is not allowed"),
        ({"results_expiry": cdk.Duration.days(0)}, "results_expiry: .* is not allowed"),
        (
            {"auto_delete_objects": True},
            "auto_delete_objects: True is only allowed with removal_policy DESTROY",
        ),
    ],
)
def test_bad_props_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_results_bucket_may_log_into_the_storage_access_log_bucket(env_platform: SynthesizedPlatform) -> None:
    storage = env_platform.template(env_platform.platform.storage)
    prefix = env_platform.platform.config.name_prefix
    statements = [
        s
        for policy in storage.find_resources("AWS::S3::BucketPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "AthenaResultsAccessLogs"
    ]
    (statement,) = statements
    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert f":s3:::{prefix}-athena-results" in json.dumps(statement["Condition"]["ArnLike"])
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    serving = env_platform.template(env_platform.platform.serving)
    (bucket,) = [
        b
        for b in serving.find_resources("AWS::S3::Bucket").values()
        if f"{prefix}-athena-results-" in json.dumps(b["Properties"].get("BucketName"))
    ]
    logging = bucket["Properties"]["LoggingConfiguration"]
    assert f"{prefix}-access-logs-" in json.dumps(logging["DestinationBucketName"])
    assert logging["LogFilePrefix"] == "athena-results/"


def test_shipped_named_queries_prune_on_the_date_partition_key(prod: SynthesizedPlatform) -> None:
    serving = prod.template(prod.platform.serving)
    etl = prod.template(prod.platform.etl)
    (summary,) = [
        t["Properties"]["TableInput"]
        for t in etl.find_resources("AWS::Glue::Table").values()
        if t["Properties"]["TableInput"]["Name"] == "daily_event_summary"
    ]
    queries = [
        q["Properties"]["QueryString"] for q in serving.find_resources("AWS::Athena::NamedQuery").values()
    ]
    assert [(k["Name"], k["Type"]) for k in summary["PartitionKeys"]] == [("event_date", "date")]
    assert queries
    for query in queries:
        # a date key compared with a date: partitions prune and Trino needs no cast (the twin's
        # Athena type-checks and runs these queries: tests/twin/test_athena.py)
        assert "daily_event_summary" in query
        assert "WHERE event_date >= current_date - INTERVAL" in query


def test_shipped_named_queries_add_up_only_what_is_additive(prod: SynthesizedPlatform) -> None:
    # The consumer grain is (event_date, event_type, currency): distinct users never add up across
    # rows, amounts only within one currency.
    serving = prod.template(prod.platform.serving)
    queries = [
        q["Properties"]["QueryString"] for q in serving.find_resources("AWS::Athena::NamedQuery").values()
    ]
    for query in queries:
        assert "SUM(unique_users)" not in query, query
        if "SUM(total_amount)" in query:
            assert "GROUP BY event_date, currency" in query, query
