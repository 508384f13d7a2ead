"""The run summary a person reads at a glance, and the same as JSON (``<workdir>/summary.json``)."""

from __future__ import annotations

import json
from typing import Any

from local_twin.scenario import RunReport
from local_twin.twin import LocalTwin


def _pipeline_runs(report: RunReport) -> list[dict[str, Any]]:
    runs = []
    for execution in report.executions:
        skipped = execution.path and execution.path[-1] == "SkippedAlreadyRunning"
        runs.append(
            {
                "execution": execution.name,
                "status": execution.status,
                "skipped": bool(skipped),
                "path": execution.path,
                "error": execution.error,
                "started_by": execution.started_by,
            }
        )
    return runs


def summary(report: RunReport, twin: LocalTwin) -> dict[str, Any]:
    m, e = report.measured, report.expected
    stream = twin.delivery_stream
    jobs = {
        name: [
            {
                "state": run.state,
                "seconds": round(run.seconds, 1),
                "s3_requests": run.s3_requests,
                **(run.summaries[-1] if run.summaries else {}),
                **({"error": run.error} if run.error else {}),
            }
            for run in job.runs
        ]
        for name, job in twin.glue.jobs.items()
    }
    quality = [
        {
            "ruleset": r["RulesetName"],
            "score": r["Score"],
            "failed_rules": [x["Description"] for x in r["RuleResults"] if x["Result"] != "PASS"],
        }
        for r in twin.glue.dq_results.values()
    ]
    return {
        "ok": report.ok,
        "environment": report.env,
        "account": twin.assembly.env.account,
        "region": twin.assembly.env.region,
        "scenario": report.config,
        "counts": {
            "produced": e.produced,
            "firehose": {
                "in": stream.stats.records_in,
                "ok": stream.stats.ok,
                "failed": stream.stats.failed,
                "dropped": stream.stats.dropped,
                "lambda_invocations": stream.stats.invocations,
                "reasons": dict(sorted(m.lambda_reasons.items())),
            },
            "raw_objects": m.raw_objects,
            "error_objects": m.error_objects,
            "firehose_error_records": m.firehose_errors,
            "rows_read": m.job_totals.get("rows_read", 0),
            "rows_written": m.job_totals.get("rows_written", 0),
            "processed_in_zone": m.processed,
            "quarantined": m.quarantined,
            "quarantine_reasons": dict(sorted(m.quarantine_reasons.items())),
            "duplicates_in_batch": m.job_totals.get("duplicates_in_batch", 0),
            "duplicates_already_present": m.job_totals.get("duplicates_already_present", 0),
            "consumer_rows": m.consumer_rows,
        },
        "reconciliation": {
            "produced": e.produced,
            "processed": m.processed,
            "quarantined": m.quarantined,
            "firehose_errors": m.firehose_errors,
            "duplicates_removed": m.duplicates_removed,
            "holds": e.produced == m.processed + m.quarantined + m.firehose_errors + m.duplicates_removed,
        },
        "executions": _pipeline_runs(report),
        "jobs": jobs,
        "crawls": {name: c.crawls for name, c in twin.glue.crawlers.items()},
        "data_quality": quality,
        "alerts": report.alerts,
        "queries": [
            {
                "name": q.query.name,
                "workgroups": list(q.query.workgroups),
                "columns": q.columns,
                "rows": [[str(v) for v in row] for row in q.rows],
            }
            for q in report.queries
        ],
        "redshift_statements": [
            {
                "status": b.status,
                "statements": [s.sql for s in b.statements],
                **({"error": b.error} if b.error else {}),
            }
            for b in twin.redshift.batches.values()
        ],
        "permissions": {**twin.iam.summary(), "denials": [d.message for d in twin.iam.denials]},
        "violations": [str(v) for v in twin.sfn.violations],
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
        "stage_seconds": report.stage_seconds,
        "zones": str(twin.workdir / "s3"),
    }


def render(data: dict[str, Any]) -> str:
    c, r = data["counts"], data["reconciliation"]
    f = c["firehose"]
    lines = [
        "",
        f"Local twin run: {data['environment'] or 'cloud assembly'} (account {data['account']}, "
        f"{data['region']}), "
        f"{data['scenario']['events']:,} events, seed {data['scenario']['seed']}",
        "",
        "Ingestion",
        f"  produced               {c['produced']:>8,}",
        f"  Firehose Ok            {f['ok']:>8,}   failed {f['failed']:,} in {f['lambda_invocations']} "
        "transform invocations",
        f"    rejected by reason   {_counts(f['reasons'])}",
        f"  raw objects            {c['raw_objects']:>8,}   error objects {c['error_objects']:,} "
        f"({c['firehose_error_records']:,} records)",
        "Processing",
        f"  rows read              {c['rows_read']:>8,}",
        f"  written (processed)    {c['processed_in_zone']:>8,}",
        f"  quarantined            {c['quarantined']:>8,}   {_counts(c['quarantine_reasons'])}",
        f"  duplicates removed     {c['duplicates_in_batch'] + c['duplicates_already_present']:>8,}   "
        f"in batch {c['duplicates_in_batch']:,}, already stored {c['duplicates_already_present']:,}",
        f"  consumer rows          {c['consumer_rows']:>8,}",
    ]
    for quality in data["data_quality"]:
        verdict = "passed" if quality["score"] == 1 else f"FAILED: {'; '.join(quality['failed_rules'])}"
        lines.append(f"  data quality           score {quality['score']:.2f} ({verdict})")
    lines += ["", "Pipeline (Step Functions)"]
    skipped = sum(1 for x in data["executions"] if x["skipped"])
    for execution in data["executions"]:
        if execution["skipped"]:
            continue
        lines.append(
            f"  {execution['status']:<9} {execution['started_by'].split(' (', 1)[-1].rstrip(')')}: "
            f"{_path(execution['path'])}"
        )
        if execution["error"]:
            lines.append(f"            error {execution['error']}")
    lines.append(f"  {skipped} more execution(s) saw an older one running and ended (SkippedAlreadyRunning)")
    lines += ["", f"Alerts sent ({len(data['alerts'])})"]
    for alert in data["alerts"]:
        body = alert["body"]
        what = (
            body.get("error") or body.get("warning") or body.get("alert")
            if isinstance(body, dict)
            else str(body)[:80]
        )
        lines.append(f"  {alert['subject'] or '(no subject)'}: {what}")
    lines += ["", "Serving"]
    for query in data["queries"]:
        lines.append(f"  Athena {query['name']}: {len(query['rows'])} rows, e.g. {query['rows'][:2]}")
    for batch in data["redshift_statements"]:
        lines.append(f"  Redshift Data API batch {batch['status']}: {len(batch['statements'])} statement(s)")
    p = data["permissions"]
    lines += [
        "",
        f"Permissions: {p['checks']:,} checks ({p['distinct']:,} distinct), {p['denied']} denied",
        *(f"  {d}" for d in p["denials"][:10]),
        "",
        "Reconciliation",
        f"  produced {r['produced']:,} = processed {r['processed']:,} + quarantined {r['quarantined']:,} + "
        f"Firehose errors {r['firehose_errors']:,} + duplicates removed {r['duplicates_removed']:,}: "
        f"{'holds' if r['holds'] else 'BROKEN'}",
        "",
        "Checks",
    ]
    for check in data["checks"]:
        lines.append(f"  [{'ok' if check['ok'] else 'FAIL'}] {check['name']}: {check['detail']}")
    lines += [
        "",
        "Stage timings (s): " + ", ".join(f"{k} {v}" for k, v in data["stage_seconds"].items()),
        f"Zones left on disk: {data['zones']}  (summary.json beside them)",
        f"Result: {'OK' if data['ok'] else 'FAILED'}",
        "",
    ]
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _path(path: list[str]) -> str:
    """The states an execution went through, its polls folded: ``Start<X>``/``Get<X>`` and their wait
    loops become ``<X>``; choices and bookkeeping passes are left out."""
    folded: list[str] = []
    for state in path:
        if state.endswith(("Wait", "CountPoll", "PollInit", "?", "Crawled", "Refreshed")):
            continue
        name = state
        for prefix in ("Start", "Get"):
            if name.startswith(prefix) and name[len(prefix) :][:1].isupper():
                name = name[len(prefix) :]
        if name not in folded[-1:]:
            folded.append(name)
    return " > ".join(folded)


def write(data: dict[str, Any], path: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))
