"""The ingestion stack as wired for each shipped environment (synthesized once per session)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SynthesizedPlatform


def resources(env: SynthesizedPlatform, kind: str) -> dict[str, dict[str, Any]]:
    return env.template(env.platform.ingestion).find_resources(kind)


def only(env: SynthesizedPlatform, kind: str) -> dict[str, Any]:
    (resource,) = resources(env, kind).values()
    return resource


def test_dev_uses_direct_put_and_no_kinesis_stream(dev: SynthesizedPlatform) -> None:
    assert resources(dev, "AWS::Kinesis::Stream") == {}
    assert (
        only(dev, "AWS::KinesisFirehose::DeliveryStream")["Properties"]["DeliveryStreamType"] == "DirectPut"
    )


def test_prod_reads_an_on_demand_kinesis_stream_kept_seven_days(prod: SynthesizedPlatform) -> None:
    stream = only(prod, "AWS::Kinesis::Stream")["Properties"]
    assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert stream["RetentionPeriodHours"] == 168
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    delivery = only(prod, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    assert delivery["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert delivery["ExtendedS3DestinationConfiguration"]["BufferingHints"]["SizeInMBs"] == 128


def test_firehose_writes_to_the_raw_bucket_by_name_partitioned_by_the_lambda(
    env_platform: SynthesizedPlatform,
) -> None:
    config = only(env_platform, "AWS::KinesisFirehose::DeliveryStream")["Properties"][
        "ExtendedS3DestinationConfiguration"
    ]
    prefix = env_platform.platform.config.name_prefix

    assert f":s3:::{prefix}-raw-" in str(config["BucketARN"])
    assert "ImportValue" not in str(config["BucketARN"])  # no cross-stack export for the bucket
    assert (
        config["Prefix"]
        == "events/event_type=!{partitionKeyFromLambda:event_type}/dt=!{timestamp:yyyy-MM-dd}/"
    )
    assert config["ErrorOutputPrefix"].startswith("errors/")
    assert [p["Type"] for p in config["ProcessingConfiguration"]["Processors"]] == ["Lambda"]


def test_transform_lambda_runtime_and_hardening(env_platform: SynthesizedPlatform) -> None:
    function = only(env_platform, "AWS::Lambda::Function")["Properties"]

    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "handler.handler"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert "KmsKeyArn" in function
    assert function["Environment"]["Variables"]["SERVICE_NAME"] == "firehose-transform"
    assert "LoggingConfig" in function  # its own encrypted log group


def test_every_log_group_is_encrypted_and_retained_per_environment(env_platform: SynthesizedPlatform) -> None:
    log_groups = resources(env_platform, "AWS::Logs::LogGroup")
    expected = "Retain" if env_platform.platform.config.production else "Delete"

    assert len(log_groups) == 2
    for log_group in log_groups.values():
        assert "KmsKeyId" in log_group["Properties"]
        assert log_group["DeletionPolicy"] == expected


def test_every_alarm_notifies_the_operations_alert_topic(env_platform: SynthesizedPlatform) -> None:
    operations = env_platform.template(env_platform.platform.operations)
    (topic_id,) = operations.find_resources("AWS::SNS::Topic")
    alarms = resources(env_platform, "AWS::CloudWatch::Alarm")

    assert alarms
    for alarm in alarms.values():
        (action,) = alarm["Properties"]["AlarmActions"]
        assert topic_id in str(action)  # the cross-stack reference to the operations topic


@pytest.mark.parametrize(
    ("env_name", "metrics"),
    [
        (
            "dev",
            {
                "DeliveryToS3.DataFreshness",
                "DeliveryToS3.Success",
                "ThrottledRecords",
                "ExecuteProcessing.Success",
                "Errors",
            },
        ),
        (
            "prod",
            {
                "DeliveryToS3.DataFreshness",
                "DeliveryToS3.Success",
                "ThrottledGetRecords",
                "ExecuteProcessing.Success",
                "Errors",
                "GetRecords.IteratorAgeMilliseconds",
                "PutRecords.ThrottledRecords",
            },
        ),
    ],
)
def test_alarm_coverage_per_environment(synthesized: Any, env_name: str, metrics: set[str]) -> None:
    alarms = resources(synthesized(env_name), "AWS::CloudWatch::Alarm")

    assert {a["Properties"]["MetricName"] for a in alarms.values()} == metrics


def test_alarm_thresholds_come_from_the_configuration(env_platform: SynthesizedPlatform) -> None:
    settings = env_platform.platform.config.ingestion
    template = env_platform.template(env_platform.platform.ingestion)
    alarms = {
        a["Properties"].get("MetricName"): a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
    }

    assert alarms["DeliveryToS3.DataFreshness"]["Threshold"] == settings.alarm_freshness_minutes * 60
    if env_platform.platform.ingestion.data_stream is not None:
        iterator_age = alarms["GetRecords.IteratorAgeMilliseconds"]["Threshold"]
        assert iterator_age == settings.alarm_iterator_age_minutes * 60_000
