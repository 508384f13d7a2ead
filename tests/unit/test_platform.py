"""The storage stack as wired for each shipped environment (the app synthesized once per session)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk

from tests.conftest import SynthesizedPlatform


def resources(env: SynthesizedPlatform, resource_type: str) -> dict[str, dict[str, Any]]:
    return env.template(env.platform.storage).find_resources(resource_type)


def test_stack_names_come_from_the_configuration(dev: SynthesizedPlatform, prod: SynthesizedPlatform) -> None:
    assert dev.platform.storage.stack_name == "datalake-dev-storage"
    assert prod.platform.storage.stack_name == "datalake-prod-storage"
    assert dev.platform.ingestion.stack_name == "datalake-dev-ingestion"
    assert sorted(p.name for p in dev.template_files) == [
        f"datalake-dev-{component}.template.json"
        for component in ("etl", "ingestion", "operations", "orchestration", "serving", "storage")
    ]


def test_stacks_are_environment_agnostic_by_default(env_platform: SynthesizedPlatform) -> None:
    stack = env_platform.platform.storage
    assert cdk.Token.is_unresolved(stack.account)
    assert cdk.Token.is_unresolved(stack.region)


def test_prod_retains_all_data_and_protects_the_stack(prod: SynthesizedPlatform) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in resources(prod, kind).values():
            assert resource["DeletionPolicy"] == "Retain"
            assert resource["UpdateReplacePolicy"] == "Retain"
    assert resources(prod, "Custom::S3AutoDeleteObjects") == {}
    assert prod.platform.storage.termination_protection is True


def test_dev_is_destroyable_because_its_configuration_allows_it(dev: SynthesizedPlatform) -> None:
    for resource in resources(dev, "AWS::S3::Bucket").values():
        assert resource["DeletionPolicy"] == "Delete"
    assert len(resources(dev, "Custom::S3AutoDeleteObjects")) == 4
    assert dev.platform.storage.termination_protection is False


def test_every_bucket_and_key_carries_the_configured_tags(env_platform: SynthesizedPlatform) -> None:
    config = env_platform.platform.config
    for kind in ("AWS::S3::Bucket", "AWS::KMS::Key"):
        for resource in resources(env_platform, kind).values():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
            assert tags.items() >= config.tags.items()
            assert tags["environment"] == config.env_name


def test_bucket_names_use_the_environment_prefix(env_platform: SynthesizedPlatform) -> None:
    prefix = env_platform.platform.config.name_prefix
    names = [
        r["Properties"]["BucketName"]["Fn::Join"][1][0]
        for r in resources(env_platform, "AWS::S3::Bucket").values()
    ]
    assert sorted(names) == sorted(
        f"{prefix}-{zone}-" for zone in ("access-logs", "raw", "processed", "consumer")
    )


def test_lifecycles_follow_each_environments_configuration(
    dev: SynthesizedPlatform, prod: SynthesizedPlatform
) -> None:
    def raw_rule(env: SynthesizedPlatform) -> dict[str, Any]:
        (raw,) = [
            r for k, r in resources(env, "AWS::S3::Bucket").items() if k.startswith("DataLakeRawBucket")
        ]
        rule: dict[str, Any] = raw["Properties"]["LifecycleConfiguration"]["Rules"][0]
        return rule

    assert raw_rule(dev)["ExpirationInDays"] == 365
    assert raw_rule(dev)["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    assert "ExpirationInDays" not in raw_rule(prod)
    assert raw_rule(prod)["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}


def test_the_alert_topic_is_encrypted_tls_only_and_usable_by_alarms_and_events(
    env_platform: SynthesizedPlatform,
) -> None:
    template = env_platform.template(env_platform.platform.operations)
    (key_id,) = template.find_resources("AWS::KMS::Key")
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    (key,) = template.find_resources("AWS::KMS::Key").values()

    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    key_principals = str(key["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in key_principals
    assert "events.amazonaws.com" in key_principals


def test_service_access_to_keys_is_conditioned_against_confused_deputies(
    env_platform: SynthesizedPlatform,
) -> None:
    statements = [
        statement
        for path in env_platform.template_files
        for resource in json.loads(path.read_text())["Resources"].values()
        if resource["Type"] == "AWS::KMS::Key"
        for statement in resource["Properties"]["KeyPolicy"]["Statement"]
    ]
    logs = [s for s in statements if "logs." in json.dumps(s.get("Principal", {}))]
    alerts = [s for s in statements if s.get("Sid", "").startswith("Encrypt alerts for")]

    assert logs and alerts
    for statement in logs:
        assert "kms:EncryptionContext:aws:logs:arn" in statement["Condition"]["ArnLike"]
    for statement in alerts:
        assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


def test_dev_shares_one_key_across_stacks_and_prod_has_one_per_stack(
    dev: SynthesizedPlatform, prod: SynthesizedPlatform
) -> None:
    def keys(env: SynthesizedPlatform) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for path in env.template_files:
            template = json.loads(path.read_text())
            found[path.name] = [i for i, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
        return found

    dev_keys = {name: ids for name, ids in keys(dev).items() if ids}
    assert (
        list(dev_keys) == ["datalake-dev-operations.template.json"]
        and len(dev_keys[next(iter(dev_keys))]) == 1
    )
    assert all(len(ids) == 1 for ids in keys(prod).values())  # one key per stack: separate blast radius
    # The shared key's policy carries what the other stacks' services need (CloudWatch Logs here).
    operations = dev.template(dev.platform.operations)
    (key,) = operations.find_resources("AWS::KMS::Key").values()
    assert "kms:EncryptionContext:aws:logs:arn" in json.dumps(key["Properties"]["KeyPolicy"])
    serving = json.loads(dev.template_file(dev.platform.serving).read_text())
    namespace = next(
        r for r in serving["Resources"].values() if r["Type"] == "AWS::RedshiftServerless::Namespace"
    )
    assert "Fn::GetStackOutput" in json.dumps(namespace["Properties"]["KmsKeyId"])  # the operations key
