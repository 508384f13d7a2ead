"""PipelineDashboard: the rendered dashboard body per section, omitted sections, defaults, validation."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Template

from datalake_constructs.dashboard import (
    DEFAULT_TRANSFORM_METRICS_NAMESPACE,
    DEFAULT_TRANSFORM_METRICS_SERVICE,
    DashboardSection,
    PipelineDashboard,
)
from tests.conftest import app_with_context

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
STATE_MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:sales-dev-pipeline"
GLUE_SYNC_ARN = "arn:aws:states:::glue:startJobRun.sync"
JOBS = ("sales-dev-raw-to-processed", "sales-dev-processed-to-consumer")
FULL: dict[str, Any] = {
    "dashboard_name": "sales-dev-pipeline",
    "delivery_stream_name": "sales-dev-raw-events",
    "kinesis_stream_name": "sales-dev-events",
    "transform_function_name": "sales-dev-firehose-transform",
    "transform_metrics_namespace": "sales/dev/Ingestion",
    "glue_job_names": JOBS,
    "crawler_names": ["sales-dev-raw-crawler"],
    "state_machine_name": "sales-dev-pipeline",
    "athena_workgroup_names": ["sales-dev-analysts", "sales-dev-reports"],
    "redshift_serverless_workgroup_name": "sales-dev-serving",
}


@dataclass(frozen=True)
class Plotted:
    """One metric line of a graph widget, as CloudWatch reads it from the dashboard body."""

    widget: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    id: str | None
    visible: bool

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...], str]:
        return self.namespace, self.name, self.dimensions, self.stat


def dims(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def render(value: Any) -> str:
    """A CloudFormation string value (Fn::Join of literals and pseudo parameters) as deployed."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return PSEUDO[value["Ref"]]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    raise AssertionError(f"unexpected value in the dashboard body: {value}")


@dataclass(frozen=True)
class Rendered:
    properties: dict[str, Any]
    body: dict[str, Any]

    @property
    def widgets(self) -> list[dict[str, Any]]:
        widgets: list[dict[str, Any]] = self.body["widgets"]
        return widgets

    def headers(self) -> list[str]:
        return [
            w["properties"]["markdown"].removeprefix("## ")
            for w in self.widgets
            if w["type"] == "text" and w["properties"]["markdown"].startswith("## ")
        ]

    def section(self, name: str) -> list[dict[str, Any]]:
        """The widgets under a section's header, up to the next header."""
        widgets: list[dict[str, Any]] = []
        current = None
        for widget in self.widgets:
            markdown = widget["properties"].get("markdown", "") if widget["type"] == "text" else ""
            if markdown.startswith("## "):
                current = markdown.removeprefix("## ")
            elif current == name:
                widgets.append(widget)
        return widgets

    def plotted(self, widgets: list[dict[str, Any]] | None = None) -> list[Plotted]:
        lines = []
        for widget in widgets if widgets is not None else self.widgets:
            if widget["type"] != "metric":
                continue
            for entry in widget["properties"]["metrics"]:
                if isinstance(entry[0], dict):  # a math expression
                    continue
                options = entry[-1] if isinstance(entry[-1], dict) else {}
                fields = [e for e in entry if not isinstance(e, dict)]
                namespace, name, *pairs = fields
                lines.append(
                    Plotted(
                        widget=widget["properties"]["title"],
                        namespace=namespace,
                        name=name,
                        dimensions=tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True))),
                        stat=options.get("stat", widget["properties"].get("stat", "Average")),
                        id=options.get("id"),
                        visible=options.get("visible", True),
                    )
                )
        return lines

    def expressions(self) -> list[dict[str, Any]]:
        return [
            entry[0]
            for widget in self.widgets
            if widget["type"] == "metric"
            for entry in widget["properties"]["metrics"]
            if isinstance(entry[0], dict)
        ]


def build(configure: Callable[[cdk.Stack], dict[str, Any]] | None = None, **props: Any) -> Rendered:
    stack = cdk.Stack(app_with_context(), "Test")
    if configure is not None:
        props.update(configure(stack))
    dashboard = PipelineDashboard(stack, "Dashboard", **props)
    template = Template.from_stack(stack)
    (resource,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    assert resource["Properties"]["DashboardBody"] is not None
    rendered = Rendered(resource["Properties"], json.loads(render(resource["Properties"]["DashboardBody"])))
    # The construct's record of its sections matches what it rendered.
    assert [str(s) for s in dashboard.sections] == rendered.headers()
    assert dashboard.dashboard.node.default_child is not None
    return rendered


def _alarms(stack: cdk.Stack) -> dict[str, Any]:
    own = cloudwatch.Alarm(
        stack,
        "Own",
        metric=cloudwatch.Metric(namespace="AWS/Firehose", metric_name="DeliveryToS3.Success"),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    )
    imported = cloudwatch.Alarm.from_alarm_name(stack, "Imported", "sales-dev-freshness")
    return {"alarms": [own, imported]}


@pytest.fixture(scope="module")
def full() -> Rendered:
    return build(_alarms, **FULL)


# Given every input, each section plots at least these (namespace, metric, dimensions, statistic).
FIREHOSE = dims(DeliveryStreamName="sales-dev-raw-events")
LAMBDA = dims(FunctionName="sales-dev-firehose-transform")
EMF = dims(Service=DEFAULT_TRANSFORM_METRICS_SERVICE)
STATES = dims(StateMachineArn=STATE_MACHINE_ARN)
EXPECTED: dict[str, set[tuple[str, str, tuple[tuple[str, str], ...], str]]] = {
    "Ingestion": {
        ("AWS/Firehose", "IncomingRecords", FIREHOSE, "Sum"),
        ("AWS/Firehose", "IncomingBytes", FIREHOSE, "Sum"),
        ("AWS/Firehose", "DataReadFromKinesisStream.Records", FIREHOSE, "Sum"),
        ("AWS/Firehose", "DataReadFromKinesisStream.Bytes", FIREHOSE, "Sum"),
        ("AWS/Firehose", "DeliveryToS3.Success", FIREHOSE, "Minimum"),
        ("AWS/Firehose", "DeliveryToS3.DataFreshness", FIREHOSE, "Maximum"),
        ("AWS/Kinesis", "IncomingRecords", dims(StreamName="sales-dev-events"), "Sum"),
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", dims(StreamName="sales-dev-events"), "Maximum"),
    },
    "Transform Lambda": {
        ("AWS/Lambda", "Invocations", LAMBDA, "Sum"),
        ("AWS/Lambda", "Errors", LAMBDA, "Sum"),
        ("AWS/Lambda", "Throttles", LAMBDA, "Sum"),
        ("AWS/Lambda", "Duration", LAMBDA, "p99"),
        ("sales/dev/Ingestion", "RecordsIn", EMF, "Sum"),
        ("sales/dev/Ingestion", "RecordsOk", EMF, "Sum"),
        ("sales/dev/Ingestion", "RecordsFailed", EMF, "Sum"),
    },
    "Glue": {
        *(
            ("Glue", name, dims(JobName=job, JobRunId="ALL", Type="count", ObservabilityGroup="error"), "Sum")
            for job in JOBS
            for name in ("glue.succeed.ALL", "glue.error.ALL")
        ),
        *(
            ("Glue", f"glue.driver.aggregate.{name}", dims(JobName=job, JobRunId="ALL", Type="count"), "Sum")
            for job in JOBS
            for name in ("numCompletedTasks", "numFailedTasks", "elapsedTime")
        ),
        *(
            ("AWS/States", name, dims(ServiceIntegrationResourceArn=GLUE_SYNC_ARN), stat)
            for name, stat in (
                ("ServiceIntegrationsSucceeded", "Sum"),
                ("ServiceIntegrationsFailed", "Sum"),
                ("ServiceIntegrationsTimedOut", "Sum"),
                ("ServiceIntegrationTime", "Maximum"),
            )
        ),
    },
    "Orchestration": {
        ("AWS/States", "ExecutionsStarted", STATES, "Sum"),
        ("AWS/States", "ExecutionsSucceeded", STATES, "Sum"),
        ("AWS/States", "ExecutionsFailed", STATES, "Sum"),
        ("AWS/States", "ExecutionsTimedOut", STATES, "Sum"),
        ("AWS/States", "ExecutionsAborted", STATES, "Sum"),
        ("AWS/States", "ExecutionTime", STATES, "Maximum"),
    },
    "Athena": {
        ("AWS/Athena", name, dims(QueryState=state, QueryType="DML", WorkGroup=workgroup), stat)
        for workgroup in ("sales-dev-analysts", "sales-dev-reports")
        for state in ("SUCCEEDED", "FAILED", "CANCELLED")
        for name, stat in (("ProcessedBytes", "Sum"), ("TotalExecutionTime", "SampleCount"))
    },
    "Redshift Serverless": {
        ("AWS/Redshift-Serverless", "ComputeCapacity", dims(Workgroup="sales-dev-serving"), "Average"),
        ("AWS/Redshift-Serverless", "ComputeCapacity", dims(Workgroup="sales-dev-serving"), "Maximum"),
        ("AWS/Redshift-Serverless", "ComputeSeconds", dims(Workgroup="sales-dev-serving"), "Sum"),
    },
}


def test_named_dashboard_with_every_section_in_order(full: Rendered) -> None:
    assert full.properties["DashboardName"] == "sales-dev-pipeline"
    assert full.headers() == [str(s) for s in DashboardSection]
    assert full.headers()[0] == "Alarms"


@pytest.mark.parametrize("section", EXPECTED)
def test_each_section_plots_the_metrics_its_service_publishes(full: Rendered, section: str) -> None:
    plotted = {line.key for line in full.plotted(full.section(section))}
    assert EXPECTED[section] <= plotted, EXPECTED[section] - plotted
    # Nothing else in the dashboard plots them: each metric sits in its own section.
    elsewhere = {
        line.key for other in EXPECTED if other != section for line in full.plotted(full.section(other))
    }
    assert not EXPECTED[section] & elsewhere


def test_alarm_status_widget_first_with_every_alarm(full: Rendered) -> None:
    (widget,) = full.section("Alarms")
    assert widget["type"] == "alarm"
    assert widget["width"] == 24
    alarms = widget["properties"]["alarms"]
    assert len(alarms) == 2
    assert "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:sales-dev-freshness" in alarms
    assert any(arn.startswith("<Own") for arn in alarms)


def test_crawlers_are_listed_in_a_note(full: Rendered) -> None:
    notes = [w["properties"]["markdown"] for w in full.section("Glue") if w["type"] == "text"]
    assert len(notes) == 1
    assert "`sales-dev-raw-crawler`" in notes[0]
    assert "no CloudWatch metrics" in notes[0]


def test_athena_sums_processed_bytes_over_the_final_query_states(full: Rendered) -> None:
    by_id = {line.id: line for line in full.plotted(full.section("Athena")) if line.id is not None}
    expressions = full.expressions()
    assert [e["label"] for e in expressions] == ["sales-dev-analysts", "sales-dev-reports"]
    for expression in expressions:
        terms = expression["expression"].split(" + ")
        assert len(terms) == 3
        ids = [term.removeprefix("FILL(").removesuffix(", 0)") for term in terms]
        assert all(term == f"FILL({metric_id}, 0)" for term, metric_id in zip(terms, ids, strict=True))
        summed = [by_id[metric_id] for metric_id in ids]
        assert {line.name for line in summed} == {"ProcessedBytes"}
        assert {dict(line.dimensions)["QueryState"] for line in summed} == {
            "SUCCEEDED",
            "FAILED",
            "CANCELLED",
        }
        assert {dict(line.dimensions)["WorkGroup"] for line in summed} == {expression["label"]}
        assert {dict(line.dimensions)["QueryType"] for line in summed} == {"DML"}
        assert {line.stat for line in summed} == {"Sum"}
        assert not any(line.visible for line in summed)  # only the sum is drawn


def test_defaults() -> None:
    rendered = build(transform_function_name="fn")
    assert "DashboardName" not in rendered.properties  # generated by CloudFormation
    metric_widgets = [w for w in rendered.widgets if w["type"] == "metric"]
    assert {w["properties"]["period"] for w in metric_widgets} == {300}  # 5 minutes
    options = [e[-1] for w in metric_widgets for e in w["properties"]["metrics"] if isinstance(e[-1], dict)]
    assert not any("period" in option for option in options)  # no metric overrides the widget's
    emf = [line for line in rendered.plotted() if line.name == "RecordsFailed"]
    assert [(line.namespace, line.dimensions) for line in emf] == [
        (DEFAULT_TRANSFORM_METRICS_NAMESPACE, dims(Service=DEFAULT_TRANSFORM_METRICS_SERVICE))
    ]
    assert rendered.body["periodOverride"] == "inherit"


def test_period_applies_to_every_widget() -> None:
    rendered = build(athena_workgroup_names=["wg"], period=cdk.Duration.minutes(1))
    metric_widgets = [w for w in rendered.widgets if w["type"] == "metric"]
    assert {w["properties"]["period"] for w in metric_widgets} == {60}
    options = [e[-1] for w in metric_widgets for e in w["properties"]["metrics"] if isinstance(e[-1], dict)]
    assert {option.get("period", 60) for option in options} == {60}


@pytest.mark.parametrize(
    ("props", "sections", "absent"),
    [
        ({"delivery_stream_name": "fh"}, ["Ingestion"], {"AWS/Kinesis", "DataReadFromKinesisStream.Records"}),
        ({"kinesis_stream_name": "ks"}, ["Ingestion"], {"AWS/Firehose"}),
        (
            {"transform_function_name": "fn", "transform_metrics_namespace": None},
            ["Transform Lambda"],
            {DEFAULT_TRANSFORM_METRICS_NAMESPACE, "RecordsFailed"},
        ),
        ({"glue_job_names": ["job"]}, ["Glue"], {"AWS/States", "ServiceIntegrationsFailed"}),
        ({"crawler_names": ["crawler"]}, ["Glue"], {"Glue"}),
        ({"state_machine_arn": STATE_MACHINE_ARN}, ["Orchestration"], {"ServiceIntegrationsFailed"}),
        ({"athena_workgroup_names": ["wg"]}, ["Athena"], set()),
        ({"redshift_serverless_workgroup_name": "serving"}, ["Redshift Serverless"], set()),
        ({"configure": _alarms}, ["Alarms"], set()),
    ],
)
def test_sections_without_inputs_are_left_out(
    props: dict[str, Any], sections: list[str], absent: set[str]
) -> None:
    rendered = build(**props)
    assert rendered.headers() == sections
    names = {line.namespace for line in rendered.plotted()} | {line.name for line in rendered.plotted()}
    assert not names & absent


def test_state_machine_arn_is_used_as_given() -> None:
    rendered = build(state_machine_arn=STATE_MACHINE_ARN, glue_job_names=["job"])
    executions = [line for line in rendered.plotted() if line.name == "ExecutionsFailed"]
    assert [line.dimensions for line in executions] == [STATES]
    assert "ServiceIntegrationsFailed" in {line.name for line in rendered.plotted(rendered.section("Glue"))}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"delivery_stream_name": "fh", "dashboard_name": "has space"}, "dashboard_name: 'has space'"),
        ({"delivery_stream_name": "fh", "dashboard_name": "x" * 256}, "dashboard_name: .*1-255 letters"),
        (
            {"delivery_stream_name": "fh", "period": cdk.Duration.seconds(90)},
            "period: .*whole number of minutes",
        ),
        ({"delivery_stream_name": "fh", "period": cdk.Duration.seconds(30)}, "period: .*1 minute to 1 day"),
        ({"delivery_stream_name": "fh", "period": cdk.Duration.days(2)}, "period: .*1 minute to 1 day"),
        ({}, "nothing to monitor: give at least one of delivery_stream_name"),
        ({"glue_job_names": []}, "nothing to monitor"),
        (
            {"state_machine_name": "sm", "state_machine_arn": STATE_MACHINE_ARN},
            "state_machine_name / state_machine_arn: give one, not both",
        ),
        ({"state_machine_arn": "arn:aws:lambda:eu-west-1:1:function:x"}, "state_machine_arn: .*stateMachine"),
        ({"state_machine_name": "bad name"}, "state_machine_name: 'bad name' is not allowed; expected 1-80"),
        ({"delivery_stream_name": "a/b"}, "delivery_stream_name: 'a/b' is not allowed"),
        ({"kinesis_stream_name": ""}, "kinesis_stream_name: '' is not allowed"),
        (
            {"transform_function_name": "arn:aws:lambda:eu-west-1:123456789012:function:fn"},
            "transform_function_name: .*not an ARN",
        ),
        ({"glue_job_names": ["job", "job"]}, r"glue_job_names: \['job', 'job'\] has duplicates"),
        ({"glue_job_names": [" job"]}, "glue_job_names: ' job' is not allowed"),
        ({"athena_workgroup_names": ["wg one"]}, "athena_workgroup_names: 'wg one' is not allowed"),
        ({"redshift_serverless_workgroup_name": "Serving"}, "redshift_serverless_workgroup_name: 'Serving'"),
        (
            {"transform_function_name": "fn", "transform_metrics_namespace": "AWS/Lambda"},
            "transform_metrics_namespace: 'AWS/Lambda' is not allowed",
        ),
        (
            {"transform_function_name": "fn", "transform_metrics_service": ""},
            "transform_metrics_service: '' is not allowed",
        ),
    ],
)
def test_invalid_options_are_rejected_naming_the_option(props: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(app_with_context(), "Test")
    with pytest.raises(ValueError, match=message):
        PipelineDashboard(stack, "Dashboard", **props)


def test_the_shipped_dashboard_watches_every_pipeline_component(prod: Any) -> None:
    platform = prod.platform
    template = prod.template(platform.orchestration)
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])  # with cross-stack values as written
    prefix = platform.config.name_prefix

    assert dashboard["Properties"]["DashboardName"] == f"{prefix}-pipeline-health"
    for expected in (
        "AWS/Firehose",
        "AWS/Lambda",
        f"{platform.config.project}/{platform.config.env_name}/Ingestion",  # the transform's own counts
        f"{prefix}-raw-to-processed",
        f"{prefix}-processed-to-consumer",
        f":stateMachine:{prefix}-pipeline",
        f"{prefix}-analysts",
        f"{prefix}-pipeline",
        "AWS/Redshift-Serverless",
        "Fn::GetStackOutput",  # delivery stream and function names come from the ingestion stack
    ):
        assert expected in body, expected
    assert ("AWS/Kinesis" in body) == (platform.ingestion.data_stream is not None)


def test_the_dashboard_is_a_per_environment_choice(dev: Any) -> None:
    # dev leaves it out to stay within its idle-cost target (operations.dashboard: false)
    assert dev.platform.config.operations.dashboard is False
    assert dev.template(dev.platform.orchestration).find_resources("AWS::CloudWatch::Dashboard") == {}
