"""Scenarios on the whole synthesized platform, run by the local twin on small data.

Each runs the real assembly (or a copy changed in one place) through Firehose, EventBridge, the state
machine, the Glue jobs on Spark, data quality, SNS, Athena and the Redshift Data API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local_twin.glue import Job, JobRun
from local_twin.producer import Mix, Producer
from local_twin.scenario import Scenario, Zones, measure, run_scenario
from local_twin.stepfunctions import Execution
from local_twin.twin import LocalTwin
from tests.conftest import SynthesizedPlatform
from tests.twin.conftest import AssemblyCopy

NOW = datetime.now(UTC).replace(microsecond=0)
Twin = Callable[..., LocalTwin]


def one_wave(
    twin: LocalTwin, producer: Producer, events: int, *, wave: int = 1, minutes_ago: int = 60
) -> list[Execution]:
    """Sends a wave of events and runs what its objects trigger; returns the executions."""
    records = producer.wave(
        events, start=NOW - timedelta(minutes=minutes_ago), span=timedelta(minutes=5), wave=wave
    )
    twin.ingest(records)
    return twin.trigger()


def proceeded(executions: list[Execution]) -> list[Execution]:
    return [e for e in executions if e.path[-1:] != ["SkippedAlreadyRunning"]]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_happy_path_reconciles_exactly(
    env: str, synthesized: Callable[[str], SynthesizedPlatform], twin_on: Twin, spark: Any
) -> None:
    twin = twin_on(synthesized(env).outdir)

    report = run_scenario(twin, Scenario(events=600, seed=11), env=env)

    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.ok]
    assert failed == []
    (reconciliation,) = [c for c in report.checks if c.name == "reconciliation"]
    assert reconciliation.ok and "produced 600" in reconciliation.detail
    ran = proceeded(report.executions)
    assert len(ran) == (3 if env == "prod" else 2)  # one per wave, and prod's backstop schedule
    assert all(e.path[-1] == "PipelineSucceeded" for e in ran)
    assert len(report.executions) > len(ran)  # the rest of each burst saw the oldest and ended
    assert twin.alerts() == []


def test_a_glue_job_failing_alerts_with_its_fields_and_fails_the_execution(
    dev: SynthesizedPlatform, copy_of: Callable[..., AssemblyCopy], twin_on: Twin, spark: Any
) -> None:
    # Given the raw-to-processed script asset replaced by one that fails
    assembly = copy_of(dev)
    for job in (
        r for _, t in assembly.templates() for r in t["Resources"].values() if r["Type"] == "AWS::Glue::Job"
    ):
        if job["Properties"]["Name"].endswith("raw-to-processed"):
            script = job["Properties"]["Command"]["ScriptLocation"]["Fn::Join"][1][-1].lstrip("/")
            (assembly.path / f"asset.{script}").write_text("raise RuntimeError('disk on fire')\n")
    twin = twin_on(assembly.path)

    executions = one_wave(twin, Producer(seed=3, mix=Mix()), 200)

    (run,) = proceeded(executions)
    assert run.status == "FAILED" and "RawToProcessed" in run.path and "ProcessedToConsumer" not in run.path
    alerts = {a["subject"]: a["body"] for a in twin.alerts()}
    pipeline = alerts[f"{run.machine.name} failed"]
    assert (pipeline["state"], pipeline["error"]) == ("RawToProcessed", "States.TaskFailed")
    assert "RuntimeError: disk on fire" in pipeline["cause"]
    (glue,) = [body for subject, body in alerts.items() if subject is None]  # EventBridge's input, no subject
    assert glue["alert"] == "Glue job run failed" and glue["state"] == "FAILED"
    assert glue["job"].endswith("raw-to-processed") and glue["runId"].startswith("jr_")
    assert "disk on fire" in glue["message"]


def test_a_second_trigger_during_a_run_is_skipped(
    dev: SynthesizedPlatform, twin_on: Twin, spark: Any
) -> None:
    twin = twin_on(dev.outdir)
    producer = Producer(seed=5)
    nested: list[Execution] = []

    def while_the_job_runs(job: Job, run: JobRun) -> None:
        if job.name.endswith("raw-to-processed") and not nested:
            twin.ingest(
                producer.wave(50, start=NOW - timedelta(minutes=20), span=timedelta(minutes=1), wave=2)
            )
            nested.extend(twin.trigger())

    twin.glue.hooks.append(while_the_job_runs)
    first = proceeded(one_wave(twin, producer, 200))

    assert nested and all(e.path[-1] == "SkippedAlreadyRunning" for e in nested)
    assert all(e.status == "SUCCEEDED" for e in nested)
    (run,) = first
    assert run.path[-1] == "PipelineSucceeded"
    # The running execution's job picked up the files that landed before it read its source.
    zones = Zones.of(twin)
    assert measure(twin, zones).job_totals["rows_read"] == 250 - twin.delivery_stream.stats.failed


def tighten_currency_rule(assembly: AssemblyCopy) -> None:
    """The processed ruleset's currency rule narrowed to EUR: a rule deployed ahead of its data."""

    def tighten(logical_id: str, resource: dict[str, Any]) -> bool:
        if resource["Type"] != "AWS::Glue::DataQualityRuleset":
            return False
        ruleset = resource["Properties"]["Ruleset"]
        rule = 'ColumnLength "currency" = 3 where "currency IS NOT NULL"'
        assert rule in ruleset
        resource["Properties"]["Ruleset"] = ruleset.replace(
            rule, 'ColumnValues "currency" in ["EUR"] where "currency IS NOT NULL"'
        )
        return True

    assembly.edit(tighten)


@pytest.mark.parametrize(("env", "stops"), [("prod", True), ("dev", False)])
def test_quality_below_the_threshold_stops_prod_at_the_gate_and_dev_warns(
    *,
    env: str,
    stops: bool,
    synthesized: Callable[[str], SynthesizedPlatform],
    copy_of: Callable[..., AssemblyCopy],
    twin_on: Twin,
    spark: Any,
) -> None:
    # Given a ruleset that a batch holding non-EUR amounts breaks
    assembly = copy_of(synthesized(env))
    tighten_currency_rule(assembly)
    twin = twin_on(assembly.path)

    (run,) = proceeded(one_wave(twin, Producer(seed=9), 150))

    (result,) = twin.glue.dq_results.values()
    assert result["Score"] < 1
    assert [r["Description"] for r in result["RuleResults"] if r["Result"] == "FAIL"] == [
        'ColumnValues "currency" in ["EUR"] where "currency IS NOT NULL"'
    ]
    alerts = [
        a
        for a in twin.alerts()
        if (a["subject"] and "data-quality" in a["subject"])
        or (isinstance(a["body"], dict) and a["body"].get("state") == "QualityGate")
    ]
    assert len(alerts) == 1
    if stops:
        assert run.status == "FAILED" and run.path[-3:] == [
            "QualityGateFailed",
            "NotifyFailure",
            "PipelineFailed",
        ]
        assert "ProcessedToConsumer" not in run.path
        assert alerts[0]["body"]["error"] == "DataQualityRulesFailed"
    else:
        assert (
            run.status == "SUCCEEDED" and "QualityWarning" in run.path and "ProcessedToConsumer" in run.path
        )
        assert alerts[0]["body"] == {
            "pipeline": run.machine.name,
            "execution": run.arn,
            "warning": "DataQualityRulesFailed",
            "score": result["Score"],
        }


def test_the_gate_checks_only_the_partitions_the_run_appended_to(
    dev: SynthesizedPlatform, copy_of: Callable[..., AssemblyCopy], twin_on: Twin, spark: Any
) -> None:
    # Given a first wave that breaks the tightened rule, and a second of EUR-only events
    assembly = copy_of(dev)
    tighten_currency_rule(assembly)
    twin = twin_on(assembly.path)
    producer = Producer(seed=13, mix=Mix(late=0))
    one_wave(twin, producer, 150)
    first_results = len(twin.glue.dq_runs)
    first_partitions = set(twin.glue.catalog.table("datalake_dev_processed", "events").partitions)  # type: ignore[union-attr]
    records = [  # three days late: partitions of their own
        r
        for r in producer.wave(80, start=NOW - timedelta(days=3), span=timedelta(minutes=2), wave=2)
        if r.kind == "valid" and r.event is not None and r.event.get("currency") in (None, "EUR")
    ]
    twin.ingest(records)
    (second,) = proceeded(twin.trigger())

    # Then the second run's evaluation reads its own partitions, not the first wave's, and passes
    evaluation = list(twin.glue.dq_runs.values())[-1]
    assert len(twin.glue.dq_runs) == first_results + 1
    (job,) = [j for name, j in twin.glue.jobs.items() if name.endswith("raw-to-processed")]
    processed = next(b for b in twin.s3.buckets if "-processed-" in b)
    manifest = json.loads(twin.s3.path(processed, f"events/_runs/{job.runs[-1].id}.json").read_text())
    table = twin.glue.catalog.table("datalake_dev_processed", "events")
    assert table is not None
    assert evaluation.predicate == manifest["pushDownPredicate"] != ""
    assert evaluation.partitions_evaluated == len(manifest["partitions"]) < len(table.partitions)
    assert not {tuple(p) for p in manifest["partitions"]} & first_partitions
    assert evaluation.result_id and twin.glue.dq_results[evaluation.result_id]["Score"] == 1
    assert second.status == "SUCCEEDED" and "QualityWarning" not in second.path


def test_a_run_appending_nothing_skips_the_quality_evaluation(
    dev: SynthesizedPlatform, twin_on: Twin, spark: Any
) -> None:
    # Given a batch of events all stored before (redelivered)
    twin = twin_on(dev.outdir)
    producer = Producer(seed=17, mix=Mix(firehose_rejects=0, glue_rejects=0))
    one_wave(twin, producer, 100)
    evaluations = len(twin.glue.dq_runs)
    again = [r for r in producer.records if r.kind == "valid"][:20]
    twin.ingest(again)

    (run,) = proceeded(twin.trigger())

    assert run.status == "SUCCEEDED" and "NothingNewToCheck" in run.path
    assert len(twin.glue.dq_runs) == evaluations


def test_redelivered_and_late_events_are_stored_once_under_their_own_day(
    dev: SynthesizedPlatform, twin_on: Twin, spark: Any
) -> None:
    twin = twin_on(dev.outdir)
    producer = Producer(
        seed=21,
        mix=Mix(firehose_rejects=0, glue_rejects=0, duplicates=0, updates=0, late=0.3, redeliveries=0.3),
    )
    one_wave(twin, producer, 150)
    one_wave(twin, producer, 150, wave=2, minutes_ago=30)

    totals = measure(twin, Zones.of(twin)).job_totals
    redelivered = [p.event["event_id"] for p in producer.records if p.kind == "redelivery" and p.event]
    # Each event stored once: a redelivered event is dropped as already stored; one redelivered twice in
    # the same batch is also an in-batch duplicate.
    assert redelivered and totals["duplicates_already_present"] == len(set(redelivered))
    assert totals["duplicates_in_batch"] == len(redelivered) - len(set(redelivered))
    late_days = {
        e["event_time"][:10]
        for p in producer.records
        if p.event and p.kind == "valid"
        for e in [p.event]
        if e["event_time"][:10] < NOW.date().isoformat()
    }
    assert len(late_days) >= 2
    consumer = twin.glue.catalog.table(
        next(d for d in twin.glue.catalog.databases if d.endswith("_consumer")), "daily_event_summary"
    )
    assert consumer is not None and {values[0] for values in consumer.partitions} >= late_days


@pytest.mark.parametrize("lookback", [7, 0])
def test_events_redelivered_under_another_day_are_dropped_within_the_lookback(
    lookback: int, dev: SynthesizedPlatform, copy_of: Callable[..., AssemblyCopy], twin_on: Twin, spark: Any
) -> None:
    # Given the job's redelivery index as shipped (7 days) or turned off
    assembly = copy_of(dev)

    def set_lookback(logical_id: str, resource: dict[str, Any]) -> bool:
        arguments = resource.get("Properties", {}).get("DefaultArguments", {})
        if resource["Type"] != "AWS::Glue::Job" or "--redelivery_lookback_days" not in arguments:
            return False
        arguments["--redelivery_lookback_days"] = str(lookback)
        return True

    assembly.edit(set_lookback)
    twin = twin_on(assembly.path)
    # and events of three days ago, then some of them sent again with event times a day later: a
    # batch whose event_date partitions hold none of the originals
    producer = Producer(
        seed=19,
        mix=Mix(
            firehose_rejects=0,
            glue_rejects=0,
            duplicates=0,
            updates=0,
            late=0,
            redeliveries=0,
            cross_day_redeliveries=0.3,
        ),
    )
    twin.ingest(producer.wave(120, start=NOW - timedelta(days=3), span=timedelta(minutes=5), wave=1))
    twin.trigger()
    again = [
        r
        for r in producer.wave(60, start=NOW - timedelta(minutes=20), span=timedelta(minutes=5), wave=2)
        if r.kind == "cross_day"
    ]
    twin.ingest(again)
    (run,) = proceeded(twin.trigger())

    # Then the index drops each of them (lookback 7) or each is stored a second time (lookback 0)
    (job,) = [j for name, j in twin.glue.jobs.items() if name.endswith("raw-to-processed")]
    summary = job.runs[-1].summaries[-1]
    copies = len({r.event["event_id"] for r in again if r.event})
    assert run.status == "SUCCEEDED" and copies > 5
    if lookback:
        assert (summary["redeliveries_other_day"], summary["rows_written"]) == (copies, 0)
        assert "NothingNewToCheck" in run.path
    else:
        assert (summary["duplicates_already_present"], summary["rows_written"]) == (0, copies)


def test_a_run_with_no_new_data_changes_nothing_and_succeeds(
    dev: SynthesizedPlatform, twin_on: Twin, spark: Any
) -> None:
    twin = twin_on(dev.outdir)
    one_wave(twin, Producer(seed=2), 150)
    zones = Zones.of(twin)
    before = measure(twin, zones)

    # An object event arrives again (say, a redriven notification) with nothing new in the raw zone.
    stream = twin.delivery_stream
    old = stream.written[0]
    twin.s3.object_created(old, reason="PutObject", requester="firehose.amazonaws.com")
    (run,) = proceeded(twin.trigger())

    assert run.status == "SUCCEEDED"
    after = measure(twin, zones)
    assert (after.processed, after.quarantined, after.consumer_rows) == (
        before.processed,
        before.quarantined,
        before.consumer_rows,
    )
    last_jobs = [job.runs[-1].summaries[-1] for job in twin.glue.jobs.values()]
    assert {s["job"]: s.get("rows_read", s.get("events_read")) for s in last_jobs} == {
        "raw_to_processed": 0,
        "processed_to_consumer": 0,
    }


def test_a_policy_without_one_needed_action_fails_the_run_naming_it(
    dev: SynthesizedPlatform, copy_of: Callable[..., AssemblyCopy], twin_on: Twin, spark: Any
) -> None:
    # Given the raw-to-processed role's policy without s3:PutObject
    assembly = copy_of(dev)

    def drop_put(logical_id: str, resource: dict[str, Any]) -> bool:
        if resource["Type"] != "AWS::IAM::ManagedPolicy" or not logical_id.startswith("RawToProcessedPolicy"):
            return False
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Action"] == ["s3:DeleteObject", "s3:PutObject"]:
                statement["Action"] = ["s3:DeleteObject"]
                return True
        return False

    assembly.edit(drop_put)
    twin = twin_on(assembly.path)

    (run,) = proceeded(one_wave(twin, Producer(seed=4), 120))

    assert run.status == "FAILED"
    denial = twin.iam.denials[0]
    assert denial.action == "s3:PutObject" and "RawToProcessedRole" in denial.principal
    assert denial.resource.startswith(f"arn:aws:s3:::datalake-dev-processed-{twin.assembly.env.account}-")
    pipeline_alert = next(a["body"] for a in twin.alerts() if a["subject"])
    assert "AccessDenied" in pipeline_alert["cause"] and "s3:PutObject" in pipeline_alert["cause"]


def test_a_task_request_that_breaks_the_service_model_fails_naming_it(
    dev: SynthesizedPlatform, copy_of: Callable[..., AssemblyCopy], twin_on: Twin, spark: Any
) -> None:
    # Given the manifest read's GetObject parameter misnamed (BucketName: the API's is Bucket)
    assembly = copy_of(dev)
    request = ':states:::aws-sdk:s3:getObject","Parameters":{"Bucket":'

    def misname(logical_id: str, resource: dict[str, Any]) -> bool:
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            return False
        parts = resource["Properties"]["DefinitionString"]["Fn::Join"][1]
        for i, part in enumerate(parts):
            if isinstance(part, str) and request in part:
                parts[i] = part.replace(request, request.replace('"Bucket"', '"BucketName"'))
                return True
        return False

    assembly.edit(misname)
    twin = twin_on(assembly.path)

    (run,) = proceeded(one_wave(twin, Producer(seed=6), 60))

    assert run.status == "FAILED" and run.path[-2:] != ["PipelineSucceeded"]
    (violation,) = twin.sfn.violations
    assert violation.where.endswith("/ReadRunManifest")
    assert (
        'Unknown parameter in input: "BucketName"' in violation.message
        and "Missing required parameter" in violation.message
    )
    assert json.dumps(run.events).count("ReadRunManifest") >= 1
