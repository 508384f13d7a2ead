"""The typed configuration: shipped environments, defaults, and every rejection path."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from stacks.config import ConfigError, load_config, parse_config
from tests.conftest import cdk_json_context


def datalake_context() -> dict[str, Any]:
    context: dict[str, Any] = cdk_json_context()["datalake"]
    return context


def test_dev_is_the_default_environment_and_may_destroy() -> None:
    config = load_config(cdk.App(context=cdk_json_context()))

    assert config.env_name == "dev"
    assert config.allow_destroy is True
    assert config.production is False
    assert config.removal_policy == cdk.RemovalPolicy.DESTROY


def test_prod_retains_everything() -> None:
    config = parse_config(datalake_context(), "prod")

    assert config.production is True
    assert config.allow_destroy is False
    assert config.removal_policy == cdk.RemovalPolicy.RETAIN
    # prod keeps noncurrent versions and access logs longer than dev
    dev = parse_config(datalake_context(), "dev")
    assert config.storage.noncurrent_version_expiry_days > dev.storage.noncurrent_version_expiry_days
    assert config.storage.access_log_retention_days > dev.storage.access_log_retention_days


def test_names_and_tags_come_from_the_configuration() -> None:
    context = datalake_context()
    context.update(project="sales", owner="team-a", costCentre="cc-42")

    config = parse_config(context, "prod")

    assert config.name_prefix == "sales-prod"
    assert config.stack_name("storage") == "sales-prod-storage"
    assert config.tags == {
        "project": "sales",
        "environment": "prod",
        "owner": "team-a",
        "cost-centre": "cc-42",
    }


def test_environment_is_agnostic_unless_account_or_region_is_set() -> None:
    context = datalake_context()
    assert parse_config(context, "dev").cdk_environment is None

    context["environments"]["dev"].update(account="123456789012", region="eu-west-1")
    env = parse_config(context, "dev").cdk_environment

    assert env is not None
    assert (env.account, env.region) == ("123456789012", "eu-west-1")


def test_optional_days_may_be_absent_because_the_cli_drops_null_context_values() -> None:
    context = datalake_context()
    context["environments"]["dev"]["storage"]["consumer"] = {}
    del context["environments"]["dev"]["account"]

    config = parse_config(context, "dev")

    assert config.storage.consumer.expire_after_days is None
    assert config.account is None


def test_unknown_environment_names_the_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"env: unknown environment 'qa'; allowed values: dev, prod"):
        parse_config(datalake_context(), "qa")


def test_unknown_environment_fails_when_loaded_from_cli_context() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'staging'"):
        load_config(cdk.App(context={**cdk_json_context(), "env": "staging"}))


def test_missing_context_block_is_explained() -> None:
    with pytest.raises(ConfigError, match=r"datalake: context block is missing"):
        load_config(cdk.App())


def test_production_may_never_allow_destroy() -> None:
    context = datalake_context()
    context["environments"]["prod"]["allowDestroy"] = True

    with pytest.raises(ConfigError, match=r"environments\.prod\.allowDestroy: true is not allowed"):
        parse_config(context, "prod")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("project",), "Bad_Name", r"datalake\.project: 'Bad_Name' is not allowed; expected 3-16 lowercase"),
        (("owner",), "", r"datalake\.owner: '' is not allowed"),
        (
            ("environments", "dev", "allowDestroy"),
            "yes",
            r"dev\.allowDestroy: 'yes' is not allowed; expected true",
        ),
        (
            ("environments", "dev", "account"),
            "12345",
            r"dev\.account: '12345' is not allowed; expected a 12-digit",
        ),
        (("environments", "dev", "region"), "mars-1", r"dev\.region: 'mars-1' is not allowed"),
        (
            ("environments", "dev", "storage", "raw", "glacierAfterDays"),
            0,
            r"storage\.raw\.glacierAfterDays: 0 is not allowed; expected a whole number from 1",
        ),
        (
            ("environments", "dev", "storage", "noncurrentVersionExpiryDays"),
            True,  # a JSON true must not be read as 1 day
            r"noncurrentVersionExpiryDays: True is not allowed",
        ),
        (
            ("environments", "dev", "storage", "abortIncompleteMultipartUploadDays"),
            "7",
            r"abortIncompleteMultipartUploadDays: '7' is not allowed",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_allowed_values(
    path: tuple[str, ...], value: object, message: str
) -> None:
    context = datalake_context()
    target = context
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(ConfigError, match=message):
        parse_config(context, "dev")


def test_ingestion_settings_per_environment() -> None:
    dev = parse_config(datalake_context(), "dev").ingestion
    prod = parse_config(datalake_context(), "prod").ingestion

    assert (dev.source, prod.source) == ("direct_put", "kinesis")  # dev idles at near-zero cost
    assert dev.kinesis_shards is None and prod.kinesis_shards is None  # on-demand
    assert prod.kinesis_retention_hours == 168
    assert dev.transform_lambda and prod.transform_lambda


def test_unknown_ingestion_source_names_the_allowed_values() -> None:
    context = datalake_context()
    context["environments"]["dev"]["ingestion"]["source"] = "kafka"

    with pytest.raises(
        ConfigError, match=r"ingestion\.source: 'kafka' is not allowed; expected one of direct_put, kinesis"
    ):
        parse_config(context, "dev")


def test_operations_settings_and_their_validation() -> None:
    prod = parse_config(datalake_context(), "prod").operations
    assert prod.budget_thresholds_percent == (50, 80, 100)
    assert prod.monthly_budget_usd == 2000

    context = datalake_context()
    context["environments"]["dev"]["operations"]["budgetThresholdsPercent"] = [100, 80]
    with pytest.raises(ConfigError, match=r"operations\.budgetThresholdsPercent: \[100, 80\] is not allowed"):
        parse_config(context, "dev")

    context = datalake_context()
    context["environments"]["dev"]["operations"]["alertEmails"] = ["oncall"]
    with pytest.raises(ConfigError, match=r"operations\.alertEmails: \['oncall'\] is not allowed"):
        parse_config(context, "dev")


def test_unknown_keys_are_rejected_not_ignored() -> None:
    context = datalake_context()
    context["environments"]["dev"]["allowDestory"] = True

    with pytest.raises(ConfigError, match=r"datalake\.environments\.dev: unknown key\(s\) allowDestory"):
        parse_config(context, "dev")


def test_missing_required_key_is_named() -> None:
    context = datalake_context()
    del context["environments"]["dev"]["storage"]["accessLogRetentionDays"]

    with pytest.raises(ConfigError, match=r"storage\.accessLogRetentionDays: required key is missing"):
        parse_config(context, "dev")


def test_bad_environment_name_is_rejected() -> None:
    context = datalake_context()
    context["environments"]["Prod_EU"] = context["environments"]["prod"]

    with pytest.raises(ConfigError, match=r"environment name 'Prod_EU' is not allowed"):
        parse_config(context, "dev")


def test_configuration_is_immutable() -> None:
    config = parse_config(datalake_context(), "dev")

    with pytest.raises(AttributeError):
        config.allow_destroy = False  # type: ignore[misc]


def test_serving_settings_per_environment() -> None:
    dev = parse_config(datalake_context(), "dev").serving
    prod = parse_config(datalake_context(), "prod").serving

    assert dev.athena.workgroups == prod.athena.workgroups == ("analysts", "pipeline")
    assert dev.athena.bytes_scanned_cutoff_per_query_mib < prod.athena.bytes_scanned_cutoff_per_query_mib
    assert (dev.redshift.deployment, prod.redshift.deployment) == ("serverless", "serverless")
    assert dev.redshift.base_rpu == 8  # the lowest base capacity keeps dev cheap
    assert dev.redshift.provisioned is None
    assert (dev.redshift.endpoint_azs, prod.redshift.endpoint_azs) == (1, 3)
    # prod routes Redshift traffic through the VPC, whose Glue endpoint lets Spectrum reach the catalog
    # without a NAT; dev skips both (the endpoint alone would be $7.30/month).
    assert prod.redshift.enhanced_vpc_routing and "glue" in prod.redshift.interface_endpoints
    assert not dev.redshift.enhanced_vpc_routing and dev.redshift.interface_endpoints == ()
    assert dev.redshift.usage_limit_breach_action == "deactivate"  # dev stops rather than overspends
    assert dev.redshift.usage_limit_rpu_hours_per_day < prod.redshift.usage_limit_rpu_hours_per_day


def test_provisioned_redshift_needs_its_block_and_only_then() -> None:
    context = datalake_context()
    redshift = context["environments"]["prod"]["serving"]["redshift"]
    redshift["deployment"] = "provisioned"
    with pytest.raises(ConfigError, match=r"redshift\.provisioned: required with deployment 'provisioned'"):
        parse_config(context, "prod")

    redshift["provisioned"] = {"nodeType": "ra3.xlplus", "numberOfNodes": 2, "snapshotRetentionDays": 7}
    config = parse_config(context, "prod").serving.redshift
    assert config.provisioned is not None and config.provisioned.number_of_nodes == 2

    redshift["provisioned"]["nodeType"] = "dc2.large"
    with pytest.raises(
        ConfigError, match=r"provisioned\.nodeType: 'dc2.large' is not allowed; expected one of ra3"
    ):
        parse_config(context, "prod")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("athena", "workgroups"), [], r"athena\.workgroups: \[\] is not allowed"),
        (("athena", "workgroups"), ["a b"], r"athena\.workgroups: \['a b'\] is not allowed"),
        (
            ("athena", "bytesScannedCutoffPerQueryMiB"),
            5,
            r"bytesScannedCutoffPerQueryMiB: expected at least 10",
        ),
        (
            ("redshift", "deployment"),
            "dc2",
            r"redshift\.deployment: 'dc2' is not allowed; expected one of serverless",
        ),
        (("redshift", "baseRpu"), 12, r"redshift\.baseRpu/maxRpu: 12/16 is not allowed"),
        (("redshift", "maxRpu"), 0, r"redshift\.maxRpu: 0 is not allowed"),
        (("redshift", "vpcCidr"), "0.0.0.0/0", r"redshift\.vpcCidr: '0.0.0.0/0' is not allowed"),
        (("redshift", "endpointAzs"), 4, r"redshift\.endpointAzs: 4 is not allowed"),
        (("redshift", "unknownKey"), 1, r"redshift: unknown key\(s\) unknownKey"),
        (
            ("redshift", "usageLimitBreachAction"),
            "stop",
            r"usageLimitBreachAction: 'stop' is not allowed; expected one of log, emit-metric, deactivate",
        ),
    ],
)
def test_bad_serving_values_name_the_key(path: tuple[str, str], value: object, message: str) -> None:
    context = datalake_context()
    context["environments"]["dev"]["serving"][path[0]][path[1]] = value

    with pytest.raises(ConfigError, match=message):
        parse_config(context, "dev")


def test_enhanced_vpc_routing_requires_a_glue_endpoint() -> None:
    context = datalake_context()
    context["environments"]["prod"]["serving"]["redshift"]["interfaceEndpoints"] = []
    with pytest.raises(
        ConfigError, match=r"interfaceEndpoints: must include 'glue' when enhancedVpcRouting is true"
    ):
        parse_config(context, "prod")


def test_dashboard_setting_per_environment() -> None:
    assert parse_config(datalake_context(), "prod").operations.dashboard is True
    assert parse_config(datalake_context(), "dev").operations.dashboard is False  # $3/month idle
    context = datalake_context()
    del context["environments"]["prod"]["operations"]["dashboard"]
    with pytest.raises(ConfigError, match=r"operations\.dashboard: required key is missing"):
        parse_config(context, "prod")


def test_only_dev_shares_one_encryption_key() -> None:
    assert parse_config(datalake_context(), "dev").shared_encryption_key is True
    assert parse_config(datalake_context(), "prod").shared_encryption_key is False
    context = datalake_context()
    context["environments"]["dev"]["sharedEncryptionKey"] = "yes"
    with pytest.raises(
        ConfigError, match=r"dev\.sharedEncryptionKey: 'yes' is not allowed; expected true or false"
    ):
        parse_config(context, "dev")


def test_freshness_alarm_must_exceed_the_normal_delivery_delay() -> None:
    # 300 s buffers, dynamic partitioning (up to 1.5x) and the transform Lambda's 60 s buffer: a batch
    # may normally be 510 s old, so 8 minutes would alarm on normal batches and 9 would not.
    context = datalake_context()
    ingestion = context["environments"]["dev"]["ingestion"]
    assert (ingestion["bufferingIntervalSeconds"], ingestion["transformLambda"]) == (300, True)
    ingestion["alarmFreshnessMinutes"] = 8
    with pytest.raises(
        ConfigError,
        match=r"ingestion\.alarmFreshnessMinutes: 8 is not allowed; it must exceed the normal delivery "
        r"delay of 510 s",
    ):
        parse_config(context, "dev")
    ingestion["alarmFreshnessMinutes"] = 9
    assert parse_config(context, "dev").ingestion.alarm_freshness_minutes == 9
    assert parse_config(datalake_context(), "prod").ingestion.alarm_iterator_age_minutes == 10


def capacity_of(env: str, **overrides: Any) -> dict[str, Any]:
    context = datalake_context()
    environment = context["environments"][env]
    environment["ingestion"]["capacity"].update(overrides)
    return context


def test_event_types_beyond_the_active_partition_quota_fail_naming_the_key_and_the_limit() -> None:
    # 300 event types x 2 arrival days around midnight = 600 active Firehose partitions > 500
    with pytest.raises(
        ConfigError,
        match=r"ingestion\.capacity\.eventTypes: 300 event types make up to 600 .*"
        r"activePartitionQuota 500 .*500 by default, up to 5,000 on request; .*activePartitionExceeded",
    ):
        parse_config(capacity_of("prod", eventTypes=300), "prod")
    # After a quota increase, the same load is accepted.
    parse_config(capacity_of("prod", eventTypes=300, activePartitionQuota=1000), "prod")
    with pytest.raises(
        ConfigError,
        match=r"activePartitionQuota: 6000 is not allowed; expected a whole number from 1 to 5000",
    ):
        parse_config(capacity_of("prod", activePartitionQuota=6000), "prod")


def test_a_peak_rate_above_direct_put_fails_and_names_the_quota_of_the_region() -> None:
    context = capacity_of("dev", peakEventsPerSecond=20_000, averageEventBytes=500)  # ~9.5 MiB/s
    context["environments"]["dev"]["region"] = "us-east-1"
    with pytest.raises(
        ConfigError,
        match=r"peakEventsPerSecond: 20,000 events/s of 500 bytes \(9\.5 MiB/s\) exceed "
        r"Firehose Direct PUT throughput per stream \(us-east-1, us-west-2, eu-west-1\): 5 MiB/s",
    ):
        parse_config(context, "dev")
    # Elsewhere (or with the region unknown) the smaller default applies: 1 MiB/s.
    context = capacity_of("dev", peakEventsPerSecond=3_000, averageEventBytes=500)
    with pytest.raises(ConfigError, match=r"\(other regions\): 1 MiB/s"):
        parse_config(context, "dev")


def test_kinesis_capacity_follows_the_shards_or_the_on_demand_maximum() -> None:
    on_demand = capacity_of("prod", peakEventsPerSecond=250_000, averageEventBytes=100)
    with pytest.raises(
        ConfigError, match=r"exceed Kinesis on-demand stream write \(default maximum\): 200,000 records/s"
    ):
        parse_config(on_demand, "prod")
    shards = capacity_of("prod", peakEventsPerSecond=5_000, averageEventBytes=500)
    shards["environments"]["prod"]["ingestion"]["kinesisShards"] = 4
    with pytest.raises(ConfigError, match=r"exceed 4 shards' write: 4,000 records/s .*add shards"):
        parse_config(shards, "prod")
    shards["environments"]["prod"]["ingestion"]["kinesisShards"] = 6
    assert parse_config(shards, "prod").ingestion.kinesis_shards == 6
