"""Capacity plan for a target event rate: which service quota is reached first, the configuration that
carries the rate, and its monthly cost.

For ``--rate`` events per second (sustained; ``--peak`` times that at peak) of ``--bytes`` each, with
``--event-types`` distinct event types and ``--retention-days`` of raw data kept, it works out, from the
quotas and prices in stacks/quotas.py (each with its source page):

* ingestion: Firehose Direct PUT against a Kinesis stream (on-demand or provisioned shards), the Firehose
  active partitions the raw layout makes, the transform Lambda's concurrency;
* the daily Glue work (DPU-hours) from the local ETL benchmark's measured throughput, scaled to G.1X
  workers (an extrapolation: confirm with one Glue run, see below);
* catalog growth, storage, and the monthly cost of each part.

It prints, per rate, each limit's use (demand / quota) sorted so the first one reached comes first, the
configuration (source, shards, workers) and the cost table. ``--markdown`` prints the tables of
docs/scaling.md. Quotas marked * were not confirmed against their page here; prices are us-east-1 list
prices, not confirmed online here (see stacks/quotas.py for the commands that confirm both).

Usage: ``python benchmarks/capacity.py [--rate 1000 100000 1000000] [--bytes 500] [--event-types 50]
[--region us-east-1] [--markdown]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stacks import quotas  # noqa: E402
from stacks.quotas import PRICES, Quota  # noqa: E402

SECONDS_PER_MONTH = 730 * 3600
MIB = 2**20
GB = 1e9

# Measured here (see README "Benchmarks"): raw_to_processed on 1M events of 300-500 bytes took 21.0 s
# in local[2] Spark (2 cores) -> ~23,800 events/s per core. A G.1X worker is 4 vCPUs (1 DPU); Glue keeps
# one worker's worth for the driver. Assumed, not measured on Glue.
ETL_EVENTS_PER_CORE_SECOND = 1_000_000 / 21.0 / 2
G1X_CORES = 4
# The transform Lambda: measured 1.38x a bare decode/parse/dump/encode loop on 10,000 records
# (benchmarks/transform_throughput.py); ~60,000 records/s on one core here. At 1,024 MB a Lambda gets
# roughly 0.6 of a vCPU: assumed ~30,000 records/s per concurrent execution.
LAMBDA_RECORDS_PER_SECOND = 30_000
LAMBDA_MEMORY_GB = 1.0
FIREHOSE_LAMBDA_BUFFER_MIB = 1  # the processor's buffer size (Firehose's default for Lambda processing)
RAW_GZIP_RATIO = 6.0  # JSON lines of this shape compress ~6x with GZIP (measured on the ETL benchmark's data)
PARQUET_RATIO = 3.0  # processed snappy Parquet vs raw JSON text: assumed
HEADROOM = 0.8  # a configuration is chosen to run its peak at no more than 80% of a quota
# The pipeline runs on object events: with data arriving all day, runs follow each other, one per
# buffering interval at most. A run's fixed part (assumed, not measured on AWS): each job's 1-minute
# billing minimum, and a Data Quality evaluation on its default 5 G.1X workers for ~2 minutes.
BUFFER_SECONDS = 300
RUN_MINUTES = 6.0  # two job starts, the evaluation, the serving refresh: assumed
DQ_WORKERS, DQ_MINUTES = 5, 2.0


@dataclass(frozen=True)
class Use:
    quota: Quota
    demand: float

    @property
    def share(self) -> float:
        return self.demand / self.quota.value


@dataclass(frozen=True)
class Plan:
    rate: float
    peak: float
    source: str
    shards: int | None
    lambda_concurrency: int
    glue_workers: int
    uses: list[Use]
    costs: dict[str, float]

    @property
    def monthly(self) -> float:
        return sum(self.costs.values())


def plan(
    rate: float, *, peak_factor: float, event_bytes: int, event_types: int, retention_days: int, region: str
) -> Plan:
    peak = rate * peak_factor
    peak_mib = peak * event_bytes / MIB
    records_q, requests_q, throughput_q = quotas.firehose_direct_put(region)
    direct_put = [Use(records_q, peak), Use(requests_q, peak / 500), Use(throughput_q, peak_mib)]
    direct_put_fits = all(u.share <= HEADROOM for u in direct_put)
    uses: list[Use] = []
    shards: int | None = None
    if direct_put_fits:
        source = "direct_put"
        uses += direct_put
    else:
        on_demand = [
            Use(quotas.KINESIS_ON_DEMAND_WRITE_RECORDS, peak),
            Use(quotas.KINESIS_ON_DEMAND_WRITE_MIB, peak_mib),
        ]
        if all(u.share <= HEADROOM for u in on_demand):
            source = "kinesis (on-demand)"
            uses += on_demand
        else:
            shards = math.ceil(max(peak / 1000, peak_mib) / HEADROOM)
            source = f"kinesis ({shards:,} shards)"
            uses.append(Use(quotas.KINESIS_SHARDS_PER_REGION, shards))
    uses.append(Use(quotas.FIREHOSE_ACTIVE_PARTITIONS, quotas.active_partitions(event_types)))
    concurrency = math.ceil(peak / LAMBDA_RECORDS_PER_SECOND * 1.2)  # 20% headroom
    uses.append(Use(quotas.LAMBDA_CONCURRENCY, concurrency))
    partitions_per_year = event_types * 365
    uses.append(Use(quotas.GLUE_PARTITIONS_PER_TABLE, partitions_per_year))
    uses.sort(key=lambda u: u.share, reverse=True)

    events_month = rate * SECONDS_PER_MONTH
    bytes_month = events_month * event_bytes
    events_per_day = rate * 86400
    core_seconds = events_per_day / ETL_EVENTS_PER_CORE_SECOND
    runs_per_day = 86400 / max(BUFFER_SECONDS, RUN_MINUTES * 60)
    # Workers for raw_to_processed to get through one run's share of the day in half a run.
    per_run = core_seconds / runs_per_day / (RUN_MINUTES * 30)
    workers = max(2, math.ceil(per_run / G1X_CORES) + 1)
    data_dpu_hours = core_seconds / G1X_CORES / 3600 * (workers / max(workers - 1, 1))
    minimum_dpu_hours = runs_per_day * 2 * workers / 60  # two jobs, one billed minute each at least
    dpu_hours_month = 30 * (
        max(data_dpu_hours, minimum_dpu_hours) + runs_per_day * DQ_WORKERS * DQ_MINUTES / 60
    )
    costs: dict[str, float] = {}
    billed_gb = events_month * max(event_bytes, quotas.FIREHOSE_BILLING_RECORD_KB * 1024) / GB
    costs["Firehose ingestion (5 KB per record)"] = billed_gb * PRICES["firehose_ingest_gb"].usd
    costs["Firehose dynamic partitioning"] = bytes_month / GB * PRICES["firehose_partitioning_gb"].usd
    if source.startswith("kinesis"):
        if shards is None:
            costs["Kinesis on-demand"] = 730 * PRICES[
                "kinesis_on_demand_stream_hour"
            ].usd + bytes_month / GB * (
                PRICES["kinesis_on_demand_in_gb"].usd + PRICES["kinesis_on_demand_out_gb"].usd
            )
        else:
            put_units = events_month * math.ceil(event_bytes / 25_000) / 1e6
            costs["Kinesis provisioned"] = (
                shards * 730 * PRICES["kinesis_shard_hour"].usd + put_units * PRICES["kinesis_put_units"].usd
            )
    invocations = bytes_month / (FIREHOSE_LAMBDA_BUFFER_MIB * MIB)
    lambda_seconds = events_month / LAMBDA_RECORDS_PER_SECOND
    costs["transform Lambda"] = (
        lambda_seconds * LAMBDA_MEMORY_GB * PRICES["lambda_gb_second"].usd
        + invocations / 1e6 * PRICES["lambda_requests"].usd
    )
    costs[f"Glue jobs + quality ({runs_per_day:.0f} runs/day)"] = (
        dpu_hours_month * PRICES["glue_dpu_hour"].usd
    )
    raw_gb = bytes_month / RAW_GZIP_RATIO / GB
    stored_months = retention_days / 30
    costs["S3 raw (GZIP) + processed (Parquet), at retention"] = (
        raw_gb * stored_months + bytes_month / PARQUET_RATIO / GB * stored_months
    ) * PRICES["s3_standard_gb_month"].usd
    return Plan(rate, peak, source, shards, concurrency, workers, uses, costs)


def label(quota: Quota) -> str:
    return f"{quota.name} ({quota.unit}){'' if quota.confirmed else '*'}"


def print_plan(p: Plan) -> None:
    print(f"\n== {p.rate:,.0f} events/s (peak {p.peak:,.0f}) ==")
    print(
        f"configuration: source {p.source}; transform Lambda concurrency {p.lambda_concurrency:,}; "
        f"Glue G.1X workers {p.glue_workers:,} per run"
    )
    print(f"{'limit':<84} {'demand':>14} {'quota':>14} {'use':>7}")
    for use in p.uses:
        print(f"{label(use.quota):<84} {use.demand:>14,.1f} {use.quota.value:>14,.0f} {use.share:>6.0%}")
    first = p.uses[0]
    print(f"first reached: {first.quota.name} ({first.share:.0%}; source {first.quota.source})")
    for name, usd in p.costs.items():
        print(f"  {name:<52} ${usd:>14,.0f}/month")
    print(f"  {'total':<52} ${p.monthly:>14,.0f}/month")


def print_markdown(plans: list[Plan]) -> None:
    for p in plans:
        print(f"\n### {p.rate:,.0f} events/s (peak {p.peak:,.0f})\n")
        print(
            f"Configuration: **{p.source}**, transform Lambda concurrency {p.lambda_concurrency:,}, "
            f"{p.glue_workers:,} G.1X workers per run.\n"
        )
        print("| Limit | Demand | Quota | Use | Source |")
        print("|---|---:|---:|---:|---|")
        for use in p.uses:
            print(
                f"| {label(use.quota)} | {use.demand:,.1f} | {use.quota.value:,.0f} | "
                f"{use.share:.0%} | {use.quota.source} |"
            )
        print("\n| Monthly cost (us-east-1 list prices) | USD |")
        print("|---|---:|")
        for name, usd in p.costs.items():
            print(f"| {name} | {usd:,.0f} |")
        print(f"| **total** | **{p.monthly:,.0f}** |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--peak", type=float, default=2.0, help="peak / sustained rate")
    parser.add_argument("--bytes", type=int, default=500)
    parser.add_argument("--event-types", type=int, default=50)
    parser.add_argument("--retention-days", type=int, default=365)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    plans = [
        plan(
            rate,
            peak_factor=args.peak,
            event_bytes=args.bytes,
            event_types=args.event_types,
            retention_days=args.retention_days,
            region=args.region,
        )
        for rate in args.rate
    ]
    if args.markdown:
        print_markdown(plans)
    else:
        for p in plans:
            print_plan(p)
        print("\n* not confirmed against its source page here; prices: us-east-1 list prices, unconfirmed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
