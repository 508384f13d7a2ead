"""Idle monthly cost of each environment, read from its synthesized CloudFormation templates.

"Idle" is what AWS bills while no data flows: keys, stream-hours, alarms, endpoints, clusters, and the
work a schedule starts whether or not anything arrived. Per-GB, per-request and per-query charges are
zero by definition. Every resource type found is printed, priced or not, so nothing is missed silently.

Usage: ``python benchmarks/idle_cost.py`` (synthesizes every environment of cdk.json) or
``--env dev``, ``--cdk-out DIR --env NAME`` (an already-synthesized assembly), ``--markdown``.

Prices: list prices as published on aws.amazon.com/<service>/pricing, us-east-1, checked 2026-11-23,
on-demand, no free tier unless stated (see PRICES). A month is 730 hours, as on AWS's pricing pages.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
DEV_TARGET_USD = 5.0
PRICE_NOTE = "list prices as published on aws.amazon.com/<service>/pricing, us-east-1, checked 2026-11-23"

Template = Mapping[str, Any]

# Price -> (USD, unit, page): us-east-1 on-demand list prices as published on that page, checked
# 2026-11-23. Written without internet access: KMS ($1/key-month), Redshift's $0.25/h entry node, Glue's
# $0.44/DPU-hour with its 10-min crawler and 1-min Spark minimums, and Data Quality's 5 default workers
# were confirmed against stored copies of AWS pages and docs; the others are the long-published figures.
PRICES: dict[str, tuple[float, str, str]] = {
    "kms_key": (1.00, "key-month", "aws.amazon.com/kms/pricing"),
    "kinesis_on_demand_stream": (0.04, "stream-hour", "aws.amazon.com/kinesis/data-streams/pricing"),
    "kinesis_shard": (0.015, "shard-hour", "aws.amazon.com/kinesis/data-streams/pricing"),
    "kinesis_extended_retention": (0.02, "shard-hour", "aws.amazon.com/kinesis/data-streams/pricing"),
    "alarm_metric": (0.10, "alarm metric-month", "aws.amazon.com/cloudwatch/pricing"),
    "alarm_metric_high_res": (0.30, "alarm metric-month", "aws.amazon.com/cloudwatch/pricing"),
    "composite_alarm": (0.50, "alarm-month", "aws.amazon.com/cloudwatch/pricing"),
    "dashboard": (3.00, "dashboard-month", "aws.amazon.com/cloudwatch/pricing"),
    "nat_gateway": (0.045, "NAT gateway-hour", "aws.amazon.com/vpc/pricing"),
    "public_ipv4": (0.005, "IPv4 address-hour", "aws.amazon.com/vpc/pricing"),
    "interface_endpoint": (0.01, "endpoint AZ-hour", "aws.amazon.com/privatelink/pricing"),
    "secret": (0.40, "secret-month", "aws.amazon.com/secrets-manager/pricing"),
    # Older Billing user guide rule (first two budgets free, then $0.02/day); budgets without actions
    # are free on today's page, so this can only overstate.
    "budget": (0.02, "budget-day", "docs.aws.amazon.com/cost-management (AWS Budgets)"),
    "glue_dpu_hour": (0.44, "DPU-hour", "aws.amazon.com/glue/pricing"),
    "redshift_rpu_hour": (0.375, "RPU-hour", "aws.amazon.com/redshift/pricing (Serverless, on-demand)"),
}
FREE_BUDGETS = 2

# Provisioned Redshift, on-demand USD per node-hour (aws.amazon.com/redshift/pricing, us-east-1).
REDSHIFT_NODE_HOUR: dict[str, float] = {
    "dc2.large": 0.25,
    "dc2.8xlarge": 4.80,
    "ra3.large": 0.543,
    "ra3.xlplus": 1.086,
    "ra3.4xlarge": 3.26,
    "ra3.16xlarge": 13.04,
}

# Scheduled work is priced at the billing minimums: a floor, not a forecast.
CRAWLER_MIN_MINUTES = 10  # per crawler run
CRAWLER_DPUS = 1  # AWS sizes crawlers itself; 1 DPU is an assumption (see CrawlerHistory.DPUHour)
SPARK_MIN_MINUTES = 1  # Glue 2.0 and later; 0.9/1.0 bill 10 minutes
DATA_QUALITY_DEFAULT_WORKERS = 5  # StartDataQualityRulesetEvaluationRun's default (G.1X)
SERVERLESS_MIN_SECONDS = 60  # Redshift Serverless bills at least 60 s of base capacity per active period
SERVERLESS_DEFAULT_RPUS = 128  # a workgroup's BaseCapacity when the template leaves it out
WORKER_DPUS = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "Z.2X": 2, "Standard": 1}

# Types with no charge while idle, and why.
NO_IDLE_CHARGE: dict[str, str] = {
    "AWS::S3::Bucket": "storage and requests only",
    "AWS::S3::BucketPolicy": "free",
    "AWS::Glue::Database": "catalog storage/requests only",
    "AWS::Glue::Table": "catalog storage/requests only",
    "AWS::Glue::Crawler": "DPU-hours while running only",
    "AWS::Glue::Job": "DPU-hours while running only",
    "AWS::Glue::Trigger": "free (started runs are priced as scheduled work)",
    "AWS::Glue::SecurityConfiguration": "free",
    "AWS::Glue::DataQualityRuleset": "DPU-hours while evaluating only",
    "AWS::Glue::Connection": "free",
    "AWS::StepFunctions::StateMachine": "state transitions only",
    "AWS::Lambda::Function": "requests and GB-seconds only",
    "AWS::Lambda::Permission": "free",
    "AWS::Lambda::EventSourceMapping": "free",
    "AWS::KinesisFirehose::DeliveryStream": "per GB ingested only",
    "AWS::SNS::Topic": "requests and deliveries only",
    "AWS::SNS::TopicPolicy": "free",
    "AWS::SNS::Subscription": "deliveries only",
    "AWS::SQS::Queue": "requests only",
    "AWS::SQS::QueuePolicy": "free",
    "AWS::Events::Rule": "events only (scheduled invocations free; started work priced separately)",
    "AWS::Logs::LogGroup": "ingestion and storage only",
    "AWS::Logs::LogStream": "free",
    "AWS::Logs::ResourcePolicy": "free",
    "AWS::EC2::FlowLog": "ingestion-priced (log delivery) only",
    "AWS::EC2::VPC": "free",
    "AWS::EC2::Subnet": "free",
    "AWS::EC2::RouteTable": "free",
    "AWS::EC2::Route": "free",
    "AWS::EC2::SubnetRouteTableAssociation": "free",
    "AWS::EC2::SecurityGroup": "free",
    "AWS::EC2::SecurityGroupIngress": "free",
    "AWS::EC2::SecurityGroupEgress": "free",
    "AWS::EC2::InternetGateway": "free",
    "AWS::EC2::VPCGatewayAttachment": "free",
    "AWS::Athena::WorkGroup": "per TB scanned only",
    "AWS::Athena::NamedQuery": "free",
    "AWS::IAM::Role": "free",
    "AWS::IAM::Policy": "free",
    "AWS::IAM::ManagedPolicy": "free",
    "AWS::IAM::InstanceProfile": "free",
    "AWS::KMS::Alias": "free",
    "AWS::SecretsManager::SecretTargetAttachment": "free",
    "AWS::Redshift::ClusterSubnetGroup": "free",
    "AWS::Redshift::ClusterParameterGroup": "free",
    "AWS::RedshiftServerless::Workgroup": "base RPUs billed only while queries run; $0 idle",
    "AWS::CDK::Metadata": "CDK bookkeeping, not an AWS resource",
}


@dataclass(frozen=True)
class Charge:
    """One billed dimension of one resource: ``quantity`` units a month at ``unit_price`` each.

    ``unit_price`` None: billed, but not priced here (reported as such). ``note`` explains a $0 charge.
    """

    quantity: float
    unit: str
    unit_price: float | None
    note: str = ""


@dataclass(frozen=True)
class Line:
    """A row of the report: every resource of one type that shares a billed dimension."""

    resource_type: str
    count: int
    billed_as: str
    quantity: float
    unit_price: float | None
    unit: str

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price if self.unit_price is not None else 0.0


@dataclass(frozen=True)
class Report:
    env: str
    lines: list[Line]
    notes: list[str]

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    @property
    def standing(self) -> float:
        return sum(line.monthly for line in self.lines if not line.resource_type.startswith("scheduled"))

    @property
    def unpriced(self) -> list[Line]:
        return [line for line in self.lines if line.unit_price is None]


# ---- template values ------------------------------------------------------------------------------


def render(value: Any) -> str:
    """A template value as text; intrinsics become ``${...}`` placeholders (``${AWS::Region}``, ``${Id}``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    function, argument = (
        next(iter(value.items())) if isinstance(value, Mapping) and len(value) == 1 else ("", None)
    )
    text = "${?}"  # anything not modelled: imports, stack outputs, conditions
    if function == "Ref":
        text = f"${{{argument}}}"
    elif function == "Fn::GetAtt" and isinstance(argument, list):
        text = "${" + ".".join(str(part) for part in argument) + "}"
    elif function == "Fn::Join" and isinstance(argument, list) and isinstance(argument[1], list):
        text = str(argument[0]).join(render(part) for part in argument[1])
    elif function == "Fn::Sub":
        text = str(argument[0] if isinstance(argument, list) else argument)
    return text


def hourly(price_key: str, units: float = 1) -> Charge:
    """``units`` of an hourly-priced resource running all month."""
    price, unit, _ = PRICES[price_key]
    return Charge(units * HOURS_PER_MONTH, unit, price)


def per_month(price_key: str, units: float = 1) -> Charge:
    price, unit, _ = PRICES[price_key]
    return Charge(units, unit, price)


def no_charge(reason: str) -> Charge:
    return Charge(0, "", 0.0, reason)


# ---- pricing of one resource -------------------------------------------------------------------------


def kinesis_stream(props: Mapping[str, Any]) -> list[Charge]:
    mode = props.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        # On-demand extended/long-term retention is billed per GB stored: $0 with no data.
        return [hourly("kinesis_on_demand_stream")]
    shards = props.get("ShardCount", 1)
    charges = [hourly("kinesis_shard", shards)]
    if props.get("RetentionPeriodHours", 24) > 24:
        charges.append(hourly("kinesis_extended_retention", shards))
    return charges


def alarm_metrics(props: Mapping[str, Any]) -> tuple[int, bool]:
    """(billed alarm metrics, high resolution). Metric math bills every metric it reads; an anomaly band
    bills three (the metric and both bounds)."""
    metrics = props.get("Metrics")
    if not metrics:
        return 1, props.get("Period", 60) < 60
    stats = [m["MetricStat"] for m in metrics if "MetricStat" in m]
    bands = sum("ANOMALY_DETECTION_BAND" in str(m.get("Expression", "")) for m in metrics)
    high_res = any(stat.get("Period", 60) < 60 for stat in stats)
    return max(len(stats) + 2 * bands, 1), high_res


def cloudwatch_alarm(props: Mapping[str, Any]) -> list[Charge]:
    count, high_res = alarm_metrics(props)
    return [per_month("alarm_metric_high_res" if high_res else "alarm_metric", count)]


def vpc_endpoint(props: Mapping[str, Any]) -> list[Charge]:
    if props.get("VpcEndpointType", "Gateway") == "Gateway":
        return [no_charge("gateway endpoint: free")]
    subnets = props.get("SubnetIds")
    azs = len(subnets) if isinstance(subnets, list) else 1  # one subnet per AZ, as CDK selects them
    return [hourly("interface_endpoint", azs)]


def managed_secret(props: Mapping[str, Any], flag: str) -> list[Charge]:
    return [per_month("secret")] if props.get(flag) is True else []


def redshift_cluster(props: Mapping[str, Any]) -> list[Charge]:
    node_type = str(props.get("NodeType"))
    nodes = props.get("NumberOfNodes", 1) if props.get("ClusterType") == "multi-node" else 1
    # An unknown node type stays unpriced (None) and is reported, never silently $0.
    compute = Charge(nodes * HOURS_PER_MONTH, f"{node_type} node-hour", REDSHIFT_NODE_HOUR.get(node_type))
    return [compute, *managed_secret(props, "ManageMasterPassword")]


def redshift_serverless_namespace(props: Mapping[str, Any]) -> list[Charge]:
    # Redshift creates and rotates the admin secret in Secrets Manager: billed like any secret.
    return managed_secret(props, "ManageAdminPassword") or [no_charge("no charge without an admin secret")]


def secret(props: Mapping[str, Any]) -> list[Charge]:
    return [per_month("secret", 1 + len(props.get("ReplicaRegions", [])))]


PRICERS: dict[str, Callable[[Mapping[str, Any]], list[Charge]]] = {
    "AWS::KMS::Key": lambda props: [per_month("kms_key")],
    "AWS::KMS::ReplicaKey": lambda props: [per_month("kms_key")],
    "AWS::Kinesis::Stream": kinesis_stream,
    "AWS::CloudWatch::Alarm": cloudwatch_alarm,
    "AWS::CloudWatch::CompositeAlarm": lambda props: [per_month("composite_alarm")],
    "AWS::CloudWatch::Dashboard": lambda props: [per_month("dashboard")],
    "AWS::EC2::NatGateway": lambda props: [hourly("nat_gateway")],
    "AWS::EC2::EIP": lambda props: [hourly("public_ipv4")],
    "AWS::EC2::VPCEndpoint": vpc_endpoint,
    "AWS::SecretsManager::Secret": secret,
    "AWS::Redshift::Cluster": redshift_cluster,
    "AWS::RedshiftServerless::Namespace": redshift_serverless_namespace,
    "AWS::Budgets::Budget": lambda props: [no_charge("see budget_allowance")],  # priced per environment
}


def price_resource(resource_type: str, props: Mapping[str, Any]) -> list[Charge]:
    """The idle charges of one resource; an unknown type gets one unpriced charge so it is reported."""
    if resource_type in PRICERS:
        return PRICERS[resource_type](props)
    if resource_type in NO_IDLE_CHARGE:
        return [no_charge(NO_IDLE_CHARGE[resource_type])]
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return [no_charge("custom resource: runs its provider only on deploy")]
    return [Charge(0, "", None, "not priced (assumed $0 idle)")]


# ---- work a schedule starts ------------------------------------------------------------------------


def runs_per_month(expression: str) -> float | None:
    """Runs a month of an EventBridge/Glue ``rate(...)`` or ``cron(...)`` expression; None if unknown."""
    if match := re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression):
        minutes = int(match[1]) * {"minute": 1, "hour": 60, "day": 1440}[match[2]]
        return HOURS_PER_MONTH * 60 / minutes
    match = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+)(?: (\S+))?\)", expression)
    if not match:
        return None
    counts = [
        cron_count(field, size) for field, size in zip(match.groups()[:5], (60, 24, 31, 12, 7), strict=True)
    ]
    if any(count is None for count in counts):
        return None
    minutes, hours, days_of_month, months, days_of_week = (int(count or 0) for count in counts)
    days = DAYS_PER_MONTH if days_of_month == 31 else float(days_of_month)  # 31: '*' or '?'
    if days_of_week < 7:
        days = days_of_week * DAYS_PER_MONTH / 7
    return minutes * hours * days * months / 12


def cron_count(field: str, size: int) -> int | None:
    """Values one cron field selects: ``*``/``?`` all, lists, ranges and ``/steps``; None if unknown."""
    if field in ("*", "?"):
        return size
    total = 0
    for part in field.split(","):
        if match := re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part):
            start = 0 if match[1] == "*" else int(match[1])
            end = int(match[2]) if match[2] else (size - 1 if match[1] == "*" or match[3] else start)
            total += math.ceil((end - start + 1) / int(match[3] or 1))
        else:
            return None  # L, W, #, named days or months: not needed here, so not modelled
    return total


def glue_job_dpus(props: Mapping[str, Any]) -> float:
    if "WorkerType" in props and "NumberOfWorkers" in props:
        return WORKER_DPUS.get(props["WorkerType"], 1) * float(props["NumberOfWorkers"])
    return float(props.get("MaxCapacity", props.get("AllocatedCapacity", 10)))


def glue_work(what: str, minutes: float, dpus: float) -> tuple[str, float]:
    """(description, cost) of one Glue run billed ``minutes`` on ``dpus``."""
    return f"{what} ({minutes:g} min x {dpus:g} DPU)", minutes / 60 * dpus * PRICES["glue_dpu_hour"][0]


def state_machine_tasks(props: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every Task state of a definition (nested branches included); nothing if it cannot be parsed."""
    definition = props.get("Definition")
    if definition is None:
        try:
            definition = json.loads(render(props.get("DefinitionString", "{}")))
        except json.JSONDecodeError:
            return
    yield from tasks_in(definition)


def tasks_in(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        if node.get("Type") == "Task":
            yield node
        for value in node.values():
            yield from tasks_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from tasks_in(value)


def run_cost(props: Mapping[str, Any], named: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, float]]:
    """(work, billing-minimum cost) of one execution that visits each task once. ``named``: the Glue
    jobs and Redshift Serverless workgroups of the app by name."""
    work: list[tuple[str, float]] = []
    for task in state_machine_tasks(props):
        resource, params = str(task.get("Resource", "")), task.get("Parameters", {})
        if resource.endswith(":glue:startCrawler"):
            work.append(glue_work(f"crawler {params.get('Name')}", CRAWLER_MIN_MINUTES, CRAWLER_DPUS))
        elif ":glue:startJobRun" in resource:
            job = named.get(str(params.get("JobName")), {})
            minutes = 10 if str(job.get("GlueVersion", "")) in ("0.9", "1.0") else SPARK_MIN_MINUTES
            work.append(glue_work(f"job {params.get('JobName')}", minutes, glue_job_dpus(job)))
        elif resource.endswith(":glue:startDataQualityRulesetEvaluationRun"):
            source = params.get("DataSource", {}).get("GlueTable", {})
            if "pushDownPredicate.$" in source.get("AdditionalOptions", {}):
                continue  # evaluates the run's new partitions: a run without new data skips it
            workers = float(params.get("NumberOfWorkers", DATA_QUALITY_DEFAULT_WORKERS))
            work.append(glue_work("data-quality evaluation", SPARK_MIN_MINUTES, workers))
        elif ":redshiftdata:" in resource and "execute" in resource.lower() and "WorkgroupName" in params:
            workgroup = named.get(str(params["WorkgroupName"]), {})
            rpus = float(workgroup.get("BaseCapacity", SERVERLESS_DEFAULT_RPUS))
            cost = SERVERLESS_MIN_SECONDS / 3600 * rpus * PRICES["redshift_rpu_hour"][0]
            work.append((f"Redshift Serverless statements ({SERVERLESS_MIN_SECONDS} s x {rpus:g} RPU)", cost))
    return work


def scheduled_work(templates: Mapping[str, Template]) -> tuple[list[Line], list[str]]:
    """Work that schedules start whether or not data arrived: enabled EventBridge schedules targeting a
    state machine, and crawler schedules. Priced at billing minimums, so a floor."""
    resources = {
        (stack, logical_id): resource
        for stack, template in templates.items()
        for logical_id, resource in template.get("Resources", {}).items()
    }
    named = {  # Glue jobs and Serverless workgroups by name, as state machines refer to them
        render(r["Properties"].get("Name", r["Properties"].get("WorkgroupName"))): r["Properties"]
        for r in resources.values()
        if r["Type"] in ("AWS::Glue::Job", "AWS::RedshiftServerless::Workgroup")
    }
    lines: list[Line] = []
    notes: list[str] = []
    for (stack, logical_id), resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Glue::Crawler" and "Schedule" in props:
            expression, what = (
                str(props["Schedule"].get("ScheduleExpression")),
                f"crawler {render(props.get('Name'))}",
            )
            work = [glue_work(what, CRAWLER_MIN_MINUTES, CRAWLER_DPUS)]
        elif resource["Type"] == "AWS::Events::Rule" and props.get("State", "ENABLED") == "ENABLED":
            expression, work, what = str(props.get("ScheduleExpression")), [], ""
            for target in props.get("Targets", []):
                machine = resources.get((stack, str(local_ref(target.get("Arn")))), {})
                if (
                    machine.get("Type") == "AWS::StepFunctions::StateMachine"
                    and "ScheduleExpression" in props
                ):
                    work += run_cost(machine["Properties"], named)
                    name = machine["Properties"].get("StateMachineName", local_ref(target.get("Arn")))
                    what = f"state machine {render(name)}"
        else:
            continue
        runs = runs_per_month(expression)
        if work and runs is None:
            notes.append(f"{stack}/{logical_id}: schedule {expression} not understood; not priced")
        elif work and runs is not None:
            lines.append(scheduled_line(what, expression, runs, sum(cost for _, cost in work)))
            started = ", ".join(f"{item} {usd(cost)}" for item, cost in work)
            notes.append(f"each scheduled run of {what} starts, even with no new data: {started}")
    if lines:
        notes.append(
            "scheduled work is priced at billing minimums (crawler 10 min, Spark 1 min, Redshift Serverless "
            "60 s); AWS sizes crawlers itself, so their 1 DPU is an assumption"
        )
    return lines, notes


def local_ref(value: Any) -> str | None:
    """The logical id a ``Ref``/``Fn::GetAtt`` points to, else None."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return str(value["Ref"])
        if isinstance(value.get("Fn::GetAtt"), list):
            return str(value["Fn::GetAtt"][0])
    return None


def scheduled_line(what: str, expression: str, runs: float, cost_per_run: float) -> Line:
    return Line(
        resource_type=f"scheduled: {what}",
        count=1,
        billed_as=f"{runs:.1f} runs/month ({expression}) at billing minimums",
        quantity=runs,
        unit_price=cost_per_run,
        unit="run",
    )


# ---- the whole environment ------------------------------------------------------------------------


def idle_cost(env: str, templates: Mapping[str, Template]) -> Report:
    """Idle cost of every stack of one environment (stack name -> template)."""
    # (type, unit, unit price, note) -> the quantity each resource of that type bills
    rows: dict[tuple[str, str, float | None, str], list[float]] = {}
    for template in templates.values():
        for resource in template.get("Resources", {}).values():
            for charge in price_resource(resource["Type"], resource.get("Properties", {})):
                key = (resource["Type"], charge.unit, charge.unit_price, charge.note)
                rows.setdefault(key, []).append(charge.quantity)
    lines = [
        Line(
            resource_type=resource_type,
            count=len(quantities),
            billed_as=plural(sum(quantities), unit) if unit else note,
            quantity=sum(quantities),
            unit_price=price,
            unit=unit,
        )
        for (resource_type, unit, price, note), quantities in rows.items()
    ]
    lines = budget_allowance(lines)
    scheduled, notes = scheduled_work(templates)
    lines.sort(key=lambda line: (-line.monthly, line.resource_type))
    return Report(env=env, lines=[*lines, *scheduled], notes=[*key_rotation_note(templates), *notes])


def key_rotation_note(templates: Mapping[str, Template]) -> list[str]:
    """KMS bills each rotation's new key material $1/month, for the first two rotations only."""
    rotating = sum(
        1
        for template in templates.values()
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::KMS::Key" and resource.get("Properties", {}).get("EnableKeyRotation")
    )
    if not rotating:
        return []
    return [
        f"{rotating} KMS keys rotate yearly: each of the first two rotations adds $1/key-month, so they "
        f"cost ${2 * rotating}/month in year 2 and ${3 * rotating}/month from year 3 (priced here: year 1)"
    ]


def plural(quantity: float, unit: str) -> str:
    return f"{quantity:g} {unit}{'' if quantity == 1 else 's'}"


def budget_allowance(lines: list[Line]) -> list[Line]:
    """Budgets: the first two are free (per account; counted here per environment)."""
    budgets = sum(line.count for line in lines if line.resource_type == "AWS::Budgets::Budget")
    others = [line for line in lines if line.resource_type != "AWS::Budgets::Budget"]
    if not budgets:
        return others
    billed = max(budgets - FREE_BUDGETS, 0) * DAYS_PER_MONTH
    price, unit, _ = PRICES["budget"]
    return [
        *others,
        Line(
            "AWS::Budgets::Budget", budgets, f"{plural(billed, unit)} (first two free)", billed, price, unit
        ),
    ]


# ---- input and output -----------------------------------------------------------------------------


def load_templates(cdk_out: Path) -> dict[str, Template]:
    """Stack name -> template of every stack in a cloud assembly (``cdk.out``)."""
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    templates: dict[str, Template] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            properties = artifact.get("properties", {})
            name = properties.get("stackName", artifact.get("displayName", artifact_id))
            templates[name] = json.loads((cdk_out / properties["templateFile"]).read_text())
    return templates


def environments() -> list[str]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return list(context["datalake"]["environments"])


def synth(env: str, outdir: Path) -> Path:
    command = [str(CDK), "synth", "--quiet", "-c", f"env={env}", "-o", str(outdir)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"cdk synth -c env={env} failed")
    return outdir


def price_text(line: Line) -> str:
    if line.unit_price is None:
        return "not priced"
    if not line.unit:
        return "-"
    return f"{usd(line.unit_price)}/{line.unit}"


def usd(amount: float) -> str:
    """$1.00, $0.10, $0.015, $0.4033: cents, or four decimals for sub-cent prices."""
    text = f"{amount:.2f}" if abs(amount - round(amount, 2)) < 1e-9 else f"{amount:.4f}".rstrip("0")
    return f"${text}"


def target_check(report: Report) -> str | None:
    if report.env != "dev":
        return None

    def verdict(amount: float) -> str:
        return "OK" if amount <= DEV_TARGET_USD else "MISSED"

    return (
        f"dev target (idle <= ${DEV_TARGET_USD:.2f}/month): {verdict(report.total)} at ${report.total:.2f}; "
        f"standing charges alone ${report.standing:.2f}: {verdict(report.standing)}"
    )


def format_text(report: Report) -> str:
    header = ("resource type", "count", "billed as", "unit price", "USD/month")
    rows = [
        (line.resource_type, str(line.count), line.billed_as, price_text(line), f"{line.monthly:.2f}")
        for line in report.lines
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    out = [f"== {report.env}: {PRICE_NOTE}; {HOURS_PER_MONTH:g} h/month"]
    for row in [header, *rows]:
        cells = [
            cell.rjust(w) if i in (1, 4) else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    out.append(f"standing charges: ${report.standing:.2f}/month")
    out.append(f"idle total (standing + scheduled work): ${report.total:.2f}/month")
    out += [f"note: {note}" for note in report.notes]
    if report.unpriced:
        out.append("not priced: " + ", ".join(line.resource_type for line in report.unpriced))
    if check := target_check(report):
        out.append(check)
    return "\n".join(out)


def format_markdown(report: Report) -> str:
    """The charged (and unpriced) rows as a table; types with no idle charge folded into <details>."""
    charged = [line for line in report.lines if line.monthly or line.unit_price is None or line.unit]
    free = [line for line in report.lines if line not in charged]
    out = [
        f"**{report.env}**: idle ${report.total:.2f}/month: standing charges ${report.standing:.2f}, "
        f"scheduled work ${report.total - report.standing:.2f}",
        "",
        "| resource type | count | billed as | unit price | USD/month |",
        "|---|---:|---|---|---:|",
        *(
            f"| `{line.resource_type}` | {line.count} | {line.billed_as} | {price_text(line)} "
            f"| {line.monthly:.2f} |"
            for line in charged
        ),
        f"| **total** | | | | **{report.total:.2f}** |",
        "",
        f"<details><summary>{len(free)} resource types with no idle charge</summary>",
        "",
        "| resource type | count | why $0 while idle |",
        "|---|---:|---|",
        *(f"| `{line.resource_type}` | {line.count} | {line.billed_as} |" for line in free),
        "",
        "</details>",
    ]
    out += ["", *(f"- {note}" for note in report.notes)]
    if check := target_check(report):
        out += ["", f"**{check.replace('<=', '≤')}**"]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", action="append", help="environment(s); default: every one in cdk.json")
    parser.add_argument("--cdk-out", type=Path, help="an already-synthesized assembly (one --env)")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables (for the README)")
    args = parser.parse_args()

    envs: list[str] = args.env or environments()
    if args.cdk_out and len(envs) != 1:
        parser.error("--cdk-out needs exactly one --env (the environment it was synthesized for)")
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for env in envs:
            cdk_out = args.cdk_out or synth(env, Path(tmp) / env)
            reports.append(idle_cost(env, load_templates(cdk_out)))
    if args.markdown:
        print(f"Generated by `make cost` from the synthesized templates; {PRICE_NOTE}.\n")
    formatter = format_markdown if args.markdown else format_text
    print("\n\n".join(formatter(report) for report in reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
