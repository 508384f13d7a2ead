"""Typed, validated platform configuration loaded from ``cdk.json`` context.

The context holds one block, ``datalake``, with project-wide settings and one entry per environment
under ``environments``; ``-c env=NAME`` picks the environment (default ``dev``). Every value is
checked here, so a typo or a bad value fails synth with a message naming the key and what is allowed,
instead of surfacing as a CloudFormation error at deploy time. Unknown keys are errors too: a silently
ignored ``allowDestory`` would be worse than a failed synth.

Example::

    app = cdk.App()
    config = load_config(app)            # reads app.node context
    config.stack_name("storage")         # "datalake-dev-storage"
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from datalake_constructs.raw_zone_delivery import expected_delivery_seconds
from stacks import quotas

DEFAULT_ENVIRONMENT = "dev"
CONTEXT_KEY = "datalake"

_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{1,14}[a-z0-9]$")
_ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,5}$")
_TAG_VALUE_RE = re.compile(r"^[\w .:/=+\-@]{1,256}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


@dataclass(frozen=True)
class ZoneLifecycleConfig:
    """Storage-class transitions and expiry of current object versions in one zone (days, or None)."""

    infrequent_access_after_days: int | None
    glacier_after_days: int | None
    expire_after_days: int | None


@dataclass(frozen=True)
class StorageConfig:
    """Lifecycle settings of the data-lake buckets."""

    raw: ZoneLifecycleConfig
    processed: ZoneLifecycleConfig
    consumer: ZoneLifecycleConfig
    noncurrent_version_expiry_days: int
    abort_incomplete_multipart_upload_days: int
    access_log_retention_days: int


@dataclass(frozen=True)
class IngestionConfig:
    """Streaming ingestion into the raw zone."""

    source: str  # "direct_put" or "kinesis"
    kinesis_shards: int | None  # None: on-demand stream
    kinesis_retention_hours: int
    buffering_interval_seconds: int
    buffering_size_mib: int
    transform_lambda: bool
    alarm_freshness_minutes: int  # oldest undelivered Firehose record older than this alarms
    alarm_iterator_age_minutes: int  # Kinesis consumer lag beyond this alarms
    capacity: CapacityConfig


@dataclass(frozen=True)
class CapacityConfig:
    """The load the environment is built to carry, checked at synth against the services' quotas
    (stacks/quotas.py); benchmarks/capacity.py plans beyond them."""

    peak_events_per_second: int
    average_event_bytes: int
    event_types: int  # distinct event_type values: the Firehose partition key's cardinality
    active_partition_quota: int  # Firehose's per stream: 500 by default, up to 5,000 on request


INGESTION_SOURCES = ("direct_put", "kinesis")


@dataclass(frozen=True)
class EtlConfig:
    """Glue catalog crawlers and ETL jobs."""

    worker_type: str  # "G.1X" | "G.2X" | ...
    number_of_workers: int
    timeout_minutes: int
    crawler_trigger: str  # "none" (the tables are the app's) | "on_demand" | "schedule" | "s3_events"
    crawler_schedule: str | None  # cron(...) with "schedule"
    redelivery_lookback_days: int  # days of raw_to_processed's index of recent event ids (redeliveries)
    source_lookback_days: int  # arrival days of raw folders a run lists (its bookmark skips what it read)


@dataclass(frozen=True)
class OrchestrationConfig:
    """The event-driven pipeline."""

    quality_gate: str  # "fail" | "warn"
    timeout_hours: int
    backstop_schedule: str | None  # cron(...) run in case an event-triggered run missed late files


@dataclass(frozen=True)
class OperationsConfig:
    """Who is alerted, and the cost guardrail."""

    alert_emails: tuple[str, ...]
    monthly_budget_usd: int
    budget_thresholds_percent: tuple[int, ...]  # actual spend; 100 % of forecast always alerts too
    dashboard: bool  # the pipeline-health dashboard ($3/month at list price)


@dataclass(frozen=True)
class AthenaConfig:
    """Athena workgroups (one per persona) and their cost guardrails."""

    workgroups: tuple[str, ...]  # personas, e.g. ("analysts", "pipeline")
    bytes_scanned_cutoff_per_query_mib: int
    alarm_bytes_scanned_per_hour_gib: int
    results_expiry_days: int


@dataclass(frozen=True)
class ProvisionedRedshiftConfig:
    """A provisioned RA3 cluster, when ``deployment`` is ``provisioned``."""

    node_type: str
    number_of_nodes: int
    snapshot_retention_days: int


@dataclass(frozen=True)
class RedshiftConfig:
    """The warehouse and its private network."""

    deployment: str  # "serverless" | "provisioned"
    base_rpu: int
    max_rpu: int
    max_query_execution_seconds: int
    alarm_rpu_hours_per_day: int
    usage_limit_rpu_hours_per_day: int  # Serverless: Redshift stops or reports usage beyond this
    usage_limit_breach_action: str  # "log" | "emit-metric" | "deactivate"
    provisioned: ProvisionedRedshiftConfig | None
    enhanced_vpc_routing: bool  # COPY/UNLOAD/Spectrum through the VPC (then Glue needs an endpoint)
    vpc_cidr: str
    interface_endpoints: tuple[str, ...]  # e.g. ("glue",): Spectrum reaches the catalog privately
    endpoint_azs: int  # AZs holding interface endpoints (each is billed per AZ-hour)


@dataclass(frozen=True)
class ServingConfig:
    """Athena and Redshift over the consumer and processed zones."""

    athena: AthenaConfig
    redshift: RedshiftConfig


REDSHIFT_DEPLOYMENTS = ("serverless", "provisioned")
USAGE_LIMIT_BREACH_ACTIONS = ("log", "emit-metric", "deactivate")
RA3_NODE_TYPES = ("ra3.large", "ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge")
_PERSONA_RE = re.compile(r"[a-z][a-z0-9-]{1,19}")
_CIDR_RE = re.compile(r"10\.\d{1,3}\.0\.0/(1[6-9]|2[0-2])")
_SERVICE_RE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


QUALITY_GATES = ("fail", "warn")
_CRON_RE = re.compile(r"cron\(\S+ \S+ \S+ \S+ \S+ \S+\)")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
GLUE_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")
CRAWLER_TRIGGERS = ("none", "on_demand", "schedule", "s3_events")
MAX_REDELIVERY_LOOKBACK_DAYS = 90


@dataclass(frozen=True)
class PlatformConfig:
    """Everything the stacks need to know about one deployment environment."""

    project: str
    env_name: str
    owner: str
    cost_centre: str
    account: str | None
    region: str | None
    production: bool
    allow_destroy: bool
    shared_encryption_key: bool  # one CMK for every stack (cheap dev) instead of one per stack
    storage: StorageConfig
    ingestion: IngestionConfig
    etl: EtlConfig
    orchestration: OrchestrationConfig
    operations: OperationsConfig
    serving: ServingConfig

    @property
    def name_prefix(self) -> str:
        """Prefix for physical names, e.g. ``datalake-dev``."""
        return f"{self.project}-{self.env_name}"

    def stack_name(self, component: str) -> str:
        """CloudFormation stack name of one component, e.g. ``datalake-dev-storage``."""
        return f"{self.name_prefix}-{component}"

    @property
    def tags(self) -> dict[str, str]:
        """Tags applied to every taggable resource of the app."""
        return {
            "project": self.project,
            "environment": self.env_name,
            "owner": self.owner,
            "cost-centre": self.cost_centre,
        }

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        """DESTROY only where the environment explicitly allows it (never in production)."""
        return cdk.RemovalPolicy.DESTROY if self.allow_destroy else cdk.RemovalPolicy.RETAIN

    @property
    def cdk_environment(self) -> cdk.Environment | None:
        """Account/region if configured; ``None`` keeps the stacks environment-agnostic."""
        if self.account is None and self.region is None:
            return None
        return cdk.Environment(account=self.account, region=self.region)


# --- loading -------------------------------------------------------------------------------------


class _Section:
    """Typed, strict reads from one mapping of the context, with key paths in every error."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected an object, got {type(data).__name__}")
        self._data: Mapping[str, Any] = data
        self._path = path
        self._read: set[str] = set()

    def _get(self, key: str) -> Any:
        self._read.add(key)
        if key not in self._data:
            raise ConfigError(f"{self._path}.{key}: required key is missing")
        return self._data[key]

    @property
    def path(self) -> str:
        return self._path

    def keys(self) -> list[str]:
        """All keys of this section, marked as read (the caller validates them)."""
        self._read.update(self._data)
        return sorted(self._data)

    def section(self, key: str) -> _Section:
        return _Section(self._get(key), f"{self._path}.{key}")

    def optional_section(self, key: str) -> _Section | None:
        """A nested object, or None when the key is null or absent."""
        if self._data.get(key) is None:
            self._read.add(key)
            return None
        return self.section(key)

    def string(self, key: str, pattern: re.Pattern[str], allowed: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise ConfigError(f"{self._path}.{key}: {value!r} is not allowed; expected {allowed}")
        return value

    def optional_string(self, key: str, pattern: re.Pattern[str], allowed: str) -> str | None:
        if self._data.get(key) is None:
            self._read.add(key)
            return None
        return self.string(key, pattern, allowed)

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise ConfigError(f"{self._path}.{key}: {value!r} is not allowed; expected true or false")
        return value

    def whole_number(self, key: str, *, optional: bool = False, maximum: int = 36500) -> int | None:
        """A whole number from 1 to ``maximum`` (the key name says the unit)."""
        # The CDK CLI drops null context values, so an optional key may be absent or null.
        if optional and self._data.get(key) is None:
            self._read.add(key)
            return None
        value = self._get(key)
        # bool is an int subclass: reject it explicitly so `true` is not read as 1 day.
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            allowed = f"a whole number from 1 to {maximum}" + (" or null" if optional else "")
            raise ConfigError(f"{self._path}.{key}: {value!r} is not allowed; expected {allowed}")
        return value

    def string_list(self, key: str, pattern: re.Pattern[str], allowed: str) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and pattern.fullmatch(v) for v in value):
            raise ConfigError(f"{self._path}.{key}: {value!r} is not allowed; expected {allowed}")
        return list(value)

    def number_list(self, key: str, *, maximum: int) -> list[int]:
        value = self._get(key)
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= maximum for v in value
        ):
            raise ConfigError(
                f"{self._path}.{key}: {value!r} is not allowed; "
                f"expected a list of whole numbers from 1 to {maximum}"
            )
        return list(value)

    def required_number(self, key: str, *, maximum: int = 36500) -> int:
        value = self.whole_number(key, maximum=maximum)
        assert value is not None  # whole_number() without optional never returns None
        return value

    def value(self, key: str) -> Any:
        """The raw value of a required key, for a caller that validates it itself."""
        return self._get(key)

    def parsed_elsewhere(self, key: str) -> None:
        """Mark a key as read by another parser (``delivery`` is read by stacks/delivery_config.py)."""
        self._read.add(key)

    def done(self) -> None:
        """Reject keys nobody read: they are typos or settings this version does not support."""
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise ConfigError(f"{self._path}: unknown key(s) {', '.join(unknown)}")


def _zone(section: _Section) -> ZoneLifecycleConfig:
    zone = ZoneLifecycleConfig(
        infrequent_access_after_days=section.whole_number("infrequentAccessAfterDays", optional=True),
        glacier_after_days=section.whole_number("glacierAfterDays", optional=True),
        expire_after_days=section.whole_number("expireAfterDays", optional=True),
    )
    section.done()
    return zone


def _storage(section: _Section) -> StorageConfig:
    storage = StorageConfig(
        raw=_zone(section.section("raw")),
        processed=_zone(section.section("processed")),
        consumer=_zone(section.section("consumer")),
        noncurrent_version_expiry_days=section.required_number("noncurrentVersionExpiryDays"),
        abort_incomplete_multipart_upload_days=section.required_number(
            "abortIncompleteMultipartUploadDays", maximum=365
        ),
        access_log_retention_days=section.required_number("accessLogRetentionDays"),
    )
    section.done()
    return storage


def _ingestion(section: _Section) -> IngestionConfig:
    source = section.string("source", _one_of(INGESTION_SOURCES), f"one of {', '.join(INGESTION_SOURCES)}")
    ingestion = IngestionConfig(
        source=source,
        kinesis_shards=section.whole_number("kinesisShards", optional=True, maximum=10_000),
        kinesis_retention_hours=section.required_number("kinesisRetentionHours", maximum=8760),
        buffering_interval_seconds=section.required_number("bufferingIntervalSeconds", maximum=900),
        buffering_size_mib=section.required_number("bufferingSizeMiB", maximum=128),
        transform_lambda=section.boolean("transformLambda"),
        alarm_freshness_minutes=section.required_number("alarmFreshnessMinutes", maximum=1440),
        alarm_iterator_age_minutes=section.required_number("alarmIteratorAgeMinutes", maximum=10080),
        capacity=_capacity(section.section("capacity")),
    )
    section.done()
    # The delivery stream partitions dynamically: a batch may normally be 1.5 buffering intervals old,
    # plus the transform Lambda's buffer.
    normal_delay = expected_delivery_seconds(
        ingestion.buffering_interval_seconds,
        dynamic_partitioning=True,
        transform_lambda=ingestion.transform_lambda,
    )
    if ingestion.alarm_freshness_minutes * 60 <= normal_delay:
        raise ConfigError(
            f"{section.path}.alarmFreshnessMinutes: {ingestion.alarm_freshness_minutes} is not allowed; it "
            f"must exceed the normal delivery delay of {normal_delay:g} s (bufferingIntervalSeconds "
            f"{ingestion.buffering_interval_seconds} x 1.5, + 60 s with transformLambda), or every normal "
            "buffer would alarm"
        )
    return ingestion


def _capacity(section: _Section) -> CapacityConfig:
    capacity = CapacityConfig(
        peak_events_per_second=section.required_number("peakEventsPerSecond", maximum=100_000_000),
        average_event_bytes=section.required_number("averageEventBytes", maximum=1_000_000),
        event_types=section.required_number("eventTypes", maximum=100_000),
        active_partition_quota=section.required_number(
            "activePartitionQuota", maximum=int(quotas.FIREHOSE_ACTIVE_PARTITIONS.raisable_to or 0)
        ),
    )
    section.done()
    return capacity


def _check_capacity(config: PlatformConfig, path: str) -> None:
    """Synth fails where the configuration cannot carry its stated load: naming the key and the limit."""
    ingestion, capacity = config.ingestion, config.ingestion.capacity
    where = f"{path}.ingestion.capacity"
    partitions = quotas.active_partitions(capacity.event_types)
    quota = quotas.FIREHOSE_ACTIVE_PARTITIONS
    if partitions > capacity.active_partition_quota:
        raise ConfigError(
            f"{where}.eventTypes: {capacity.event_types} event types make up to {partitions} active Firehose "
            f"partitions (one per event type and arrival day; two days around midnight), above "
            f"{where}.activePartitionQuota {capacity.active_partition_quota} ({quota.name}: "
            f"{quota.value:,.0f} by default, up to {quota.raisable_to:,.0f} on request; {quota.note})"
        )
    rate = capacity.peak_events_per_second
    mib_per_second = rate * capacity.average_event_bytes / 2**20
    if ingestion.source == "direct_put":
        records, _, throughput = quotas.firehose_direct_put(config.region)
        limits = [(rate, records), (mib_per_second, throughput)]
        advice = "use ingestion.source 'kinesis', or raise the quota and this check with it"
    elif ingestion.kinesis_shards is None:
        limits = [
            (rate, quotas.KINESIS_ON_DEMAND_WRITE_RECORDS),
            (mib_per_second, quotas.KINESIS_ON_DEMAND_WRITE_MIB),
        ]
        advice = "split the stream, or raise the on-demand maximum"
    else:
        shards = ingestion.kinesis_shards
        limits = [
            (
                rate,
                dataclasses.replace(
                    quotas.KINESIS_SHARD_WRITE_RECORDS, value=shards * 1000, name=f"{shards} shards' write"
                ),
            ),
            (
                mib_per_second,
                dataclasses.replace(
                    quotas.KINESIS_SHARD_WRITE_MIB, value=shards * 1, name=f"{shards} shards' write"
                ),
            ),
        ]
        advice = "add shards (ingestion.kinesisShards) or use on-demand (null)"
    for demand, quota in limits:
        if demand > quota.value:
            raise ConfigError(
                f"{where}.peakEventsPerSecond: {rate:,} events/s of {capacity.average_event_bytes:,} bytes "
                f"({demand:,.1f} {quota.unit}) exceed {quota.name}: {quota.value:,.0f} {quota.unit} "
                f"({quota.source}); {advice}"
            )


def _one_of(values: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(v) for v in values))


def _etl(section: _Section) -> EtlConfig:
    etl = EtlConfig(
        worker_type=section.string(
            "workerType", _one_of(GLUE_WORKER_TYPES), f"one of {', '.join(GLUE_WORKER_TYPES)}"
        ),
        number_of_workers=section.required_number("numberOfWorkers", maximum=299),
        timeout_minutes=section.required_number("timeoutMinutes", maximum=2880),
        crawler_trigger=section.string(
            "crawlerTrigger", _one_of(CRAWLER_TRIGGERS), f"one of {', '.join(CRAWLER_TRIGGERS)}"
        ),
        crawler_schedule=section.optional_string(
            "crawlerSchedule",
            re.compile(r"cron\(\S+ \S+ \S+ \S+ \S+ \S+\)"),
            "a Glue cron(...) expression or null",
        ),
        redelivery_lookback_days=section.required_number(
            "redeliveryLookbackDays", maximum=MAX_REDELIVERY_LOOKBACK_DAYS
        ),
        source_lookback_days=section.required_number(
            "sourceLookbackDays", maximum=MAX_REDELIVERY_LOOKBACK_DAYS
        ),
    )
    section.done()
    if (etl.crawler_trigger == "schedule") != (etl.crawler_schedule is not None):
        raise ConfigError(
            f"{section.path}.crawlerSchedule: required with crawlerTrigger 'schedule', else null"
        )
    return etl


def _orchestration(section: _Section) -> OrchestrationConfig:
    orchestration = OrchestrationConfig(
        quality_gate=section.string(
            "qualityGate", _one_of(QUALITY_GATES), f"one of {', '.join(QUALITY_GATES)}"
        ),
        timeout_hours=section.required_number("timeoutHours", maximum=8760),
        backstop_schedule=section.optional_string(
            "backstopSchedule", _CRON_RE, "an EventBridge cron(...) expression or null"
        ),
    )
    section.done()
    return orchestration


def _operations(section: _Section) -> OperationsConfig:
    emails = section.string_list("alertEmails", _EMAIL_RE, "a list of email addresses")
    thresholds = section.number_list("budgetThresholdsPercent", maximum=1000)
    operations = OperationsConfig(
        alert_emails=tuple(emails),
        monthly_budget_usd=section.required_number("monthlyBudgetUsd", maximum=10_000_000),
        budget_thresholds_percent=tuple(thresholds),
        dashboard=section.boolean("dashboard"),
    )
    section.done()
    if not thresholds or sorted(set(thresholds)) != thresholds:
        raise ConfigError(
            f"{section.path}.budgetThresholdsPercent: {thresholds} is not allowed; expected at least one "
            "percentage, ascending, without repeats"
        )
    return operations


def _athena(section: _Section) -> AthenaConfig:
    personas = section.string_list("workgroups", _PERSONA_RE, "a list of 2-20 character persona names")
    athena = AthenaConfig(
        workgroups=tuple(personas),
        # Athena cancels nothing below 10 MB; 10 MiB is the smallest cutoff accepted here.
        bytes_scanned_cutoff_per_query_mib=section.required_number(
            "bytesScannedCutoffPerQueryMiB", maximum=10_000_000
        ),
        alarm_bytes_scanned_per_hour_gib=section.required_number(
            "alarmBytesScannedPerHourGiB", maximum=1_000_000
        ),
        results_expiry_days=section.required_number("resultsExpiryDays", maximum=3650),
    )
    section.done()
    if not personas or len(set(personas)) != len(personas):
        raise ConfigError(
            f"{section.path}.workgroups: {personas} is not allowed; expected distinct names, at least one"
        )
    if athena.bytes_scanned_cutoff_per_query_mib < 10:
        raise ConfigError(
            f"{section.path}.bytesScannedCutoffPerQueryMiB: expected at least 10 (Athena's minimum)"
        )
    return athena


def _provisioned(section: _Section) -> ProvisionedRedshiftConfig:
    provisioned = ProvisionedRedshiftConfig(
        node_type=section.string("nodeType", _one_of(RA3_NODE_TYPES), f"one of {', '.join(RA3_NODE_TYPES)}"),
        number_of_nodes=section.required_number("numberOfNodes", maximum=128),
        snapshot_retention_days=section.required_number("snapshotRetentionDays", maximum=35),
    )
    section.done()
    return provisioned


def _redshift(section: _Section) -> RedshiftConfig:
    deployment = section.string(
        "deployment", _one_of(REDSHIFT_DEPLOYMENTS), f"one of {', '.join(REDSHIFT_DEPLOYMENTS)}"
    )
    provisioned_section = section.optional_section("provisioned")
    provisioned = _provisioned(provisioned_section) if provisioned_section is not None else None
    redshift = RedshiftConfig(
        deployment=deployment,
        base_rpu=section.required_number("baseRpu", maximum=1024),
        max_rpu=section.required_number("maxRpu", maximum=5632),
        max_query_execution_seconds=section.required_number("maxQueryExecutionSeconds", maximum=86399),
        alarm_rpu_hours_per_day=section.required_number("alarmRpuHoursPerDay", maximum=135_168),
        usage_limit_rpu_hours_per_day=section.required_number("usageLimitRpuHoursPerDay", maximum=135_168),
        usage_limit_breach_action=section.string(
            "usageLimitBreachAction",
            _one_of(USAGE_LIMIT_BREACH_ACTIONS),
            f"one of {', '.join(USAGE_LIMIT_BREACH_ACTIONS)}",
        ),
        provisioned=provisioned,
        enhanced_vpc_routing=section.boolean("enhancedVpcRouting"),
        vpc_cidr=section.string("vpcCidr", _CIDR_RE, "a 10.x.0.0/16 to /22 block"),
        interface_endpoints=tuple(
            section.string_list("interfaceEndpoints", _SERVICE_RE, "a list of AWS service endpoint names")
        ),
        endpoint_azs=section.required_number("endpointAzs", maximum=3),
    )
    section.done()
    if (
        redshift.base_rpu % 8
        or redshift.base_rpu < 8
        or redshift.max_rpu % 8
        or redshift.max_rpu < redshift.base_rpu
    ):
        raise ConfigError(
            f"{section.path}.baseRpu/maxRpu: {redshift.base_rpu}/{redshift.max_rpu} is not allowed; expected "
            "multiples of 8, base at least 8 and max at least base"
        )
    if redshift.enhanced_vpc_routing and "glue" not in redshift.interface_endpoints:
        raise ConfigError(
            f"{section.path}.interfaceEndpoints: must include 'glue' when enhancedVpcRouting is true "
            "(Spectrum reaches the Glue catalog through the VPC, which has no NAT)"
        )
    if (deployment == "provisioned") != (provisioned is not None):
        raise ConfigError(f"{section.path}.provisioned: required with deployment 'provisioned', else null")
    return redshift


def _serving(section: _Section) -> ServingConfig:
    serving = ServingConfig(
        athena=_athena(section.section("athena")), redshift=_redshift(section.section("redshift"))
    )
    section.done()
    return serving


def parse_config(context: Mapping[str, Any], env_name: str) -> PlatformConfig:
    """Build the configuration of ``env_name`` from the ``datalake`` context block."""
    root = _Section(context, CONTEXT_KEY)
    environments = root.section("environments")
    names = environments.keys()
    if env_name not in names:
        raise ConfigError(f"env: unknown environment {env_name!r}; allowed values: {', '.join(names)}")
    for name in names:
        if not _ENV_NAME_RE.fullmatch(name):
            raise ConfigError(
                f"{CONTEXT_KEY}.environments: environment name {name!r} is not allowed; "
                "expected 2-6 lowercase letters or digits starting with a letter"
            )
    env = environments.section(env_name)
    tag_rule = "1-256 letters, digits, spaces or _.:/=+-@"
    config = PlatformConfig(
        project=root.string("project", _PROJECT_RE, "3-16 lowercase letters, digits or hyphens"),
        env_name=env_name,
        owner=root.string("owner", _TAG_VALUE_RE, tag_rule),
        cost_centre=root.string("costCentre", _TAG_VALUE_RE, tag_rule),
        account=env.optional_string("account", _ACCOUNT_RE, "a 12-digit AWS account id or null"),
        region=env.optional_string("region", _REGION_RE, "an AWS region name such as eu-west-1, or null"),
        production=env.boolean("production"),
        allow_destroy=env.boolean("allowDestroy"),
        shared_encryption_key=env.boolean("sharedEncryptionKey"),
        storage=_storage(env.section("storage")),
        ingestion=_ingestion(env.section("ingestion")),
        etl=_etl(env.section("etl")),
        orchestration=_orchestration(env.section("orchestration")),
        operations=_operations(env.section("operations")),
        serving=_serving(env.section("serving")),
    )
    env.done()
    root.parsed_elsewhere("delivery")
    root.done()
    if config.production and config.allow_destroy:
        raise ConfigError(
            f"{CONTEXT_KEY}.environments.{env_name}.allowDestroy: true is not allowed when production "
            "is true; production data is always retained"
        )
    _check_capacity(config, f"{CONTEXT_KEY}.environments.{env_name}")
    return config


def load_config(scope: Construct) -> PlatformConfig:
    """Read ``-c env=NAME`` (default ``dev``) and the ``datalake`` block from the construct context."""
    env_name = scope.node.try_get_context("env")
    if env_name is None:
        env_name = DEFAULT_ENVIRONMENT
    context = scope.node.try_get_context(CONTEXT_KEY)
    if context is None:
        raise ConfigError(f"{CONTEXT_KEY}: context block is missing (is cdk.json's context loaded?)")
    return parse_config(context, str(env_name))
