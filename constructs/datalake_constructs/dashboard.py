"""A CloudWatch dashboard for pipeline health: ingestion, transform Lambda, Glue, orchestration, Athena
and Redshift Serverless, one row of widgets per section under a text header.

Hand-written on ``aws_cloudwatch`` rather than built with cdk-monitoring-constructs 10.3.3: importing
that library alone takes ~0.28 s (this whole package's import budget is 0.3 s), it makes the synth
slower, and it covers neither Athena nor Redshift Serverless, which would need hand-written widgets
anyway.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from dashboard import ...``.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

# A plain number, not a Duration: a jsii call at import time would add ~0.1 s to the import.
DEFAULT_PERIOD_MINUTES = 5
# What lambda_src/firehose_transform/handler.py emits (EMF) unless its environment says otherwise.
DEFAULT_TRANSFORM_METRICS_NAMESPACE = "DataPlatform/FirehoseTransform"
DEFAULT_TRANSFORM_METRICS_SERVICE = "firehose-transform"
# Athena publishes ProcessedBytes per query state; these are the states a finished DML query ends in.
ATHENA_FINAL_QUERY_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
# Step Functions publishes service-integration metrics per integration resource, not per job.
GLUE_SYNC_INTEGRATION = "glue:startJobRun.sync"

_DASHBOARD_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# (pattern, what is allowed) per kind of monitored name, after the services' own naming rules.
_NAME_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "delivery_stream_name": (re.compile(r"^[A-Za-z0-9_.-]{1,64}$"), "1-64 letters, digits, _ . or -"),
    "kinesis_stream_name": (re.compile(r"^[A-Za-z0-9_.-]{1,128}$"), "1-128 letters, digits, _ . or -"),
    "transform_function_name": (
        re.compile(r"^[A-Za-z0-9_-]{1,64}$"),
        "a function name (not an ARN): 1-64 letters, digits, _ or -",
    ),
    "glue_job_names": (re.compile(r"^\S(?:.{0,253}\S)?$"), "1-255 characters, no surrounding spaces"),
    "crawler_names": (re.compile(r"^\S(?:.{0,253}\S)?$"), "1-255 characters, no surrounding spaces"),
    "state_machine_name": (re.compile(r"^[A-Za-z0-9_-]{1,80}$"), "1-80 letters, digits, _ or -"),
    "athena_workgroup_names": (re.compile(r"^[A-Za-z0-9._-]{1,128}$"), "1-128 letters, digits, . _ or -"),
    "redshift_serverless_workgroup_name": (
        re.compile(r"^[a-z0-9-]{3,64}$"),
        "3-64 lower-case letters, digits or -",
    ),
}
_STATE_MACHINE_ARN_RE = re.compile(r"^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$")
_ALARM_COLUMNS = 4  # roughly how many alarms a full-width alarm-status widget shows per row


class DashboardSection(enum.StrEnum):
    """The dashboard's sections, in the order they appear; each has a text header."""

    ALARMS = "Alarms"
    INGESTION = "Ingestion"
    TRANSFORM = "Transform Lambda"
    GLUE = "Glue"
    ORCHESTRATION = "Orchestration"
    ATHENA = "Athena"
    REDSHIFT_SERVERLESS = "Redshift Serverless"


class PipelineDashboard(Construct):
    """A CloudWatch dashboard of the data pipeline's health, from what each service really publishes.

    Monitored things are given by name (or ARN), so a stack can pass the deterministic names of
    resources in other stacks without cross-stack references. Sections without anything to show are
    left out. Every metric uses ``period``; counts are summed, ratios take the minimum, ages the maximum.

    - **Alarms** (``alarms``): an alarm-status widget at the top.
    - **Ingestion**: Firehose ``IncomingRecords``/``IncomingBytes`` (Direct PUT) and, when a Kinesis
      stream is given, ``DataReadFromKinesisStream.Records``/``.Bytes`` (a Kinesis-sourced stream
      reports these instead); ``DeliveryToS3.Success`` (minimum) and ``DeliveryToS3.DataFreshness``
      (maximum). Kinesis ``IncomingRecords`` and ``GetRecords.IteratorAgeMilliseconds`` (maximum).
    - **Transform Lambda**: ``Invocations``, ``Errors``, ``Throttles``, ``Duration`` p99, and the
      transform's own EMF counts ``RecordsIn``/``RecordsOk``/``RecordsFailed`` (dimension ``Service``).
    - **Glue**: Glue publishes no per-job success/failure metric with plain job metrics, so per job:
      the observability metrics ``glue.succeed.ALL``/``glue.error.ALL`` (Glue 4.0+ with
      ``--enable-observability-metrics``; a run that fails before its driver starts reports nothing),
      Spark ``glue.driver.aggregate.numCompletedTasks``/``numFailedTasks`` and
      ``glue.driver.aggregate.elapsedTime`` (all ``JobRunId=ALL``, ``Type=count``, summed, as
      documented). With a state machine also Step Functions' outcomes and duration of its
      ``glue:startJobRun.sync`` tasks: the run as the pipeline saw it, bootstrap and queueing included
      (per integration, so summed over every state machine of the account and region running Glue
      jobs). Crawlers publish no CloudWatch metrics: they are listed in a note.
    - **Orchestration**: ``ExecutionsStarted``/``Succeeded``/``Failed``/``TimedOut``/``Aborted`` and
      ``ExecutionTime`` (p50 and maximum) of the state machine.
    - **Athena**: per workgroup ``ProcessedBytes`` of DML queries, a metric math sum over the final
      query states (Athena publishes it per ``QueryState``), and finished queries per state (the
      sample count of ``TotalExecutionTime``). The workgroups must publish CloudWatch metrics.
    - **Redshift Serverless**: ``ComputeCapacity`` (average and maximum RPUs) and ``ComputeSeconds``.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_cloudwatch as cloudwatch

        from dashboard import PipelineDashboard

        app = cdk.App()
        stack = cdk.Stack(app, "Operations")
        freshness = cloudwatch.Metric(
            namespace="AWS/Firehose",
            metric_name="DeliveryToS3.DataFreshness",
            dimensions_map={"DeliveryStreamName": "sales-dev-raw-events"},
        ).create_alarm(stack, "Freshness", threshold=900, evaluation_periods=1)
        PipelineDashboard(
            stack, "Dashboard",
            dashboard_name="sales-dev-pipeline",
            delivery_stream_name="sales-dev-raw-events",
            kinesis_stream_name="sales-dev-events",
            transform_function_name="sales-dev-firehose-transform",
            transform_metrics_namespace="sales/dev/Ingestion",
            glue_job_names=["sales-dev-raw-to-processed", "sales-dev-processed-to-consumer"],
            state_machine_name="sales-dev-pipeline",
            athena_workgroup_names=["sales-dev-analysts"],
            alarms=[freshness],
        )
        app.synth()

    Args:
        dashboard_name: 1-255 letters, digits, ``_`` or ``-``. Default: generated by CloudFormation.
        delivery_stream_name: Firehose stream. Default: none.
        kinesis_stream_name: Kinesis data stream. Default: none.
        transform_function_name: the Firehose transform Lambda (a name, not an ARN). Default: none.
        transform_metrics_namespace: namespace of the transform's EMF metrics (its
            ``METRICS_NAMESPACE``), or None to leave them out. Default: the handler's default,
            ``DataPlatform/FirehoseTransform``.
        transform_metrics_service: their ``Service`` dimension (``SERVICE_NAME``). Default:
            ``firehose-transform``.
        glue_job_names: Default: none.
        crawler_names: Default: none.
        state_machine_name: the pipeline's state machine, in this stack's account and region.
            Default: none.
        state_machine_arn: or its ARN (not both). Default: none.
        athena_workgroup_names: Default: none.
        redshift_serverless_workgroup_name: Default: none.
        alarms: shown as an alarm-status widget at the top, e.g. ``Alarm.from_alarm_name(...)`` for
            alarms of other stacks. Default: none.
        period: of every metric: a whole number of minutes from 1 minute to 1 day. Default: 5 minutes.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str | None = None,
        delivery_stream_name: str | None = None,
        kinesis_stream_name: str | None = None,
        transform_function_name: str | None = None,
        transform_metrics_namespace: str | None = DEFAULT_TRANSFORM_METRICS_NAMESPACE,
        transform_metrics_service: str = DEFAULT_TRANSFORM_METRICS_SERVICE,
        glue_job_names: Sequence[str] = (),
        crawler_names: Sequence[str] = (),
        state_machine_name: str | None = None,
        state_machine_arn: str | None = None,
        athena_workgroup_names: Sequence[str] = (),
        redshift_serverless_workgroup_name: str | None = None,
        alarms: Sequence[cloudwatch.IAlarm] = (),
        period: cdk.Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._period = period if period is not None else cdk.Duration.minutes(DEFAULT_PERIOD_MINUTES)
        _validate(
            dashboard_name=dashboard_name,
            period=self._period,
            names={
                "delivery_stream_name": _optional(delivery_stream_name),
                "kinesis_stream_name": _optional(kinesis_stream_name),
                "transform_function_name": _optional(transform_function_name),
                "glue_job_names": list(glue_job_names),
                "crawler_names": list(crawler_names),
                "state_machine_name": _optional(state_machine_name),
                "athena_workgroup_names": list(athena_workgroup_names),
                "redshift_serverless_workgroup_name": _optional(redshift_serverless_workgroup_name),
            },
            state_machine_arn=state_machine_arn,
            transform_metrics_namespace=transform_metrics_namespace,
            transform_metrics_service=transform_metrics_service,
            has_alarms=bool(alarms),
        )
        if state_machine_name is not None:
            state_machine_arn = cdk.Stack.of(self).format_arn(
                service="states",
                resource="stateMachine",
                resource_name=state_machine_name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            period_override=cloudwatch.PeriodOverride.INHERIT,
        )
        sections: list[DashboardSection] = []

        def section(name: DashboardSection, *rows: Sequence[cloudwatch.IWidget]) -> None:
            rows = tuple(row for row in rows if row)
            if not rows:
                return
            sections.append(name)
            self.dashboard.add_widgets(cloudwatch.TextWidget(markdown=f"## {name}", width=24, height=1))
            for row in rows:
                self.dashboard.add_widgets(*row)

        if alarms:
            section(
                DashboardSection.ALARMS,
                [
                    cloudwatch.AlarmStatusWidget(
                        alarms=list(alarms),
                        title="Alarm states",
                        width=24,
                        height=1 + math.ceil(len(alarms) / _ALARM_COLUMNS),
                    )
                ],
            )
        section(
            DashboardSection.INGESTION,
            self._firehose(delivery_stream_name, with_kinesis_source=kinesis_stream_name is not None),
            self._kinesis(kinesis_stream_name),
        )
        section(
            DashboardSection.TRANSFORM,
            self._transform(transform_function_name, transform_metrics_namespace, transform_metrics_service),
        )
        section(
            DashboardSection.GLUE,
            self._glue_jobs(glue_job_names),
            self._glue_sync_tasks(bool(glue_job_names) and state_machine_arn is not None),
            self._crawlers(crawler_names),
        )
        section(DashboardSection.ORCHESTRATION, self._orchestration(state_machine_arn))
        section(DashboardSection.ATHENA, self._athena(athena_workgroup_names))
        section(DashboardSection.REDSHIFT_SERVERLESS, self._redshift(redshift_serverless_workgroup_name))
        self.sections: tuple[DashboardSection, ...] = tuple(sections)

    # --- sections ---

    def _firehose(self, name: str | None, *, with_kinesis_source: bool) -> list[cloudwatch.IWidget]:
        if name is None:
            return []
        dims = {"DeliveryStreamName": name}
        records = [self._metric("AWS/Firehose", "IncomingRecords", dims, "Sum", "Incoming (Direct PUT)")]
        volume = [self._metric("AWS/Firehose", "IncomingBytes", dims, "Sum", "Incoming (Direct PUT)")]
        if with_kinesis_source:
            records.append(
                self._metric(
                    "AWS/Firehose", "DataReadFromKinesisStream.Records", dims, "Sum", "Read from Kinesis"
                )
            )
            volume.append(
                self._metric(
                    "AWS/Firehose", "DataReadFromKinesisStream.Bytes", dims, "Sum", "Read from Kinesis"
                )
            )
        return [
            self._graph("Firehose records in", records),
            self._graph("Firehose bytes in", volume),
            self._graph(
                "Firehose delivery to S3 success (1 = all)",
                [self._metric("AWS/Firehose", "DeliveryToS3.Success", dims, "Minimum", "Success (min)")],
                left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
            ),
            self._graph(
                "Firehose data freshness (s)",
                [
                    self._metric(
                        "AWS/Firehose", "DeliveryToS3.DataFreshness", dims, "Maximum", "Oldest record"
                    )
                ],
            ),
        ]

    def _kinesis(self, name: str | None) -> list[cloudwatch.IWidget]:
        if name is None:
            return []
        dims = {"StreamName": name}
        return [
            self._graph(
                "Kinesis records in",
                [self._metric("AWS/Kinesis", "IncomingRecords", dims, "Sum", "Incoming records")],
                width=12,
            ),
            self._graph(
                "Kinesis consumer lag: iterator age (ms)",
                [
                    self._metric(
                        "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", dims, "Maximum", "Max age"
                    )
                ],
                width=12,
            ),
        ]

    def _transform(self, name: str | None, namespace: str | None, service: str) -> list[cloudwatch.IWidget]:
        if name is None:
            return []
        dims = {"FunctionName": name}
        widgets: list[cloudwatch.IWidget] = [
            self._graph(
                "Invocations", [self._metric("AWS/Lambda", "Invocations", dims, "Sum", "Invocations")]
            ),
            self._graph(
                "Errors and throttles",
                [
                    self._metric("AWS/Lambda", "Errors", dims, "Sum", "Errors"),
                    self._metric("AWS/Lambda", "Throttles", dims, "Sum", "Throttles"),
                ],
            ),
            self._graph("Duration p99 (ms)", [self._metric("AWS/Lambda", "Duration", dims, "p99", "p99")]),
        ]
        if namespace is not None:
            emf = {"Service": service}
            widgets.append(
                self._graph(
                    "Records in / ok / failed (to the error prefix)",
                    [
                        self._metric(namespace, "RecordsIn", emf, "Sum", "In"),
                        self._metric(namespace, "RecordsOk", emf, "Sum", "Ok"),
                        self._metric(namespace, "RecordsFailed", emf, "Sum", "Failed"),
                    ],
                )
            )
        return widgets

    def _glue_jobs(self, job_names: Sequence[str]) -> list[cloudwatch.IWidget]:
        if not job_names:
            return []

        def dims(job: str, **extra: str) -> dict[str, str]:
            return {"JobName": job, "JobRunId": "ALL", "Type": "count", **extra}

        outcomes: list[cloudwatch.IMetric] = []
        tasks: list[cloudwatch.IMetric] = []
        elapsed: list[cloudwatch.IMetric] = []
        for job in job_names:
            observability = dims(job, ObservabilityGroup="error")
            outcomes += [
                self._metric("Glue", "glue.succeed.ALL", observability, "Sum", f"{job} succeeded"),
                self._metric("Glue", "glue.error.ALL", observability, "Sum", f"{job} failed"),
            ]
            tasks += [
                self._metric(
                    "Glue", "glue.driver.aggregate.numCompletedTasks", dims(job), "Sum", f"{job} completed"
                ),
                self._metric(
                    "Glue", "glue.driver.aggregate.numFailedTasks", dims(job), "Sum", f"{job} failed"
                ),
            ]
            elapsed.append(self._metric("Glue", "glue.driver.aggregate.elapsedTime", dims(job), "Sum", job))
        return [
            self._graph("Job runs (observability metrics)", outcomes, width=8),
            self._graph("Spark tasks", tasks, width=8),
            self._graph("ETL time (ms, excludes bootstrap)", elapsed, width=8),
        ]

    def _glue_sync_tasks(self, enabled: bool) -> list[cloudwatch.IWidget]:
        if not enabled:
            return []
        dims = {"ServiceIntegrationResourceArn": f"arn:{cdk.Aws.PARTITION}:states:::{GLUE_SYNC_INTEGRATION}"}
        return [
            self._graph(
                "Glue job tasks in Step Functions (all state machines)",
                [
                    self._metric("AWS/States", "ServiceIntegrationsSucceeded", dims, "Sum", "Succeeded"),
                    self._metric("AWS/States", "ServiceIntegrationsFailed", dims, "Sum", "Failed"),
                    self._metric("AWS/States", "ServiceIntegrationsTimedOut", dims, "Sum", "Timed out"),
                ],
                width=12,
            ),
            self._graph(
                "Glue job task duration in Step Functions (ms)",
                [
                    self._metric("AWS/States", "ServiceIntegrationTime", dims, "p50", "p50"),
                    self._metric("AWS/States", "ServiceIntegrationTime", dims, "Maximum", "Max"),
                ],
                width=12,
            ),
        ]

    def _crawlers(self, crawler_names: Sequence[str]) -> list[cloudwatch.IWidget]:
        if not crawler_names:
            return []
        listed = ", ".join(f"`{name}`" for name in crawler_names)
        return [
            cloudwatch.TextWidget(
                markdown=(
                    f"**Crawlers:** {listed}. Glue publishes no CloudWatch metrics for crawlers: see each "
                    "crawler's run history in the Glue console; failed crawls reach the alert topic."
                ),
                width=24,
                height=2,
            )
        ]

    def _orchestration(self, arn: str | None) -> list[cloudwatch.IWidget]:
        if arn is None:
            return []
        dims = {"StateMachineArn": arn}
        return [
            self._graph(
                "Pipeline executions",
                [
                    self._metric("AWS/States", metric, dims, "Sum", label)
                    for metric, label in (
                        ("ExecutionsStarted", "Started"),
                        ("ExecutionsSucceeded", "Succeeded"),
                        ("ExecutionsFailed", "Failed"),
                        ("ExecutionsTimedOut", "Timed out"),
                        ("ExecutionsAborted", "Aborted"),
                    )
                ],
                width=12,
            ),
            self._graph(
                "Pipeline execution time (ms)",
                [
                    self._metric("AWS/States", "ExecutionTime", dims, "p50", "p50"),
                    self._metric("AWS/States", "ExecutionTime", dims, "Maximum", "Max"),
                ],
                width=12,
            ),
        ]

    def _athena(self, workgroups: Sequence[str]) -> list[cloudwatch.IWidget]:
        if not workgroups:
            return []
        scanned: list[cloudwatch.IMetric] = []
        queries: list[cloudwatch.IMetric] = []
        for index, workgroup in enumerate(workgroups):
            per_state = {
                f"{state.lower()}{index}": self._metric(
                    "AWS/Athena",
                    "ProcessedBytes",
                    {"QueryState": state, "QueryType": "DML", "WorkGroup": workgroup},
                    "Sum",
                )
                for state in ATHENA_FINAL_QUERY_STATES
            }
            scanned.append(
                cloudwatch.MathExpression(
                    expression=" + ".join(f"FILL({metric_id}, 0)" for metric_id in per_state),
                    using_metrics=per_state,
                    label=workgroup,
                    period=self._period,
                )
            )
            queries += [
                self._metric(
                    "AWS/Athena",
                    "TotalExecutionTime",
                    {"QueryState": state, "QueryType": "DML", "WorkGroup": workgroup},
                    "SampleCount",
                    f"{workgroup} {state.lower()}",
                )
                for state in ATHENA_FINAL_QUERY_STATES
            ]
        return [
            self._graph("Data scanned by DML queries (ProcessedBytes)", scanned, width=12),
            self._graph("Finished DML queries", queries, width=12),
        ]

    def _redshift(self, workgroup: str | None) -> list[cloudwatch.IWidget]:
        if workgroup is None:
            return []
        dims = {"Workgroup": workgroup}
        namespace = "AWS/Redshift-Serverless"
        return [
            self._graph(
                "Compute capacity (RPUs)",
                [
                    self._metric(namespace, "ComputeCapacity", dims, "Average", "Average"),
                    self._metric(namespace, "ComputeCapacity", dims, "Maximum", "Max"),
                ],
                width=12,
            ),
            self._graph(
                "Compute used (RPU-seconds)",
                [self._metric(namespace, "ComputeSeconds", dims, "Sum", "RPU-seconds")],
                width=12,
            ),
        ]

    # --- building blocks ---

    def _metric(
        self,
        namespace: str,
        metric_name: str,
        dimensions: Mapping[str, str],
        statistic: str,
        label: str | None = None,
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=dict(dimensions),
            statistic=statistic,
            label=label,
            period=self._period,
        )

    def _graph(
        self,
        title: str,
        left: Sequence[cloudwatch.IMetric],
        *,
        width: int = 6,
        left_y_axis: cloudwatch.YAxisProps | None = None,
    ) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title,
            left=list(left),
            width=width,
            height=6,
            period=self._period,
            left_y_axis=left_y_axis if left_y_axis is not None else cloudwatch.YAxisProps(min=0),
        )


def _optional(name: str | None) -> list[str]:
    return [] if name is None else [name]


def _validate(
    *,
    dashboard_name: str | None,
    period: cdk.Duration,
    names: Mapping[str, list[str]],
    state_machine_arn: str | None,
    transform_metrics_namespace: str | None,
    transform_metrics_service: str,
    has_alarms: bool,
) -> None:
    if (
        dashboard_name is not None
        and not cdk.Token.is_unresolved(dashboard_name)
        and not _DASHBOARD_NAME_RE.fullmatch(dashboard_name)
    ):
        raise ValueError(
            f"dashboard_name: {dashboard_name!r} is not allowed; expected 1-255 letters, digits, _ or -"
        )
    seconds = period.to_seconds(integral=False)
    if seconds % 60 != 0 or not 60 <= seconds <= 86_400:
        raise ValueError(
            f"period: {period} is not allowed; expected a whole number of minutes from 1 minute to 1 day"
        )
    for prop, values in names.items():
        pattern, allowed = _NAME_RULES[prop]
        for value in values:
            if not cdk.Token.is_unresolved(value) and not pattern.fullmatch(value):
                raise ValueError(f"{prop}: {value!r} is not allowed; expected {allowed}")
        if len(set(values)) != len(values):
            raise ValueError(f"{prop}: {values} has duplicates")
    if state_machine_arn is not None:
        if names["state_machine_name"]:
            raise ValueError("state_machine_name / state_machine_arn: give one, not both")
        if not cdk.Token.is_unresolved(state_machine_arn) and not _STATE_MACHINE_ARN_RE.fullmatch(
            state_machine_arn
        ):
            raise ValueError(
                f"state_machine_arn: {state_machine_arn!r} is not allowed; expected "
                "arn:<partition>:states:<region>:<account>:stateMachine:<name>"
            )
    if transform_metrics_namespace is not None and (
        not 1 <= len(transform_metrics_namespace) <= 255 or transform_metrics_namespace.startswith("AWS/")
    ):
        raise ValueError(
            f"transform_metrics_namespace: {transform_metrics_namespace!r} is not allowed; expected a "
            "custom namespace of 1-255 characters (not starting with 'AWS/'), or None to leave it out"
        )
    if not transform_metrics_service:
        raise ValueError(
            "transform_metrics_service: '' is not allowed; expected the Service dimension's value"
        )
    if not (has_alarms or state_machine_arn is not None or any(names.values())):
        raise ValueError(
            "nothing to monitor: give at least one of delivery_stream_name, kinesis_stream_name, "
            "transform_function_name, glue_job_names, crawler_names, state_machine_name / "
            "state_machine_arn, athena_workgroup_names, redshift_serverless_workgroup_name or alarms"
        )
