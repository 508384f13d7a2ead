"""Redshift for the serving layer: Serverless by default or a provisioned RA3 cluster, private and encrypted.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from redshift import ...``.
aws-cdk-lib has no Redshift L2 (the provisioned one is still an alpha package and Serverless has none),
so the namespace, workgroup and cluster are L1 resources configured here with secure defaults.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_redshift as redshift
from aws_cdk import aws_redshiftserverless as redshift_serverless
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{2,62}$")
_DATABASE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
_RA3_NODE_TYPES = ("ra3.large", "ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge")
BREACH_ACTIONS = ("log", "emit-metric", "deactivate")
# Audit logs Redshift exports to CloudWatch Logs: connections, users, and every query run.
LOG_EXPORTS = ["connectionlog", "userlog", "useractivitylog"]


class RedshiftDeployment(enum.StrEnum):
    SERVERLESS = "serverless"
    PROVISIONED = "provisioned"


@dataclass(frozen=True)
class ServerlessOptions:
    """Capacity of a Serverless workgroup (billed per RPU-second of use, nothing while idle).

    Args:
        base_rpu: capacity queries start with, 8 to 1024 in steps of 8. Default: 8 (the smallest).
        max_rpu: hard ceiling on capacity, the Serverless cost cap. Default: 64.
        max_query_execution_seconds: queries running longer are stopped. Default: 3600.
        alarm_rpu_hours_per_day: alarm when a day's usage exceeds this. Default: 24.
        usage_limit_rpu_hours_per_day: a Redshift usage limit on a day's compute. Default: 48.
        usage_limit_breach_action: log, emit-metric or deactivate (queries stop until the next
            period). Default: deactivate.
    """

    base_rpu: int = 8
    max_rpu: int = 64
    max_query_execution_seconds: int = 3600
    alarm_rpu_hours_per_day: int = 24
    usage_limit_rpu_hours_per_day: int = 48
    usage_limit_breach_action: str = "deactivate"


@dataclass(frozen=True)
class ProvisionedOptions:
    """A provisioned RA3 cluster.

    Args:
        node_type: one of ra3.large, ra3.xlplus, ra3.4xlarge, ra3.16xlarge. Default: ra3.xlplus.
        number_of_nodes: 1 to 128. Default: 2.
        snapshot_retention_days: automated snapshots, 1 to 35. Default: 7.
        statement_timeout_seconds: queries running longer are stopped. Default: 3600.
        preferred_maintenance_window: Default: ``sun:03:00-sun:03:30``.
    """

    node_type: str = "ra3.xlplus"
    number_of_nodes: int = 2
    snapshot_retention_days: int = 7
    statement_timeout_seconds: int = 3600
    preferred_maintenance_window: str = "sun:03:00-sun:03:30"


class RedshiftWarehouse(Construct):
    """A private, encrypted Redshift warehouse with a default role for COPY, UNLOAD and Spectrum.

    Serverless (default): a namespace encrypted with the key, admin password generated and kept in
    Secrets Manager by Redshift (encrypted with the key; never in the template or context), audit
    logs exported, and a workgroup in the VPC's isolated subnets with enhanced VPC routing, no public
    access, base/max RPU, a query time limit and a daily usage limit. Provisioned: an encrypted RA3
    cluster with the same secret and network rules, a parameter group requiring SSL and logging user
    activity, automated snapshots and a statement timeout. ``admin_secret_arn`` is the managed admin
    secret in both cases (for Serverless, read once at deploy time, as CloudFormation does not return
    it), for SQL automation through the Data API.

    The security group accepts the Redshift port only from ``client_peers`` (the VPC by default) and
    sends only HTTPS (to the VPC's endpoints; the isolated subnets have no other route out).

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_ec2 as ec2
        from aws_cdk import aws_kms as kms
        from aws_cdk import aws_s3 as s3
        from aws_cdk import aws_sns as sns

        from redshift import RedshiftWarehouse

        app = cdk.App()
        # Serverless needs subnets in three AZs: a stack with an account and region.
        stack = cdk.Stack(app, "Warehouse", env=cdk.Environment(account="123456789012", region="eu-west-1"))
        key = kms.Key(stack, "Key", enable_key_rotation=True)
        vpc = ec2.Vpc(
            stack, "Vpc",
            max_azs=3,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
        )
        consumer = s3.Bucket(
            stack, "Consumer", encryption=s3.BucketEncryption.KMS, encryption_key=key, enforce_ssl=True
        )
        alerts = sns.Topic(stack, "Alerts", master_key=key, enforce_ssl=True)
        warehouse = RedshiftWarehouse(
            stack, "Warehouse", name="sales-dev", vpc=vpc, encryption_key=key, alert_topic=alerts
        )
        warehouse.grant_spectrum_read(consumer, "daily/", databases=["sales_dev_consumer"], data_key=key)
        print(warehouse.external_schema_sql("consumer", "sales_dev_consumer"))
        app.synth()

    Args:
        name: namespace/workgroup or cluster name, 3-63 lowercase letters, digits or hyphens.
        vpc: subnets of type PRIVATE_ISOLATED are used (Serverless needs three AZs).
        encryption_key: encrypts the data and the admin secret.
        deployment: Default: SERVERLESS.
        serverless, provisioned: options of the chosen deployment. Default: their defaults.
        database_name: Default: ``analytics``.
        admin_username: Default: ``dbadmin`` (not the well-known ``awsuser``).
        enhanced_vpc_routing: route COPY, UNLOAD and Spectrum traffic through the VPC (its endpoints
            must then reach S3 and, for Spectrum, Glue). Default: True.
        client_peers: who may connect on the port. Default: the VPC's CIDR (pass a literal
            ``ec2.Peer.ipv4("10.0.0.0/16")`` when you know it: rule checkers cannot evaluate a GetAtt).
        port: Default: 5440 (not the well-known 5439: nag AwsSolutions-RS4; valid for Serverless too).
        alert_topic: where the alarms go. Default: none.
        audit_log_retention: of the connection, user and user-activity log groups (created here,
            encrypted with the key). Default: one year.
        removal_policy: Default: RETAIN (a provisioned cluster takes a final snapshot on SNAPSHOT).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        vpc: ec2.IVpc,
        encryption_key: kms.IKey,
        deployment: RedshiftDeployment = RedshiftDeployment.SERVERLESS,
        serverless: ServerlessOptions | None = None,
        provisioned: ProvisionedOptions | None = None,
        database_name: str = "analytics",
        admin_username: str = "dbadmin",
        enhanced_vpc_routing: bool = True,
        client_peers: Sequence[ec2.IPeer] | None = None,
        port: int = 5440,
        alert_topic: sns.ITopic | None = None,
        audit_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.deployment = RedshiftDeployment(deployment)
        if self.deployment == RedshiftDeployment.SERVERLESS and provisioned is not None:
            raise ValueError("provisioned: not allowed with deployment SERVERLESS; pass serverless options")
        if self.deployment == RedshiftDeployment.PROVISIONED and serverless is not None:
            raise ValueError("serverless: not allowed with deployment PROVISIONED; pass provisioned options")
        self.serverless_options = serverless if serverless is not None else ServerlessOptions()
        self.provisioned_options = provisioned if provisioned is not None else ProvisionedOptions()
        _validate(
            name, database_name, admin_username, port, self.serverless_options, self.provisioned_options
        )
        self.name = name
        self.database_name = database_name
        self._removal_policy = removal_policy
        self._enhanced_vpc_routing = enhanced_vpc_routing
        self.namespace: redshift_serverless.CfnNamespace | None = None
        self.workgroup: redshift_serverless.CfnWorkgroup | None = None
        self.cluster: redshift.CfnCluster | None = None
        # Provisioned: the managed admin secret. Serverless: None, as CloudFormation does not return
        # that secret's ARN; SQL automation uses temporary IAM credentials (GetCredentials) instead.
        self.admin_secret_arn: str | None = None
        self.arn = ""  # the workgroup's or cluster's ARN, set below
        self.data_api_target: dict[str, str] = {}
        self.encryption_key = encryption_key
        self._stack = cdk.Stack.of(self)
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        if self.deployment == RedshiftDeployment.SERVERLESS and len(set(subnets.availability_zones)) < 3:
            raise ValueError(
                f"vpc: Redshift Serverless needs PRIVATE_ISOLATED subnets in at least three availability "
                f"zones; this VPC has them in {len(set(subnets.availability_zones))}. An "
                "environment-agnostic stack sees two AZs: give the stack an account and region "
                "(env=cdk.Environment(...)), or pass a VPC with three AZs"
            )

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Redshift {name}: clients in, HTTPS to VPC endpoints out",
            allow_all_outbound=False,
        )
        for peer in client_peers if client_peers is not None else [ec2.Peer.ipv4(vpc.vpc_cidr_block)]:
            self.security_group.add_ingress_rule(peer, ec2.Port.tcp(port), "Redshift clients")
        if client_peers is None and cdk.Token.is_unresolved(vpc.vpc_cidr_block):
            # The rules cannot evaluate a CIDR known only at deploy time and flag it as open.
            reason = (
                f"Ingress is the VPC's own CIDR on port {port} only; the CIDR is a deploy-time value "
                "(the VPC's CidrBlock attribute) that the rule cannot evaluate. Pass client_peers with a "
                "literal CIDR to let it check."
            )
            for rule in (
                "AwsSolutions-EC23",
                "NIST.800.53.R5-EC2RestrictedCommonPorts",
                "NIST.800.53.R5-EC2RestrictedSSH",
                "HIPAA.Security-EC2RestrictedCommonPorts",
                "HIPAA.Security-EC2RestrictedSSH",
                "PCI.DSS.321-EC2RestrictedCommonPorts",
                "PCI.DSS.321-EC2RestrictedSSH",
            ):
                cdk.Validations.of(self.security_group).acknowledge(
                    cdk.Acknowledgment(id=rule, reason=reason)
                )
        self.security_group.add_egress_rule(
            ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "VPC interface endpoints"
        )
        # S3 is reached through the gateway endpoint, whose addresses are the region's S3 prefix list
        # (only known at deploy time): allow HTTPS out; the isolated subnets have no route elsewhere.
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "S3 gateway endpoint")

        self.role = iam.Role(
            self,
            "DefaultRole",
            assumed_by=iam.CompositePrincipal(
                iam.ServicePrincipal("redshift.amazonaws.com"),
                iam.ServicePrincipal("redshift-serverless.amazonaws.com"),
            ),
            description=f"Redshift {name}: COPY, UNLOAD and Spectrum on the data-lake zones",
        )
        # One managed policy (not inline statements) so grants stay reviewable in one document; made by
        # the first grant_* (IAM rejects an empty one, and a role without grants needs none).
        self.policy: iam.ManagedPolicy | None = None
        self.alarms: list[cloudwatch.Alarm] = []

        # Redshift writes its audit logs into these groups when they exist (else it creates them
        # without retention or a CMK): create them first, encrypted, with a retention.
        _allow_cloudwatch_logs(encryption_key)
        log_prefix = (
            f"/aws/redshift/{name}"
            if self.deployment == RedshiftDeployment.SERVERLESS
            else (f"/aws/redshift/cluster/{name}")
        )
        self.audit_log_groups = [
            logs.LogGroup(
                self,
                f"{log_type.capitalize()}Group",
                log_group_name=f"{log_prefix}/{log_type}",
                encryption_key=encryption_key,
                retention=audit_log_retention,
                removal_policy=removal_policy,
            )
            for log_type in LOG_EXPORTS
        ]
        if self.deployment == RedshiftDeployment.SERVERLESS:
            self._serverless(subnets, admin_username, port, removal_policy)
        else:
            self._provisioned(subnets, admin_username, port, removal_policy)
        exporter = self.namespace if self.namespace is not None else self.cluster
        for group in self.audit_log_groups:
            if exporter is not None:
                exporter.node.add_dependency(group)
        if alert_topic is not None:
            for alarm in self.alarms:
                alarm.add_alarm_action(cw_actions.SnsAction(alert_topic))
                alarm.add_ok_action(cw_actions.SnsAction(alert_topic))

    # --- deployments ---

    def _serverless(
        self, subnets: ec2.SelectedSubnets, admin_username: str, port: int, removal_policy: cdk.RemovalPolicy
    ) -> None:
        options = self.serverless_options
        namespace = redshift_serverless.CfnNamespace(
            self,
            "Namespace",
            namespace_name=self.name,
            db_name=self.database_name,
            admin_username=admin_username,
            manage_admin_password=True,
            admin_password_secret_kms_key_id=self.encryption_key.key_arn,
            kms_key_id=self.encryption_key.key_arn,
            iam_roles=[self.role.role_arn],
            default_iam_role_arn=self.role.role_arn,
            log_exports=LOG_EXPORTS,
        )
        namespace.apply_removal_policy(removal_policy)
        workgroup = redshift_serverless.CfnWorkgroup(
            self,
            "Workgroup",
            workgroup_name=self.name,
            namespace_name=namespace.ref,  # the Ref is the name, and orders creation
            base_capacity=options.base_rpu,
            max_capacity=options.max_rpu,
            enhanced_vpc_routing=self._enhanced_vpc_routing,
            publicly_accessible=False,
            port=port,
            subnet_ids=subnets.subnet_ids,
            security_group_ids=[self.security_group.security_group_id],
            config_parameters=[
                redshift_serverless.CfnWorkgroup.ConfigParameterProperty(
                    parameter_key=key, parameter_value=value
                )
                for key, value in (
                    ("require_ssl", "true"),
                    ("enable_user_activity_logging", "true"),
                    ("max_query_execution_time", str(options.max_query_execution_seconds)),
                )
            ],
        )
        workgroup.apply_removal_policy(removal_policy)
        self.namespace, self.workgroup = namespace, workgroup
        self.admin_secret_arn = self._serverless_admin_secret(namespace)
        self.data_api_target = {"WorkgroupName": self.name}
        self.arn = workgroup.attr_workgroup_workgroup_arn

        self._alarm(
            "QueriesFailedAlarm",
            self.metric("QueriesFailed"),
            f"Queries failed on Redshift Serverless workgroup {self.name}",
            threshold=0,
        )
        self.usage_limit = self._serverless_usage_limit(workgroup.attr_workgroup_workgroup_arn)
        # The alarm reports a day's RPU-hours above the budget, before the usage limit acts.
        self._alarm(
            "DailyUsageAlarm",
            self.metric("ComputeSeconds", period=cdk.Duration.days(1)),
            f"Redshift Serverless {self.name} used more than {options.alarm_rpu_hours_per_day} "
            "RPU-hours in a day",
            threshold=options.alarm_rpu_hours_per_day * 3600,
        )
        self._acknowledge_sdk_provider()

    def _serverless_admin_secret(self, namespace: redshift_serverless.CfnNamespace) -> str:
        """The ARN of the admin secret Redshift manages: GetNamespace returns it, CloudFormation does not."""
        lookup = cr.AwsCustomResource(
            self,
            "AdminSecretLookup",
            resource_type="Custom::RedshiftServerlessAdminSecret",
            on_update=cr.AwsSdkCall(  # also run on create
                service="redshift-serverless",
                action="GetNamespace",
                parameters={"namespaceName": namespace.ref},
                physical_resource_id=cr.PhysicalResourceId.of(self.name),
                output_paths=["namespace.adminPasswordSecretArn"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["redshift-serverless:GetNamespace"],
                        resources=[namespace.attr_namespace_namespace_arn],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=self._provider_log_group(),
        )
        _acknowledge_custom_resource_policy(lookup, "GetNamespace on this namespace only")
        return lookup.get_response_field("namespace.adminPasswordSecretArn")

    def _provider_log_group(self) -> logs.ILogGroup:
        """One CMK-encrypted log group for the stack's AwsCustomResource provider (a singleton)."""
        existing = self.node.try_find_child("ProviderLogs")
        if isinstance(existing, logs.LogGroup):
            return existing
        return logs.LogGroup(  # the key already lets CloudWatch Logs use it (see __init__)
            self,
            "ProviderLogs",
            encryption_key=self.encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=self._removal_policy,
        )

    def _serverless_usage_limit(self, workgroup_arn: str) -> cr.AwsCustomResource:
        """A daily RPU-hours usage limit. Serverless usage limits have no CloudFormation type, so an
        aws-cdk-lib AwsCustomResource calls Create/Update/DeleteUsageLimit."""
        options = self.serverless_options
        settings = {
            "amount": options.usage_limit_rpu_hours_per_day,
            "breachAction": options.usage_limit_breach_action,
        }
        usage_limit_id = cr.PhysicalResourceId.from_response("usageLimit.usageLimitId")
        limit = cr.AwsCustomResource(
            self,
            "UsageLimit",
            resource_type="Custom::RedshiftServerlessUsageLimit",
            on_create=cr.AwsSdkCall(
                service="redshift-serverless",
                action="CreateUsageLimit",
                parameters={
                    "resourceArn": workgroup_arn,
                    "usageType": "serverless-compute",
                    "period": "daily",
                    **settings,
                },
                physical_resource_id=usage_limit_id,
            ),
            on_update=cr.AwsSdkCall(
                service="redshift-serverless",
                action="UpdateUsageLimit",
                parameters={"usageLimitId": cr.PhysicalResourceIdReference(), **settings},
                physical_resource_id=usage_limit_id,
            ),
            on_delete=cr.AwsSdkCall(
                service="redshift-serverless",
                action="DeleteUsageLimit",
                parameters={"usageLimitId": cr.PhysicalResourceIdReference()},
                ignore_error_codes_matching="ResourceNotFoundException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    # The usage-limit actions support no resource-level permissions (IAM's Service
                    # Authorization Reference lists no resource type for them): a workgroup or
                    # usagelimit ARN here would be denied. Confined to this stack's region instead.
                    iam.PolicyStatement(
                        actions=[
                            "redshift-serverless:CreateUsageLimit",
                            "redshift-serverless:UpdateUsageLimit",
                            "redshift-serverless:DeleteUsageLimit",
                        ],
                        resources=["*"],
                        conditions={"StringEquals": {"aws:RequestedRegion": self._stack.region}},
                    ),
                ]
            ),
            install_latest_aws_sdk=False,
            log_group=self._provider_log_group(),
        )
        policy = _acknowledge_custom_resource_policy(
            limit, "the three usage-limit calls, in this region (they have no resource-level permissions)"
        )
        if policy is not None:
            _acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "Redshift Serverless Create/Update/DeleteUsageLimit support no resource-level "
                "permissions; the statement is confined to this region and to these three calls.",
            )
        return limit

    def _acknowledge_sdk_provider(self) -> None:
        """Findings on the stack's singleton AwsCustomResource provider Lambda, owned by aws-cdk-lib."""
        provider = self._stack.node.try_find_child(
            f"AWS{cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace('-', '')}"
        )
        if provider is None:
            return
        reason = (
            "aws-cdk-lib's AwsCustomResource provider: runs only on stack create/update/delete (usage limit, "
            "admin-secret lookup), holds no data; its runtime and role are managed by aws-cdk-lib."
        )
        for rule in (
            "AwsSolutions-L1",
            "NIST.800.53.R5-LambdaConcurrency",
            "NIST.800.53.R5-LambdaDLQ",
            "NIST.800.53.R5-LambdaInsideVPC",
            "HIPAA.Security-LambdaConcurrency",
            "HIPAA.Security-LambdaDLQ",
            "HIPAA.Security-LambdaInsideVPC",
            "PCI.DSS.321-LambdaConcurrency",
            "PCI.DSS.321-LambdaDLQ",
            "PCI.DSS.321-LambdaInsideVPC",
        ):
            _acknowledge(provider, rule, reason)
        _guard_suppress(provider, "lambda_inside_vpc_check", reason)
        role = provider.node.try_find_child("ServiceRole")
        if role is not None:
            _acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "aws-cdk-lib attaches the basic execution policy (its own log group only) to the provider.",
            )
        handler = provider.node.default_child
        if isinstance(handler, cdk.CfnResource):
            skips = [
                {"id": check, "comment": reason}
                for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173")
            ]
            handler.add_metadata("checkov", {"skip": skips})
            # aws-cdk-lib adds a DependsOn on the role that the handler's GetAtt already implies (W3005).
            handler.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    def _provisioned(
        self, subnets: ec2.SelectedSubnets, admin_username: str, port: int, removal_policy: cdk.RemovalPolicy
    ) -> None:
        options = self.provisioned_options
        subnet_group = redshift.CfnClusterSubnetGroup(
            self,
            "SubnetGroup",
            description=f"Redshift {self.name} isolated subnets",
            subnet_ids=subnets.subnet_ids,
        )
        parameter_group = redshift.CfnClusterParameterGroup(
            self,
            "ParameterGroup",
            description=f"Redshift {self.name}: SSL required, user activity logged",
            parameter_group_family="redshift-1.0",
            parameters=[
                redshift.CfnClusterParameterGroup.ParameterProperty(parameter_name=key, parameter_value=value)
                for key, value in (
                    ("require_ssl", "true"),
                    ("enable_user_activity_logging", "true"),
                    ("statement_timeout", str(options.statement_timeout_seconds * 1000)),
                )
            ],
        )
        cluster = redshift.CfnCluster(
            self,
            "Cluster",
            cluster_identifier=self.name,
            cluster_type="multi-node" if options.number_of_nodes > 1 else "single-node",
            node_type=options.node_type,
            number_of_nodes=options.number_of_nodes if options.number_of_nodes > 1 else None,
            db_name=self.database_name,
            master_username=admin_username,
            manage_master_password=True,
            master_password_secret_kms_key_id=self.encryption_key.key_arn,
            encrypted=True,
            kms_key_id=self.encryption_key.key_arn,
            publicly_accessible=False,
            enhanced_vpc_routing=self._enhanced_vpc_routing,
            port=port,
            cluster_subnet_group_name=subnet_group.ref,
            cluster_parameter_group_name=parameter_group.ref,
            vpc_security_group_ids=[self.security_group.security_group_id],
            automated_snapshot_retention_period=options.snapshot_retention_days,
            allow_version_upgrade=True,
            preferred_maintenance_window=options.preferred_maintenance_window,
            logging_properties=redshift.CfnCluster.LoggingPropertiesProperty(
                log_destination_type="cloudwatch", log_exports=LOG_EXPORTS
            ),
            iam_roles=[self.role.role_arn],
        )
        cluster.apply_removal_policy(
            cdk.RemovalPolicy.SNAPSHOT if removal_policy == cdk.RemovalPolicy.RETAIN else removal_policy
        )
        self.cluster = cluster
        cluster.add_metadata(
            "checkov",
            {
                "skip": [
                    {
                        "id": "CKV_AWS_71",
                        "comment": "Audit logging is on: connection, user and user-activity logs go "
                        "to CloudWatch Logs (LoggingProperties.LogDestinationType cloudwatch); the "
                        "check only recognizes the older S3 BucketName form.",
                    }
                ]
            },
        )
        self.admin_secret_arn = cluster.attr_master_password_secret_arn
        self.data_api_target = {"ClusterIdentifier": self.name}
        self.arn = self._stack.format_arn(
            service="redshift",
            resource="cluster",
            resource_name=self.name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self._alarm(
            "HealthAlarm",
            self.metric("HealthStatus", statistic="Minimum"),
            f"Redshift cluster {self.name} is unhealthy",
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

    # --- grants and SQL ---

    def grant_spectrum_read(
        self, bucket: s3.IBucket, prefix: str, *, databases: Sequence[str], data_key: kms.IKey | None = None
    ) -> None:
        """Let the default role read ``prefix`` of ``bucket`` and the Glue tables of ``databases``."""
        _check_prefix(prefix)
        catalog = self._stack.format_arn(service="glue", resource="catalog")
        database_arns = [
            self._stack.format_arn(service="glue", resource="database", resource_name=d) for d in databases
        ]
        table_arns = [
            self._stack.format_arn(service="glue", resource="table", resource_name=f"{d}/*")
            for d in databases
        ]
        self._grant_policy().add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")]),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*", prefix]}},
            ),
            # A separate statement: GetBucketLocation requests carry no s3:prefix to match.
            iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
            iam.PolicyStatement(
                actions=[
                    "glue:GetDatabase",
                    "glue:GetDatabases",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:BatchGetPartition",
                ],
                resources=[catalog, *database_arns, *table_arns],
            ),
        )
        self._acknowledge_wildcard(
            bucket.arn_for_objects(f"{prefix}*"),
            f"Spectrum reads every object of the zone's {prefix} table data, and nothing else.",
        )
        for arn, database in zip(table_arns, databases, strict=True):
            self._acknowledge_wildcard(
                arn, f"Spectrum reads the tables crawlers create in {database}; their names are data-driven."
            )
        if data_key is not None:
            self._grant_policy().add_statements(
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:DescribeKey"], resources=[data_key.key_arn])
            )

    def grant_unload(self, bucket: s3.IBucket, prefix: str, *, data_key: kms.IKey | None = None) -> None:
        """Let the default role UNLOAD under ``prefix`` of ``bucket``: Redshift needs GET, LIST and PUT
        there ("For UNLOAD to Amazon S3, GET, LIST, and PUT permissions", its access-permission notes),
        and delete for UNLOAD ... CLEANPATH, which removes the path's files first."""
        _check_prefix(prefix)
        self._grant_policy().add_statements(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
            ),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*", prefix]}},
            ),
        )
        self._acknowledge_wildcard(
            bucket.arn_for_objects(f"{prefix}*"),
            f"UNLOAD writes, lists and (CLEANPATH) replaces files it names itself under {prefix} only.",
        )
        if data_key is not None:
            self._grant_policy().add_statements(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[data_key.key_arn]
                )
            )

    def _grant_policy(self) -> iam.ManagedPolicy:
        if self.policy is None:
            self.policy = iam.ManagedPolicy(self, "DefaultRolePolicy", roles=[self.role])
        return self.policy

    def _acknowledge_wildcard(self, resource: str, reason: str) -> None:
        cdk.Validations.of(self._grant_policy()).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_nag_format(self, resource)}]", reason=reason
            )
        )

    def data_api_statements(self) -> list[iam.PolicyStatement]:
        """What a caller of the Redshift Data API needs to run SQL here as the admin user (managed
        secret)."""
        statements = [
            iam.PolicyStatement(
                actions=["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"],
                resources=[self.arn],
            ),
            # Statement ids are issued at run time; the Data API only lets their submitter read them.
            iam.PolicyStatement(
                actions=["redshift-data:DescribeStatement", "redshift-data:CancelStatement"],
                resources=["*"],
            ),
        ]
        if self.admin_secret_arn is None:
            statements.append(
                iam.PolicyStatement(actions=["redshift-serverless:GetCredentials"], resources=[self.arn])
            )
        else:
            statements += [
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=[self.admin_secret_arn]
                ),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.encryption_key.key_arn]),
            ]
        return statements

    def grant_data_api(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` run SQL through the Data API (see ``data_api_statements``)."""
        for statement in self.data_api_statements():
            grantee.grant_principal.add_to_principal_policy(statement)

    def external_schema_sql(self, schema: str, glue_database: str) -> str:
        """Idempotent DDL of a Spectrum schema over a Glue database, using the warehouse's role."""
        for option, value in (("schema", schema), ("glue_database", glue_database)):
            if not _DATABASE_RE.fullmatch(value):
                raise ValueError(f"{option}: {value!r} is not allowed; expected a lowercase SQL identifier")
        # A provisioned cluster has no default role in CloudFormation: name the role.
        role = "default" if self.deployment == RedshiftDeployment.SERVERLESS else f"'{self.role.role_arn}'"
        return (
            f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {schema} FROM DATA CATALOG "
            f"DATABASE '{glue_database}' IAM_ROLE {role}"
        )

    # --- metrics ---

    def metric(
        self, metric_name: str, *, statistic: str = "Sum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """A metric of this warehouse (AWS/Redshift-Serverless by workgroup, AWS/Redshift by cluster),
        per ``period`` (default 5 minutes)."""
        if self.deployment == RedshiftDeployment.SERVERLESS:
            namespace, dims = "AWS/Redshift-Serverless", {"Workgroup": self.name}
        else:
            namespace, dims = "AWS/Redshift", {"ClusterIdentifier": self.name}
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=dims,
            statistic=statistic,
            period=period if period is not None else cdk.Duration.minutes(5),
        )

    def _alarm(
        self,
        alarm_id: str,
        metric: cloudwatch.Metric,
        description: str,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods: int = 1,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        self.alarms.append(
            metric.create_alarm(
                self,
                alarm_id,
                alarm_description=description,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                comparison_operator=comparison,
                treat_missing_data=missing,
            )
        )


def _check_prefix(prefix: str) -> None:
    if not prefix or not prefix.endswith("/") or prefix.startswith("/") or "*" in prefix:
        raise ValueError(f"prefix: {prefix!r} is not allowed; expected a key prefix such as 'daily/'")


def _allow_cloudwatch_logs(key: kms.IKey) -> None:
    """Let CloudWatch Logs use ``key``, for this account's log groups only (no confused deputy)."""
    stack = cdk.Stack.of(key)
    log_groups = stack.format_arn(
        service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
    )
    added = key.add_to_resource_policy(
        iam.PolicyStatement(
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}")],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )
    if not added.statement_added:  # an imported key: its policy is not this app's to change
        cdk.Annotations.of(key).add_warning_v2(
            "datalake:KeyPolicyNotUpdated",
            "This key's policy cannot be changed here: let the CloudWatch Logs service principal "
            "use it for this account's log groups in the key policy, or creating the log group fails.",
        )


def _acknowledge_custom_resource_policy(
    resource: cr.AwsCustomResource, scope_of_calls: str
) -> IConstruct | None:
    """Acknowledge the inline-policy finding on an AwsCustomResource's own policy; return the policy."""
    policy = resource.node.try_find_child("CustomResourcePolicy")
    if policy is not None:
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            _acknowledge(
                policy,
                f"{pack}-IAMNoInlinePolicy",
                f"aws-cdk-lib's AwsCustomResource policy: {scope_of_calls}.",
            )
    return policy


def _acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _reject(option: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"{option}: {value!r} is not allowed; expected {allowed}")


_WINDOW_RE = re.compile(r"(mon|tue|wed|thu|fri|sat|sun):\d\d:\d\d-(mon|tue|wed|thu|fri|sat|sun):\d\d:\d\d")


def _validate(  # noqa: PLR0917 (one private call site; keyword-only would only add noise)
    name: str,
    database: str,
    admin: str,
    port: int,
    serverless_options: ServerlessOptions,
    provisioned_options: ProvisionedOptions,
) -> None:
    if not _NAME_RE.fullmatch(name) or "--" in name or name.endswith("-"):
        raise _reject("name", name, "3-63 lowercase letters, digits or single hyphens")
    if not _DATABASE_RE.fullmatch(database) or database in ("dev", "padb_harvest", "template0", "template1"):
        raise _reject("database_name", database, "a lowercase identifier that is not reserved")
    if not _DATABASE_RE.fullmatch(admin) or admin in ("awsuser", "admin", "rdsadmin", "root", "public"):
        raise _reject("admin_username", admin, "a lowercase identifier that is not a well-known default")
    if isinstance(port, bool) or not (5431 <= port <= 5455 or 8191 <= port <= 8215 or port == 5439):
        raise _reject("port", port, "5431-5455 or 8191-8215")
    s = serverless_options
    if not 8 <= s.base_rpu <= 1024 or s.base_rpu % 8:
        raise _reject("serverless.base_rpu", s.base_rpu, "8 to 1024 in steps of 8")
    if not s.base_rpu <= s.max_rpu <= 5632 or s.max_rpu % 8:
        raise _reject("serverless.max_rpu", s.max_rpu, f"base_rpu ({s.base_rpu}) to 5632 in steps of 8")
    if not 1 <= s.max_query_execution_seconds <= 86399:
        raise _reject("serverless.max_query_execution_seconds", s.max_query_execution_seconds, "1 to 86399")
    if not 1 <= s.alarm_rpu_hours_per_day <= 24 * 5632:
        raise _reject("serverless.alarm_rpu_hours_per_day", s.alarm_rpu_hours_per_day, f"1 to {24 * 5632}")
    if not 1 <= s.usage_limit_rpu_hours_per_day <= 24 * 5632:
        raise _reject(
            "serverless.usage_limit_rpu_hours_per_day", s.usage_limit_rpu_hours_per_day, f"1 to {24 * 5632}"
        )
    if s.usage_limit_breach_action not in BREACH_ACTIONS:
        raise _reject(
            "serverless.usage_limit_breach_action",
            s.usage_limit_breach_action,
            f"one of {', '.join(BREACH_ACTIONS)}",
        )
    p = provisioned_options
    if p.node_type not in _RA3_NODE_TYPES:
        raise _reject("provisioned.node_type", p.node_type, f"one of {', '.join(_RA3_NODE_TYPES)}")
    if not 1 <= p.number_of_nodes <= 128:
        raise _reject("provisioned.number_of_nodes", p.number_of_nodes, "1 to 128")
    if not 1 <= p.snapshot_retention_days <= 35:
        raise _reject("provisioned.snapshot_retention_days", p.snapshot_retention_days, "1 to 35")
    if not 1 <= p.statement_timeout_seconds <= 86399:
        raise _reject("provisioned.statement_timeout_seconds", p.statement_timeout_seconds, "1 to 86399")
    if not _WINDOW_RE.fullmatch(p.preferred_maintenance_window):
        raise _reject(
            "provisioned.preferred_maintenance_window",
            p.preferred_maintenance_window,
            "ddd:hh24:mi-ddd:hh24:mi",
        )


def _nag_format(scope: IConstruct, value: object) -> str:
    """How cdk-nag renders a value in a finding (``<LogicalId.Arn>``, ``<AWS::Region>`` ...)."""
    resolved = cdk.Stack.of(scope).resolve(value)
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        logical_id, attribute = resolved["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(_nag_format(scope, part) for part in parts)
    return str(resolved)


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
