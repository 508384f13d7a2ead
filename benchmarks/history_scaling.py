"""What one new day's pipeline work costs as the lake's history grows: the earlier design (three crawls
of everything, quality over the whole table) against the shipped one (tables defined in the app, jobs
registering their partitions, quality over the run's partitions), side by side, on the local twin.

For each history size (default 1, 7, 30 and 365 days; an uncounted warm-up pass first), with the dev
app synthesized twice (as shipped, and with crawlers configured, for the earlier design's crawls), the
history is built by the real jobs on the twin (raw Firehose-layout files for every day and event type,
processed and consumer zones written and registered by raw_to_processed and processed_to_consumer),
and one new day's events arrive. Then:

* shipped: the state machine runs (RawToProcessed, the run manifest, quality on its partitions,
  ProcessedToConsumer; no crawler): the twin shows the new partitions registered by the job.
* earlier: crawl raw, RawToProcessed, crawl processed, quality over the whole table,
  ProcessedToConsumer, crawl consumer, each step called directly on a copy of the same history.

Per step it prints the S3 requests as the twin's audited S3 saw them: objects listed (entries the
listings returned), objects read (GetObject) and their bytes (whole objects: an upper bound, Parquet
readers fetch ranges), wall time, and the ListObjectsV2 pages the listings take (1,000 entries each).
The target (issue 15): the shipped design's run on 365 days within 1.1x of its run on 1 day, in objects
read and in time; reads ramp up over the first 7 days (the redelivery index's and the source window's
folders) and are then flat, so 365 days against 7 is printed too.

The earlier design's raw_to_processed runs without the source window and the redelivery index (as it
was); both designs' jobs register partitions and write a manifest, a small cost the earlier one did not
have. Crawlers are the twin's: each lists
every object of its target and reads one file per partition for the schema (a real crawler reads
more), so the earlier design's crawl rows are a lower bound.

Usage (from the repository root): ``python benchmarks/history_scaling.py [--days 1 7 30 365]
[--events-per-file 20] [--new-events 2000]``. About 8 minutes on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aws_cdk as cdk  # noqa: E402

from local_twin.glue import DataQualityRun  # noqa: E402
from local_twin.producer import Mix, Producer  # noqa: E402
from local_twin.twin import LocalTwin  # noqa: E402
from stacks.platform import APP_OPTIONS, build_platform  # noqa: E402

EVENT_TYPES = ("page_view", "search", "add_to_cart", "order_placed", "refund")
TARGET = 1.1
LOOKBACK_DAYS = 7  # the shipped redelivery and source windows: reads ramp up to them, then stay flat


@dataclass
class Step:
    name: str
    listed: int = 0
    list_requests: int = 0  # ListObjectsV2 pages (1,000 entries each) those listings take
    read: int = 0
    bytes_read: int = 0
    seconds: float = 0.0


@dataclass
class Meter:
    """Attributes the twin's S3 requests and wall time to the step running."""

    twin: LocalTwin
    steps: list[Step] = field(default_factory=list)
    current: Step | None = None
    listing: bool = False

    def install(self) -> None:
        s3 = self.twin.s3
        authorize, list_objects = s3.authorize, s3.list_objects

        def metered_authorize(principal: str, operation: str, bucket: str, key: str, **kw: Any) -> None:
            authorize(principal, operation, bucket, key, **kw)
            step = self.current
            if step is None:
                return
            if operation == "GetObject":
                path = s3.path(bucket, key)
                step.read += 1
                step.bytes_read += path.stat().st_size if path.is_file() else 0
            elif operation == "ListObjectsV2" and not self.listing:  # a Spark listing: one folder
                folder = s3.path(bucket, key)
                entries = len(os.listdir(folder)) if folder.is_dir() else 0
                step.listed += entries
                step.list_requests += max(1, math.ceil(entries / 1000))

        def metered_list(principal: str | None, bucket: str, prefix: str = "", **kw: Any) -> list[Any]:
            self.listing = True
            try:
                found = list_objects(principal, bucket, prefix, **kw)
            finally:
                self.listing = False
            if self.current is not None and principal is not None:
                self.current.listed += len(found)
                self.current.list_requests += max(1, math.ceil(len(found) / 1000))
            return found

        s3.authorize = metered_authorize  # type: ignore[method-assign]
        s3.list_objects = metered_list  # type: ignore[method-assign]
        glue = self.twin.glue
        crawl, start_job_run, evaluate = glue.crawl, glue.start_job_run, glue._evaluate
        glue.crawl = lambda crawler: self.timed(f"crawl {crawler.name.split('-')[-2]}", crawl, crawler)  # type: ignore[method-assign]
        glue.start_job_run = lambda name, arguments=None: self.timed(  # type: ignore[method-assign]
            f"job {name.split('-', 2)[-1]}", start_job_run, name, arguments
        )
        glue._evaluate = lambda run: self.timed(  # type: ignore[method-assign]
            "quality " + ("(run's partitions)" if run.predicate else "(whole table)"), evaluate, run
        )

    def timed(self, name: str, function: Callable[..., Any], *args: Any) -> Any:
        step = Step(name)
        self.steps.append(step)
        self.current = step
        started = time.monotonic()
        try:
            return function(*args)
        finally:
            step.seconds = time.monotonic() - started
            self.current = None

    @contextmanager
    def recording(self) -> Iterator[list[Step]]:
        self.steps = []
        yield self.steps


def synth(out: Path, crawlers: bool) -> Path:
    """The dev app as shipped, or with crawlers configured (the earlier design's crawl targets and roles)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if crawlers:
        context["datalake"]["environments"]["dev"]["etl"]["crawlerTrigger"] = "on_demand"
    app = cdk.App(context={**context, "env": "dev"}, outdir=str(out), **APP_OPTIONS)
    build_platform(app)
    app.synth()
    return out


def bucket(twin: LocalTwin, zone: str) -> str:
    return next(name for name in twin.s3.buckets if f"-{zone}-" in name)


def job_name(twin: LocalTwin, suffix: str) -> str:
    return next(name for name in twin.glue.jobs if name.endswith(suffix))


def build_history(twin: LocalTwin, days: int, per_file: int, today: datetime) -> None:
    """``days`` days before today of raw files (one per event type and day), processed by the jobs."""
    raw = bucket(twin, "raw")
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        for event_type in EVENT_TYPES:
            lines = [
                json.dumps(
                    {
                        "event_id": str(uuid.uuid4()),
                        "event_type": event_type,
                        "event_time": (day + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                        "user_id": f"u{i % 50}",
                        "amount": "9.99" if event_type == "order_placed" else None,
                        "currency": "EUR" if event_type == "order_placed" else None,
                    }
                )
                for i in range(per_file)
            ]
            key = f"events/event_type={event_type}/dt={day:%Y-%m-%d}/history-{day:%Y%m%d}-{event_type}.gz"
            path = twin.s3.path(raw, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    for suffix, arguments in (
        ("raw-to-processed", {"--source_lookback_days": "0"}),  # the whole history, in one run
        ("processed-to-consumer", {}),
    ):
        run = twin.glue.start_job_run(job_name(twin, suffix), arguments)
        if run.state != "SUCCEEDED":
            raise SystemExit(f"building the history: {suffix} failed: {run.error}")
    spread_index(twin)


def spread_index(twin: LocalTwin) -> None:
    """The history was processed in one run, today: its redelivery index folder would hold every id
    of the history. Spread it over the days the events belong to, as daily runs would have left it."""
    from pyspark.sql import functions as sf  # noqa: PLC0415

    from local_twin import spark as twin_spark  # noqa: PLC0415

    index = twin.s3.path(bucket(twin, "processed"), "events/_event_ids")
    (today,) = list(index.iterdir())
    spark = twin_spark.session()
    ids = spark.read.parquet(str(today)).withColumn("processed_date", sf.col("event_date").cast("string"))
    spread = Path(f"{index}.spread")
    ids.coalesce(1).write.partitionBy("processed_date").mode("overwrite").parquet(str(spread))
    shutil.rmtree(index)
    spread.rename(index)


def copy_history(source: LocalTwin, target: LocalTwin) -> None:
    """The same zones, catalog partitions and job bookmarks in a second twin (same bucket names)."""
    shutil.rmtree(target.s3.root, ignore_errors=True)
    shutil.copytree(source.s3.root, target.s3.root)
    target.glue.bookmarks = copy.deepcopy(source.glue.bookmarks)
    for database, tables in source.glue.catalog.databases.items():
        for name, table in tables.items():
            twin_table = target.glue.catalog.table(database, name)
            if twin_table is not None:
                twin_table.partitions = dict(table.partitions)


def new_day(twin: LocalTwin, events: int, now: datetime, seed: int) -> None:
    producer = Producer(seed=seed, mix=Mix(firehose_rejects=0, glue_rejects=0.01, late=0, redeliveries=0))
    twin.ingest(producer.wave(events, start=now - timedelta(minutes=30), span=timedelta(minutes=10), wave=1))


def earlier_design(twin: LocalTwin, meter: Meter) -> list[Step]:
    """The earlier pipeline's steps, called in its order on the twin with crawlers."""
    crawlers = {c.name.split("-")[-2]: c for c in twin.glue.crawlers.values()}
    processed = next(d for d in twin.glue.catalog.databases if d.endswith("_processed"))
    ruleset = next(iter(twin.glue.rulesets))
    quality_role = next(
        r.name
        for r in twin.assembly.resources("AWS::IAM::Role")
        if "ProcessedEventsQualityRole" in r.logical_id
    )
    with meter.recording() as steps:
        twin.glue.crawl(crawlers["raw"])
        # The earlier job: no source window (its bookmark listed the whole source), no redelivery index.
        twin.glue.start_job_run(
            job_name(twin, "raw-to-processed"),
            {"--source_lookback_days": "0", "--redelivery_lookback_days": "0"},
        )
        twin.glue.crawl(crawlers["processed"])
        twin.glue._evaluate(
            DataQualityRun(
                id="dqrun-" + uuid.uuid4().hex,
                ruleset=ruleset,
                database=processed,
                table="events",
                role=twin.glue._role_arn(quality_role),
                started=datetime.now(UTC),
            )
        )
        twin.glue.start_job_run(job_name(twin, "processed-to-consumer"))
        twin.glue.crawl(crawlers["consumer"])
    return steps


def shipped_design(twin: LocalTwin, meter: Meter) -> tuple[list[Step], int]:
    """The shipped state machine, run by the twin; returns its steps and the partitions it registered."""
    table = twin.glue.catalog.table(
        next(d for d in twin.glue.catalog.databases if d.endswith("_processed")), "events"
    )
    assert table is not None
    before = len(table.partitions)
    with meter.recording() as steps:
        executions = twin.trigger()
    ran = [e for e in executions if e.path[-1:] != ["SkippedAlreadyRunning"]]
    if not ran or any(e.status != "SUCCEEDED" for e in ran):
        raise SystemExit(f"the shipped pipeline did not succeed: {[(e.status, e.path[-3:]) for e in ran]}")
    return steps, len(table.partitions) - before


def totals(steps: list[Step]) -> Step:
    total = Step("total")
    for step in steps:
        total.listed += step.listed
        total.list_requests += step.list_requests
        total.read += step.read
        total.bytes_read += step.bytes_read
        total.seconds += step.seconds
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 7, 30, 365])
    parser.add_argument("--events-per-file", type=int, default=20)
    parser.add_argument("--new-events", type=int, default=2000)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=0)
    results: dict[int, dict[str, list[Step]]] = {}
    registered: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="history-") as folder:
        started = time.monotonic()
        shipped_out = synth(Path(folder) / "shipped", crawlers=False)
        crawled_out = synth(Path(folder) / "crawled", crawlers=True)
        print(f"synthesized both apps in {time.monotonic() - started:.1f} s")
        # An uncounted first pass: the JVM and Spark warm up on it, not on the first measured size.
        for index, days in enumerate([min(args.days), *args.days]):
            started = time.monotonic()
            with (
                LocalTwin(shipped_out, Path(folder) / f"shipped-{index}") as shipped,
                LocalTwin(crawled_out, Path(folder) / f"crawled-{index}") as crawled,
            ):
                build_history(shipped, days, args.events_per_file, today)
                copy_history(shipped, crawled)
                warmup = index == 0
                note = " (warm-up, not counted)" if warmup else ""
                print(f"{days:>4} days of history built in {time.monotonic() - started:.1f} s{note}")
                for twin, seed in ((shipped, 1), (crawled, 1)):  # the same new day in both
                    new_day(twin, args.new_events, now, seed)
                old_meter, new_meter = Meter(crawled), Meter(shipped)
                old_meter.install()
                new_meter.install()
                old = earlier_design(crawled, old_meter)
                new, added = shipped_design(shipped, new_meter)
                if not warmup:
                    results[days], registered[days] = {"earlier": old, "shipped": new}, added

    header = (
        f"{'history':>8}  {'design':<8} {'step':<34} {'listed':>8} {'LISTs':>6} {'read':>6} {'MB read':>8} "
        f"{'seconds':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for days, designs in results.items():
        for design, steps in designs.items():
            for step in [*steps, totals(steps)]:
                print(
                    f"{days:>5} d  {design:<8} {step.name:<34} {step.listed:>8,} {step.list_requests:>6,} "
                    f"{step.read:>6,} "
                    f"{step.bytes_read / 1e6:>8.2f} {step.seconds:>8.2f}"
                )
        print(f"{'':>8}  shipped: the job registered {registered[days]} new partitions; no crawler ran")
        print()
    last = max(results)
    for design, first in (("shipped", min(results)), ("shipped", LOOKBACK_DAYS), ("earlier", min(results))):
        if first == last or first not in results:
            continue
        base, end = totals(results[first][design]), totals(results[last][design])
        ratios = {
            "objects read": end.read / max(base.read, 1),
            "time": end.seconds / base.seconds,
            "objects listed": end.listed / max(base.listed, 1),
            "LIST requests": end.list_requests / max(base.list_requests, 1),
        }
        print(
            f"{design} design, {last} days vs {first}: "
            + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items())
        )
        if design == "shipped" and first == min(results):
            met = max(ratios["objects read"], ratios["time"]) <= TARGET
            print(f"  target (objects read and time <= {TARGET}x): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
