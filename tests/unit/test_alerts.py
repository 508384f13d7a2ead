"""AlertTopic, add_alarm_actions, the operations stack's budget, and alarm coverage across the app."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template

from datalake_constructs.alerts import PUBLISHING_SERVICES, AlertTopic, add_alarm_actions
from tests.conftest import SynthesizedPlatform, app_with_context


def test_topic_is_encrypted_tls_only_and_open_to_the_publishing_services() -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    alerts = AlertTopic(stack, "Alerts")
    template = Template.from_stack(stack)

    (key_id,) = template.find_resources("AWS::KMS::Key")
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key_policy = json.dumps(template.find_resources("AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"])
    for service in PUBLISHING_SERVICES:
        assert service in key_policy
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    publishers = {
        s["Principal"]["Service"]: s["Condition"]
        for s in statements
        if s.get("Action") == "sns:Publish" and s["Effect"] == "Allow"
    }
    # The TLS-only topic policy replaces SNS's default one: a service without a statement here
    # (CloudWatch alarms included) is refused at publish time, which nothing reports at deploy.
    assert set(publishers) == set(PUBLISHING_SERVICES)
    for condition in publishers.values():
        assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    alarm_arn = json.dumps(publishers["cloudwatch.amazonaws.com"]["ArnLike"]["aws:SourceArn"])
    assert ":cloudwatch:" in alarm_arn and ":alarm:*" in alarm_arn
    publisher = cdk.aws_iam.Role(stack, "Publisher", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    assert isinstance(alerts.grant_publish(publisher), cdk.aws_iam.Grant)


def test_an_imported_key_gets_a_warning_per_publishing_service() -> None:
    stack = cdk.Stack(app_with_context(), "Imported")
    key = cdk.aws_kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:eu-west-1:123456789012:key/abcd")
    AlertTopic(stack, "Alerts", encryption_key=key)

    warnings = [str(w.entry.data) for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())]
    for service in PUBLISHING_SERVICES:
        assert [w for w in warnings if service in w], service


def test_subscriptions_for_email_queue_and_function() -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    queue = sqs.Queue(stack, "Tickets")
    function = lambda_.Function(
        stack,
        "Chat",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="i.h",
        code=lambda_.Code.from_inline("x=1"),
    )

    AlertTopic(
        stack,
        "Alerts",
        emails=["oncall@example.com", "data@example.com"],
        queues=[queue],
        functions=[function],
    )
    subscriptions = Template.from_stack(stack).find_resources("AWS::SNS::Subscription").values()

    protocols = sorted(s["Properties"]["Protocol"] for s in subscriptions)
    assert protocols == ["email", "email", "lambda", "sqs"]
    assert {s["Properties"]["Endpoint"] for s in subscriptions if s["Properties"]["Protocol"] == "email"} == {
        "oncall@example.com",
        "data@example.com",
    }


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        (["not-an-email"], r"emails: 'not-an-email' is not allowed"),
        (["a@b.io", "a@b.io"], r"emails: .* has duplicates"),
    ],
)
def test_bad_emails_fail_with_a_clear_message(emails: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlertTopic(cdk.Stack(app_with_context(), "Test"), "Alerts", emails=emails)


def test_add_alarm_actions_wires_only_alarms_without_the_topic() -> None:
    app = app_with_context()
    stack = cdk.Stack(app, "Test")
    alerts = AlertTopic(stack, "Alerts")
    metric = cloudwatch.Metric(namespace="X", metric_name="Y")
    bare = metric.create_alarm(stack, "Bare", threshold=1, evaluation_periods=1)
    wired = metric.create_alarm(stack, "Wired", threshold=1, evaluation_periods=1)
    wired.add_alarm_action(cdk.aws_cloudwatch_actions.SnsAction(alerts.topic))

    assert add_alarm_actions(app, alerts.topic) == 1
    alarms = Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm")
    for alarm in alarms.values():
        assert len(alarm["Properties"]["AlarmActions"]) == 1  # no duplicate action on the wired one
    assert bare.node.default_child is not None


# --- the operations stack ----------------------------------------------------------------------


def test_monthly_budget_alerts_the_topic_at_configured_thresholds(prod: SynthesizedPlatform) -> None:
    template = prod.template(prod.platform.operations)
    (budget,) = template.find_resources("AWS::Budgets::Budget").values()
    (topic_id,) = template.find_resources("AWS::SNS::Topic")
    props = budget["Properties"]

    assert props["Budget"]["BudgetLimit"] == {"Amount": 2000, "Unit": "USD"}
    assert props["Budget"]["TimeUnit"] == "MONTHLY"
    notifications = [
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"])
        for n in props["NotificationsWithSubscribers"]
    ]
    assert notifications == [("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
    for n in props["NotificationsWithSubscribers"]:
        assert n["Subscribers"] == [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}]


# --- every component has alarms, every alarm has an action --------------------------------------


def all_resources(env: SynthesizedPlatform) -> list[dict[str, Any]]:
    return [r for path in env.template_files for r in json.loads(path.read_text())["Resources"].values()]


def test_every_alarm_in_the_app_has_an_action(env_platform: SynthesizedPlatform) -> None:
    alarms = [r for r in all_resources(env_platform) if r["Type"] == "AWS::CloudWatch::Alarm"]

    assert alarms
    for alarm in alarms:
        assert alarm["Properties"].get("AlarmActions"), alarm["Properties"].get("AlarmDescription")


# Component kind -> how its failures are watched: CloudWatch alarms on these (namespace, metric), or
# an EventBridge rule on these detail types.
ALARMED = {
    "AWS::KinesisFirehose::DeliveryStream": {
        ("AWS/Firehose", "DeliveryToS3.DataFreshness"),
        ("AWS/Firehose", "DeliveryToS3.Success"),
    },
    "AWS::Kinesis::Stream": {
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"),
        ("AWS/Kinesis", "PutRecords.ThrottledRecords"),
    },
    "AWS::Lambda::Function": {("AWS/Lambda", "Errors")},
    "AWS::StepFunctions::StateMachine": {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/States", "ExecutionThrottled"),
    },
    "AWS::Athena::WorkGroup": {("AWS/Athena", "ProcessedBytes")},
    "AWS::RedshiftServerless::Workgroup": {
        ("AWS/Redshift-Serverless", "QueriesFailed"),
        ("AWS/Redshift-Serverless", "ComputeSeconds"),
    },
    "AWS::Redshift::Cluster": {("AWS/Redshift", "HealthStatus")},
}
EVENT_WATCHED = {"AWS::Glue::Job": "Glue Job State Change", "AWS::Glue::Crawler": "Glue Crawler State Change"}


def test_every_component_kind_has_its_alarms(env_platform: SynthesizedPlatform) -> None:
    resources = all_resources(env_platform)
    kinds = {
        r["Type"] for r in resources if not r.get("Metadata", {}).get("aws:cdk:path", "").count("Custom::")
    }
    alarms = {
        (r["Properties"].get("Namespace"), r["Properties"].get("MetricName"))
        for r in resources
        if r["Type"] == "AWS::CloudWatch::Alarm"
    } | {  # metric-math alarms name their metrics inside Metrics
        (query["MetricStat"]["Metric"]["Namespace"], query["MetricStat"]["Metric"]["MetricName"])
        for r in resources
        if r["Type"] == "AWS::CloudWatch::Alarm"
        for query in r["Properties"].get("Metrics", [])
        if "MetricStat" in query
    }
    watched_events = {
        r["Properties"]["EventPattern"]["detail-type"][0]
        for r in resources
        if r["Type"] == "AWS::Events::Rule" and "detail-type" in r["Properties"].get("EventPattern", {})
    }

    for kind, needed in ALARMED.items():
        if kind in kinds:
            assert needed <= alarms, f"{kind} lacks alarms {needed - alarms}"
    for kind, detail_type in EVENT_WATCHED.items():
        if kind in kinds:
            assert detail_type in watched_events, f"{kind} failures are not watched"
    assert {  # the walk sees the app
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::Glue::Job",
        "AWS::Athena::WorkGroup",
        "AWS::RedshiftServerless::Workgroup",
    } <= kinds
