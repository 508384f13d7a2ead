"""GlueEtlJob and GlueFailureAlerts: job settings, least-privilege role, alert rules, validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from datalake_constructs.etl import GlueDataQualityRole, GlueEtlJob, GlueFailureAlerts
from tests.conftest import app_with_context


class Fixture:
    def __init__(self, script: Path) -> None:
        self.script = script
        self.stack = cdk.Stack(app_with_context(), "Test")
        self.data_key = kms.Key(self.stack, "DataKey", enable_key_rotation=True)
        self.key = kms.Key(self.stack, "GlueKey", enable_key_rotation=True)
        self.source = s3.Bucket(self.stack, "Raw", encryption_key=self.data_key)
        self.target = s3.Bucket(self.stack, "Processed", encryption_key=self.data_key)
        self.security = glue.SecurityConfiguration(
            self.stack, "Security", cloud_watch_encryption=glue.CloudWatchEncryption.kms(self.key)
        )

    def build(self, **props: Any) -> GlueEtlJob:
        defaults: dict[str, Any] = {
            "script": str(self.script),
            "source_bucket": self.source,
            "source_prefix": "events/",
            "target_bucket": self.target,
            "target_prefix": "events/",
            "security_configuration": self.security,
            "encryption_key": self.key,
        }
        return GlueEtlJob(self.stack, "RawToProcessed", **{**defaults, **props})

    def template(self) -> Template:
        return Template.from_stack(self.stack)

    def job(self) -> dict[str, Any]:
        (job,) = self.template().find_resources("AWS::Glue::Job").values()
        props: dict[str, Any] = job["Properties"]
        return props

    def statements(self) -> list[dict[str, Any]]:
        (policy,) = self.template().find_resources("AWS::IAM::ManagedPolicy").values()
        statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)


@pytest.fixture
def env(tmp_path: Path) -> Fixture:
    script = tmp_path / "job.py"
    script.write_text("print('job')\n")
    return Fixture(script)


def test_glue_5_pyspark_job_with_bookmarks_logging_metrics_and_one_run_at_a_time(env: Fixture) -> None:
    construct = env.build()
    job = env.job()
    args = job["DefaultArguments"]

    assert job["GlueVersion"] == "5.0"
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["PythonVersion"] == "3"
    assert args["--job-bookmark-option"] == "job-bookmark-enable"
    assert args["--enable-continuous-cloudwatch-log"] == "true"
    assert args["--enable-metrics"] == ""
    assert args["--enable-observability-metrics"] == "true"
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["MaxRetries"] == 0
    assert job["Timeout"] == 60
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.1X", 2)
    assert job["SecurityConfiguration"] == {"Ref": env.logical_id(env.security)}
    assert job["Role"] == {"Fn::GetAtt": [env.logical_id(construct.role), "Arn"]}


def test_the_script_gets_its_zone_urls(env: Fixture) -> None:
    construct = env.build(target_prefix="curated/", quarantine_prefix="rejected/curated/")
    args = env.job()["DefaultArguments"]

    assert "--source" in args and "--target" in args and "--quarantine" in args
    assert json.dumps(args["--source"]).endswith('/events/"]]}')
    assert json.dumps(args["--target"]).endswith('/curated/"]]}')
    assert json.dumps(args["--quarantine"]).endswith('/rejected/curated/"]]}')
    assert construct.quarantine_url.endswith("/rejected/curated/")


def test_worker_timeout_and_extra_arguments_are_configurable(env: Fixture) -> None:
    env.build(
        worker_type=glue.WorkerType.G_2X,
        number_of_workers=10,
        timeout=cdk.Duration.hours(2),
        extra_arguments={"--since-date": "2026-11-01"},
    )
    job = env.job()

    assert (job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("G.2X", 10, 120)
    assert job["DefaultArguments"]["--since-date"] == "2026-11-01"


def test_role_reads_source_target_and_quarantine_and_writes_only_target_and_quarantine(env: Fixture) -> None:
    env.build()
    statements = env.statements()

    def suffixes(action: str) -> list[str]:
        (statement,) = [
            s
            for s in statements
            if s["Action"] == action or (isinstance(s["Action"], list) and action in s["Action"])
        ]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        return sorted(f"{r['Fn::Join'][1][0]['Fn::GetAtt'][0]}{r['Fn::Join'][1][1]}" for r in resources)

    raw, processed = env.logical_id(env.source), env.logical_id(env.target)
    # It reads what it writes too: stored ids (redeliveries), its own files when a committer copies them.
    assert suffixes("s3:GetObject") == sorted(
        [f"{raw}/events/*", f"{processed}/events/*", f"{processed}/_quarantine/events/*"]
    )
    assert suffixes("s3:PutObject") == sorted([f"{processed}/events/*", f"{processed}/_quarantine/events/*"])
    metric = next(s for s in statements if s["Action"] == "cloudwatch:PutMetricData")
    assert metric["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}
    actions = [
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert not [a for a in actions if a.endswith("*")]  # exact actions only


def test_role_may_delete_only_the_consumed_folder_of_its_source(env: Fixture) -> None:
    env.build(source_consumed_prefix="_changed_dates/")
    raw = env.logical_id(env.source)
    on_source = {
        (action, json.dumps(resource))
        for s in env.statements()
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        if raw in json.dumps(resource)
    }
    folder = json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [raw, "Arn"]}, "/events/_changed_dates*"]]})
    prefix = json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [raw, "Arn"]}, "/events/*"]]})

    # Writes and deletes in the queue folder only; elsewhere in the source, reads and listing.
    assert {(a, r) for a, r in on_source if a in ("s3:PutObject", "s3:DeleteObject")} == {
        ("s3:PutObject", folder),
        ("s3:DeleteObject", folder),
    }
    assert ("s3:GetObject", prefix) in on_source


def test_data_quality_role_reads_its_table_and_the_engine_and_publishes_results(env: Fixture) -> None:
    GlueDataQualityRole(
        env.stack,
        "Quality",
        database_name="sales_dev_processed",
        table_name="events",
        bucket=env.target,
        prefix="events/",
    )
    (policy,) = [
        p
        for p in env.template().find_resources("AWS::IAM::ManagedPolicy").values()
        if "PublishDataQuality" in json.dumps(p)
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    rendered = json.dumps(statements)

    (reads,) = [s for s in statements if s["Action"] == "s3:GetObject"]
    objects = [json.dumps(r) for r in reads["Resource"]]
    assert len(objects) == 2
    assert [o for o in objects if o.endswith('"/events/*"]]}')]  # the evaluated table's objects
    # AWS's engine bucket, which every run downloads at launch
    assert [o for o in objects if "s3:::aws-glue-ml-data-quality-assets-" in o and '"AWS::Region"' in o]
    assert ":database/default" in rendered  # Glue's session checks the default database exists
    assert ":table/sales_dev_processed/events" in rendered
    metrics = next(s for s in statements if s["Action"] == "cloudwatch:PutMetricData")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue Data Quality"}}
    with pytest.raises(ValueError, match=r"prefix: 'events' is not allowed"):
        GlueDataQualityRole(
            env.stack, "Bad", database_name="d", table_name="t", bucket=env.target, prefix="events"
        )


def test_failure_alerts_route_job_and_crawler_failures_to_the_topic(env: Fixture) -> None:
    topic = sns.Topic(env.stack, "Alerts")

    alerts = GlueFailureAlerts(
        env.stack, "Alerts2", topic=topic, job_names=["j1", "j2"], crawler_names=["c1"]
    )
    rules = {
        r["Properties"]["Description"]: r["Properties"]
        for r in env.template().find_resources("AWS::Events::Rule").values()
    }

    assert len(alerts.rules) == 2
    job_rule = rules["Glue job runs that failed, timed out or errored"]
    assert job_rule["EventPattern"]["detail"] == {
        "jobName": ["j1", "j2"],
        "state": ["FAILED", "TIMEOUT", "ERROR"],
    }
    crawler_rule = rules["Glue crawler runs that failed"]
    assert crawler_rule["EventPattern"]["detail-type"] == ["Glue Crawler State Change"]
    assert crawler_rule["EventPattern"]["detail"] == {"crawlerName": ["c1"], "state": ["Failed"]}
    for rule in (job_rule, crawler_rule):
        assert rule["Targets"][0]["Arn"] == {"Ref": env.stack.get_logical_id(topic.node.default_child)}  # type: ignore[arg-type]
        assert "InputTransformer" in rule["Targets"][0]


def test_failure_alerts_need_something_to_watch(env: Fixture) -> None:
    with pytest.raises(ValueError, match=r"job_names / crawler_names: at least one"):
        GlueFailureAlerts(env.stack, "Alerts", topic=sns.Topic(env.stack, "T"), job_names=[])


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"source_prefix": "events"}, r"source_prefix: 'events' is not allowed"),
        ({"target_prefix": "/events/"}, r"target_prefix: '/events/' is not allowed"),
        (
            {"quarantine_prefix": "events/bad/"},
            r"quarantine_prefix: 'events/bad/' must not overlap target_prefix",
        ),
        ({"source_consumed_prefix": "markers"}, r"source_consumed_prefix: 'markers' is not allowed"),
        ({"number_of_workers": 1}, r"number_of_workers: 1 is not allowed; expected 2 to 299"),
        ({"timeout": cdk.Duration.hours(49)}, r"timeout: 2940 minutes is not allowed; expected 1 to 2880"),
        ({"max_concurrent_runs": 0}, r"max_concurrent_runs: 0 is not allowed"),
        ({"extra_arguments": {"--source": "x"}}, r"extra_arguments: '--source' is not allowed"),
        ({"extra_arguments": {"since": "x"}}, r"extra_arguments: 'since' is not allowed"),
    ],
)
def test_bad_props_fail_with_a_clear_message(env: Fixture, props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        env.build(**props)
