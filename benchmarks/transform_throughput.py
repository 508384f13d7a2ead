"""Throughput of the Firehose transform Lambda versus a bare decode/parse/serialize/encode floor.

Builds 10,000 realistic records (varied event types, 300-600 byte JSON with a nested payload, ISO
timestamps with and without offsets, some epoch seconds and milliseconds), then times, alternately
each round so machine noise hits both alike:

(a) the handler, called in Firehose-like invocations of 500 records each (logs go to /dev/null);
(b) the floor: per record base64-decode, ``json.loads``, ``json.dumps``, base64-encode, using
    ``binascii`` directly (the fastest standard-library base64, so the floor is not flattered).

Also measures the handler module's import time with ``python -X importtime`` in fresh interpreters,
from source as on Lambda (the asset ships no ``.pyc``) and from cached bytecode.

Usage (from the repository root): ``python benchmarks/transform_throughput.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SRC = ROOT / "lambda_src"
PACKAGE = "firehose_transform"
MODULE = f"{PACKAGE}.handler"
RECORDS = 10_000
CHUNK = 500  # records per invocation
TARGET_RATIO = 1.5
TARGET_IMPORT_MS = 50.0
IMPORT_RUNS = 7

sys.path.insert(0, str(LAMBDA_SRC))  # the benchmark's own in-process import of the handler
from firehose_transform import handler as transform  # noqa: E402

EVENT_TYPES = (
    "order_placed",
    "order_shipped",
    "order_cancelled",
    "payment_authorized",
    "payment_failed",
    "page_view",
    "search",
    "add_to_cart",
    "user_signed_up",
    "user_logged_in",
    "inventory_adjusted",
    "refund_issued",
)
OFFSETS = ("+02:00", "-05:00", "+05:30", "+09:00", "-03:00", "+01:00")


def make_event(rng: random.Random, index: int) -> dict[str, Any]:
    """One event: an envelope and a nested payload of realistic size and shape."""
    moment = 1_795_000_000 + rng.randrange(0, 90 * 86_400)  # late 2026
    millis = rng.randrange(1000)
    kind = rng.random()
    event_time: str | int
    if kind < 0.45:  # ISO with an offset: the producer's local time
        offset = rng.choice(OFFSETS)
        sign = 1 if offset[0] == "+" else -1
        shift = sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
        local = time.gmtime(moment + shift)
        event_time = time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{millis:03d}{offset}"
    elif kind < 0.75:  # canonical UTC with milliseconds
        event_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"
    elif kind < 0.85:  # naive (UTC), whole seconds
        event_time = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment))
    elif kind < 0.93:
        event_time = moment  # epoch seconds
    else:
        event_time = moment * 1000 + millis  # epoch milliseconds
    items = [
        {
            "sku": f"SKU-{rng.randrange(10**6):06d}",
            "qty": rng.randrange(1, 5),
            "price": round(rng.uniform(1, 300), 2),
        }
        for _ in range(rng.randrange(0, 4))
    ]
    return {
        "event_id": f"{index:08d}-{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}",
        "event_type": rng.choice(EVENT_TYPES),
        "event_time": event_time,
        "source": rng.choice(("web", "ios", "android", "pos")),
        "schema_version": 3,
        "user": {
            "id": f"u-{rng.randrange(10**7)}",
            "segment": rng.choice(("new", "returning", "vip", None)),
            "locale": rng.choice(("en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR")),
        },
        "context": {
            "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "user_agent": rng.choice(("Mozilla/5.0 (X11; Linux x86_64)", "App/4.2 (iPhone; iOS 18.1)")),
            "session": f"s-{rng.getrandbits(48):012x}",
        },
        "payload": {
            "items": items,
            "currency": rng.choice(("EUR", "USD", "GBP", "JPY")),
            "total": round(sum(item["price"] * item["qty"] for item in items), 2),
            "note": rng.choice(("", "gift wrap", "Lieferung an Packstation", "置き配", "express")),
            "flags": {"test": False, "retry": rng.random() < 0.05},
        },
    }


def build_records(count: int) -> list[dict[str, Any]]:
    rng = random.Random(20261123)
    records = []
    for index in range(count):
        data = json.dumps(make_event(rng, index)).encode()
        records.append(
            {
                "recordId": f"4954698668313554428650745793632162567570019247115678{index:06d}",
                "approximateArrivalTimestamp": 1_795_429_800_000 + index,
                "data": base64.b64encode(data).decode(),
            }
        )
    return records


def run_handler(invocations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for event in invocations:
            out.extend(transform.handler(event, None)["records"])
    return out


def run_floor(records: list[dict[str, Any]]) -> list[str]:
    a2b, b2a, loads, dumps = binascii.a2b_base64, binascii.b2a_base64, json.loads, json.dumps
    return [b2a(dumps(loads(a2b(record["data"]))).encode(), newline=False).decode() for record in records]


def timed(function: Any, argument: Any) -> float:
    start = time.perf_counter()
    function(argument)
    return time.perf_counter() - start


def import_ms(env: dict[str, str]) -> float:
    """Cumulative import time of the handler module in a fresh interpreter, from -X importtime."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {MODULE}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        fields = line.split("|")
        if len(fields) == 3 and fields[2].strip() == MODULE:
            return int(fields[1]) / 1000
    raise RuntimeError(f"no importtime line for {MODULE}:\n{done.stderr}")


def import_times(runs: int) -> tuple[float, float]:
    """Median import ms from source and from cached bytecode, each in fresh interpreters.

    From source is what Lambda does: the asset ships no ``.pyc`` and ``/var/task`` is read-only, so the
    module is compiled at every cold start (the runtime's standard library has its bytecode). A copy
    of the package in a temporary directory guarantees no stale ``__pycache__`` is picked up.
    """
    with tempfile.TemporaryDirectory() as source_root, tempfile.TemporaryDirectory() as cache:
        no_bytecode = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(LAMBDA_SRC / PACKAGE, Path(source_root) / PACKAGE, ignore=no_bytecode)
        from_source = {**os.environ, "PYTHONPATH": source_root, "PYTHONDONTWRITEBYTECODE": "1"}
        cached = {**os.environ, "PYTHONPATH": str(LAMBDA_SRC), "PYTHONPYCACHEPREFIX": cache}
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        import_ms(cached)  # writes the bytecode once
        source_ms, cached_ms = [], []
        for _ in range(runs):
            source_ms.append(import_ms(from_source))
            cached_ms.append(import_ms(cached))
    return statistics.median(source_ms), statistics.median(cached_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    records = build_records(RECORDS)
    sizes = [len(base64.b64decode(record["data"])) for record in records]
    invocations = [
        {
            "invocationId": f"bench-{start // CHUNK}",
            "deliveryStreamArn": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/bench",
            "region": "eu-west-1",
            "records": records[start : start + CHUNK],
        }
        for start in range(0, len(records), CHUNK)
    ]

    results = run_handler(invocations)  # warm-up, and a check that the benchmark measures the Ok path
    failed = [entry for entry in results if entry["result"] != "Ok"]
    if len(results) != len(records) or failed:
        raise SystemExit(f"{len(failed)} records failed, e.g. {failed[:1]}")
    run_floor(records)

    handler_s: list[float] = []
    floor_s: list[float] = []
    for _ in range(args.rounds):
        handler_s.append(timed(run_handler, invocations))
        floor_s.append(timed(run_floor, records))
    handler_median, floor_median = statistics.median(handler_s), statistics.median(floor_s)
    source_ms, cached_ms = import_times(IMPORT_RUNS)

    print(
        f"records: {len(records)} ({min(sizes)}-{max(sizes)} bytes of JSON, median "
        f"{statistics.median(sizes):.0f}); handler in {len(invocations)} invocations of {CHUNK}"
    )
    print(f"rounds: {args.rounds} (alternating)")
    print(
        f"handler: median {handler_median * 1000:.1f} ms = {len(records) / handler_median:,.0f} records/s"
        f"  {[round(t * 1000, 1) for t in handler_s]}"
    )
    print(
        f"floor:   median {floor_median * 1000:.1f} ms = {len(records) / floor_median:,.0f} records/s"
        f"  {[round(t * 1000, 1) for t in floor_s]}"
    )
    print(
        f"ratio (handler time / floor time): {handler_median / floor_median:.2f}x (target <= {TARGET_RATIO}x)"
    )
    print(
        f"import {MODULE} (cumulative, median of {IMPORT_RUNS}): {source_ms:.1f} ms from source "
        f"(as on Lambda), {cached_ms:.1f} ms from cached bytecode (target <= {TARGET_IMPORT_MS:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
