"""tools/check_deployment.py, run against botocore's Stubber: the requests it makes are validated
against the services' models and the responses are shaped as AWS returns them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from stacks.platform import OUTPUTS
from tests.conftest import load_script

check_deployment = load_script("tools/check_deployment.py")

OUTPUT_VALUES = {
    "AlertTopicArn": "arn:aws:sns:eu-west-1:222222222222:datalake-dev-alerts",
    "RawBucketName": "datalake-dev-raw",
    "ProcessedBucketName": "datalake-dev-processed",
    "ConsumerBucketName": "datalake-dev-consumer",
    "DeliveryStreamName": "datalake-dev-raw-events",
    "StateMachineArn": "arn:aws:states:eu-west-1:222222222222:stateMachine:datalake-dev-pipeline",
}


class Clients:
    """One stubbed client per service, handed out as ``client(service)``."""

    def __init__(self) -> None:
        session = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.clients = {
            s: session.client(s) for s in ("s3", "sns", "firehose", "stepfunctions", "cloudformation")
        }
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}

    def __call__(self, service: str) -> Any:
        return self.clients[service]

    def healthy(self, *, stream_status: str = "ACTIVE", algorithm: str = "aws:kms") -> None:
        self.stubs["sns"].add_response(
            "get_topic_attributes",
            {"Attributes": {"KmsMasterKeyId": "alias/x", "SubscriptionsConfirmed": "1"}},
            {"TopicArn": OUTPUT_VALUES["AlertTopicArn"]},
        )
        for zone in ("Raw", "Processed", "Consumer"):
            bucket = OUTPUT_VALUES[f"{zone}BucketName"]
            self.stubs["s3"].add_response("head_bucket", {}, {"Bucket": bucket})
            self.stubs["s3"].add_response(
                "get_bucket_encryption",
                {
                    "ServerSideEncryptionConfiguration": {
                        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]
                    }
                },
                {"Bucket": bucket},
            )
            self.stubs["s3"].add_response(
                "get_public_access_block",
                {
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "IgnorePublicAcls": True,
                        "BlockPublicPolicy": True,
                        "RestrictPublicBuckets": True,
                    }
                },
                {"Bucket": bucket},
            )
        self.stubs["firehose"].add_response(
            "describe_delivery_stream",
            {
                "DeliveryStreamDescription": {
                    "DeliveryStreamName": OUTPUT_VALUES["DeliveryStreamName"],
                    "DeliveryStreamARN": "arn:aws:firehose:eu-west-1:222222222222:deliverystream/x",
                    "DeliveryStreamStatus": stream_status,
                    "DeliveryStreamType": "DirectPut",
                    "VersionId": "1",
                    "Destinations": [],
                    "HasMoreDestinations": False,
                }
            },
            {"DeliveryStreamName": OUTPUT_VALUES["DeliveryStreamName"]},
        )
        self.stubs["stepfunctions"].add_response(
            "describe_state_machine",
            {
                "stateMachineArn": OUTPUT_VALUES["StateMachineArn"],
                "name": "datalake-dev-pipeline",
                "status": "ACTIVE",
                "definition": "{}",
                "roleArn": "arn:aws:iam::222222222222:role/x",
                "type": "STANDARD",
                "creationDate": "2026-12-01T00:00:00Z",
            },
            {"stateMachineArn": OUTPUT_VALUES["StateMachineArn"]},
        )


@pytest.fixture
def clients() -> Iterator[Clients]:
    stubbed = Clients()
    for stub in stubbed.stubs.values():
        stub.activate()
    yield stubbed
    for stub in stubbed.stubs.values():
        stub.assert_no_pending_responses()


def failed(checks: list[Any]) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in checks if not c.ok]


def test_the_tool_checks_every_output_the_platform_declares() -> None:
    assert set(check_deployment.OUTPUT_STACKS) == set(OUTPUTS)


def test_a_healthy_deployment_passes_every_check(clients: Clients) -> None:
    clients.healthy()

    checks = check_deployment.run_checks(OUTPUT_VALUES, clients)

    assert failed(checks) == []
    assert len(checks) == 1 + 3 * 3 + 1 + 1


def test_an_inactive_stream_and_an_unencrypted_bucket_fail(clients: Clients) -> None:
    clients.healthy(stream_status="CREATING", algorithm="AES256")

    checks = check_deployment.run_checks(OUTPUT_VALUES, clients)

    assert failed(checks) == [
        "raw bucket KMS-encrypted: AES256",
        "processed bucket KMS-encrypted: AES256",
        "consumer bucket KMS-encrypted: AES256",
        "delivery stream active: datalake-dev-raw-events: CREATING",
    ]


def test_missing_resources_fail_with_the_services_errors(clients: Clients) -> None:
    clients.stubs["sns"].add_client_error(
        "get_topic_attributes", service_error_code="NotFound", service_message="Topic does not exist"
    )
    for _ in range(3):
        clients.stubs["s3"].add_client_error(
            "head_bucket", service_error_code="404", service_message="Not Found"
        )
        clients.stubs["s3"].add_client_error("get_bucket_encryption", service_error_code="NoSuchBucket")
        clients.stubs["s3"].add_client_error("get_public_access_block", service_error_code="NoSuchBucket")
    clients.stubs["firehose"].add_client_error(
        "describe_delivery_stream", service_error_code="ResourceNotFoundException"
    )
    clients.stubs["stepfunctions"].add_client_error(
        "describe_state_machine", service_error_code="StateMachineDoesNotExist"
    )

    checks = check_deployment.run_checks(OUTPUT_VALUES, clients)

    assert all(not c.ok for c in checks)
    assert failed(checks)[:2] == ["alert topic: NotFound: Topic does not exist", "raw bucket: 404: Not Found"]
    assert failed(checks)[-1].startswith("state machine: StateMachineDoesNotExist")


def test_outputs_are_read_from_the_environment_only_when_all_are_there() -> None:
    assert check_deployment.outputs_from_environment(OUTPUT_VALUES) == OUTPUT_VALUES
    assert check_deployment.outputs_from_environment({"RawBucketName": "x"}) is None


def stub_stacks(clients: Clients, *, with_outputs: bool) -> None:
    """DescribeStacks of the four stacks that hold outputs, each with its outputs or none."""
    for component in ("ingestion", "operations", "orchestration", "storage"):
        stack: dict[str, Any] = {
            "StackName": f"datalake-dev-{component}",
            "CreationTime": "2026-12-01T00:00:00Z",
            "StackStatus": "UPDATE_COMPLETE",
        }
        if with_outputs:
            stack["Outputs"] = [
                {"OutputKey": k, "OutputValue": v}
                for k, v in OUTPUT_VALUES.items()
                if check_deployment.OUTPUT_STACKS[k] == component
            ]
        clients.stubs["cloudformation"].add_response(
            "describe_stacks", {"Stacks": [stack]}, {"StackName": f"datalake-dev-{component}"}
        )


def test_outputs_are_read_from_the_stacks(clients: Clients) -> None:
    stub_stacks(clients, with_outputs=True)

    assert check_deployment.outputs_from_stacks(clients("cloudformation"), "datalake", "dev") == OUTPUT_VALUES


def test_a_stack_without_its_outputs_is_an_error_naming_them(clients: Clients) -> None:
    stub_stacks(clients, with_outputs=False)

    with pytest.raises(
        check_deployment.DeploymentCheckError, match=r"StateMachineArn \(stack datalake-dev-orchestration\)"
    ):
        check_deployment.outputs_from_stacks(clients("cloudformation"), "datalake", "dev")


def test_without_a_region_the_tool_says_so_instead_of_naming_a_role_in_region_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "CHECK_ROLE_ARN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    assert check_deployment.main(["--env", "dev"]) == 1
    assert "no region: pass --region, or set AWS_REGION" in capsys.readouterr().err


def test_the_lookup_role_is_named_from_the_callers_account_and_region() -> None:
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    sts = session.client("sts")
    stub = Stubber(sts)
    stub.add_response(
        "get_caller_identity",
        {"Account": "222222222222", "Arn": "arn:aws:sts::222222222222:assumed-role/github-deploy/x"},
    )

    class Session:
        region_name = "eu-west-1"

        def client(self, service: str) -> Any:
            assert service == "sts"
            return sts

    with stub:
        arn = check_deployment.lookup_role_arn(Session(), "team1")

    assert arn == "arn:aws:iam::222222222222:role/cdk-team1-lookup-role-222222222222-eu-west-1"
