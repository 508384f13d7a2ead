"""IngestionDataStream: encryption, capacity modes, retention, grants, alarms and validation."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from datalake_constructs.data_stream import IngestionDataStream
from tests.conftest import app_with_context


def build(**props: Any) -> tuple[cdk.Stack, IngestionDataStream]:
    stack = cdk.Stack(app_with_context(), "Test")
    return stack, IngestionDataStream(stack, "Events", **props)


def stream_props(stack: cdk.Stack) -> dict[str, Any]:
    (stream,) = Template.from_stack(stack).find_resources("AWS::Kinesis::Stream").values()
    props: dict[str, Any] = stream["Properties"]
    return props


def test_defaults_on_demand_one_day_cmk_retained() -> None:
    stack, construct = build()
    template = Template.from_stack(stack)

    (key_id,) = template.find_resources("AWS::KMS::Key")
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource(
        "AWS::Kinesis::Stream",
        {
            "Properties": {
                "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
                "RetentionPeriodHours": 24,
                "StreamEncryption": {"EncryptionType": "KMS", "KeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
            },
            "DeletionPolicy": "Retain",
        },
    )
    assert "ShardCount" not in stream_props(stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    assert isinstance(construct.encryption_key, kms.Key)
    assert construct.alarms == []


def test_provisioned_stream_with_shards_and_longer_retention() -> None:
    stack, _ = build(
        stream_mode=kinesis.StreamMode.PROVISIONED, shard_count=4, retention=cdk.Duration.hours(168)
    )

    props = stream_props(stack)
    assert props["ShardCount"] == 4
    assert props["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert props["RetentionPeriodHours"] == 168


def test_an_existing_key_is_used() -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )

    construct = IngestionDataStream(stack, "Events", encryption_key=key)

    Template.from_stack(stack).resource_count_is("AWS::KMS::Key", 0)
    assert construct.encryption_key is key
    assert stream_props(stack)["StreamEncryption"]["KeyId"].endswith("1234567890ab")


def test_alarms_on_consumer_lag_and_write_throttles_reach_the_topic() -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    topic = sns.Topic(stack, "Alerts")

    construct = IngestionDataStream(
        stack, "Events", alarm_topic=topic, iterator_age_threshold=cdk.Duration.minutes(5)
    )
    template = Template.from_stack(stack)

    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == len(construct.alarms) == 2
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()}
    assert by_metric["GetRecords.IteratorAgeMilliseconds"]["Threshold"] == 300_000
    assert by_metric["PutRecords.ThrottledRecords"]["Threshold"] == 0
    for props in by_metric.values():
        assert props["AlarmActions"] == [{"Ref": topic_id}]
        assert props["OKActions"] == [{"Ref": topic_id}]


def test_grant_write_covers_the_stream_and_its_key() -> None:
    stack, construct = build()
    role = iam.Role(stack, "Producer", assumed_by=iam.AccountRootPrincipal())

    construct.grant_write(role)

    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Action": Match.array_with(["kinesis:PutRecord", "kinesis:PutRecords"])}
                        ),
                        Match.object_like({"Action": Match.array_with(["kms:GenerateDataKey*"])}),
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"stream_mode": kinesis.StreamMode.PROVISIONED},
            r"shard_count: None is not allowed for a PROVISIONED",
        ),
        (
            {"stream_mode": kinesis.StreamMode.PROVISIONED, "shard_count": 0},
            r"shard_count: 0 is not allowed .* from 1 to 10000",
        ),
        ({"shard_count": 2}, r"shard_count: only allowed with stream_mode=PROVISIONED"),
        ({"retention": cdk.Duration.hours(23)}, r"retention: 23 hours is not allowed; expected 24 to 8760"),
        ({"retention": cdk.Duration.hours(8761)}, r"retention: 8761 hours is not allowed"),
        ({"retention": cdk.Duration.minutes(90)}, r"retention: must be a whole number of hours"),
        (
            {"iterator_age_threshold": cdk.Duration.seconds(30)},
            r"iterator_age_threshold: .* at least 1 minute",
        ),
    ],
)
def test_bad_props_fail_with_a_clear_message(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**props)
