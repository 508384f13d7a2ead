"""The pipeline state machine: ASL validity, structure (retry/catch/alert/fail, bounded polls),
trigger, logging, tracing, alarms, IAM scoping and validation."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from collections import deque
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from datalake_constructs.orchestration import (
    DataPipelineOrchestration,
    DataQualityCheck,
    QualityGate,
    RedshiftSqlRefresh,
    RunManifest,
)
from local_twin.stepfunctions import check_error_names
from tests.conftest import ROOT, SynthesizedPlatform, app_with_context

PLACEHOLDERS = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}


def resolve(value: Any) -> str:
    """Render a CloudFormation value to a plausible literal so the ASL can be validated offline."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return PLACEHOLDERS.get(value["Ref"], f"placeholder-{value['Ref']}")
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(resolve(part) for part in parts)
    if "Fn::GetAtt" in value:
        return f"arn:aws:states:eu-west-1:123456789012:placeholder:{value['Fn::GetAtt'][0]}"
    return "arn:aws:sns:eu-west-1:123456789012:placeholder"  # cross-stack outputs


def definition_of(template: Template) -> dict[str, Any]:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    definition: dict[str, Any] = json.loads(resolve(machine["Properties"]["DefinitionString"]))
    return definition


@pytest.fixture(scope="module")
def definition(synthesized: Any) -> dict[str, Any]:
    platform: SynthesizedPlatform = synthesized("prod")
    return definition_of(platform.template(platform.platform.orchestration))


def test_definition_passes_asl_validator(definition: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "pipeline.asl.json"
    path.write_text(json.dumps(definition))

    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "asl-validator"), "--json-path", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_does_reject_a_broken_definition(tmp_path: Path) -> None:
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps({"StartAt": "Missing", "States": {"A": {"Type": "Succeed"}}}))

    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "asl-validator"), "--json-path", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0


def successors(state: dict[str, Any]) -> list[str]:
    found = [state["Next"]] if "Next" in state else []
    found += [c["Next"] for c in state.get("Catch", [])]
    found += [c["Next"] for c in state.get("Choices", [])]
    if "Default" in state:
        found.append(state["Default"])
    return found


def reachable(states: dict[str, Any], start: str) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        for name in successors(states[queue.popleft()]):
            if name not in seen:
                seen.add(name)
                queue.append(name)
    return seen


def is_alert(state: dict[str, Any]) -> bool:
    return state["Type"] == "Task" and state["Resource"].endswith(":sns:publish")


def assert_in_order(definition: dict[str, Any], order: list[str]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == order[0]
    for earlier, later in itertools.pairwise(order):
        assert later in reachable(states, earlier)
        assert earlier not in reachable(states, later), f"{later} loops back to {earlier}"


def test_steps_run_in_order(definition: dict[str, Any]) -> None:
    states = definition["States"]
    order = [
        "CheckRunningExecutions",
        "RawToProcessed",
        # The gate covers the partitions this run appended to: the job's manifest names them.
        "ReadRunManifest",
        "StartQualityEvaluation",
        "ProcessedToConsumer",
        "StartServingRefresh",
        "PipelineSucceeded",
    ]
    assert_in_order(definition, order)
    # The tables are defined in the app and the jobs register their partitions: no run crawls.
    assert not [name for name, state in states.items() if ":glue:startCrawler" in state.get("Resource", "")]
    assert states["RawToProcessed"]["Resource"].endswith(":glue:startJobRun.sync")
    assert states["ProcessedToConsumer"]["Resource"].endswith(":glue:startJobRun.sync")


@pytest.fixture(scope="module")
def crawling(definition: dict[str, Any]) -> dict[str, Any]:
    """The construct with every optional step: crawled zones, the batch gate and a serving refresh."""
    pipeline = build(
        batch=True,
        raw_crawler="raw-crawler",
        processed_crawler="processed-crawler",
        consumer_crawler="consumer-crawler",
        serving_refresh=RedshiftSqlRefresh(
            target={"WorkgroupName": "w"},
            resource_arn="arn:aws:redshift-serverless:eu-west-1:123456789012:workgroup/x",
            database="d",
            sqls=["SELECT 1"],
        ),
    )
    return definition_of(Template.from_stack(cdk.Stack.of(pipeline)))


def test_crawled_zones_are_crawled_before_their_readers(crawling: dict[str, Any]) -> None:
    assert_in_order(
        crawling,
        [
            "CheckRunningExecutions",
            "StartRawCrawler",
            "RawToProcessed",
            "StartProcessedCrawler",  # registers this run's partitions before the gate reads them
            "ReadRunManifest",
            "StartQualityEvaluation",
            "ProcessedToConsumer",
            "StartConsumerCrawler",
            "StartServingRefresh",
            "PipelineSucceeded",
        ],
    )


@pytest.mark.parametrize("variant", ["shipped", "crawling"])
def test_every_task_retries_with_backoff_and_catches_to_an_alert_and_a_fail(
    variant: str, definition: dict[str, Any], crawling: dict[str, Any]
) -> None:
    states = (definition if variant == "shipped" else crawling)["States"]
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}

    assert len(tasks) >= (10 if variant == "shipped" else 16)
    for name, task in tasks.items():
        assert task.get("Retry"), f"{name} has no Retry"
        assert all(r.get("BackoffRate", 1) >= 2 for r in task["Retry"]), name
        assert task.get("Catch"), f"{name} has no Catch"
        for catch in task["Catch"]:
            after = reachable(states, catch["Next"])
            if is_alert(task):  # the alert itself ends the run when it cannot publish
                assert states[catch["Next"]]["Type"] == "Fail"
                continue
            if catch.get("ErrorEquals") == ["Glue.CrawlerRunningException"]:
                continue  # a crawler already running is waited for, not a failure
            assert any(is_alert(states[s]) for s in after), f"{name}: catch does not alert"
            assert any(states[s]["Type"] == "Fail" for s in after), f"{name}: catch does not fail"


def test_every_retry_and_catch_names_an_error_its_operation_can_raise(
    definition: dict[str, Any], crawling: dict[str, Any]
) -> None:
    # Given the errors each Task's operation declares in the SDK's service model (plus the SDKs'
    # throttling codes), as the local twin reads them
    # Then no Retry or Catch waits for an error that can never come (it would never match)
    assert check_error_names("pipeline", definition) == []
    assert check_error_names("crawling", crawling) == []


def test_job_tasks_retry_concurrent_runs_and_throttling(definition: dict[str, Any]) -> None:
    for name in ("RawToProcessed", "ProcessedToConsumer"):
        errors = {e for r in definition["States"][name]["Retry"] for e in r["ErrorEquals"]}
        assert {"Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException"} <= errors


def test_alert_message_is_structured(definition: dict[str, Any]) -> None:
    message = definition["States"]["NotifyFailure"]["Parameters"]["Message"]

    assert set(message) == {"pipeline", "execution.$", "state.$", "error.$", "cause.$"}
    assert message["execution.$"] == "$$.Execution.Id"


def test_every_path_ends(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for name, state in states.items():
        if state["Type"] in {"Succeed", "Fail"}:
            continue
        assert successors(state) or state.get("End") is True, f"{name} leads nowhere"
        assert any(states[s]["Type"] in {"Succeed", "Fail"} for s in reachable(states, name)), name


@pytest.mark.parametrize(("variant", "polls"), [("shipped", 2), ("crawling", 5)])
def test_poll_loops_are_bounded(
    variant: str, polls: int, definition: dict[str, Any], crawling: dict[str, Any]
) -> None:
    states = (definition if variant == "shipped" else crawling)["States"]
    loops = [name for name, s in states.items() if s["Type"] == "Wait"]

    # the data-quality run and the serving refresh (+ three crawlers when the zones are crawled)
    assert len(loops) == polls
    for wait in loops:
        prefix = wait.removesuffix("Wait")
        choice = states[f"{prefix}Finished?"]
        limits = [c for c in choice["Choices"] if c.get("Variable") == "$.poll.attempts"]
        assert limits and limits[0]["NumericGreaterThanEquals"] == 120
        counter = states[f"{prefix}CountPoll"]
        assert counter["Parameters"] == {"attempts.$": "States.MathAdd($.poll.attempts, 1)"}


def json_path(document: Any, path: str) -> Any:
    """The value at a JSONPath of the subset the guard uses ($, .key, [index], [-1:]); KeyError if absent."""
    value = document
    for key, index, _slice in re.findall(r"\.(\w+)|\[(\d+)\]|\[(-1:)\]", path.removeprefix("$")):
        if key:
            value = value[key]
        elif index:
            value = value[int(index)]
        else:
            value = value[-1:]
    return value


def guard_outcome(states: dict[str, Any], listed: list[str], me: str) -> str:
    """Runs the guard on a ListExecutions response as the SDK integration returns it (PascalCase),
    following its Choice states: the name of the state the execution continues to."""
    guard = states["CheckRunningExecutions"]
    response = {"Executions": [{"ExecutionArn": arn, "Name": arn.rsplit(":", 1)[-1]} for arn in listed]}
    data = {
        "running": {
            name.removesuffix(".$"): json_path(response, path)
            for name, path in guard["ResultSelector"].items()
        }
    }
    assert guard["ResultPath"] == "$.running"
    state = guard["Next"]
    while states[state]["Type"] == "Choice":
        choice, next_state = states[state], states[state]["Default"]
        for rule in choice["Choices"]:
            try:
                value = json_path(data, rule["Variable"])
            except (KeyError, IndexError):
                value = None
            if "IsPresent" in rule and (value is not None) == rule["IsPresent"]:
                next_state = rule["Next"]
                break
            if "StringEqualsPath" in rule:
                assert rule["StringEqualsPath"] == "$$.Execution.Id"
                if value == me:
                    next_state = rule["Next"]
                    break
        state = next_state
    return state


def test_concurrency_guard_lets_only_the_oldest_running_execution_proceed(definition: dict[str, Any]) -> None:
    states = definition["States"]
    guard = states["CheckRunningExecutions"]
    assert guard["Parameters"]["StatusFilter"] == "RUNNING"
    assert guard["Parameters"]["MaxResults"] == 1000
    old, new = (f"arn:aws:states:eu-west-1:123456789012:execution:p:{n}" for n in ("old", "new"))

    # ListExecutions lists newest first: only the last (oldest) one proceeds.
    assert guard_outcome(states, [new, old], me=old) == "RawToProcessed"
    assert guard_outcome(states, [new, old], me=new) == "SkippedAlreadyRunning"
    # Eventually consistent: an execution that does not see even itself yet proceeds.
    assert guard_outcome(states, [], me=new) == "RawToProcessed"
    assert states["SkippedAlreadyRunning"]["Type"] == "Succeed"


def test_crawler_poll_tolerates_a_crawler_that_never_ran(crawling: dict[str, Any]) -> None:
    # GetCrawler omits LastCrawl before the first run: a default is merged in so paths always exist.
    selector = crawling["States"]["GetRawCrawler"]["ResultSelector"]["crawler.$"]

    assert selector.startswith("States.JsonMerge(States.StringToJson(")
    assert '\\{"Status":"NONE"\\}' in selector
    assert selector.endswith("$.Crawler, false)")


def test_quality_poll_reads_result_ids_only_after_success(definition: dict[str, Any]) -> None:
    states = definition["States"]

    assert "ResultSelector" not in states["GetQualityEvaluation"]  # ResultIds is absent while running
    finished = states["QualityEvaluationFinished?"]["Choices"]
    succeeded = next(c for c in finished if c.get("StringEquals") == "SUCCEEDED")
    assert succeeded["Next"] == "GetQualityResult"
    assert states["GetQualityResult"]["Parameters"] == {"ResultId.$": "$.qualityRun.ResultIds[0]"}


def test_failure_alert_never_depends_on_an_optional_cause(definition: dict[str, Any]) -> None:
    message = definition["States"]["NotifyFailure"]["Parameters"]["Message"]

    assert message["cause.$"] == "States.JsonToString($.failure.error)"


def test_quality_gate_fails_the_run_in_prod(definition: dict[str, Any]) -> None:
    gate = definition["States"]["QualityGate"]
    (below,) = gate["Choices"]

    assert below["Variable"] == "$.qualityResult.result.Score"
    assert below["NumericLessThan"] == 1
    assert below["Next"] == "QualityGateFailed"
    # GetDataQualityResult may omit Score: merged over a default of 0, such a result fails the gate
    # instead of failing the execution with a runtime error that no Catch handles.
    selector = definition["States"]["GetQualityResult"]["ResultSelector"]["result.$"]
    assert selector == "States.JsonMerge(States.StringToJson('\\{\"Score\":0\\}'), $, false)"


def test_quality_gate_warns_and_continues_in_dev(synthesized: Any) -> None:
    platform: SynthesizedPlatform = synthesized("dev")
    states = definition_of(platform.template(platform.platform.orchestration))["States"]

    (below,) = states["QualityGate"]["Choices"]
    assert below["Next"] == "QualityWarning"
    assert is_alert(states["QualityWarning"])
    assert states["QualityWarning"]["Next"] == "QualityPassed"


# --- infrastructure ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_template(synthesized: Any) -> Template:
    platform: SynthesizedPlatform = synthesized("prod")
    return platform.template(platform.platform.orchestration)


def test_standard_workflow_with_timeout_tracing_and_encrypted_logs_without_data(
    prod_template: Template,
) -> None:
    (machine,) = prod_template.find_resources("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    (log_group,) = prod_template.find_resources("AWS::Logs::LogGroup").values()

    assert props["StateMachineType"] == "STANDARD"
    assert props["StateMachineName"] == "datalake-prod-pipeline"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert "KmsKeyId" in log_group["Properties"]
    assert definition_of(prod_template)["TimeoutSeconds"] == 6 * 3600  # the whole run


def test_trigger_rule_targets_the_state_machine_on_raw_object_events(prod_template: Template) -> None:
    (machine_id,) = prod_template.find_resources("AWS::StepFunctions::StateMachine")
    rules = [r["Properties"] for r in prod_template.find_resources("AWS::Events::Rule").values()]
    (rule,) = [r for r in rules if "EventPattern" in r]
    (backstop,) = [r for r in rules if "ScheduleExpression" in r]
    pattern = rule["EventPattern"]

    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": "events/"}]}
    assert "datalake-prod-raw-" in json.dumps(pattern["detail"]["bucket"])
    assert rule["Targets"][0]["Arn"] == {"Ref": machine_id}
    assert backstop["ScheduleExpression"] == "cron(0 3 * * ? *)"  # the daily backstop from the configuration
    assert backstop["Targets"][0]["Arn"] == {"Ref": machine_id}


def test_alarms_on_failed_timed_out_and_throttled_executions(prod_template: Template) -> None:
    alarms = prod_template.find_resources("AWS::CloudWatch::Alarm").values()

    assert {a["Properties"]["MetricName"] for a in alarms} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionThrottled",
    }
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"]


def test_role_is_scoped_to_the_pipeline_resources(prod_template: Template) -> None:
    (policy,) = [
        p
        for p in prod_template.find_resources("AWS::IAM::Policy").values()
        if any("glue:StartJobRun" in json.dumps(s) for s in p["Properties"]["PolicyDocument"]["Statement"])
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    text = json.dumps(statements)

    assert "job/datalake-prod-raw-to-processed" in text
    assert "stateMachine:datalake-prod-pipeline" in text
    assert "crawler" not in text  # the shipped pipeline runs no crawler
    (manifest,) = [s for s in statements if s["Action"] == "s3:GetObject"]  # the run manifests only
    assert json.dumps(manifest["Resource"]).endswith('/events/_runs/*"]]}')
    wildcard = [s for s in statements if s["Resource"] == "*"]
    for statement in wildcard:  # only the APIs without resource-level permissions
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(
            a.startswith(("xray:", "logs:")) or a == "redshift-data:DescribeStatement" for a in actions
        )
    (serving,) = [s for s in statements if "redshift-data:BatchExecuteStatement" in s["Action"]]
    # Batch SQL only on the serving stack's workgroup (a cross-stack value); the admin secret only.
    assert serving["Action"] == "redshift-data:BatchExecuteStatement" or set(serving["Action"]) == {
        "redshift-data:BatchExecuteStatement"
    }
    assert "WorkgroupArn" in json.dumps(serving["Resource"])
    (secret,) = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert "AdminSecretLookup" in json.dumps(secret["Resource"])
    assert "GetCredentials" not in text


def test_serving_refresh_runs_as_the_admin_secret_read_by_the_serving_stack(
    prod_template: Template,
) -> None:
    (machine,) = prod_template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    (index,) = [i for i, p in enumerate(parts) if isinstance(p, str) and p.endswith('"SecretArn":"')]
    secret = json.dumps(parts[index + 1])  # the value placed right after the key
    assert "Fn::GetStackOutput" in secret and "AdminSecretLookup" in secret


def test_serving_refresh_creates_spectrum_schemas_and_polls_until_finished(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    start = states["StartServingRefresh"]

    assert start["Resource"].endswith(":aws-sdk:redshiftdata:batchExecuteStatement")
    params = start["Parameters"]
    assert params["WorkgroupName"] == "datalake-prod" and params["Database"] == "analytics"
    assert "SecretArn" in params
    assert params["Sqls"] == [
        "CREATE EXTERNAL SCHEMA IF NOT EXISTS consumer FROM DATA CATALOG DATABASE 'datalake_prod_consumer' "
        "IAM_ROLE default",
        "CREATE EXTERNAL SCHEMA IF NOT EXISTS processed FROM DATA CATALOG DATABASE 'datalake_prod_processed' "
        "IAM_ROLE default",
    ]
    assert "ProcessedToConsumer" in reachable(states, "CheckRunningExecutions")
    assert "StartServingRefresh" in reachable(states, "ProcessedToConsumer")
    choice = states["ServingRefreshFinished?"]
    finished = [c for c in choice["Choices"] if c.get("StringEquals") == "FINISHED"]
    assert finished and finished[0]["Next"] == "ServingRefreshed"
    assert states["ServingRefreshed"]["Next"] == "PipelineSucceeded"
    failed = json.dumps(choice["Choices"][0])
    assert '"FAILED"' in failed and '"ABORTED"' in failed
    assert states["ServingRefreshUnsuccessful"]["Next"] == "NotifyFailure"


# --- validation -----------------------------------------------------------------------------------


def build(*, batch: bool = False, **overrides: Any) -> DataPipelineOrchestration:
    """The construct in a stack of its own; ``batch``: the gate covers the run manifest's partitions."""
    stack = cdk.Stack(app_with_context(), "Test")
    props: dict[str, Any] = {
        "state_machine_name": "p",
        "trigger_bucket": s3.Bucket(stack, "Raw"),
        "trigger_prefix": "events/",
        "raw_crawler": "r",
        "processed_crawler": "p",
        "consumer_crawler": "c",
        "raw_to_processed_job": "j1",
        "processed_to_consumer_job": "j2",
        "alert_topic": sns.Topic(stack, "Alerts"),
        "log_key": kms.Key(stack, "Key"),
        "quality_check": DataQualityCheck(
            ruleset_name="rs",
            database_name="db",
            table_name="t",
            role=iam.Role(stack, "Dq", assumed_by=iam.ServicePrincipal("glue.amazonaws.com")),
            gate=QualityGate.FAIL,
            batch=RunManifest(s3.Bucket(stack, "Processed"), "events/_runs/") if batch else None,
        ),
    }
    props.update(overrides)
    return DataPipelineOrchestration(stack, "Pipeline", **props)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"state_machine_name": "has space"}, r"state_machine_name: 'has space' is not allowed"),
        ({"trigger_prefix": "events"}, r"trigger_prefix: 'events' is not allowed"),
        ({"timeout": cdk.Duration.seconds(30)}, r"timeout: .* is not allowed; expected 1 minute to 1 year"),
        ({"poll_interval": cdk.Duration.seconds(1)}, r"poll_interval: .* expected 5 seconds to 1 hour"),
        ({"max_polls": 0}, r"max_polls: 0 is not allowed"),
        (
            {"max_polls": 1000, "timeout": cdk.Duration.hours(1)},
            r"max_polls: 1000 polls of .* exceed the run timeout",
        ),
    ],
)
def test_bad_props_fail_with_a_clear_message(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**props)


def test_serving_refresh_needs_sql_a_target_and_a_secret_for_clusters() -> None:
    def refresh(**overrides: Any) -> RedshiftSqlRefresh:
        props: dict[str, Any] = {
            "target": {"WorkgroupName": "w"},
            "resource_arn": "arn:aws:redshift-serverless:eu-west-1:123456789012:workgroup/x",
            "database": "d",
            "sqls": ["SELECT 1"],
        }
        props.update(overrides)
        return RedshiftSqlRefresh(**props)

    with pytest.raises(ValueError, match="serving_refresh: needs at least one SQL statement"):
        build(serving_refresh=refresh(sqls=[]))
    with pytest.raises(ValueError, match="serving_refresh: needs at least one SQL statement"):
        build(serving_refresh=refresh(target={"Database": "x"}))
    with pytest.raises(ValueError, match="secret_arn is required for a provisioned cluster"):
        build(serving_refresh=refresh(target={"ClusterIdentifier": "c"}))

    # Serverless without a secret: the role's temporary credentials on that workgroup only.
    iam_auth = build(serving_refresh=refresh())
    iam_template = Template.from_stack(cdk.Stack.of(iam_auth))
    assert "SecretArn" not in definition_of(iam_template)["States"]["StartServingRefresh"]["Parameters"]
    policies = json.dumps(iam_template.find_resources("AWS::IAM::Policy"))
    assert "redshift-serverless:GetCredentials" in policies and "workgroup/x" in policies

    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift-abc"
    pipeline = build(serving_refresh=refresh(target={"ClusterIdentifier": "c"}, secret_arn=secret))
    template = Template.from_stack(cdk.Stack.of(pipeline))
    assert definition_of(template)["States"]["StartServingRefresh"]["Parameters"]["SecretArn"] == secret
    assert "secretsmanager:GetSecretValue" in json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "GetCredentials" not in json.dumps(template.find_resources("AWS::IAM::Policy"))


def test_optional_schedule_and_no_quality_check() -> None:
    pipeline = build(quality_check=None, schedule=cdk.aws_events.Schedule.cron(minute="0", hour="2"))
    template = Template.from_stack(cdk.Stack.of(pipeline))

    rules = template.find_resources("AWS::Events::Rule").values()
    assert len(pipeline.trigger_rules) == 2  # object events + the backstop schedule
    assert any(r["Properties"].get("ScheduleExpression") == "cron(0 2 * * ? *)" for r in rules)
    assert "StartQualityEvaluation" not in json.dumps(definition_of(template))
