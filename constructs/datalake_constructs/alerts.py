"""The alert topic every alarm and failure event of the platform reaches, and wiring of alarms to it.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from alerts import ...``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Services that publish alerts to the topic and so must use its key.
PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com", "budgets.amazonaws.com")


class AlertTopic(Construct):
    """A CMK-encrypted, TLS-only SNS topic for alarms, EventBridge failure events and budget alerts.

    The key policy lets CloudWatch, EventBridge and AWS Budgets encrypt messages for the topic, and
    the topic policy lets them publish, from this account only (CloudWatch: this account's alarms in
    this region). The TLS-only policy replaces SNS's default topic policy, so every publishing
    service needs its statement: without one, alarm actions fail with "not authorized to perform:
    SNS:Publish". Subscriptions: email addresses, and optionally SQS queues or Lambda functions.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_cloudwatch as cloudwatch

        from alerts import AlertTopic, add_alarm_actions

        app = cdk.App()
        stack = cdk.Stack(app, "Operations")
        alerts = AlertTopic(stack, "Alerts", emails=["oncall@example.com"])
        cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Errors").create_alarm(
            stack, "Errors", threshold=1, evaluation_periods=1
        )
        add_alarm_actions(app, alerts.topic)  # after building: every alarm in the app notifies it
        app.synth()

    Args:
        emails: addresses to subscribe (each confirms by email). Default: none.
        queues: SQS queues to subscribe (e.g. a ticketing integration). Default: none.
        functions: Lambda functions to subscribe (e.g. a chat notifier). Default: none.
        encryption_key: Default: a new key with rotation.
        topic_name: Default: generated.
        removal_policy: of a created key. Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        emails: Sequence[str] = (),
        queues: Sequence[sqs.IQueue] = (),
        functions: Sequence[lambda_.IFunction] = (),
        encryption_key: kms.IKey | None = None,
        topic_name: str | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        for email in emails:
            if not _EMAIL_RE.fullmatch(email):
                raise ValueError(f"emails: {email!r} is not allowed; expected an email address")
        if len(set(emails)) != len(emails):
            raise ValueError(f"emails: {list(emails)} has duplicates")

        self.key: kms.IKey = (
            encryption_key
            if encryption_key is not None
            else kms.Key(
                self,
                "Key",
                description="Alert topic encryption",
                enable_key_rotation=True,
                removal_policy=removal_policy,
            )
        )
        if encryption_key is None:
            _limit_grants_to_aws_services(self.key)
        self.topic = sns.Topic(self, "Topic", topic_name=topic_name, master_key=self.key, enforce_ssl=True)
        alarms = cdk.Stack.of(self).format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name="*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        for service in PUBLISHING_SERVICES:
            principal = iam.ServicePrincipal(service)
            added = self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Encrypt alerts for {service.split('.')[0]}",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    principals=[principal],
                    resources=["*"],  # in a key policy, "*" means this key
                    conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
                )
            )
            if not added.statement_added:  # an imported key: its policy is not this app's to change
                cdk.Annotations.of(self).add_warning_v2(
                    "datalake:KeyPolicyNotUpdated",
                    f"The alert key's policy cannot be changed here: let {service} use it "
                    "(kms:Decrypt, kms:GenerateDataKey) in the key policy, or its alerts are not delivered.",
                )
            conditions: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}
            if service == "cloudwatch.amazonaws.com":
                conditions["ArnLike"] = {"aws:SourceArn": alarms}
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Publish from {service.split('.')[0]}",
                    actions=["sns:Publish"],
                    principals=[principal],
                    resources=[self.topic.topic_arn],
                    conditions=conditions,
                )
            )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        for queue in queues:
            self.topic.add_subscription(subscriptions.SqsSubscription(queue, raw_message_delivery=True))
        for function in functions:
            self.topic.add_subscription(subscriptions.LambdaSubscription(function))

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """sns:Publish on the topic (the topic's key grant is included by the L2)."""
        return self.topic.grant_publish(grantee)


def add_alarm_actions(scope: IConstruct, topic: sns.ITopic) -> int:
    """Make every CloudWatch alarm under ``scope`` notify ``topic`` on ALARM and OK; return how many.

    Call it once every construct exists (e.g. at the end of building the app). Alarms that already
    target the topic are left as they are, so constructs may wire their own.
    """
    wired = 0
    for node in scope.node.find_all():
        if isinstance(node, cloudwatch.Alarm) and not _targets(node, topic):
            node.add_alarm_action(cw_actions.SnsAction(topic))
            node.add_ok_action(cw_actions.SnsAction(topic))
            wired += 1
    return wired


def _targets(alarm: cloudwatch.Alarm, topic: sns.ITopic) -> bool:
    cfn = alarm.node.default_child
    assert isinstance(cfn, cloudwatch.CfnAlarm)
    actions = cdk.Stack.of(alarm).resolve(cfn.alarm_actions) or []
    wanted = cdk.Stack.of(alarm).resolve(topic.topic_arn)
    return any(action == wanted for action in actions)


def _limit_grants_to_aws_services(key: kms.IKey) -> None:
    """Only AWS services may create grants on a key made here (AWS Control Tower CT.KMS.PR.3): people
    and roles use the key through its policy and IAM; services integrated with KMS (Redshift, Firehose,
    CloudWatch Logs ...) create the grants they need on their resources' behalf."""
    if not isinstance(key, kms.Key):
        return
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={
                "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
            },
        )
    )
