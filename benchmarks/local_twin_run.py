"""Wall time of the local twin's default run (``make run-local``), stage by stage.

Synthesizes the environment into a temporary folder (timed), then runs the default scenario in a fresh
Python process, as ``make run-local`` does, so Spark's start (a new JVM) and the States Language
interpreter's start are inside the measured run. Prints the synth time, the run's own stage timings (from
its summary.json) and the total. The target (issue 14) is the whole default run in under 3 minutes on
the 2-core development machine, Spark start included.

Usage (from the repository root): ``python benchmarks/local_twin_run.py [--env dev] [--events 20000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 180


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    environment = {**os.environ, "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"}
    with tempfile.TemporaryDirectory(prefix="twin-bench-") as folder:
        assembly, workdir = Path(folder) / "cdk.out", Path(folder) / "run"
        started = time.monotonic()
        subprocess.run(
            ["cdk", "synth", "--quiet", "-c", f"env={args.env}", "-o", str(assembly)],
            cwd=ROOT,
            env=environment,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        synth = time.monotonic() - started
        started = time.monotonic()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "local_twin",
                *("--cdk-out", str(assembly), "--env", args.env),
                *("--events", str(args.events), "--workdir", str(workdir)),
            ],
            cwd=ROOT,
            env=environment,
            check=False,
            capture_output=True,
            text=True,
        )
        total = time.monotonic() - started
        if run.returncode != 0:
            print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
            print(f"the run failed (exit {run.returncode})")
            return 1
        stages = json.loads((workdir / "summary.json").read_text())["stage_seconds"]
    print(f"local twin, {args.env}, {args.events:,} events")
    print(f"  {'synth (cdk synth, not part of the run)':<44} {synth:7.1f} s")
    for stage, seconds in stages.items():
        print(f"  {stage:<44} {seconds:7.1f} s")
    accounted = sum(stages.values())
    print(f"  {'start-up, checks, summary (the rest)':<44} {total - accounted:7.1f} s")
    print(f"  {'whole run (new process, Spark start included)':<44} {total:7.1f} s")
    verdict = "met" if total < TARGET_SECONDS else "MISSED"
    print(f"target: whole run under {TARGET_SECONDS} s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
