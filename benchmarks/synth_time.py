"""Synth wall time of the whole app (all four cdk-nag packs on) versus an app with one empty stack.

Runs, alternately in each round so machine noise hits all alike, through the pinned CDK CLI (CLI
start-up is in every figure):

* the whole app, as ``cdk synth`` runs it (app.py: CDK's built-in CloudFormation validation off in
  synth; ``make synth`` and the tests run that plugin on the templates afterwards);
* like for like, the verdicts against the target: the empty app without the built-in validation
  (as app.py), and the whole app with it against the default empty app;
* a default app with one empty stack (built-in validation on: CDK's default), which is what a
  developer compares with, though not like for like;
* the whole app without precompiled bytecode (an empty ``PYTHONPYCACHEPREFIX`` and
  ``PYTHONDONTWRITEBYTECODE``): what the Makefile's ``--compile-bytecode`` saves where that variable is set.

Also measures what importing our construct package adds to the aws-cdk-lib modules it imports.
Usage: ``python benchmarks/synth_time.py [--rounds N] [--env dev]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"
TARGET_RATIO = 1.5
TARGET_IMPORT_S = 0.3


def dependencies() -> str:
    """Every aws-cdk-lib submodule (and cdk_nag) our constructs and stacks import: the baseline, so the
    difference measured is our own code, not aws-cdk-lib's generated bindings."""
    found = {"aws_cdk", "cdk_nag"}
    for path in [*ROOT.glob("constructs/datalake_constructs/*.py"), *ROOT.glob("stacks/*.py")]:
        found.update(
            f"aws_cdk.{name}"
            for name in re.findall(r"^from aws_cdk import (aws_\w+|custom_resources)", path.read_text(), re.M)
        )
    return ", ".join(sorted(found))


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def synth_command(outdir: str, env: str, app: str | None = None) -> list[str]:
    command = [str(CDK), "synth", "--quiet", "-o", outdir, "-c", f"env={env}"]
    if app is not None:
        command += ["--app", app]
    return command


def bytecode_note() -> str:
    """Whether aws-cdk-lib's bytecode was compiled at install (the Makefile does). Looks at a module
    no synth imports, so bytecode Python wrote while running the app does not count."""
    spec = importlib.util.find_spec("aws_cdk")  # locates the package without importing it
    package = Path(spec.origin).parent if spec and spec.origin else ROOT
    compiled = Path(importlib.util.cache_from_source(str(package / "aws_gamelift" / "__init__.py")))
    return "precompiled at install" if compiled.exists() else "NOT precompiled at install"


def import_seconds(modules: str, rounds: int) -> float:
    return statistics.median(timed([sys.executable, "-c", f"import {modules}"]) for _ in range(rounds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()

    empty_app = f"{sys.executable} benchmarks/empty_app.py"
    variants = {  # name -> the app the CLI runs (None: cdk.json's, i.e. app.py)
        "full": None,
        "empty": empty_app,
        "bare_empty": f"{empty_app} --no-builtin-validation",
        "full_builtin": f"{sys.executable} benchmarks/app_with_builtin_validation.py",
        "full_no_bytecode": None,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        # Python looks for bytecode only under this empty prefix and may not write any there: every
        # module is compiled from source, as without the Makefile's --compile-bytecode.
        no_bytecode = {**os.environ, "PYTHONPYCACHEPREFIX": f"{tmp}/no-pyc", "PYTHONDONTWRITEBYTECODE": "1"}
        timed(synth_command(f"{tmp}/warm", args.env))  # warm caches (node modules, page cache) once
        for round_no in range(args.rounds):
            for name, app in variants.items():
                command = synth_command(f"{tmp}/{name}{round_no}", args.env, app)
                times[name].append(timed(command, no_bytecode if name == "full_no_bytecode" else None))

    full, empty = times["full"], times["empty"]
    full_median, empty_median = statistics.median(full), statistics.median(empty)
    bare_median = statistics.median(times["bare_empty"])
    builtin_median = statistics.median(times["full_builtin"])
    no_bytecode_median = statistics.median(times["full_no_bytecode"])
    ratio = full_median / empty_median
    # Our package's own cost, separated from the aws-cdk-lib modules and cdk-nag assembly it loads
    # (any app using S3/KMS/IAM pays those anyway).
    bare = import_seconds("aws_cdk", args.rounds)
    modules = dependencies()
    # Alternate the two so machine noise hits both alike; stacks.platform imports every construct.
    dep_times: list[float] = []
    our_times: list[float] = []
    for _ in range(max(args.rounds, 7)):
        dep_times.append(timed([sys.executable, "-c", f"import {modules}"]))
        our_times.append(timed([sys.executable, "-c", f"import {modules}, stacks.platform"]))
    deps, ours = statistics.median(dep_times), statistics.median(our_times)

    print(f"rounds: {args.rounds} (alternating), env: {args.env}, aws-cdk-lib bytecode: {bytecode_note()}")
    print(f"full app synth (4 nag packs): median {full_median:.2f} s  {[round(t, 2) for t in full]}")
    print("like for like (app.py moves CDK's built-in CloudFormation validation from synth to make synth):")
    for label, like_ratio, median in (
        ("both without it: empty app", full_median / bare_median, bare_median),
        ("both with it:    full app ", builtin_median / empty_median, builtin_median),
    ):
        verdict = "OK" if like_ratio <= TARGET_RATIO else "MISSED"
        print(f"  {label} median {median:.2f} s; ratio {like_ratio:.2f}x ({verdict} against {TARGET_RATIO}x)")
    rounded = [round(t, 2) for t in empty]
    print(f"default empty app synth (built-in validation on): median {empty_median:.2f} s  {rounded}")
    print(f"  the full app takes {ratio:.2f}x that: what a developer sees, not like for like")
    print(
        f"full app without precompiled bytecode: median {no_bytecode_median:.2f} s "
        f"({no_bytecode_median / full_median:.2f}x the full app with it)"
    )
    print(
        f"import aws_cdk: {bare:.3f} s; + the {modules.count(',')} aws-cdk-lib submodules/cdk-nag "
        f"we use: {deps - bare:+.3f} s"
    )
    print(f"+ our package and stacks on top: {ours - deps:+.3f} s (target <= {TARGET_IMPORT_S} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
