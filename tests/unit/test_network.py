"""IsolatedVpc: isolated subnets only, no NAT or internet gateway, endpoints, flow logs, errors."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template

from datalake_constructs.network import IsolatedVpc
from tests.conftest import SynthesizedPlatform, app_with_context


def build(**overrides: Any) -> tuple[IsolatedVpc, Template]:
    stack = cdk.Stack(
        app_with_context(), "Test", env=cdk.Environment(account="123456789012", region="eu-west-1")
    )
    props: dict[str, Any] = {"interface_endpoints": ["glue", "sts"], "endpoint_azs": 1}
    props.update(overrides)
    if "flow_log_key" not in props:
        props["flow_log_key"] = kms.Key(stack, "Key")
    network = IsolatedVpc(stack, "Network", **props)
    return network, Template.from_stack(stack)


def test_only_isolated_subnets_and_no_way_to_the_internet() -> None:
    _, template = build()
    subnets = template.find_resources("AWS::EC2::Subnet").values()

    assert len(subnets) == 3
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    for kind in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert template.find_resources(kind) == {}
    routes = template.find_resources("AWS::EC2::Route").values()
    assert not [r for r in routes if r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"]


def test_s3_gateway_endpoint_and_interface_endpoints_in_the_chosen_azs() -> None:
    _, template = build()
    endpoints = list(template.find_resources("AWS::EC2::VPCEndpoint").values())
    gateway = [e for e in endpoints if e["Properties"]["VpcEndpointType"] == "Gateway"]
    interfaces = [e for e in endpoints if e["Properties"]["VpcEndpointType"] == "Interface"]

    assert len(gateway) == 1 and ".s3" in str(gateway[0]["Properties"]["ServiceName"])
    assert len(gateway[0]["Properties"]["RouteTableIds"]) == 3  # every subnet routes S3 privately
    assert sorted(e["Properties"]["ServiceName"] for e in interfaces) == [
        "com.amazonaws.eu-west-1.glue",
        "com.amazonaws.eu-west-1.sts",
    ]
    for endpoint in interfaces:
        assert len(endpoint["Properties"]["SubnetIds"]) == 1  # endpoint_azs=1: billed in one AZ
        assert endpoint["Properties"]["PrivateDnsEnabled"] is True


def gateway_policy(template: Template) -> Any:
    (gateway,) = [
        e["Properties"]
        for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Gateway"
    ]
    return gateway.get("PolicyDocument")


def test_s3_endpoint_reaches_buckets_of_this_account_only() -> None:
    # Given the defaults, When Redshift (or anything in the subnets) talks to S3, Then the endpoint
    # lets requests through only to buckets this account owns: no UNLOAD to a foreign bucket.
    _, template = build()

    assert gateway_policy(template)["Statement"] == [
        {
            "Sid": "BucketsOfThisAccountOnly",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceAccount": "123456789012"}},
        }
    ]


def test_s3_endpoint_policy_can_be_left_open() -> None:
    _, template = build(s3_own_account_only=False)
    assert gateway_policy(template) is None  # the endpoint's default: full access


def test_endpoint_security_group_allows_https_from_the_vpc_only() -> None:
    _, template = build(cidr="10.42.0.0/16")
    groups = template.find_resources("AWS::EC2::SecurityGroup").values()
    (endpoint_group,) = [g for g in groups if "interface endpoints" in g["Properties"]["GroupDescription"]]
    (ingress,) = endpoint_group["Properties"]["SecurityGroupIngress"]

    assert ingress["CidrIp"] == "10.42.0.0/16"
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpProtocol"]) == (443, 443, "tcp")


def test_flow_logs_of_all_traffic_to_an_encrypted_log_group() -> None:
    _, template = build()
    (flow_log,) = template.find_resources("AWS::EC2::FlowLog").values()
    (log_group,) = template.find_resources("AWS::Logs::LogGroup").values()

    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert "KmsKeyId" in log_group["Properties"]
    assert log_group["Properties"]["RetentionInDays"] == 365
    key_policy = str(template.find_resources("AWS::KMS::Key"))
    assert "kms:EncryptionContext:aws:logs:arn" in key_policy  # the key lets CloudWatch Logs use it


def test_an_imported_flow_log_key_gets_a_warning_not_a_silent_gap() -> None:
    # CDK drops statements added to an imported key's policy: say so at synth, not at deploy.
    stack = cdk.Stack(
        app_with_context(), "Imported", env=cdk.Environment(account="123456789012", region="eu-west-1")
    )
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:eu-west-1:123456789012:key/abcd")
    IsolatedVpc(stack, "Network", flow_log_key=key)

    warnings = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    assert [w.entry.data for w in warnings if "CloudWatch Logs" in str(w.entry.data)]


def test_shipped_serving_vpc_has_three_azs_even_when_environment_agnostic(
    env_platform: SynthesizedPlatform,
) -> None:
    template = env_platform.template(env_platform.platform.serving)
    zones = [
        s["Properties"]["AvailabilityZone"] for s in template.find_resources("AWS::EC2::Subnet").values()
    ]
    assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(3)]
    assert template.find_resources("AWS::EC2::NatGateway") == {}
    (statement,) = gateway_policy(template)["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cidr": "not-a-cidr"}, "cidr: 'not-a-cidr' is not allowed"),
        (
            {"cidr": "10.0.0.0/8"},
            r"cidr: '10.0.0.0/8' is not allowed; expected a private block from /16 to /24",
        ),
        ({"cidr": "8.8.0.0/16"}, "expected a private block"),
        ({"cidr": "10.0.0.0/24", "max_azs": 2}, "room for fewer than max_azs=2"),
        ({"max_azs": 0}, "max_azs: 0 is not allowed"),
        ({"interface_endpoints": ["s3"]}, "interface_endpoints: 's3' is not allowed"),
        ({"interface_endpoints": ["Glue!"]}, "interface_endpoints: 'Glue!' is not allowed"),
        ({"interface_endpoints": ["glue", "glue"]}, "has duplicates"),
        ({"endpoint_azs": 4}, r"endpoint_azs: 4 is not allowed; expected 1 to max_azs \(3\)"),
    ],
)
def test_bad_props_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_defaults() -> None:
    stack = cdk.Stack(
        app_with_context(), "Defaults", env=cdk.Environment(account="123456789012", region="eu-west-1")
    )
    IsolatedVpc(stack, "Network", interface_endpoints=["glue"])
    template = Template.from_stack(stack)

    (vpc,) = template.find_resources("AWS::EC2::VPC").values()
    assert vpc["Properties"]["CidrBlock"] == "10.20.0.0/16"
    assert len(template.find_resources("AWS::EC2::Subnet")) == 3
    (endpoint,) = [
        e
        for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Interface"
    ]
    assert len(endpoint["Properties"]["SubnetIds"]) == 3  # every subnet's AZ unless endpoint_azs says less
    (log_group,) = template.find_resources("AWS::Logs::LogGroup").values()
    assert log_group["DeletionPolicy"] == "Retain" and log_group["Properties"]["RetentionInDays"] == 365
    assert "KmsKeyId" not in log_group["Properties"]  # no key given: CloudWatch Logs' own encryption
    assert gateway_policy(template)["Statement"][0]["Sid"] == "BucketsOfThisAccountOnly"
