"""The catalog/ETL stack as wired for each shipped environment (synthesized once per session)."""

from __future__ import annotations

import json
import re
from typing import Any

import processed_to_consumer
import raw_to_processed
from stacks.etl_stack import CHANGED_DATES_PREFIX, EVENTS_PREFIX, PROCESSED_EVENTS_DQDL
from tests.conftest import SynthesizedPlatform


def resources(env: SynthesizedPlatform, kind: str) -> dict[str, dict[str, Any]]:
    return env.template(env.platform.etl).find_resources(kind)


def test_zone_databases_and_crawlers_are_named_from_the_configuration(
    env_platform: SynthesizedPlatform,
) -> None:
    prefix = env_platform.platform.config.name_prefix
    databases = sorted(
        d["Properties"]["DatabaseInput"]["Name"]
        for d in resources(env_platform, "AWS::Glue::Database").values()
    )
    crawlers = sorted(c["Properties"]["Name"] for c in resources(env_platform, "AWS::Glue::Crawler").values())

    underscored = prefix.replace("-", "_")
    assert databases == [f"{underscored}_consumer", f"{underscored}_processed", f"{underscored}_raw"]
    assert crawlers == [f"{prefix}-consumer-crawler", f"{prefix}-processed-crawler", f"{prefix}-raw-crawler"]


def test_raw_crawler_skips_firehose_errors_and_quarantine(env_platform: SynthesizedPlatform) -> None:
    (raw,) = [
        c
        for c in resources(env_platform, "AWS::Glue::Crawler").values()
        if c["Properties"]["Name"].endswith("-raw-crawler")
    ]
    (target,) = raw["Properties"]["Targets"]["S3Targets"]

    assert "errors/**" in target["Exclusions"]
    assert "_*/**" in target["Exclusions"]  # _quarantine and the jobs' markers


def test_pipeline_crawls_everything_so_a_late_first_batch_still_gets_its_table(
    env_platform: SynthesizedPlatform,
) -> None:
    # An incremental crawler only creates tables in its first run; the pipeline's first run may find
    # nothing to write (no data yet, or a batch wholly quarantined).
    policies = {
        c["Properties"]["Name"].split("-")[-2]: (
            c["Properties"]["RecrawlPolicy"]["RecrawlBehavior"],
            c["Properties"]["SchemaChangePolicy"]["UpdateBehavior"],
        )
        for c in resources(env_platform, "AWS::Glue::Crawler").values()
    }
    assert policies == {
        "raw": ("CRAWL_EVERYTHING", "UPDATE_IN_DATABASE"),
        "processed": ("CRAWL_EVERYTHING", "UPDATE_IN_DATABASE"),
        "consumer": ("CRAWL_EVERYTHING", "UPDATE_IN_DATABASE"),
    }


def test_consumer_job_consumes_the_markers_raw_to_processed_leaves(dev: SynthesizedPlatform) -> None:
    # One folder name in three places: the stack's grant and both self-contained scripts.
    assert f"{raw_to_processed.CHANGED_DATES_DIR}/" == CHANGED_DATES_PREFIX
    assert f"{processed_to_consumer.CHANGED_DATES_DIR}/" == CHANGED_DATES_PREFIX
    policy = dev.template(dev.platform.etl).to_json()["Resources"][
        dev.platform.etl.get_logical_id(dev.platform.etl.processed_to_consumer.policy.node.default_child)
    ]
    deleted = sorted(
        resource["Fn::Join"][1][-1]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "s3:DeleteObject" in s["Action"]
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    )
    assert deleted == [
        "/_quarantine/daily_event_summary/*",  # its own quarantine and target (an overwrite deletes)
        "/daily_event_summary/*",
        f"/{EVENTS_PREFIX}{CHANGED_DATES_PREFIX.rstrip('/')}*",  # in the source: the markers' folder only
    ]


def test_jobs_ship_the_glue_scripts_with_configured_workers(
    dev: SynthesizedPlatform, prod: SynthesizedPlatform
) -> None:
    for env, workers, timeout in ((dev, 2, 60), (prod, 10, 120)):
        jobs = {j["Properties"]["Name"]: j["Properties"] for j in resources(env, "AWS::Glue::Job").values()}
        prefix = env.platform.config.name_prefix
        assert set(jobs) == {f"{prefix}-raw-to-processed", f"{prefix}-processed-to-consumer"}
        for job in jobs.values():
            assert job["GlueVersion"] == "5.0"
            assert (job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("G.1X", workers, timeout)
            assert job["Command"]["ScriptLocation"]["Fn::Join"][1][-1].endswith(".py")
        raw_args = jobs[f"{prefix}-raw-to-processed"]["DefaultArguments"]
        assert f"{prefix}-raw-" in json.dumps(raw_args["--source"])
        assert f"{prefix}-processed-" in json.dumps(raw_args["--target"])
        assert "_quarantine/events/" in json.dumps(raw_args["--quarantine"])


def test_processed_events_have_a_data_quality_ruleset(env_platform: SynthesizedPlatform) -> None:
    (ruleset,) = resources(env_platform, "AWS::Glue::DataQualityRuleset").values()
    props = ruleset["Properties"]

    assert props["TargetTable"]["TableName"] == "events"
    for rule in ('IsComplete "event_id"', 'IsUnique "event_id"', 'ColumnValues "amount" >= 0'):
        assert rule in props["Ruleset"]


def test_quality_rules_name_processed_columns_and_let_optional_ones_be_null() -> None:
    # DQDL fails ColumnValues on NULL rows and reads NULL as length 0 in ColumnLength: a value rule on
    # an optional column without a not-null filter would fail every batch holding a page view.
    rules = re.findall(r'^\s*(\w+)(?: "(\w+)")?(.*?),?$', PROCESSED_EVENTS_DQDL, re.M)[1:-1]
    schema = {f.name: f for f in raw_to_processed.PROCESSED_SCHEMA.fields}

    assert {rule for rule, _, _ in rules} >= {"RowCount", "IsComplete", "IsUnique", "ColumnValues"}
    for rule, column, rest in rules:
        if not column:
            continue
        assert column in schema, f"{rule} names {column!r}, which raw_to_processed does not write"
        if rule in ("ColumnValues", "ColumnLength") and schema[column].nullable:
            assert rest.endswith(f'where "{column} IS NOT NULL"'), f"{rule} {column}{rest}"
        if rule == "IsComplete":
            assert not schema[column].nullable, f"{column} is optional: IsComplete would fail"


def test_failures_of_every_job_and_crawler_alert(env_platform: SynthesizedPlatform) -> None:
    rules = [r["Properties"] for r in resources(env_platform, "AWS::Events::Rule").values()]
    prefix = env_platform.platform.config.name_prefix

    patterns = {r["EventPattern"]["detail-type"][0]: r["EventPattern"]["detail"] for r in rules}
    assert sorted(patterns["Glue Job State Change"]["jobName"]) == sorted(
        [f"{prefix}-raw-to-processed", f"{prefix}-processed-to-consumer"]
    )
    assert len(patterns["Glue Crawler State Change"]["crawlerName"]) == 3
    for rule in rules:
        assert f'"StackName": "{prefix}-operations"' in json.dumps(
            rule["Targets"][0]["Arn"]
        )  # the alert topic
