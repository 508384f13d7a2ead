"""RedshiftWarehouse: Serverless and provisioned, private and encrypted; the default role; alarms; errors."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from datalake_constructs.redshift import (
    ProvisionedOptions,
    RedshiftDeployment,
    RedshiftWarehouse,
    ServerlessOptions,
)
from tests.conftest import SynthesizedPlatform, app_with_context


def build(grant: bool = True, **overrides: Any) -> tuple[RedshiftWarehouse, cdk.Stack]:
    stack = cdk.Stack(
        app_with_context(), "Test", env=cdk.Environment(account="123456789012", region="eu-west-1")
    )
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=3,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    props: dict[str, Any] = {
        "name": "sales-dev",
        "vpc": vpc,
        "encryption_key": kms.Key(stack, "Key"),
        "alert_topic": sns.Topic(stack, "Alerts"),
        "client_peers": [ec2.Peer.ipv4("10.0.0.0/16")],
    }
    props.update(overrides)
    warehouse = RedshiftWarehouse(stack, "Warehouse", **props)
    if grant:
        consumer = s3.Bucket.from_bucket_name(stack, "Consumer", "sales-dev-consumer")
        warehouse.grant_spectrum_read(
            consumer, "daily/", databases=["sales_dev_consumer"], data_key=kms.Key(stack, "ZoneKey")
        )
        warehouse.grant_unload(consumer, "unload/")
    return warehouse, stack


@pytest.fixture(scope="module")
def serverless() -> Template:
    _, stack = build()
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def provisioned() -> Template:
    _, stack = build(
        deployment=RedshiftDeployment.PROVISIONED,
        provisioned=ProvisionedOptions(
            node_type="ra3.4xlarge", number_of_nodes=3, snapshot_retention_days=14
        ),
    )
    return Template.from_stack(stack)


def only(template: Template, kind: str) -> dict[str, Any]:
    (resource,) = template.find_resources(kind).values()
    props: dict[str, Any] = resource["Properties"]
    return props


def test_serverless_namespace_is_encrypted_with_a_managed_secret_and_audit_logs(serverless: Template) -> None:
    namespace = only(serverless, "AWS::RedshiftServerless::Namespace")
    (key_id,) = [k for k in serverless.find_resources("AWS::KMS::Key") if k.startswith("Key")]

    assert namespace["ManageAdminPassword"] is True
    assert "AdminUserPassword" not in namespace
    assert namespace["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert namespace["AdminPasswordSecretKmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert namespace["LogExports"] == ["connectionlog", "userlog", "useractivitylog"]
    assert namespace["AdminUsername"] == "dbadmin"
    (role_id,) = [
        r for r in serverless.find_resources("AWS::IAM::Role") if r.startswith("WarehouseDefaultRole")
    ]
    assert namespace["DefaultIamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_audit_log_groups_exist_encrypted_with_retention_before_redshift_exports(
    serverless: Template, provisioned: Template
) -> None:
    for template, prefix, exporter_type in (
        (serverless, "/aws/redshift/sales-dev/", "AWS::RedshiftServerless::Namespace"),
        (provisioned, "/aws/redshift/cluster/sales-dev/", "AWS::Redshift::Cluster"),
    ):
        groups = {
            logical_id: g["Properties"]
            for logical_id, g in template.find_resources("AWS::Logs::LogGroup").items()
            if str(g["Properties"].get("LogGroupName", "")).startswith(prefix)
        }
        assert sorted(g["LogGroupName"] for g in groups.values()) == [
            f"{prefix}{t}" for t in ("connectionlog", "useractivitylog", "userlog")
        ]
        assert all("KmsKeyId" in g and g["RetentionInDays"] == 365 for g in groups.values())
        (exporter,) = template.find_resources(exporter_type).values()
        assert set(groups) <= set(exporter["DependsOn"])


def test_serverless_workgroup_is_private_routed_through_the_vpc_and_capped(serverless: Template) -> None:
    workgroup = only(serverless, "AWS::RedshiftServerless::Workgroup")

    assert workgroup["PubliclyAccessible"] is False
    assert workgroup["EnhancedVpcRouting"] is True
    assert (workgroup["BaseCapacity"], workgroup["MaxCapacity"]) == (8, 64)  # the defaults
    assert len(workgroup["SubnetIds"]) == 3
    params = {p["ParameterKey"]: p["ParameterValue"] for p in workgroup["ConfigParameters"]}
    assert params == {
        "require_ssl": "true",
        "enable_user_activity_logging": "true",
        "max_query_execution_time": "3600",
    }
    assert workgroup["NamespaceName"] == {
        "Ref": next(iter(serverless.find_resources("AWS::RedshiftServerless::Namespace")))
    }


def test_enhanced_vpc_routing_can_be_turned_off() -> None:
    _, stack = build(enhanced_vpc_routing=False)
    assert (
        only(Template.from_stack(stack), "AWS::RedshiftServerless::Workgroup")["EnhancedVpcRouting"] is False
    )


def test_security_group_admits_clients_only_and_sends_https_only(serverless: Template) -> None:
    (group,) = [
        g
        for g in serverless.find_resources("AWS::EC2::SecurityGroup").values()
        if "Redshift" in g["Properties"]["GroupDescription"]
    ]
    (ingress,) = group["Properties"]["SecurityGroupIngress"]
    assert (ingress["CidrIp"], ingress["FromPort"], ingress["ToPort"]) == ("10.0.0.0/16", 5440, 5440)
    egress = group["Properties"]["SecurityGroupEgress"]
    assert egress and all((e["FromPort"], e["ToPort"], e["IpProtocol"]) == (443, 443, "tcp") for e in egress)


def test_default_role_reads_only_the_granted_prefixes_and_catalog_databases(serverless: Template) -> None:
    policy = only(serverless, "AWS::IAM::ManagedPolicy")
    text = json.dumps(policy["PolicyDocument"])
    (role,) = [
        r for i, r in serverless.find_resources("AWS::IAM::Role").items() if i.startswith("WarehouseDefault")
    ]
    trust = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])

    assert "redshift.amazonaws.com" in trust and "redshift-serverless.amazonaws.com" in trust
    assert "sales-dev-consumer/daily/*" in text
    assert "sales-dev-consumer/unload/*" in text and "s3:PutObject" in text
    assert "database/sales_dev_consumer" in text and "table/sales_dev_consumer/*" in text
    assert '"Resource": "*"' not in text
    statements = policy["PolicyDocument"]["Statement"]
    (put,) = [s for s in statements if "s3:PutObject" in s["Action"]]
    assert "daily" not in json.dumps(put["Resource"])  # writes only under the unload prefix
    # Redshift needs GET, LIST and PUT where it unloads (and delete for CLEANPATH).
    assert sorted(put["Action"]) == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    listed = [s["Condition"]["StringLike"]["s3:prefix"] for s in statements if s["Action"] == "s3:ListBucket"]
    assert ["unload/*", "unload/"] in listed


def test_serverless_alarms_on_failed_queries_and_daily_usage(serverless: Template) -> None:
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in serverless.find_resources("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {"QueriesFailed", "ComputeSeconds"}
    assert alarms["QueriesFailed"]["Namespace"] == "AWS/Redshift-Serverless"
    assert alarms["QueriesFailed"]["Dimensions"] == [{"Name": "Workgroup", "Value": "sales-dev"}]
    assert alarms["ComputeSeconds"]["Threshold"] == 24 * 3600  # 24 RPU-hours by default
    assert alarms["ComputeSeconds"]["Period"] == 86400
    assert all(a["AlarmActions"] for a in alarms.values())


def test_serverless_daily_usage_limit_is_managed_by_a_custom_resource(serverless: Template) -> None:
    (limit,) = serverless.find_resources("Custom::RedshiftServerlessUsageLimit").values()
    text = json.dumps(limit["Properties"])

    for call in ("CreateUsageLimit", "UpdateUsageLimit", "DeleteUsageLimit"):
        assert call in text
    for fragment in (
        '\\"usageType\\":\\"serverless-compute\\"',
        '\\"period\\":\\"daily\\"',
        '\\"amount\\":48',
        "deactivate",
    ):
        assert fragment in text, fragment
    (statement,) = [
        st
        for i, p in serverless.find_resources("AWS::IAM::Policy").items()
        if i.startswith("WarehouseUsageLimit")
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if "redshift-serverless:CreateUsageLimit" in st["Action"]
    ]
    # No resource-level permissions exist for these actions: any ARN but "*" would be denied.
    assert statement["Resource"] == "*"
    assert sorted(statement["Action"]) == [
        "redshift-serverless:CreateUsageLimit",
        "redshift-serverless:DeleteUsageLimit",
        "redshift-serverless:UpdateUsageLimit",
    ]
    assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}  # the stack's
    (log_group,) = [
        g
        for i, g in serverless.find_resources("AWS::Logs::LogGroup").items()
        if i.startswith("WarehouseProviderLogs")
    ]
    assert "KmsKeyId" in log_group["Properties"]  # the provider's logs are encrypted too


def test_provisioned_cluster_is_ra3_encrypted_private_logged_and_snapshotted(provisioned: Template) -> None:
    cluster = only(provisioned, "AWS::Redshift::Cluster")

    assert (cluster["NodeType"], cluster["NumberOfNodes"], cluster["ClusterType"]) == (
        "ra3.4xlarge",
        3,
        "multi-node",
    )
    assert cluster["Encrypted"] is True and "KmsKeyId" in cluster
    assert cluster["ManageMasterPassword"] is True and "MasterUserPassword" not in cluster
    assert cluster["PubliclyAccessible"] is False and cluster["EnhancedVpcRouting"] is True
    assert cluster["AutomatedSnapshotRetentionPeriod"] == 14
    assert cluster["LoggingProperties"] == {
        "LogDestinationType": "cloudwatch",
        "LogExports": ["connectionlog", "userlog", "useractivitylog"],
    }
    params = only(provisioned, "AWS::Redshift::ClusterParameterGroup")["Parameters"]
    assert {"ParameterName": "require_ssl", "ParameterValue": "true"} in params
    assert {"ParameterName": "enable_user_activity_logging", "ParameterValue": "true"} in params
    (resource,) = provisioned.find_resources("AWS::Redshift::Cluster").values()
    assert resource["DeletionPolicy"] == "Snapshot"  # RETAIN becomes a final snapshot
    assert provisioned.find_resources("AWS::RedshiftServerless::Workgroup") == {}
    assert provisioned.find_resources("Custom::RedshiftServerlessUsageLimit") == {}


def test_provisioned_statement_timeout_and_health_alarm(provisioned: Template) -> None:
    params = only(provisioned, "AWS::Redshift::ClusterParameterGroup")["Parameters"]
    assert {"ParameterName": "statement_timeout", "ParameterValue": "3600000"} in params
    (alarm,) = provisioned.find_resources("AWS::CloudWatch::Alarm").values()
    assert alarm["Properties"]["MetricName"] == "HealthStatus"
    assert alarm["Properties"]["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Properties"]["Dimensions"] == [{"Name": "ClusterIdentifier", "Value": "sales-dev"}]


def test_sql_helpers_and_data_api_statements() -> None:
    warehouse, stack = build()
    assert warehouse.external_schema_sql("consumer", "sales_dev_consumer") == (
        "CREATE EXTERNAL SCHEMA IF NOT EXISTS consumer FROM DATA CATALOG DATABASE 'sales_dev_consumer' "
        "IAM_ROLE default"
    )
    with pytest.raises(ValueError, match="glue_database: 'x; DROP' is not allowed"):
        warehouse.external_schema_sql("consumer", "x; DROP")
    assert warehouse.data_api_target == {"WorkgroupName": "sales-dev"}
    role = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    warehouse.grant_data_api(role)
    text = json.dumps(stack.resolve(role.node.find_child("DefaultPolicy").document.to_json()))
    assert "secretsmanager:GetSecretValue" in text and "AdminSecretLookup" in text
    assert "redshift-data:BatchExecuteStatement" in text


def test_serverless_admin_secret_is_read_from_get_namespace(serverless: Template) -> None:
    (lookup,) = serverless.find_resources("Custom::RedshiftServerlessAdminSecret").values()
    text = json.dumps(lookup["Properties"])
    assert "GetNamespace" in text and "namespace.adminPasswordSecretArn" in text
    policies = [
        p for i, p in serverless.find_resources("AWS::IAM::Policy").items() if i.startswith("WarehouseAdmin")
    ]
    (policy,) = policies
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "redshift-serverless:GetNamespace"
    assert "NamespaceArn" in json.dumps(statement["Resource"])  # this namespace only


def test_provisioned_spectrum_names_its_role_and_uses_the_managed_secret() -> None:
    warehouse, stack = build(deployment=RedshiftDeployment.PROVISIONED, provisioned=ProvisionedOptions())
    sql = json.dumps(stack.resolve(warehouse.external_schema_sql("consumer", "sales_dev_consumer")))
    assert "IAM_ROLE '" in sql
    assert "default" not in sql  # a cluster has no default role from CloudFormation
    assert "WarehouseDefaultRole" in sql
    assert warehouse.data_api_target == {"ClusterIdentifier": "sales-dev"}
    assert "MasterPasswordSecretArn" in json.dumps(stack.resolve(warehouse.admin_secret_arn))


def test_bucket_location_is_allowed_without_a_prefix_condition(serverless: Template) -> None:
    statements = only(serverless, "AWS::IAM::ManagedPolicy")["PolicyDocument"]["Statement"]
    (location,) = [s for s in statements if s["Action"] == "s3:GetBucketLocation"]
    assert "Condition" not in location
    listings = [
        s["Condition"]["StringLike"]["s3:prefix"] for s in statements if s["Action"] == "s3:ListBucket"
    ]
    assert listings == [["daily/*", "daily/"], ["unload/*", "unload/"]]  # Spectrum's and UNLOAD's prefixes


def test_shipped_serving_has_no_password_no_open_ingress_and_no_nat(
    env_platform: SynthesizedPlatform,
) -> None:
    for path in env_platform.template_files:
        text = path.read_text()
        assert "MasterUserPassword" not in text and "AdminUserPassword" not in text
        template = json.loads(text)
        for resource in template["Resources"].values():
            assert resource["Type"] != "AWS::EC2::NatGateway"
            for rule in (
                resource["Properties"].get("SecurityGroupIngress", []) if "Properties" in resource else []
            ):
                assert rule.get("CidrIp") != "0.0.0.0/0" and rule.get("CidrIpv6") != "::/0"
            if resource["Type"] == "AWS::EC2::SecurityGroupIngress":
                assert resource["Properties"].get("CidrIp") != "0.0.0.0/0"
    config = env_platform.platform.config.serving.redshift
    serving = env_platform.template(env_platform.platform.serving)
    workgroup = only(serving, "AWS::RedshiftServerless::Workgroup")
    assert (workgroup["BaseCapacity"], workgroup["MaxCapacity"]) == (config.base_rpu, config.max_rpu)
    assert workgroup["EnhancedVpcRouting"] is config.enhanced_vpc_routing


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Bad_Name"}, "name: 'Bad_Name' is not allowed"),
        ({"database_name": "dev"}, "database_name: 'dev' is not allowed"),
        ({"admin_username": "awsuser"}, "admin_username: 'awsuser' is not allowed"),
        ({"port": 80}, "port: 80 is not allowed"),
        ({"serverless": ServerlessOptions(base_rpu=12)}, "serverless.base_rpu: 12 is not allowed"),
        ({"serverless": ServerlessOptions(base_rpu=64, max_rpu=32)}, "serverless.max_rpu: 32 is not allowed"),
        ({"provisioned": ProvisionedOptions()}, "provisioned: not allowed with deployment SERVERLESS"),
        (
            {"serverless": ServerlessOptions(usage_limit_breach_action="stop")},
            "serverless.usage_limit_breach_action: 'stop' is not allowed; expected one of log, emit-metric",
        ),
        (
            {"serverless": ServerlessOptions(usage_limit_rpu_hours_per_day=0)},
            "serverless.usage_limit_rpu_hours_per_day: 0 is not allowed",
        ),
        (
            {
                "deployment": RedshiftDeployment.PROVISIONED,
                "provisioned": ProvisionedOptions(node_type="dc2.large"),
            },
            "provisioned.node_type: 'dc2.large' is not allowed",
        ),
        (
            {
                "deployment": RedshiftDeployment.PROVISIONED,
                "provisioned": ProvisionedOptions(snapshot_retention_days=0),
            },
            "provisioned.snapshot_retention_days: 0 is not allowed",
        ),
        (
            {
                "deployment": RedshiftDeployment.PROVISIONED,
                "provisioned": ProvisionedOptions(statement_timeout_seconds=0),
            },
            "provisioned.statement_timeout_seconds: 0 is not allowed",
        ),
    ],
)
def test_bad_props_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_a_prefix_must_be_a_folder() -> None:
    with pytest.raises(ValueError, match="prefix: 'daily' is not allowed"):
        warehouse, stack = build(grant=False)
        warehouse.grant_unload(s3.Bucket(stack, "B"), "daily")


def test_defaults(serverless: Template) -> None:
    namespace = only(serverless, "AWS::RedshiftServerless::Namespace")
    workgroup = only(serverless, "AWS::RedshiftServerless::Workgroup")
    assert (namespace["DbName"], namespace["AdminUsername"]) == ("analytics", "dbadmin")
    assert workgroup["Port"] == 5440 and workgroup["EnhancedVpcRouting"] is True
    (resource,) = serverless.find_resources("AWS::RedshiftServerless::Namespace").values()
    assert resource["DeletionPolicy"] == "Retain"

    _, stack = build(deployment=RedshiftDeployment.PROVISIONED)  # ProvisionedOptions() defaults
    cluster = only(Template.from_stack(stack), "AWS::Redshift::Cluster")
    assert (cluster["NodeType"], cluster["NumberOfNodes"], cluster["ClusterType"]) == (
        "ra3.xlplus",
        2,
        "multi-node",
    )
    assert cluster["AutomatedSnapshotRetentionPeriod"] == 7
    assert cluster["PreferredMaintenanceWindow"] == "sun:03:00-sun:03:30"
    assert (cluster["Port"], cluster["DBName"], cluster["MasterUsername"]) == (5440, "analytics", "dbadmin")


def test_without_grants_the_role_has_no_empty_managed_policy() -> None:
    warehouse, stack = build(grant=False)
    template = Template.from_stack(stack)  # synthesizes: IAM would reject an empty managed policy

    assert warehouse.policy is None
    assert template.find_resources("AWS::IAM::ManagedPolicy") == {}


def test_a_grant_on_a_bucket_of_the_same_app_is_acknowledged_in_its_getatt_form() -> None:
    from stacks.compliance import nag_violations  # noqa: PLC0415

    warehouse, stack = build(grant=False)
    bucket = s3.Bucket(stack, "Data", enforce_ssl=True)  # its ARN is a Fn::GetAtt in the policy
    warehouse.grant_spectrum_read(bucket, "daily/", databases=["sales_dev_consumer"])

    iam5 = [v for v in nag_violations(warehouse) if v[0].startswith("AwsSolutions-IAM5")]
    assert iam5 == []


def test_serverless_in_an_environment_agnostic_stack_fails_asking_for_three_azs() -> None:
    stack = cdk.Stack(app_with_context(), "Agnostic")  # sees two AZs
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )

    with pytest.raises(
        ValueError,
        match=r"vpc: Redshift Serverless needs PRIVATE_ISOLATED subnets in at least "
        r"three availability zones; this VPC has them in 2\..*env=cdk\.Environment",
    ):
        RedshiftWarehouse(stack, "Warehouse", name="sales-dev", vpc=vpc, encryption_key=kms.Key(stack, "Key"))
