"""The catalog/ETL stack as wired for each shipped environment (synthesized once per session)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import processed_to_consumer
import raw_to_processed
from glue_scripts.lake_tables import DAILY_EVENT_SUMMARY, PROCESSED_EVENTS, RAW_EVENTS, TableSpec
from stacks.etl_stack import CHANGED_DATES_PREFIX, EVENTS_PREFIX, PROCESSED_EVENTS_DQDL, PROJECTION_START
from stacks.platform import APP_OPTIONS, build_platform
from tests.conftest import SynthesizedPlatform, cdk_json_context


def resources(env: SynthesizedPlatform, kind: str) -> dict[str, dict[str, Any]]:
    return env.template(env.platform.etl).find_resources(kind)


def tables(env: SynthesizedPlatform) -> dict[str, dict[str, Any]]:
    """``zone.table`` -> TableInput, the zone read from the database's logical id."""
    found = {}
    for table in resources(env, "AWS::Glue::Table").values():
        zone = table["Properties"]["DatabaseName"]["Ref"].removeprefix("Catalog").split("Database")[0].lower()
        found[f"{zone}.{table['Properties']['TableInput']['Name']}"] = table["Properties"]["TableInput"]
    return found


def test_zone_databases_and_tables_are_defined_in_the_app_without_crawlers(
    env_platform: SynthesizedPlatform,
) -> None:
    prefix = env_platform.platform.config.name_prefix
    databases = sorted(
        d["Properties"]["DatabaseInput"]["Name"]
        for d in resources(env_platform, "AWS::Glue::Database").values()
    )

    underscored = prefix.replace("-", "_")
    assert databases == [f"{underscored}_consumer", f"{underscored}_processed", f"{underscored}_raw"]
    # The jobs register the partitions they write: no crawler reads the history on every run.
    assert resources(env_platform, "AWS::Glue::Crawler") == {}
    assert sorted(tables(env_platform)) == ["consumer.daily_event_summary", "processed.events", "raw.events"]


@pytest.mark.parametrize(
    ("table", "spec", "zone", "serde"),
    [
        ("raw.events", RAW_EVENTS, "raw", "org.openx.data.jsonserde.JsonSerDe"),
        (
            "processed.events",
            PROCESSED_EVENTS,
            "processed",
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        ),
        (
            "consumer.daily_event_summary",
            DAILY_EVENT_SUMMARY,
            "consumer",
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        ),
    ],
)
def test_tables_have_the_columns_the_scripts_write(
    dev: SynthesizedPlatform, table: str, spec: TableSpec, zone: str, serde: str
) -> None:
    # One definition (lake_tables) for the catalog and the scripts' Spark schemas.
    found = tables(dev)[table]
    descriptor = found["StorageDescriptor"]

    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [(c.name, c.type) for c in spec.columns]
    assert [(k["Name"], k["Type"]) for k in found["PartitionKeys"]] == [
        (k.name, k.type) for k in spec.partition_keys
    ]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == serde
    location = json.dumps(descriptor["Location"])
    assert f"s3://datalake-dev-{zone}-" in location and location.endswith(f'"/{spec.prefix}"]]}}')
    assert found["Parameters"]["classification"] == spec.data_format


def test_date_partitions_are_projected_for_athena_and_the_raw_event_type_is_injected(
    dev: SynthesizedPlatform,
) -> None:
    projection = {
        name: {k: v for k, v in table["Parameters"].items() if k.startswith("projection.")}
        for name, table in tables(dev).items()
    }

    assert projection["consumer.daily_event_summary"] == {
        "projection.enabled": "true",
        "projection.event_date.type": "date",
        "projection.event_date.range": f"{PROJECTION_START},NOW",
        "projection.event_date.format": "yyyy-MM-dd",
    }
    assert projection["raw.events"]["projection.event_type.type"] == "injected"
    assert projection["raw.events"]["projection.dt.type"] == "date"
    # event_type values are open-ended: the processed table is read through the partitions the job
    # registers (Redshift Spectrum ignores projection; the quality gate reads the catalog).
    assert projection["processed.events"] == {}


def test_jobs_register_partitions_in_their_own_table_only(dev: SynthesizedPlatform) -> None:
    etl = dev.platform.etl
    template = dev.template(etl).to_json()["Resources"]
    for job, table in (
        (etl.raw_to_processed, etl.processed_table),
        (etl.processed_to_consumer, etl.consumer_table),
    ):
        table_id = etl.get_logical_id(table.node.default_child)
        arguments = template[etl.get_logical_id(job.job.node.default_child)]["Properties"]["DefaultArguments"]
        assert arguments["--catalog_table"] == {"Ref": table_id}
        assert arguments["--extra-py-files"]["Fn::Join"][1][-1].endswith(".zip")  # lake_tables.py
        policy = template[etl.get_logical_id(job.policy.node.default_child)]
        (register,) = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if "glue:BatchCreatePartition" in s["Action"]
        ]
        assert sorted(register["Action"]) == ["glue:BatchCreatePartition", "glue:GetTable"]
        kinds = [next(p for p in r["Fn::Join"][1][::-1] if isinstance(p, str)) for r in register["Resource"]]
        assert kinds == [":catalog", ":database/", "/"]  # the parents IAM evaluates, and one table
        assert ":table/" in register["Resource"][2]["Fn::Join"][1]
        assert register["Resource"][2]["Fn::Join"][1][-1] == {"Ref": table_id}


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


def test_failures_of_every_job_alert(env_platform: SynthesizedPlatform) -> None:
    rules = [r["Properties"] for r in resources(env_platform, "AWS::Events::Rule").values()]
    prefix = env_platform.platform.config.name_prefix

    patterns = {r["EventPattern"]["detail-type"][0]: r["EventPattern"]["detail"] for r in rules}
    assert sorted(patterns["Glue Job State Change"]["jobName"]) == sorted(
        [f"{prefix}-raw-to-processed", f"{prefix}-processed-to-consumer"]
    )
    assert "Glue Crawler State Change" not in patterns  # the shipped zones have no crawler
    for rule in rules:
        assert f'"StackName": "{prefix}-operations"' in json.dumps(
            rule["Targets"][0]["Arn"]
        )  # the alert topic


def test_configured_crawlers_only_add_partitions_to_the_app_s_tables_and_run_in_the_pipeline(
    tmp_path: Path,
) -> None:
    # Given crawlers configured (on demand) on top of the tables the app defines
    context = cdk_json_context()
    context["datalake"]["environments"]["dev"]["etl"]["crawlerTrigger"] = "on_demand"
    app = cdk.App(context={**context, "env": "dev"}, outdir=str(tmp_path), **APP_OPTIONS)
    platform = build_platform(app)
    app.synth()  # the validators pass with crawlers too
    etl = Template.from_stack(platform.etl)

    crawlers = etl.find_resources("AWS::Glue::Crawler").values()
    assert len(crawlers) == 3
    for crawler in crawlers:
        # New partitions are added whatever the schema-change policy; LOG keeps the app's column types.
        assert crawler["Properties"]["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
        assert crawler["Properties"]["SchemaChangePolicy"] == {
            "UpdateBehavior": "LOG",
            "DeleteBehavior": "LOG",
        }
    assert len(etl.find_resources("AWS::Glue::Table")) == 3
    machine = json.dumps(
        Template.from_stack(platform.orchestration).find_resources("AWS::StepFunctions::StateMachine")
    )
    assert all(f"Start{zone}Crawler" in machine for zone in ("Raw", "Processed", "Consumer"))
