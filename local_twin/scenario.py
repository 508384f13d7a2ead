"""Scenarios run on the twin, their measurements, and the checks a run must pass.

The default scenario sends two waves of events (the second with redeliveries of the first), lets
Firehose deliver each and the pipeline run on what the deliveries trigger, fires the backstop schedule
where there is one, and runs the saved Athena queries. It then measures every stage from the zones
themselves (not from the jobs' own claims, except the duplicates they removed) and checks:

* the reconciliation ``produced = processed + quarantined + Firehose errors + duplicates removed``;
* each stage against the producer's independent computation (``producer.expected``): Firehose failures,
  quarantined lines by reason, duplicates, processed events, the consumer rows value by value, and each
  saved query's result computed by the same query over the expected consumer rows;
* no permission denied, no request outside the service models, no Retry/Catch naming an error its
  operation cannot raise, every alarm and budget able to reach its topic, every execution succeeded.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from local_twin.athena import QueryResult, duckdb_type
from local_twin.producer import Expected, Mix, Producer, expected
from local_twin.stepfunctions import Execution
from local_twin.twin import LocalTwin


@dataclass(frozen=True)
class Zones:
    """Where the platform keeps each stage's data, read from the synthesized jobs and stream."""

    raw: str  # s3://bucket/prefix/
    errors: str
    processed: str
    quarantine: str
    consumer: str

    @classmethod
    def of(cls, twin: LocalTwin) -> Zones:
        stream = twin.delivery_stream
        raw = f"s3://{stream.bucket}/{_static(stream.prefix)}"
        errors = f"s3://{stream.bucket}/{_static(stream.error_prefix)}"
        jobs = {j.default_arguments.get("--source"): j.default_arguments for j in twin.glue.jobs.values()}
        first = jobs.get(raw)
        if first is None:
            raise RuntimeError(f"no Glue job reads {raw} (the raw zone Firehose writes)")
        second = jobs.get(first["--target"])
        if second is None:
            raise RuntimeError(f"no Glue job reads {first['--target']} (raw_to_processed's target)")
        return cls(raw, errors, first["--target"], first["--quarantine"], second["--target"])


def _static(prefix: str) -> str:
    """The folders of a Firehose prefix before its first expression (``events/`` of ``events/x=!{..}/``)."""
    head = prefix.split("!{", 1)[0]
    return head[: head.rfind("/") + 1]


def _files(twin: LocalTwin, url: str) -> list[Path]:
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return [
        twin.s3.path(bucket, o.key)
        for o in twin.s3.objects(bucket, prefix)
        if not any(part.startswith(("_", ".")) for part in o.key[len(prefix) :].split("/"))
    ]


def _lines(paths: list[Path]) -> list[str]:
    lines = []
    for path in paths:
        data = path.read_bytes()
        text = gzip.decompress(data).decode() if data[:2] == b"\x1f\x8b" else data.decode()
        lines += [line for line in text.splitlines() if line.strip()]
    return lines


@dataclass
class Measured:
    raw_objects: int = 0
    error_objects: int = 0
    firehose_errors: int = 0
    firehose_error_codes: Counter[str] = field(default_factory=Counter)
    lambda_reasons: Counter[str] = field(default_factory=Counter)
    processed: int = 0
    quarantined: int = 0
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    consumer_rows: int = 0
    job_totals: dict[str, int] = field(default_factory=dict)

    @property
    def duplicates_removed(self) -> int:
        return self.job_totals.get("duplicates_removed", 0)


def _row_count(parquet_files: list[str]) -> int:
    return int(duckdb.execute(f"SELECT count(*) FROM read_parquet({parquet_files!r})").fetchall()[0][0])


def measure(twin: LocalTwin, zones: Zones) -> Measured:
    m = Measured()
    raw_bucket, _, raw_prefix = zones.raw.removeprefix("s3://").partition("/")
    m.raw_objects = sum(1 for _ in twin.s3.objects(raw_bucket, raw_prefix))
    error_files = _files(twin, zones.errors)
    m.error_objects = len(error_files)
    errors = [json.loads(line) for line in _lines(error_files)]
    m.firehose_errors = len(errors)
    m.firehose_error_codes = Counter(e["errorCode"] for e in errors)
    for function in twin.lambdas.functions.values():
        for line in function.logs:
            if line.startswith("{") and '"record failed"' in line:
                m.lambda_reasons[json.loads(line)["reason"]] += 1
    processed = [str(p) for p in _files(twin, zones.processed) if p.name.endswith(".parquet")]
    if processed:
        m.processed = int(
            duckdb.execute(f"SELECT count(*) FROM read_parquet({processed!r})").fetchall()[0][0]
        )
    quarantine = [json.loads(line) for line in _lines(_files(twin, zones.quarantine))]
    m.quarantined = len(quarantine)
    m.quarantine_reasons = Counter(q["reason"] for q in quarantine)
    consumer = [str(p) for p in _files(twin, zones.consumer) if p.name.endswith(".parquet")]
    if consumer:
        m.consumer_rows = int(
            duckdb.execute(f"SELECT count(*) FROM read_parquet({consumer!r})").fetchall()[0][0]
        )
    for job in twin.glue.jobs.values():
        for run in job.runs:
            for summary in run.summaries:
                for key in (
                    "rows_read",
                    "rows_written",
                    "rows_quarantined",
                    "duplicates_in_batch",
                    "duplicates_already_present",
                    "redeliveries_other_day",
                    "duplicates_removed",
                    "partitions_registered",
                    "events_read",
                    "markers_consumed",
                ):
                    if isinstance(summary.get(key), int):
                        m.job_totals[key] = m.job_totals.get(key, 0) + summary[key]
    return m


GRAIN = ("event_date", "event_type", "currency")  # the consumer table's grain (processed_to_consumer)


def consumer_table(twin: LocalTwin, zones: Zones) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    """Every row of the consumer zone, by grain, each with all its columns (the partition as text)."""
    files = [str(p) for p in _files(twin, zones.consumer) if p.name.endswith(".parquet")]
    if not files:
        return {}
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    source = f"read_parquet({files!r}, hive_partitioning = true, hive_types_autocast = false)"
    described = connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    columns = [name for name, *_ in described]
    selects = [f'epoch_us("{name}")' if "TIMESTAMP" in kind else f'"{name}"' for name, kind, *_ in described]
    timestamps = {name for name, kind, *_ in described if "TIMESTAMP" in kind}
    rows = connection.execute(f"SELECT {', '.join(selects)} FROM {source}").fetchall()
    table = {}
    for values in rows:
        row = {
            c: _from_us(v) if c in timestamps and v is not None else v
            for c, v in zip(columns, values, strict=True)
        }
        table[tuple(row[c] for c in GRAIN)] = row
    return table  # type: ignore[return-value]


def _from_us(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def expected_consumer(truth: Expected) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    """The consumer rows the generated events make, by the consumer table's column names."""
    return {
        (day, kind, currency): {
            "event_date": day,
            "event_type": kind,
            "currency": currency,
            "event_count": row["event_count"],
            "unique_users": len(row["users"]),
            "total_amount": row["total_amount"],
            "first_event_time": row["first"],
            "last_event_time": row["last"],
        }
        for (day, kind, currency), row in truth.consumer_rows().items()
    }


def expected_query(
    twin: LocalTwin, result: QueryResult, rows: dict[tuple[str, str, str | None], dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """The saved query, run on tables holding the expected consumer rows (with the catalog's columns and
    types) instead of the zone."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for table in twin.athena._tables(result.query):
            columns = [*table.columns, *table.partition_keys]
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.database}"')
            definition = ", ".join(f'"{name}" {duckdb_type(kind)}' for name, kind in columns)
            connection.execute(f'CREATE TABLE "{table.database}"."{table.name}" ({definition})')
            marks = ", ".join("?" for _ in columns)
            connection.executemany(
                f'INSERT INTO "{table.database}"."{table.name}" VALUES ({marks})',
                [[row[name] for name, _ in columns] for row in rows.values()],
            )
        return connection.execute(result.sql).fetchall()
    finally:
        connection.close()


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class RunReport:
    env: str
    config: dict[str, Any]
    measured: Measured
    expected: Expected
    executions: list[Execution]
    queries: list[QueryResult]
    checks: list[Check]
    stage_seconds: dict[str, float]
    alerts: list[dict[str, Any]]
    workdir: Path

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


@dataclass(frozen=True)
class Scenario:
    events: int = 20_000
    seed: int = 7
    mix: Mix = field(default_factory=Mix)
    first_wave_share: float = 0.7
    # What a scenario expects of the executions started by events (default: every one succeeds).
    expect_success: bool = True


def _redelivery_lookback(twin: LocalTwin) -> int:
    """raw_to_processed's ``--redelivery_lookback_days`` as deployed (0: no redelivery index)."""
    for job in twin.glue.jobs.values():
        if "--redelivery_lookback_days" in job.default_arguments:
            return int(job.default_arguments["--redelivery_lookback_days"])
    return 0


def run_scenario(
    twin: LocalTwin, scenario: Scenario, *, env: str = "", progress: Callable[[str], None] | None = None
) -> RunReport:
    say = progress or twin.progress
    seconds: dict[str, float] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    producer = Producer(seed=scenario.seed, mix=scenario.mix)
    first = int(scenario.events * scenario.first_wave_share)
    waves = [
        producer.wave(first, start=now - timedelta(minutes=60), span=timedelta(minutes=20), wave=1),
        producer.wave(
            scenario.events - first, start=now - timedelta(minutes=30), span=timedelta(minutes=15), wave=2
        ),
    ]
    zones = Zones.of(twin)
    executions: list[Execution] = []
    for index, wave in enumerate(waves, 1):
        started = time.monotonic()
        say(f"wave {index}: {len(wave):,} records into Firehose ({twin.delivery_stream.name})")
        keys = twin.ingest(wave)
        seconds[f"ingest wave {index}"] = round(time.monotonic() - started, 2)
        say(f"wave {index}: {len(keys)} objects delivered; EventBridge -> Step Functions")
        started = time.monotonic()
        executions += twin.trigger()
        seconds[f"pipeline run {index}"] = round(time.monotonic() - started, 2)
    if twin.events.scheduled_rules():
        started = time.monotonic()
        say("backstop schedule fires")
        executions += twin.fire_schedules()
        seconds["scheduled run"] = round(time.monotonic() - started, 2)
    started = time.monotonic()
    say("serving: saved Athena queries on DuckDB; alarm delivery checks")
    queries = twin.athena.run_named_queries()
    alarm_problems = twin.alarm_delivery_checks()
    seconds["serving"] = round(time.monotonic() - started, 2)
    truth = expected(producer.records, [[1], [2]], lookback_days=_redelivery_lookback(twin))
    measured = measure(twin, zones)
    checks = _checks(
        twin,
        zones=zones,
        truth=truth,
        m=measured,
        executions=executions,
        queries=queries,
        alarm_problems=alarm_problems,
        scenario=scenario,
    )
    report = RunReport(
        env=env,
        config={"events": scenario.events, "seed": scenario.seed, "mix": vars(scenario.mix)},
        measured=measured,
        expected=truth,
        executions=executions,
        queries=queries,
        checks=checks,
        stage_seconds=seconds,
        alerts=twin.alerts(),
        workdir=twin.workdir,
    )
    return report


def _checks(
    twin: LocalTwin,
    *,
    zones: Zones,
    truth: Expected,
    m: Measured,
    executions: list[Execution],
    queries: list[QueryResult],
    alarm_problems: list[str],
    scenario: Scenario,
) -> list[Check]:
    checks: list[Check] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append(Check(name, ok, detail))

    total = m.processed + m.quarantined + m.firehose_errors + m.duplicates_removed
    check(
        "reconciliation",
        truth.produced == total,
        f"produced {truth.produced:,} = processed {m.processed:,} + quarantined {m.quarantined:,} + "
        "Firehose errors "
        f"{m.firehose_errors:,} + duplicates removed {m.duplicates_removed:,} ({total:,})",
    )
    check(
        "Firehose failures",
        m.firehose_errors == truth.firehose_failed,
        f"{m.firehose_errors} measured, {truth.firehose_failed} expected",
    )
    check(
        "transform rejection reasons",
        m.lambda_reasons == truth.firehose_reasons,
        f"Lambda logged {dict(sorted(m.lambda_reasons.items()))}, expected "
        f"{dict(sorted(truth.firehose_reasons.items()))}",
    )
    check(
        "quarantine by reason",
        m.quarantine_reasons == truth.quarantine_reasons,
        f"{dict(sorted(m.quarantine_reasons.items()))} vs expected "
        f"{dict(sorted(truth.quarantine_reasons.items()))}",
    )
    removed = (
        m.job_totals.get("duplicates_in_batch", 0),
        m.job_totals.get("duplicates_already_present", 0),
        m.job_totals.get("redeliveries_other_day", 0),
    )
    check(
        "duplicates removed",
        removed
        == (truth.duplicates_in_batch, truth.duplicates_already_present, truth.redeliveries_other_day),
        f"in batch {removed[0]} (expected {truth.duplicates_in_batch}), already stored {removed[1]} "
        f"(expected {truth.duplicates_already_present}), of which under another day {removed[2]} "
        f"(expected {truth.redeliveries_other_day})",
    )
    check(
        "processed events",
        m.processed == len(truth.processed),
        f"{m.processed:,} in the zone, {len(truth.processed):,} expected",
    )
    actual_rows, expected_rows = consumer_table(twin, zones), expected_consumer(truth)
    differing = sorted(
        k for k in set(actual_rows) | set(expected_rows) if actual_rows.get(k) != expected_rows.get(k)
    )
    check(
        "consumer rows",
        not differing,
        f"{len(actual_rows)} rows; {len(differing)} differ from the expected aggregates"
        + (
            f", e.g. {differing[0]}: {actual_rows.get(differing[0])} vs {expected_rows.get(differing[0])}"
            if differing
            else ""
        ),
    )
    for result in queries:
        # Rows that tie on the ORDER BY may come in any order: compare as sorted lists.
        got = sorted(_normalize(result.rows), key=repr)
        wanted = sorted(_normalize(expected_query(twin, result, expected_rows)), key=repr)
        check(
            f"query {result.query.name}",
            got == wanted,
            f"{len(got)} rows, as computed from the generated events"
            + ("" if got == wanted else f"; expected {wanted[:3]}..., got {got[:3]}..."),
        )
    failed = [e for e in executions if e.status != "SUCCEEDED"]
    if scenario.expect_success:
        check(
            "executions succeeded",
            not failed,
            "; ".join(f"{e.name}: {e.status} {e.error}: {(e.cause or '')[:300]}" for e in failed)
            or f"{len(executions)} executions",
        )
    denials = twin.iam.denials
    check(
        "permissions",
        not denials,
        "; ".join(d.message for d in denials[:5]) or f"{len(twin.iam.decisions):,} checks, none denied",
    )
    check(
        "service models",
        not twin.sfn.violations,
        "; ".join(map(str, twin.sfn.violations[:5]))
        or "every request and response within the SDK models; every Retry/Catch can match",
    )
    check(
        "alarm and budget delivery",
        not alarm_problems,
        "; ".join(alarm_problems[:3]) or "every alarm and budget action can publish to its topic",
    )
    return checks


def _normalize(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]
