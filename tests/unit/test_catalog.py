"""DataLakeCatalog: databases, crawlers, security configuration, least-privilege roles, validation."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from datalake_constructs.catalog import DEFAULT_EXCLUSIONS, CrawlerTrigger, DataLakeCatalog, ZoneCatalogSource
from local_twin.glue import glob_regex
from tests.conftest import app_with_context


class Fixture:
    def __init__(self) -> None:
        self.stack = cdk.Stack(app_with_context(), "Test")
        self.data_key = kms.Key(self.stack, "DataKey", enable_key_rotation=True)
        self.key = kms.Key(self.stack, "GlueKey", enable_key_rotation=True)
        self.buckets = {
            zone: s3.Bucket(self.stack, zone.capitalize(), encryption_key=self.data_key)
            for zone in ("raw", "processed")
        }

    def build(self, **zone_overrides: Any) -> DataLakeCatalog:
        zones = {
            "raw": ZoneCatalogSource(bucket=self.buckets["raw"], prefixes=["events/"]),
            "processed": ZoneCatalogSource(bucket=self.buckets["processed"], prefixes=["events/"]),
        }
        zones.update(zone_overrides)
        return DataLakeCatalog(
            self.stack,
            "Catalog",
            zones=zones,
            database_prefix="sales_dev",
            encryption_key=self.key,
            data_key=self.data_key,
        )

    def template(self) -> Template:
        return Template.from_stack(self.stack)

    def crawler(self, zone: str) -> dict[str, Any]:
        crawlers = self.template().find_resources("AWS::Glue::Crawler")
        (props,) = [
            c["Properties"]
            for c in crawlers.values()
            if c["Properties"]["Name"] == f"sales-dev-{zone}-crawler"
        ]
        return props

    def logical_id(self, construct: Any) -> str:
        child = construct.node.default_child if not isinstance(construct, cdk.CfnElement) else construct
        return self.stack.get_logical_id(child)


@pytest.fixture
def env() -> Fixture:
    return Fixture()


def test_a_database_per_zone_named_from_the_prefix(env: Fixture) -> None:
    catalog = env.build()

    names = sorted(
        d["Properties"]["DatabaseInput"]["Name"]
        for d in env.template().find_resources("AWS::Glue::Database").values()
    )
    assert names == ["sales_dev_processed", "sales_dev_raw"]
    assert set(catalog.databases) == {"raw", "processed"}
    env.template().has_resource("AWS::Glue::Database", {"DeletionPolicy": "Retain"})


def test_security_configuration_encrypts_logs_bookmarks_and_s3_with_kms(env: Fixture) -> None:
    env.build()

    (config,) = env.template().find_resources("AWS::Glue::SecurityConfiguration").values()
    encryption = config["Properties"]["EncryptionConfiguration"]
    glue_key = {"Fn::GetAtt": [env.logical_id(env.key), "Arn"]}
    assert encryption["CloudWatchEncryption"] == {
        "CloudWatchEncryptionMode": "SSE-KMS",
        "KmsKeyArn": glue_key,
    }
    assert encryption["JobBookmarksEncryption"] == {
        "JobBookmarksEncryptionMode": "CSE-KMS",
        "KmsKeyArn": glue_key,
    }
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert config["Properties"]["Name"] == "sales-dev-glue"


def excluded(patterns: list[str], path: str) -> bool:
    """Whether a Glue crawler exclusion matches ``path`` (relative to the crawled prefix), read as the
    local twin's crawler reads it (Java's glob: ``*`` within a folder, ``**`` across, ``**/`` needs one)."""
    return any(glob_regex(pattern).fullmatch(path) for pattern in patterns)


def test_default_exclusions_skip_hidden_folders_errors_and_job_files_not_data() -> None:
    skipped = [
        "errors/processing-failed/2026/11/23/f.gz",  # Firehose's failed records
        "_quarantine/events/ingestion_date=2026-11-23/part-0.json.gz",
        "_changed_dates/2026-11-23.20261123T060000Z-1a2b3c4d",  # raw_to_processed's markers
        "event_date=2026-11-23/_temporary/0/part-0.parquet",  # Spark's in-flight output
        "event_date=2026-11-23/event_type=purchase/_SUCCESS",
        "_SUCCESS",  # Spark's marker next to the partitions
        "event_date=2026-11-23/event_type=purchase/.part-0.snappy.parquet.crc",
    ]
    kept = [
        "event_type=purchase/dt=2026-11-23/delivery-1.gz",
        "event_date=2026-11-23/event_type=purchase/part-0.snappy.parquet",
    ]
    assert [p for p in skipped if not excluded(list(DEFAULT_EXCLUSIONS), p)] == []
    assert [p for p in kept if excluded(list(DEFAULT_EXCLUSIONS), p)] == []


def test_on_demand_crawlers_crawl_everything_update_schemas_and_never_delete(env: Fixture) -> None:
    catalog = env.build()

    raw = env.crawler("raw")
    assert raw["DatabaseName"] == {"Ref": env.logical_id(catalog.databases["raw"])}
    assert raw["CrawlerSecurityConfiguration"] == {"Ref": env.logical_id(catalog.security_configuration)}
    assert "Schedule" not in raw
    assert raw["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert raw["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
    (target,) = raw["Targets"]["S3Targets"]
    assert target["Exclusions"] == list(DEFAULT_EXCLUSIONS)
    assert excluded(target["Exclusions"], "errors/2026/11/23/batch.gz")
    assert target["Path"]["Fn::Join"][1][-1] == "/events/"
    assert json.loads(raw["Configuration"])["Grouping"] == {"TableGroupingPolicy": "CombineCompatibleSchemas"}


def test_scheduled_crawler_crawls_new_folders_only(env: Fixture) -> None:
    env.build(
        processed=ZoneCatalogSource(
            bucket=env.buckets["processed"], trigger=CrawlerTrigger.SCHEDULE, schedule="cron(15 * * * ? *)"
        )
    )

    processed = env.crawler("processed")
    assert processed["Schedule"] == {"ScheduleExpression": "cron(15 * * * ? *)"}
    assert processed["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    assert processed["SchemaChangePolicy"]["UpdateBehavior"] == "LOG"


def test_new_folders_only_is_a_choice_for_either_trigger(env: Fixture) -> None:
    # A job's output zone crawled by the pipeline: incremental; a scheduled zone may crawl everything.
    env.build(
        processed=ZoneCatalogSource(bucket=env.buckets["processed"], new_folders_only=True),
        raw=ZoneCatalogSource(
            bucket=env.buckets["raw"],
            trigger=CrawlerTrigger.SCHEDULE,
            schedule="cron(15 * * * ? *)",
            new_folders_only=False,
        ),
    )

    processed, raw = env.crawler("processed"), env.crawler("raw")
    assert "Schedule" not in processed
    assert processed["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    assert processed["SchemaChangePolicy"] == {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
    assert raw["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert raw["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}


def test_event_mode_crawler_consumes_object_events_from_an_encrypted_queue(env: Fixture) -> None:
    catalog = env.build(
        raw=ZoneCatalogSource(
            bucket=env.buckets["raw"], prefixes=["events/"], trigger=CrawlerTrigger.S3_EVENTS
        )
    )
    template = env.template()
    queue_id = env.logical_id(catalog.event_queues["raw"])

    raw = env.crawler("raw")
    assert raw["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVENT_MODE"}
    assert raw["Targets"]["S3Targets"][0]["EventQueueArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    queue = template.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": [env.logical_id(env.key), "Arn"]}
    assert "RedrivePolicy" in queue
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": "events/"}]}
    target = rule["Properties"]["Targets"][0]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # Glue event mode reads S3 notification messages: the event is reshaped into one.
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"]["detail-object-key"] == "$.detail.object.key"
    assert '"eventSource":"aws:s3"' in transformer["InputTemplate"]
    assert '"key":<detail-object-key>' in transformer["InputTemplate"]
    # Glue checks the role's access to the queue when it creates the crawler.
    crawler_id = env.logical_id(catalog.crawlers["raw"])
    policy_id = next(k for k in template.find_resources("AWS::IAM::ManagedPolicy") if "RawCrawlerPolicy" in k)
    assert policy_id in template.find_resources("AWS::Glue::Crawler")[crawler_id]["DependsOn"]


def crawler_policy(env: Fixture, zone: str) -> list[dict[str, Any]]:
    policies = env.template().find_resources("AWS::IAM::ManagedPolicy")
    policy = next(p for k, p in policies.items() if k.startswith(f"Catalog{zone.capitalize()}CrawlerPolicy"))
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_each_crawler_role_reads_only_its_prefix_and_writes_only_its_database(env: Fixture) -> None:
    env.build()
    statements = crawler_policy(env, "raw")
    text = json.dumps(statements)

    reads = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert len(reads) == 1
    assert reads[0]["Resource"]["Fn::Join"][1][-1] == "/events/*"
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["events/*"]}}
    assert env.logical_id(env.buckets["processed"]) not in text  # not the other zone's bucket
    glue_statement = next(s for s in statements if "glue:CreateTable" in s["Action"])
    assert "CatalogRawDatabase" in json.dumps(glue_statement["Resource"])
    assert "CatalogProcessedDatabase" not in json.dumps(glue_statement["Resource"])
    assert not any(
        a.endswith("*")
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    env.template().resource_count_is("AWS::IAM::Policy", 0)  # no inline grant policies at all


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"database_prefix": "Sales-Dev"}, r"database_prefix: 'Sales-Dev' is not allowed"),
        ({"zones": {}}, r"zones: at least one zone is required"),
        ({"zones": {"Raw": None}}, r"zones: zone name 'Raw' is not allowed"),
        ({"zones": {"raw": {"prefixes": []}}}, r"zones\['raw'\]\.prefixes: at least one prefix is required"),
        ({"zones": {"raw": {"prefixes": ["events"]}}}, r"zones\['raw'\]\.prefixes: 'events' is not allowed"),
        (
            {"zones": {"raw": {"trigger": CrawlerTrigger.SCHEDULE}}},
            r"zones\['raw'\]\.schedule: None is not allowed with trigger=SCHEDULE",
        ),
        (
            {"zones": {"raw": {"trigger": CrawlerTrigger.SCHEDULE, "schedule": "rate(1 hour)"}}},
            r"zones\['raw'\]\.schedule: 'rate\(1 hour\)' is not allowed",
        ),
        (
            {"zones": {"raw": {"schedule": "cron(15 * * * ? *)"}}},
            r"zones\['raw'\]\.schedule: only allowed with trigger=SCHEDULE",
        ),
        (
            {"zones": {"raw": {"trigger": CrawlerTrigger.S3_EVENTS}}},  # default prefix: the bucket
            r"zones\['raw'\]\.prefixes: \[''\] is not allowed with trigger=S3_EVENTS; expected exactly one",
        ),
        (
            {"zones": {"raw": {"trigger": CrawlerTrigger.S3_EVENTS, "prefixes": ["a/", "b/"]}}},
            r"zones\['raw'\]\.prefixes: \['a/', 'b/'\] is not allowed with trigger=S3_EVENTS",
        ),
        (
            {
                "zones": {
                    "raw": {"trigger": CrawlerTrigger.S3_EVENTS, "prefixes": ["a/"], "new_folders_only": True}
                }
            },
            r"zones\['raw'\]\.new_folders_only: not allowed with trigger=S3_EVENTS",
        ),
    ],
)
def test_bad_props_fail_with_a_clear_message(env: Fixture, kwargs: dict[str, Any], message: str) -> None:
    zones = kwargs.pop("zones", None)
    if zones is not None:
        zones = {
            name: ZoneCatalogSource(bucket=env.buckets["raw"], **spec) if spec is not None else None
            for name, spec in zones.items()
        }
    props: dict[str, Any] = {
        "zones": zones if zones is not None else {"raw": ZoneCatalogSource(bucket=env.buckets["raw"])},
        "database_prefix": "sales_dev",
        "encryption_key": env.key,
        **kwargs,
    }

    with pytest.raises(ValueError, match=message):
        DataLakeCatalog(env.stack, "Catalog", **props)
