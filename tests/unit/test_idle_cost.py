"""benchmarks/idle_cost.py: the idle price of each resource type, on small hand-written templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_script

idle_cost = load_script("benchmarks/idle_cost.py")
HOURS = 730


def template(*resources: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "Resources": {
            f"Resource{i}": {"Type": kind, "Properties": props} for i, (kind, props) in enumerate(resources)
        }
    }


def report(*resources: tuple[str, dict[str, Any]]) -> Any:
    return idle_cost.idle_cost("test", {"stack": template(*resources)})


def monthly(*resources: tuple[str, dict[str, Any]]) -> float:
    total: float = report(*resources).total
    return total


def test_customer_managed_keys_cost_a_dollar_each() -> None:
    assert monthly(("AWS::KMS::Key", {}), ("AWS::KMS::Key", {"EnableKeyRotation": True})) == pytest.approx(
        2.0
    )


def test_rotating_keys_are_warned_about_their_later_cost() -> None:
    notes = report(("AWS::KMS::Key", {"EnableKeyRotation": True})).notes

    assert any("$3/month from year 3" in note for note in notes)


def test_on_demand_stream_bills_every_stream_hour() -> None:
    stream = (
        "AWS::Kinesis::Stream",
        {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}, "RetentionPeriodHours": 168},
    )

    assert monthly(stream) == pytest.approx(HOURS * 0.04)  # retention is per GB on demand: $0 idle


def test_provisioned_stream_bills_shard_hours_and_extended_retention() -> None:
    short = ("AWS::Kinesis::Stream", {"ShardCount": 2})
    long = ("AWS::Kinesis::Stream", {"ShardCount": 2, "RetentionPeriodHours": 48})

    assert monthly(short) == pytest.approx(2 * HOURS * 0.015)
    assert monthly(long) == pytest.approx(2 * HOURS * (0.015 + 0.02))


def test_standard_alarm_bills_one_metric() -> None:
    assert monthly(("AWS::CloudWatch::Alarm", {"MetricName": "Errors", "Period": 300})) == pytest.approx(0.10)


def test_high_resolution_alarm_bills_the_higher_rate() -> None:
    assert monthly(("AWS::CloudWatch::Alarm", {"MetricName": "Errors", "Period": 10})) == pytest.approx(0.30)


def test_metric_math_alarm_bills_every_metric_it_reads_not_the_expression() -> None:
    metrics = [
        {"Id": "errors", "MetricStat": {"Metric": {"MetricName": "Errors"}, "Period": 60, "Stat": "Sum"}},
        {"Id": "calls", "MetricStat": {"Metric": {"MetricName": "Invocations"}, "Period": 60, "Stat": "Sum"}},
        {"Id": "rate", "Expression": "errors / calls", "ReturnData": True},
    ]

    assert monthly(("AWS::CloudWatch::Alarm", {"Metrics": metrics})) == pytest.approx(0.20)


def test_anomaly_detection_alarm_bills_three_metrics() -> None:
    metrics = [
        {"Id": "m1", "MetricStat": {"Metric": {"MetricName": "Errors"}, "Period": 300, "Stat": "Sum"}},
        {"Id": "band", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)"},
    ]

    assert monthly(("AWS::CloudWatch::Alarm", {"Metrics": metrics})) == pytest.approx(0.30)


def test_dashboards_and_composite_alarms() -> None:
    assert monthly(("AWS::CloudWatch::Dashboard", {})) == pytest.approx(3.0)
    assert monthly(("AWS::CloudWatch::CompositeAlarm", {})) == pytest.approx(0.50)


def test_nat_gateway_and_its_public_address_bill_every_hour() -> None:
    assert monthly(("AWS::EC2::NatGateway", {})) == pytest.approx(HOURS * 0.045)
    assert monthly(("AWS::EC2::EIP", {})) == pytest.approx(HOURS * 0.005)


def test_interface_endpoints_bill_per_az_and_gateway_endpoints_are_free() -> None:
    interface = ("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Interface", "SubnetIds": ["a", "b"]})
    gateway = ("AWS::EC2::VPCEndpoint", {"ServiceName": "com.amazonaws.us-east-1.s3"})  # Gateway by default

    assert monthly(interface) == pytest.approx(2 * HOURS * 0.01)
    assert monthly(gateway) == 0


def test_secrets_and_redshift_managed_admin_secrets() -> None:
    assert monthly(("AWS::SecretsManager::Secret", {})) == pytest.approx(0.40)
    assert monthly(("AWS::RedshiftServerless::Namespace", {"ManageAdminPassword": True})) == pytest.approx(
        0.40
    )
    assert monthly(("AWS::RedshiftServerless::Namespace", {"AdminUsername": "admin"})) == 0


def test_redshift_serverless_workgroup_is_free_while_idle_and_says_why() -> None:
    (line,) = report(("AWS::RedshiftServerless::Workgroup", {"BaseCapacity": 8})).lines

    assert line.monthly == 0
    assert "only while queries run" in line.billed_as


def test_provisioned_cluster_bills_every_node_hour_and_its_managed_secret() -> None:
    cluster = {"ClusterType": "multi-node", "NodeType": "ra3.xlplus", "NumberOfNodes": 2}
    single = {"ClusterType": "single-node", "NodeType": "dc2.large", "NumberOfNodes": 4}

    assert monthly(("AWS::Redshift::Cluster", cluster)) == pytest.approx(2 * HOURS * 1.086)
    assert monthly(("AWS::Redshift::Cluster", {**cluster, "ManageMasterPassword": True})) == pytest.approx(
        2 * HOURS * 1.086 + 0.40
    )
    assert monthly(("AWS::Redshift::Cluster", single)) == pytest.approx(HOURS * 0.25)


def test_cluster_of_an_unknown_node_type_is_reported_unpriced() -> None:
    result = report(("AWS::Redshift::Cluster", {"ClusterType": "single-node", "NodeType": "xx.huge"}))

    assert [line.resource_type for line in result.unpriced] == ["AWS::Redshift::Cluster"]


def test_unknown_types_are_listed_as_not_priced_never_dropped() -> None:
    result = report(("AWS::Route53::HostedZone", {}), ("AWS::S3::Bucket", {}))

    assert [line.resource_type for line in result.unpriced] == ["AWS::Route53::HostedZone"]
    assert "not priced (assumed $0 idle)" in idle_cost.format_text(result)
    assert {line.resource_type for line in result.lines} == {"AWS::Route53::HostedZone", "AWS::S3::Bucket"}


@pytest.mark.parametrize(
    "kind",
    [
        "AWS::S3::Bucket",
        "AWS::Glue::Job",
        "AWS::StepFunctions::StateMachine",
        "AWS::Lambda::Function",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::SNS::Topic",
        "AWS::Events::Rule",
        "AWS::EC2::FlowLog",
    ],
)
def test_pay_per_use_services_are_known_and_free_while_idle(kind: str) -> None:
    result = report((kind, {}))

    assert result.total == 0
    assert result.unpriced == []


def test_the_first_two_budgets_are_free() -> None:
    budget = ("AWS::Budgets::Budget", {})

    assert monthly(budget, budget) == 0
    assert monthly(budget, budget, budget) == pytest.approx(HOURS / 24 * 0.02)


def test_every_resource_is_counted_once() -> None:
    result = report(
        ("AWS::KMS::Key", {}), ("AWS::KMS::Key", {}), ("AWS::IAM::Role", {}), ("Custom::Thing", {})
    )

    assert sum(line.count for line in result.lines) == 4


@pytest.mark.parametrize(
    ("expression", "runs"),
    [
        ("rate(1 hour)", 730),
        ("rate(30 minutes)", 1460),
        ("cron(0 3 * * ? *)", 730 / 24),
        ("cron(0/15 * * * ? *)", 4 * 730),
        ("cron(0 6 1 * ? *)", 1),
        ("cron(0 6 ? * 2-6 *)", 5 * 730 / 24 / 7),
        ("cron(0 6 ? * MON-FRI *)", None),
    ],
)
def test_schedule_expressions(expression: str, runs: float | None) -> None:
    assert idle_cost.runs_per_month(expression) == (pytest.approx(runs) if runs is not None else None)


def test_a_schedule_that_starts_glue_work_is_idle_cost() -> None:
    # Given a daily rule starting a state machine that runs a crawler and a 2 x G.1X job
    definition = {
        "StartAt": "Crawl",
        "States": {
            "Crawl": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                "Parameters": {"Name": "raw-crawler"},
                "Next": "Job",
            },
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": "raw-to-processed"},
                "End": True,
            },
        },
    }
    resources = {
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {"DefinitionString": {"Fn::Join": ["", [json.dumps(definition)]]}},
        },
        "Daily": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "cron(0 3 * * ? *)",
                "Targets": [{"Arn": {"Ref": "Machine"}}],
            },
        },
    }
    job = {
        "Type": "AWS::Glue::Job",
        "Properties": {
            "Name": "raw-to-processed",
            "GlueVersion": "5.0",
            "WorkerType": "G.1X",
            "NumberOfWorkers": 2,
        },
    }

    # When
    result = idle_cost.idle_cost(
        "dev", {"pipeline": {"Resources": resources}, "etl": {"Resources": {"J": job}}}
    )

    # Then: billing minimums: crawler 10 min x 1 DPU, Spark job 1 min x 2 DPU, at $0.44/DPU-hour
    per_run = 10 / 60 * 0.44 + 1 / 60 * 2 * 0.44
    assert result.total == pytest.approx(730 / 24 * per_run)
    assert result.standing == 0
    assert any("raw-crawler" in note and "raw-to-processed" in note for note in result.notes)


def test_disabled_schedules_cost_nothing() -> None:
    rule = ("AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)", "State": "DISABLED", "Targets": []})

    assert monthly(rule) == 0


def test_dev_target_check() -> None:
    cheap = idle_cost.Report(env="dev", lines=[], notes=[])
    dear = idle_cost.idle_cost("dev", {"s": template(*[("AWS::KMS::Key", {})] * 6)})

    assert "OK" in idle_cost.target_check(cheap)
    assert "MISSED" in idle_cost.target_check(dear)
    assert idle_cost.target_check(idle_cost.Report(env="prod", lines=[], notes=[])) is None


def test_markdown_has_a_table_and_the_total() -> None:
    markdown = idle_cost.format_markdown(report(("AWS::KMS::Key", {}), ("AWS::S3::Bucket", {})))

    assert "| `AWS::KMS::Key` | 1 | 1 key-month | $1.00/key-month | 1.00 |" in markdown
    assert "| **total** | | | | **1.00** |" in markdown
    assert "| `AWS::S3::Bucket` | 1 | storage and requests only |" in markdown  # in the $0 details


def test_templates_are_read_from_the_assembly_manifest(tmp_path: Path) -> None:
    (tmp_path / "a.template.json").write_text(json.dumps(template(("AWS::KMS::Key", {}))))
    manifest = {
        "artifacts": {
            "a": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "a.template.json"}},
            "a.assets": {"type": "cdk:asset-manifest", "properties": {"file": "a.assets.json"}},
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    assert list(idle_cost.load_templates(tmp_path)) == ["a"]


def test_a_crawler_schedule_is_idle_cost() -> None:
    crawler = ("AWS::Glue::Crawler", {"Name": "raw", "Schedule": {"ScheduleExpression": "cron(0 * * * ? *)"}})

    assert monthly(crawler) == pytest.approx(730 * 10 / 60 * 0.44)  # hourly, 10-minute minimum, 1 DPU


def test_scheduled_statements_on_redshift_serverless_bill_a_minute_of_base_capacity() -> None:
    definition = {
        "States": {
            "Refresh": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement",
                "Parameters": {"WorkgroupName": "warehouse", "Sqls": ["SELECT 1"]},
            }
        }
    }
    resources = {
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"Definition": definition}},
        "Daily": {
            "Type": "AWS::Events::Rule",
            "Properties": {"ScheduleExpression": "rate(1 day)", "Targets": [{"Arn": {"Ref": "Machine"}}]},
        },
        "Workgroup": {
            "Type": "AWS::RedshiftServerless::Workgroup",
            "Properties": {"WorkgroupName": "warehouse", "BaseCapacity": 8},
        },
    }

    result = idle_cost.idle_cost("dev", {"stack": {"Resources": resources}})

    assert result.total == pytest.approx(730 / 24 * 60 / 3600 * 8 * 0.375)


@pytest.mark.parametrize(("options", "billed"), [({}, True), ({"pushDownPredicate.$": "$.batch.p"}, False)])
def test_a_quality_check_of_the_run_s_new_partitions_is_not_idle_cost(
    options: dict[str, str], billed: bool
) -> None:
    # A check of the whole table runs on every scheduled run; one of the run's new partitions is
    # skipped when nothing arrived (the pipeline's "AnyNewPartitions?" choice).
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:glue:startDataQualityRulesetEvaluationRun",
        "Parameters": {
            "DataSource": {"GlueTable": {"DatabaseName": "d", "TableName": "t", "AdditionalOptions": options}}
        },
        "End": True,
    }
    machine = {"DefinitionString": json.dumps({"StartAt": "Check", "States": {"Check": task}})}

    work = idle_cost.run_cost(machine, {})

    assert work == (
        [("data-quality evaluation (1 min x 5 DPU)", pytest.approx(5 / 60 * 0.44))] if billed else []
    )
