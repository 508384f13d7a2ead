"""RawZoneDeliveryStream: partitioning, processors, encryption, errors path, alarms and validation."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from datalake_constructs.raw_zone_delivery import DEFAULT_ERROR_PREFIX, RawZoneDeliveryStream
from tests.conftest import app_with_context


class Fixture:
    """A stack with the resources a delivery stream needs, built fresh per test."""

    def __init__(self) -> None:
        self.stack = cdk.Stack(app_with_context(), "Test")
        self.bucket_key = kms.Key(self.stack, "BucketKey", enable_key_rotation=True)
        self.bucket = s3.Bucket(
            self.stack, "Raw", encryption=s3.BucketEncryption.KMS, encryption_key=self.bucket_key
        )
        self.topic = sns.Topic(self.stack, "Alerts")

    def function(self) -> lambda_.Function:
        return lambda_.Function(
            self.stack,
            "Transform",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        )

    def build(self, **props: Any) -> RawZoneDeliveryStream:
        return RawZoneDeliveryStream(self.stack, "ToRaw", destination_bucket=self.bucket, **props)

    def template(self) -> Template:
        return Template.from_stack(self.stack)

    def delivery_props(self) -> dict[str, Any]:
        (stream,) = self.template().find_resources("AWS::KinesisFirehose::DeliveryStream").values()
        props: dict[str, Any] = stream["Properties"]
        return props

    def s3_config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.delivery_props()["ExtendedS3DestinationConfiguration"]
        return config

    def logical_id(self, construct: cdk.Resource) -> str:
        child = construct.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return self.stack.get_logical_id(child)


@pytest.fixture
def env() -> Fixture:
    return Fixture()


def processor_types(config: dict[str, Any]) -> list[str]:
    return [p["Type"] for p in config.get("ProcessingConfiguration", {}).get("Processors", [])]


# --- defaults: Direct PUT, dynamic partitioning by jq ----------------------------------------------


def test_direct_put_default_partitions_by_event_type_and_arrival_date(env: Fixture) -> None:
    delivery = env.build()
    props = env.delivery_props()
    config = env.s3_config()

    assert props["DeliveryStreamType"] == "DirectPut"
    assert (
        config["Prefix"]
        == "events/event_type=!{partitionKeyFromQuery:event_type}/dt=!{timestamp:yyyy-MM-dd}/"
    )
    assert config["ErrorOutputPrefix"] == DEFAULT_ERROR_PREFIX
    assert config["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert config["DynamicPartitioningConfiguration"] == {"Enabled": True}
    assert config["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 64}
    assert config["CompressionFormat"] == "GZIP"
    assert processor_types(config) == ["MetadataExtraction", "AppendDelimiterToRecord"]
    (extraction,) = [
        p for p in config["ProcessingConfiguration"]["Processors"] if p["Type"] == "MetadataExtraction"
    ]
    params = {p["ParameterName"]: p["ParameterValue"] for p in extraction["Parameters"]}
    assert params["MetadataExtractionQuery"] == '{"event_type":.event_type}'
    assert params["JsonParsingEngine"] == "JQ-1.6"
    assert delivery.data_output_prefix == config["Prefix"]


def test_direct_put_stream_is_encrypted_with_a_rotating_cmk(env: Fixture) -> None:
    delivery = env.build()

    encryption = env.delivery_props()["DeliveryStreamEncryptionConfigurationInput"]
    assert encryption["KeyType"] == "CUSTOMER_MANAGED_CMK"
    assert encryption["KeyARN"] == {"Fn::GetAtt": [env.logical_id(delivery.encryption_key), "Arn"]}  # type: ignore[arg-type]
    env.template().has_resource_properties(
        "AWS::KMS::Key",
        {"EnableKeyRotation": True, "Description": "Firehose stream and delivery-log encryption"},
    )


def test_objects_are_encrypted_with_the_bucket_key(env: Fixture) -> None:
    env.build()

    assert env.s3_config()["EncryptionConfiguration"] == {
        "KMSEncryptionConfig": {"AWSKMSKeyARN": {"Fn::GetAtt": [env.logical_id(env.bucket_key), "Arn"]}}  # type: ignore[arg-type]
    }


def test_delivery_errors_are_logged_to_an_encrypted_log_group(env: Fixture) -> None:
    delivery = env.build()
    log_group_id = env.logical_id(delivery.log_group)

    logging = env.s3_config()["CloudWatchLoggingOptions"]
    assert logging["Enabled"] is True
    assert logging["LogGroupName"] == {"Ref": log_group_id}
    (log_group,) = env.template().find_resources("AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["RetentionInDays"] == 365
    assert log_group["Properties"]["KmsKeyId"] == {
        "Fn::GetAtt": [env.logical_id(delivery.encryption_key), "Arn"]
    }  # type: ignore[arg-type]
    assert log_group["DeletionPolicy"] == "Retain"


def test_the_destination_role_may_never_delete_objects(env: Fixture) -> None:
    delivery = env.build()

    policies = env.template().find_resources("AWS::IAM::Policy")
    role_id = env.logical_id(delivery.destination_role)
    (policy,) = [p for p in policies.values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statements[0]["Effect"] == "Deny"
    assert statements[0]["Action"] == "s3:DeleteObject*"
    assert env.s3_config()["RoleARN"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_grant_put_records_for_direct_put_producers(env: Fixture) -> None:
    delivery = env.build()
    producer = iam.Role(env.stack, "Producer", assumed_by=iam.AccountRootPrincipal())

    grant = delivery.grant_put_records(producer)

    assert isinstance(grant, iam.Grant)
    policies = env.template().find_resources("AWS::IAM::Policy")
    actions = [s["Action"] for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert ["firehose:PutRecord", "firehose:PutRecordBatch"] in actions


# --- Lambda processor and Kinesis source ------------------------------------------------------------


def test_lambda_processor_supplies_partition_keys(env: Fixture) -> None:
    function = env.function()

    env.build(processor=function, partition_keys=("event_type", "tenant"))
    config = env.s3_config()

    assert config["Prefix"] == (
        "events/event_type=!{partitionKeyFromLambda:event_type}/tenant=!{partitionKeyFromLambda:tenant}"
        "/dt=!{timestamp:yyyy-MM-dd}/"
    )
    assert processor_types(config) == ["Lambda"]
    params = {
        p["ParameterName"]: p["ParameterValue"]
        for p in config["ProcessingConfiguration"]["Processors"][0]["Parameters"]
    }
    assert params["LambdaArn"] == {"Fn::GetAtt": [env.logical_id(function), "Arn"]}
    # As in AWS's Firehose role template: invoke and read the configuration of this function only.
    actions = {
        action: statement["Resource"]
        for policy in env.template().find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action.startswith("lambda:")
    }
    assert set(actions) == {"lambda:InvokeFunction", "lambda:GetFunctionConfiguration"}
    assert actions["lambda:GetFunctionConfiguration"] == {"Fn::GetAtt": [env.logical_id(function), "Arn"]}


def test_kinesis_source_reads_the_stream_and_relies_on_its_encryption(env: Fixture) -> None:
    stream = kinesis.Stream(env.stack, "Events", encryption=kinesis.StreamEncryption.KMS)

    delivery = env.build(source_stream=stream)
    props = env.delivery_props()

    assert props["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] == {
        "Fn::GetAtt": [env.logical_id(stream), "Arn"]
    }
    assert "DeliveryStreamEncryptionConfigurationInput" not in props
    with pytest.raises(ValueError, match=r"grant_put_records: this stream reads from a Kinesis stream"):
        delivery.grant_put_records(iam.Role(env.stack, "Producer", assumed_by=iam.AccountRootPrincipal()))


def test_without_dynamic_partitioning_objects_land_under_the_prefix(env: Fixture) -> None:
    env.build(dynamic_partitioning=False, prefix="clicks/")
    config = env.s3_config()

    assert config["Prefix"] == "clicks/"
    assert "DynamicPartitioningConfiguration" not in config
    assert config["BufferingHints"] == {"IntervalInSeconds": 300, "SizeInMBs": 5}
    assert processor_types(config) == ["AppendDelimiterToRecord"]


def test_record_format_conversion_writes_parquet_uncompressed_at_the_s3_level(env: Fixture) -> None:
    table = glue.CfnTable(
        env.stack,
        "Schema",
        catalog_id=env.stack.account,
        database_name="raw",
        table_input=glue.CfnTable.TableInputProperty(
            name="events",
            storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                columns=[glue.CfnTable.ColumnProperty(name="event_id", type="string")]
            ),
        ),
    )

    env.build(
        record_format_conversion=firehose.DataFormatConversionProps(
            schema_configuration=firehose.SchemaConfiguration.from_cfn_table(table),
            input_format=firehose.InputFormat.OPENX_JSON,
            output_format=firehose.OutputFormat.PARQUET,
        )
    )
    config = env.s3_config()

    assert config["DataFormatConversionConfiguration"]["Enabled"] is True
    assert (
        "ParquetSerDe"
        in config["DataFormatConversionConfiguration"]["OutputFormatConfiguration"]["Serializer"]
    )
    assert config.get("CompressionFormat", "UNCOMPRESSED") == "UNCOMPRESSED"
    assert "AppendDelimiterToRecord" not in processor_types(config)


# --- alarms -----------------------------------------------------------------------------------------


def alarms_by_metric(env: Fixture) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in env.template().find_resources("AWS::CloudWatch::Alarm").values()
    }


def test_alarms_cover_freshness_delivery_throttling_and_the_processor(env: Fixture) -> None:
    delivery = env.build(processor=env.function(), alarm_topic=env.topic)
    topic_id = env.logical_id(env.topic)

    alarms = alarms_by_metric(env)

    assert set(alarms) == {
        "DeliveryToS3.DataFreshness",
        "DeliveryToS3.Success",
        "ThrottledRecords",
        "ExecuteProcessing.Success",
        "Errors",
    }
    assert len(delivery.alarms) == 5
    assert alarms["DeliveryToS3.DataFreshness"]["Threshold"] == 900
    assert alarms["DeliveryToS3.DataFreshness"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarms["DeliveryToS3.Success"]["Threshold"] == 1
    assert alarms["DeliveryToS3.Success"]["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["ExecuteProcessing.Success"]["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["Errors"]["Namespace"] == "AWS/Lambda"
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": topic_id}]


def test_kinesis_source_alarms_on_source_read_throttling(env: Fixture) -> None:
    env.build(source_stream=kinesis.Stream(env.stack, "Events"), alarm_topic=env.topic)

    alarms = alarms_by_metric(env)

    assert "ThrottledGetRecords" in alarms
    assert "ThrottledRecords" not in alarms
    assert "ExecuteProcessing.Success" not in alarms  # no processor, no processor alarms


def test_no_topic_no_alarms(env: Fixture) -> None:
    delivery = env.build()

    env.template().resource_count_is("AWS::CloudWatch::Alarm", 0)
    assert delivery.alarms == []


# --- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"buffering_interval": cdk.Duration.seconds(901)},
            r"buffering_interval: 901 s is not allowed; expected 0 to 900",
        ),
        ({"buffering_interval": cdk.Duration.millis(1500)}, r"buffering_interval: must be whole seconds"),
        ({"buffering_size": cdk.Size.mebibytes(129)}, r"buffering_size: 129 MiB is not allowed.*64 to 128"),
        (
            {"buffering_size": cdk.Size.mebibytes(32)},
            r"buffering_size: 32 MiB is not allowed \(dynamic partitioning or format conversion is on\)",
        ),
        (
            {"buffering_size": cdk.Size.mebibytes(0), "dynamic_partitioning": False},
            r"buffering_size: 0 MiB is not allowed; expected 1 to 128",
        ),
        ({"prefix": "events"}, r"prefix: 'events' is not allowed; expected path segments"),
        ({"prefix": "/events/"}, r"prefix: '/events/' is not allowed"),
        ({"prefix": "e/!{timestamp:yyyy}/"}, r"prefix: .* is not allowed"),
        (
            {"error_output_prefix": "errors/"},
            r"error_output_prefix: 'errors/' is not allowed; it must contain",
        ),
        (
            {"error_output_prefix": "events/!{firehose:error-output-type}/"},
            r"error_output_prefix: .* must not be inside prefix 'events/'",
        ),
        ({"partition_keys": ()}, r"partition_keys: at least one key is required"),
        ({"partition_keys": ("Event-Type",)}, r"partition_keys: 'Event-Type' is not allowed"),
        ({"partition_keys": ("dt",)}, r"partition_keys: 'dt' is not allowed"),
        ({"partition_keys": ("a", "a")}, r"partition_keys: \['a', 'a'\] has duplicates"),
        (
            {"freshness_threshold": cdk.Duration.seconds(450)},  # 300 s buffers x1.5 when partitioned
            r"freshness_threshold: 450 s is not allowed; it must exceed the normal delivery delay of 450 s",
        ),
        (
            {"buffering_interval": cdk.Duration.seconds(0)},
            r"buffering_interval: 0 s is not allowed with dynamic_partitioning",
        ),
    ],
)
def test_bad_props_fail_with_a_clear_message(env: Fixture, props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        env.build(**props)


def test_format_conversion_refuses_s3_level_compression(env: Fixture) -> None:
    table = glue.CfnTable(
        env.stack,
        "Schema",
        catalog_id=env.stack.account,
        database_name="raw",
        table_input=glue.CfnTable.TableInputProperty(name="events"),
    )
    conversion = firehose.DataFormatConversionProps(
        schema_configuration=firehose.SchemaConfiguration.from_cfn_table(table),
        input_format=firehose.InputFormat.OPENX_JSON,
        output_format=firehose.OutputFormat.PARQUET,
    )

    with pytest.raises(
        ValueError, match=r"compression: must be UNCOMPRESSED \(or omitted\) with record_format_conversion"
    ):
        env.build(record_format_conversion=conversion, compression=firehose.Compression.GZIP)
