"""Event-driven Step Functions pipeline: raw arrival -> crawl -> ETL -> data quality -> consumer zone.

Depends only on aws-cdk-lib, ``constructs`` and the standard library: copy this one file into your app.
Requires Python >= 3.11 and aws-cdk-lib >= 2.275.0: the versions it is tested with, its example
run alone in fresh apps (tests/copy_paste). Import it by its file name: ``from orchestration import ...``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IConstruct

_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,80}$")
# Errors worth retrying with backoff, per called operation: throttling, concurrency and transient
# service faults that operation can raise (its SDK model's errors and the SDKs' throttling codes). Step
# Functions names them <exception prefix>.<code>: Glue, Sfn, RedshiftData for SDK integrations; SNS for
# the optimized sns:publish. A name the operation cannot raise would never match: the local twin checks
# every Retry and Catch against the models.
_GLUE_TRANSIENT = ("Glue.ThrottlingException", "Glue.OperationTimeoutException")
RETRYABLE_ERRORS: dict[str, tuple[str, ...]] = {
    "glue:startCrawler": _GLUE_TRANSIENT,
    "glue:getCrawler": _GLUE_TRANSIENT,
    "glue:startJobRun": (
        *_GLUE_TRANSIENT,
        "Glue.InternalServiceException",
        "Glue.ConcurrentRunsExceededException",
    ),
    "glue:startDataQualityRulesetEvaluationRun": (*_GLUE_TRANSIENT, "Glue.InternalServiceException"),
    "glue:getDataQualityRulesetEvaluationRun": (*_GLUE_TRANSIENT, "Glue.InternalServiceException"),
    "glue:getDataQualityResult": (*_GLUE_TRANSIENT, "Glue.InternalServiceException"),
    "sfn:listExecutions": ("Sfn.ThrottlingException",),
    "sns:publish": ("SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException"),
    "redshiftdata:batchExecuteStatement": (
        "RedshiftData.ThrottlingException",
        "RedshiftData.ActiveStatementsExceededException",
        "RedshiftData.ActiveSessionsExceededException",
        "RedshiftData.InternalServerException",
    ),
    "s3:getObject": ("S3.SlowDownException", "S3.ThrottlingException"),
    "redshiftdata:describeStatement": (
        "RedshiftData.ThrottlingException",
        "RedshiftData.InternalServerException",
    ),
}
_ONE = 1.0  # a data-quality score of 1.0 means every rule passed


class QualityGate(enum.StrEnum):
    """What a failed data-quality evaluation does to the run."""

    FAIL = "fail"  # alert and stop before anything reaches the consumer zone
    WARN = "warn"  # alert and continue


@dataclass(frozen=True)
class RunManifest:
    """Where the raw-to-processed job leaves a manifest per run, ``<prefix><JobRunId>.json``: a JSON
    object whose ``pushDownPredicate`` selects the partitions that run appended to (empty: none).

    Args:
        bucket: the bucket holding the manifests (the processed zone).
        prefix: their folder, ending with ``/``, e.g. ``events/_runs/``.
    """

    bucket: s3.IBucket
    prefix: str


@dataclass(frozen=True)
class DataQualityCheck:
    """A Glue Data Quality ruleset evaluated on a catalog table.

    Args:
        ruleset_name: the DQDL ruleset.
        database_name, table_name: the table it evaluates.
        role: the role Glue assumes to read that table (needs glue:GetTable and read on its data).
        gate: Default: FAIL.
        batch: the run manifests of the job before the check: the evaluation then covers only the
            partitions the run appended to (Glue's ``pushDownPredicate``), so its cost and its verdict
            follow the batch, and a run that appended nothing skips it. Default: none (the whole table).
    """

    ruleset_name: str
    database_name: str
    table_name: str
    role: iam.IRole
    gate: QualityGate = QualityGate.FAIL
    batch: RunManifest | None = None


@dataclass(frozen=True)
class RedshiftSqlRefresh:
    """SQL run last through the Redshift Data API (e.g. idempotent Spectrum schemas, view refreshes).

    Args:
        target: ``{"WorkgroupName": ...}`` (Serverless) or ``{"ClusterIdentifier": ...}``.
        resource_arn: the workgroup's or cluster's ARN (what the Data API call is authorized on).
        database: the database to connect to.
        sqls: statements run in order, in one transaction, each idempotent.
        secret_arn: the Secrets Manager secret of the user the SQL runs as. Default: none, meaning
            temporary credentials of the state machine's role (Serverless only: the database user is
            ``IAMR:<role name>``, which needs the privileges the SQL uses granted in the database).
        secret_key: the KMS key encrypting that secret. Default: none (AWS-managed key).
    """

    target: Mapping[str, str]
    resource_arn: str
    database: str
    sqls: Sequence[str]
    secret_arn: str | None = None
    secret_key: kms.IKey | None = None


class DataPipelineOrchestration(Construct):
    """A Standard state machine running the zone pipeline, triggered by new raw objects.

    Raw-to-processed job (``.sync``) -> data-quality gate -> processed-to-consumer job (``.sync``) ->
    optional serving refresh. With ``quality_check.batch``, the gate reads the run's manifest and
    evaluates only the partitions that run appended to; a run that appended nothing skips it.
    Zones whose tables are crawled instead of defined in the app pass their crawlers: each runs
    before the first job (raw) or right after the job that writes its zone, so the gate and the
    next job see this run's partitions. A run's cost then follows the batch, not the history.

    Concurrency: a burst of object events (e.g. one per partition of a Firehose flush) starts many
    executions at once; each lists the RUNNING executions and only the oldest proceeds, the rest end
    at once ("SkippedAlreadyRunning"). The proceeding run's job bookmarks pick up every file that
    landed before its job started; later files are handled by the next event or the optional
    ``schedule`` (a backstop). Glue jobs also run with max concurrency 1, and
    ``ConcurrentRunsExceededException`` is retried with backoff.

    Every task retries throttling/concurrency/transient errors with exponential backoff, and catches
    everything else: it publishes ``{pipeline, execution, state, error, cause}`` to the alert topic and
    ends in a Fail state. Crawler and data-quality polls are bounded. Execution history is logged to
    a KMS-encrypted log group without execution data by default; X-Ray tracing is on.

    Example::

        import aws_cdk as cdk
        from aws_cdk import aws_iam as iam
        from aws_cdk import aws_kms as kms
        from aws_cdk import aws_s3 as s3
        from aws_cdk import aws_sns as sns

        from orchestration import DataPipelineOrchestration, DataQualityCheck, QualityGate, RunManifest

        app = cdk.App()
        stack = cdk.Stack(app, "Pipeline")
        key = kms.Key(stack, "Key", enable_key_rotation=True)
        raw, processed = (
            s3.Bucket(
                stack, name,
                encryption=s3.BucketEncryption.KMS, encryption_key=key,
                enforce_ssl=True, event_bridge_enabled=True,
            )
            for name in ("Raw", "Processed")
        )
        alerts = sns.Topic(stack, "Alerts", master_key=key, enforce_ssl=True)
        quality_role = iam.Role(stack, "QualityRole", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
        DataPipelineOrchestration(
            stack, "Pipeline",
            state_machine_name="sales-dev-pipeline",
            trigger_bucket=raw, trigger_prefix="events/",
            raw_to_processed_job="sales-dev-raw-to-processed",          # Glue jobs defined elsewhere
            processed_to_consumer_job="sales-dev-processed-to-consumer",
            quality_check=DataQualityCheck(
                ruleset_name="sales-dev-processed-events",
                database_name="sales_dev_processed",
                table_name="events",
                role=quality_role,
                gate=QualityGate.FAIL,
                batch=RunManifest(bucket=processed, prefix="events/_runs/"),
            ),
            alert_topic=alerts, alert_key=key, log_key=key,
        )
        app.synth()

    Args:
        state_machine_name: physical name (the concurrency guard needs it before the machine exists).
        trigger_bucket, trigger_prefix: ``Object Created`` events under this prefix start a run (the
            bucket must send events to EventBridge).
        schedule: an extra schedule, e.g. ``events.Schedule.cron(minute="0", hour="2")``. Default: none.
        raw_crawler, processed_crawler, consumer_crawler: crawlers run before the raw-to-processed job
            and after each job, for zones whose tables are crawled. Default: none (the zones' tables
            are defined in the app and the jobs register the partitions they write).
        raw_to_processed_job, processed_to_consumer_job: Glue job names.
        quality_check: the data-quality evaluation of the crawled processed table. Default: none.
        serving_refresh: Redshift SQL run last through the Data API, polled until it finishes.
        alert_topic: where failures and alarms go. alert_key: its KMS key, if encrypted.
        log_key: KMS key of the execution log group.
        log_level: Default: ALL (every state transition, without data).
        include_execution_data: Default: False.
        timeout: of the whole run. Default: 6 hours.
        poll_interval: between crawler/DQ status checks. Default: 30 seconds.
        max_polls: per crawler or DQ run before giving up. Default: 120 (an hour at 30 s).
        removal_policy: of the log group. Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        trigger_bucket: s3.IBucket,
        trigger_prefix: str,
        raw_crawler: str | None = None,
        processed_crawler: str | None = None,
        consumer_crawler: str | None = None,
        raw_to_processed_job: str,
        processed_to_consumer_job: str,
        alert_topic: sns.ITopic,
        log_key: kms.IKey,
        alert_key: kms.IKey | None = None,
        quality_check: DataQualityCheck | None = None,
        serving_refresh: RedshiftSqlRefresh | None = None,
        schedule: events.Schedule | None = None,
        log_level: sfn.LogLevel = sfn.LogLevel.ALL,
        include_execution_data: bool = False,
        timeout: cdk.Duration | None = None,
        poll_interval: cdk.Duration | None = None,
        max_polls: int = 120,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        timeout = timeout if timeout is not None else cdk.Duration.hours(6)
        poll_interval = poll_interval if poll_interval is not None else cdk.Duration.seconds(30)
        _validate(state_machine_name, trigger_prefix, timeout, poll_interval, max_polls)
        self._topic = alert_topic
        self._name = state_machine_name
        self._manifest_objects: str | None = None
        self._poll_interval = poll_interval
        self._max_polls = max_polls
        stack = cdk.Stack.of(self)
        self._state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

        self._fail = sfn.Fail(self, "PipelineFailed", error="PipelineFailed", cause="See the alert topic")
        notify = tasks.SnsPublish(
            self,
            "NotifyFailure",
            topic=alert_topic,
            subject=f"{state_machine_name} failed",
            message=sfn.TaskInput.from_object(
                {
                    "pipeline": state_machine_name,
                    "execution": sfn.JsonPath.execution_id,
                    "state": sfn.JsonPath.string_at("$.failure.state"),
                    "error": sfn.JsonPath.string_at("$.failure.error.Error"),
                    # Cause is not guaranteed in a Catch's output: send the whole error object.
                    "cause": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.failure.error")),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        notify.add_retry(errors=list(RETRYABLE_ERRORS["sns:publish"]), max_attempts=3, backoff_rate=2)
        notify.add_catch(self._fail)  # nothing left to notify: end as failed
        notify.next(self._fail)
        self._notify = notify

        steps: list[sfn.IChainable] = [
            *([self._crawl("Raw", raw_crawler)] if raw_crawler else []),
            self._job("RawToProcessed", raw_to_processed_job),
            *([self._crawl("Processed", processed_crawler)] if processed_crawler else []),
            self._quality(quality_check) if quality_check is not None else sfn.Pass(self, "NoQualityCheck"),
            self._job("ProcessedToConsumer", processed_to_consumer_job),
            *([self._crawl("Consumer", consumer_crawler)] if consumer_crawler else []),
            (
                self._serving_refresh(serving_refresh)
                if serving_refresh is not None
                else sfn.Pass(self, "NoServingRefresh")
            ),
            sfn.Succeed(self, "PipelineSucceeded"),
        ]
        chain = sfn.Chain.start(steps[0])
        for step in steps[1:]:
            chain = chain.next(step)
        definition = self._guard(chain)

        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            encryption_key=log_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=removal_policy,
        )
        _allow_cloudwatch_logs(log_key)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=log_level, include_execution_data=include_execution_data
            ),
            removal_policy=removal_policy,
        )
        if alert_key is not None:
            # Publishing to the encrypted topic: exact actions rather than the grant helper's wildcards.
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[alert_key.key_arn]
                )
            )

        self.trigger_rules = [
            events.Rule(
                self,
                "OnRawObjectCreated",
                description=f"New objects under {trigger_prefix} start {state_machine_name}",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [trigger_bucket.bucket_name]},
                        "object": {"key": [{"prefix": trigger_prefix}]},
                    },
                ),
                targets=[events_targets.SfnStateMachine(self.state_machine)],
            )
        ]
        if schedule is not None:
            self.trigger_rules.append(
                events.Rule(
                    self,
                    "OnSchedule",
                    description=f"Scheduled run of {state_machine_name}",
                    schedule=schedule,
                    targets=[events_targets.SfnStateMachine(self.state_machine)],
                )
            )
        self.alarms = self._alarms(alert_topic)
        self._acknowledge_generated_policies()  # after the triggers: they create the events role
        # aws-cdk-lib adds a DependsOn on the role that the RoleArn GetAtt already implies (W3005).
        cfn_state_machine = self.state_machine.node.default_child
        assert isinstance(cfn_state_machine, cdk.CfnResource)
        cfn_state_machine.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    def _acknowledge_generated_policies(self) -> None:
        """Findings on the policies aws-cdk-lib generates for the state machine and its trigger."""
        role_policy = self.state_machine.role.node.try_find_child("DefaultPolicy")
        events_role = self.state_machine.node.try_find_child("EventsRole")
        inline_reason = (
            "aws-cdk-lib writes each task's permissions into this role's own policy as the definition "
            "is built; the policy is bound to this one role and every statement is scoped by the task."
        )
        if role_policy is not None:
            for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
                _acknowledge(role_policy, f"{pack}-IAMNoInlinePolicy", inline_reason)
            _acknowledge(
                role_policy,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray trace segments, CloudWatch Logs log-delivery APIs (CreateLogDelivery, "
                "PutResourcePolicy, ...) and Redshift Data API DescribeStatement (statement ids exist only "
                "at run time and are readable by their submitter alone) have no resource-level permissions.",
            )
            ruleset_wildcard = cdk.Stack.of(self).format_arn(
                service="glue", resource="dataQualityRuleset", resource_name="*"
            )
            if self._manifest_objects is not None:
                _acknowledge(
                    role_policy,
                    f"AwsSolutions-IAM5[Resource::{_nag_format(self, self._manifest_objects)}]",
                    "Run manifests are named by the Glue job run that writes them, known only at run time; "
                    "reading is confined to the manifests' folder.",
                )
            _acknowledge(
                role_policy,
                f"AwsSolutions-IAM5[Resource::{_nag_format(self, ruleset_wildcard)}]",
                "A data-quality result's id is only known at run time; reading results is confined to "
                "data-quality rulesets of this account and region.",
            )
        if events_role is not None:
            policy = events_role.node.try_find_child("DefaultPolicy")
            if policy is not None:
                for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
                    _acknowledge(
                        policy,
                        f"{pack}-IAMNoInlinePolicy",
                        "aws-cdk-lib's EventBridge target role: a single states:StartExecution on "
                        "this state machine.",
                    )

    # --- metrics ---

    def metric_failed(self) -> cloudwatch.Metric:
        return self.state_machine.metric_failed(period=cdk.Duration.minutes(5), statistic="Sum")

    def metric_timed_out(self) -> cloudwatch.Metric:
        return self.state_machine.metric_timed_out(period=cdk.Duration.minutes(5), statistic="Sum")

    def metric_throttled(self) -> cloudwatch.Metric:
        return self.state_machine.metric_throttled(period=cdk.Duration.minutes(5), statistic="Sum")

    # --- building blocks ---

    def _protected(self, state_id: str, task: sfn.TaskStateBase, operation: str) -> sfn.TaskStateBase:
        """Retry the operation's transient errors with backoff; on anything else record the state and
        alert."""
        task.add_retry(
            errors=[*RETRYABLE_ERRORS[operation], "States.Timeout"],
            interval=cdk.Duration.seconds(30),
            max_attempts=5,
            backoff_rate=2,
        )
        record = sfn.Pass(
            self,
            f"{state_id}Failed",
            parameters={"state": state_id, "error.$": "$.error"},
            result_path="$.failure",
        )
        task.add_catch(record.next(self._notify), result_path="$.error")
        return task

    def _guard(self, pipeline: sfn.IChainable) -> sfn.IChainable:
        """Let exactly one of the running executions proceed: the oldest.

        A burst of events starts many executions at once; each lists the RUNNING ones (newest first)
        and continues only if it is the last, i.e. the oldest, so one always proceeds and the rest end.
        SDK integrations return the API's fields in PascalCase (``Executions[].ExecutionArn``).
        ListExecutions is eventually consistent: an execution that sees an empty list (not even
        itself yet) proceeds; should another proceed too, Glue's one-run-per-job limit and the
        retried ConcurrentRunsExceededException serialize them, and bookmarks keep files once.
        """
        running = self._protected(
            "CheckRunningExecutions",
            tasks.CallAwsService(
                self,
                "CheckRunningExecutions",
                service="sfn",
                action="listExecutions",
                parameters={
                    "StateMachineArn": self._state_machine_arn,
                    "StatusFilter": "RUNNING",
                    "MaxResults": 1000,
                },
                iam_resources=[self._state_machine_arn],
                # A slice, not ArrayGetItem: an empty list gives [] instead of a runtime error.
                result_selector={"oldest.$": "$.Executions[-1:]"},
                result_path="$.running",
            ),
            "sfn:listExecutions",
        )
        oldest_arn = "$.running.oldest[0].ExecutionArn"
        return running.next(
            sfn.Choice(self, "AnyRunningListed?")
            .when(
                sfn.Condition.is_present(oldest_arn),
                sfn.Choice(self, "OldestRunning?")
                .when(sfn.Condition.string_equals_json_path(oldest_arn, "$$.Execution.Id"), pipeline)
                .otherwise(sfn.Succeed(self, "SkippedAlreadyRunning")),
            )
            .otherwise(pipeline)
        )

    def _poll_loop(
        self,
        prefix: str,
        *,
        check: sfn.TaskStateBase,
        operation: str,
        done: sfn.Condition,
        on_done: sfn.IChainable,
        failed: sfn.Condition,
        failure: str,
    ) -> sfn.Pass:
        """init -> wait -> check -> count -> choice: failed / done / gave up / wait again."""
        init = sfn.Pass(
            self, f"{prefix}PollInit", result=sfn.Result.from_object({"attempts": 0}), result_path="$.poll"
        )
        wait = sfn.Wait(self, f"{prefix}Wait", time=sfn.WaitTime.duration(self._poll_interval))
        count = sfn.Pass(
            self,
            f"{prefix}CountPoll",
            parameters={"attempts.$": "States.MathAdd($.poll.attempts, 1)"},
            result_path="$.poll",
        )
        failed_state = sfn.Pass(
            self,
            f"{prefix}Unsuccessful",
            parameters={"state": prefix, "error": {"Error": failure, "Cause.$": "States.JsonToString($)"}},
            result_path="$.failure",
        )
        gave_up = sfn.Pass(
            self,
            f"{prefix}GaveUp",
            parameters={
                "state": prefix,
                "error": {
                    "Error": "PollLimitExceeded",
                    "Cause": f"not finished after {self._max_polls} polls",
                },
            },
            result_path="$.failure",
        )
        choice = (
            sfn.Choice(self, f"{prefix}Finished?")
            .when(failed, failed_state.next(self._notify))
            .when(done, on_done)
            .when(
                sfn.Condition.number_greater_than_equals("$.poll.attempts", self._max_polls),
                gave_up.next(self._notify),
            )
            .otherwise(wait)
        )
        init.next(wait).next(self._protected(f"{prefix}Status", check, operation)).next(count).next(choice)
        return init

    def _crawl(self, zone: str, crawler_name: str) -> sfn.Chain:
        crawler_arn = cdk.Stack.of(self).format_arn(
            service="glue", resource="crawler", resource_name=crawler_name
        )
        start = self._protected(
            f"Start{zone}Crawler",
            tasks.CallAwsService(
                self,
                f"Start{zone}Crawler",
                service="glue",
                action="startCrawler",
                parameters={"Name": crawler_name},
                iam_resources=[crawler_arn],
                result_path=sfn.JsonPath.DISCARD,
            ),
            "glue:startCrawler",
        )
        check = tasks.CallAwsService(
            self,
            f"Get{zone}Crawler",
            service="glue",
            action="getCrawler",
            parameters={"Name": crawler_name},
            iam_resources=[crawler_arn],
            # LastCrawl is absent until a crawler's first run: merge the crawler over a default so the
            # path always exists (intrinsic string literals escape braces).
            result_selector={
                "crawler.$": (
                    "States.JsonMerge(States.StringToJson("
                    '\'\\{"LastCrawl":\\{"Status":"NONE"\\}\\}\'), $.Crawler, false)'
                )
            },
            result_path="$.crawler",
        )
        ready = sfn.Condition.string_equals("$.crawler.crawler.State", "READY")
        failed = sfn.Condition.and_(
            ready,
            sfn.Condition.or_(
                *(
                    sfn.Condition.string_equals("$.crawler.crawler.LastCrawl.Status", s)
                    for s in ("FAILED", "CANCELLED")
                )
            ),
        )
        done = sfn.Pass(self, f"{zone}Crawled")
        init = self._poll_loop(
            f"{zone}Crawler",
            check=check,
            operation="glue:getCrawler",
            done=ready,
            on_done=done,
            failed=failed,
            failure="CrawlerFailed",
        )
        # A crawler already running (e.g. started by hand) is waited for, not treated as a failure.
        start.add_catch(init, errors=["Glue.CrawlerRunningException"], result_path=sfn.JsonPath.DISCARD)
        start.next(init)
        return sfn.Chain.custom(start, [done], done)

    def _job(self, state_id: str, job_name: str) -> sfn.TaskStateBase:
        return self._protected(
            state_id,
            tasks.GlueStartJobRun(
                self,
                state_id,
                glue_job_name=job_name,
                integration_pattern=sfn.IntegrationPattern.RUN_JOB,
                result_selector={"jobRunId.$": "$.Id", "state.$": "$.JobRunState"},
                result_path=f"$.jobs.{state_id}",
            ),
            "glue:startJobRun",
        )

    def _quality(self, check: DataQualityCheck) -> sfn.Chain:
        stack = cdk.Stack.of(self)
        ruleset_arn = stack.format_arn(
            service="glue", resource="dataQualityRuleset", resource_name=check.ruleset_name
        )
        glue_table: dict[str, object] = {"DatabaseName": check.database_name, "TableName": check.table_name}
        if check.batch is not None:
            glue_table["AdditionalOptions"] = {"pushDownPredicate.$": "$.batch.manifest.pushDownPredicate"}
        start = self._protected(
            "StartQualityEvaluation",
            tasks.CallAwsService(
                self,
                "StartQualityEvaluation",
                service="glue",
                action="startDataQualityRulesetEvaluationRun",
                parameters={
                    "DataSource": {"GlueTable": glue_table},
                    "Role": check.role.role_arn,
                    "RulesetNames": [check.ruleset_name],
                },
                iam_resources=[ruleset_arn],
                additional_iam_statements=[
                    iam.PolicyStatement(actions=["iam:PassRole"], resources=[check.role.role_arn]),
                    iam.PolicyStatement(
                        actions=["glue:GetTable"],
                        resources=[
                            stack.format_arn(service="glue", resource="catalog"),
                            stack.format_arn(
                                service="glue", resource="database", resource_name=check.database_name
                            ),
                            stack.format_arn(
                                service="glue",
                                resource="table",
                                resource_name=f"{check.database_name}/{check.table_name}",
                            ),
                        ],
                    ),
                ],
                result_selector={"runId.$": "$.RunId"},
                result_path="$.quality",
            ),
            "glue:startDataQualityRulesetEvaluationRun",
        )
        check_run = tasks.CallAwsService(
            self,
            "GetQualityEvaluation",
            service="glue",
            action="getDataQualityRulesetEvaluationRun",
            parameters={"RunId.$": "$.quality.runId"},
            iam_resources=[ruleset_arn],
            # The whole (small) response: ResultIds only exists once the run has succeeded.
            result_path="$.qualityRun",
        )
        succeeded = sfn.Condition.string_equals("$.qualityRun.Status", "SUCCEEDED")
        failed = sfn.Condition.or_(
            *(sfn.Condition.string_equals("$.qualityRun.Status", s) for s in ("FAILED", "TIMEOUT", "STOPPED"))
        )
        result = self._protected(
            "GetQualityResult",
            tasks.CallAwsService(
                self,
                "GetQualityResult",
                service="glue",
                action="getDataQualityResult",
                parameters={"ResultId.$": "$.qualityRun.ResultIds[0]"},
                iam_resources=[
                    stack.format_arn(service="glue", resource="dataQualityRuleset", resource_name="*")
                ],
                # Score is optional in the response: a result without one counts as failed (0), not as
                # a runtime error no Catch can handle. The rule results go into the alert as well.
                result_selector={
                    "result.$": ("States.JsonMerge(States.StringToJson('\\{\"Score\":0\\}'), $, false)")
                },
                result_path="$.qualityResult",
            ),
            "glue:getDataQualityResult",
        )
        init = self._poll_loop(
            "QualityEvaluation",
            check=check_run,
            operation="glue:getDataQualityRulesetEvaluationRun",
            done=succeeded,
            on_done=result,
            failed=failed,
            failure="QualityEvaluationFailed",
        )
        passed = sfn.Pass(self, "QualityPassed")
        below = sfn.Condition.number_less_than("$.qualityResult.result.Score", _ONE)
        if check.gate == QualityGate.FAIL:
            rejected = sfn.Pass(
                self,
                "QualityGateFailed",
                parameters={
                    "state": "QualityGate",
                    "error": {
                        "Error": "DataQualityRulesFailed",
                        "Cause.$": "States.JsonToString($.qualityResult)",
                    },
                },
                result_path="$.failure",
            ).next(self._notify)
            result.next(sfn.Choice(self, "QualityGate").when(below, rejected).otherwise(passed))
        else:
            warn = self._protected(
                "QualityWarning",
                tasks.SnsPublish(
                    self,
                    "QualityWarning",
                    topic=self._topic,
                    subject=f"{self._name}: data-quality rules failed (continuing)",
                    message=sfn.TaskInput.from_object(
                        {
                            "pipeline": self._name,
                            "execution": sfn.JsonPath.execution_id,
                            "warning": "DataQualityRulesFailed",
                            "score": sfn.JsonPath.number_at("$.qualityResult.result.Score"),
                        }
                    ),
                    result_path=sfn.JsonPath.DISCARD,
                ),
                "sns:publish",
            )
            result.next(sfn.Choice(self, "QualityGate").when(below, warn.next(passed)).otherwise(passed))
        start.next(init)
        if check.batch is None:
            return sfn.Chain.custom(start, [passed], passed)
        manifest = self._run_manifest(check.batch)
        manifest.next(
            sfn.Choice(self, "AnyNewPartitions?")
            .when(
                sfn.Condition.string_equals("$.batch.manifest.pushDownPredicate", ""),
                sfn.Pass(self, "NothingNewToCheck").next(passed),
            )
            .otherwise(start)
        )
        return sfn.Chain.custom(manifest, [passed], passed)

    def _run_manifest(self, manifest: RunManifest) -> sfn.TaskStateBase:
        """Reads the raw-to-processed run's manifest: the partitions it appended to."""
        if not manifest.prefix.endswith("/") or manifest.prefix.startswith("/"):
            raise ValueError(
                f"quality_check.batch.prefix: {manifest.prefix!r} is not allowed; expected a folder "
                "ending with '/', e.g. 'events/_runs/'"
            )
        objects = manifest.bucket.arn_for_objects(f"{manifest.prefix}*")
        key = manifest.bucket.encryption_key
        read = tasks.CallAwsService(
            self,
            "ReadRunManifest",
            service="s3",
            action="getObject",
            # IAM's casing: checkov's CKV_AWS_108 (cloudsplaining) matches action names case-sensitively
            iam_action="s3:GetObject",
            parameters={
                "Bucket": manifest.bucket.bucket_name,
                "Key": sfn.JsonPath.format(
                    f"{manifest.prefix}{{}}.json", sfn.JsonPath.string_at("$.jobs.RawToProcessed.jobRunId")
                ),
            },
            iam_resources=[objects],
            additional_iam_statements=(
                [iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn])] if key else []
            ),
            result_selector={"manifest": sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.Body"))},
            result_path="$.batch",
        )
        self._manifest_objects = objects
        return self._protected("ReadRunManifest", read, "s3:getObject")

    def _serving_refresh(self, refresh: RedshiftSqlRefresh) -> sfn.Chain:
        """Submit the SQL batch, then poll DescribeStatement until it finished, failed or was aborted."""
        serverless = set(refresh.target) == {"WorkgroupName"}
        if not refresh.sqls or not (serverless or set(refresh.target) == {"ClusterIdentifier"}):
            raise ValueError(
                "serving_refresh: needs at least one SQL statement and a target of WorkgroupName or "
                "ClusterIdentifier"
            )
        if refresh.secret_arn is None and not serverless:
            raise ValueError("serving_refresh: secret_arn is required for a provisioned cluster")
        credentials: list[iam.PolicyStatement] = []
        if refresh.secret_arn is not None:
            credentials.append(
                iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[refresh.secret_arn])
            )
            if refresh.secret_key is not None:
                credentials.append(
                    iam.PolicyStatement(actions=["kms:Decrypt"], resources=[refresh.secret_key.key_arn])
                )
        else:
            credentials.append(
                iam.PolicyStatement(
                    actions=["redshift-serverless:GetCredentials"], resources=[refresh.resource_arn]
                )
            )
        submit = self._protected(
            "StartServingRefresh",
            tasks.CallAwsService(
                self,
                "StartServingRefresh",
                service="redshiftdata",
                action="batchExecuteStatement",
                iam_action="redshift-data:BatchExecuteStatement",
                parameters={
                    **refresh.target,
                    "Database": refresh.database,
                    **({"SecretArn": refresh.secret_arn} if refresh.secret_arn is not None else {}),
                    "Sqls": list(refresh.sqls),
                    "StatementName": f"{self._name}-serving-refresh",
                },
                iam_resources=[refresh.resource_arn],
                additional_iam_statements=credentials,
                result_selector={"id.$": "$.Id"},
                result_path="$.serving",
            ),
            "redshiftdata:batchExecuteStatement",
        )
        check = tasks.CallAwsService(
            self,
            "GetServingRefresh",
            service="redshiftdata",
            action="describeStatement",
            iam_action="redshift-data:DescribeStatement",
            parameters={"Id.$": "$.serving.id"},
            iam_resources=["*"],  # statement ids exist only at run time; only their submitter may read them
            result_selector={"status.$": "$.Status", "error.$": "States.JsonToString($)"},
            result_path="$.servingStatus",
        )
        done = sfn.Pass(self, "ServingRefreshed")
        init = self._poll_loop(
            "ServingRefresh",
            check=check,
            operation="redshiftdata:describeStatement",
            done=sfn.Condition.string_equals("$.servingStatus.status", "FINISHED"),
            on_done=done,
            failed=sfn.Condition.or_(
                *(sfn.Condition.string_equals("$.servingStatus.status", s) for s in ("FAILED", "ABORTED"))
            ),
            failure="ServingRefreshFailed",
        )
        submit.next(init)
        return sfn.Chain.custom(submit, [done], done)

    def _alarms(self, topic: sns.ITopic) -> list[cloudwatch.Alarm]:
        action = cw_actions.SnsAction(topic)
        alarms = []
        for alarm_id, metric, description in (
            ("ExecutionsFailedAlarm", self.metric_failed(), "Pipeline executions failed"),
            ("ExecutionsTimedOutAlarm", self.metric_timed_out(), "Pipeline executions timed out"),
            ("ExecutionThrottledAlarm", self.metric_throttled(), "Step Functions throttled the pipeline"),
        ):
            alarm = metric.create_alarm(
                self,
                alarm_id,
                alarm_description=description,
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            alarms.append(alarm)
        return alarms


def _validate(
    name: str, trigger_prefix: str, timeout: cdk.Duration, poll_interval: cdk.Duration, max_polls: int
) -> None:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"state_machine_name: {name!r} is not allowed; expected 1-80 letters, digits, - or _"
        )
    if not trigger_prefix or not trigger_prefix.endswith("/"):
        raise ValueError(
            f"trigger_prefix: {trigger_prefix!r} is not allowed; expected a prefix ending with '/'"
        )
    if not 60 <= timeout.to_seconds() <= 365 * 24 * 3600:
        raise ValueError(
            f"timeout: {timeout} is not allowed; expected 1 minute to 1 year (Standard workflows)"
        )
    if not 5 <= poll_interval.to_seconds() <= 3600:
        raise ValueError(f"poll_interval: {poll_interval} is not allowed; expected 5 seconds to 1 hour")
    if isinstance(max_polls, bool) or not 1 <= max_polls <= 10_000:
        raise ValueError(f"max_polls: {max_polls!r} is not allowed; expected 1 to 10000")
    if poll_interval.to_seconds() * max_polls > timeout.to_seconds():
        raise ValueError(
            f"max_polls: {max_polls} polls of {poll_interval} exceed the run timeout {timeout}; lower one or "
            "raise timeout"
        )


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


def _acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


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
