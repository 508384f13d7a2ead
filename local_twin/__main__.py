"""``python -m local_twin --cdk-out DIR [--env NAME] [--events N] ...``: run the default scenario.

Exit status: 0 when every check holds; 1 when a run failed, the reconciliation broke, a permission was
denied or anything else differs from what the platform should have done; 2 on bad arguments or a cloud
assembly the twin cannot read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from local_twin import report
from local_twin.assembly import AssemblyError
from local_twin.producer import Mix
from local_twin.scenario import Scenario, run_scenario
from local_twin.twin import LocalTwin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_twin", description="Run the synthesized platform on this machine."
    )
    parser.add_argument("--cdk-out", required=True, help="a synthesized cloud assembly (cdk.out)")
    parser.add_argument("--env", default="", help="environment name, for the summary")
    parser.add_argument("--events", type=int, default=20_000, help="events to produce (default 20000)")
    parser.add_argument("--seed", type=int, default=7, help="producer seed (default 7)")
    parser.add_argument(
        "--mix",
        default="",
        help="shares of the record kinds, e.g. late=0.1,firehose_rejects=0.05 "
        f"(kinds: {', '.join(sorted(vars(Mix())))}; defaults {vars(Mix())})",
    )
    parser.add_argument(
        "--workdir", default=".twin/run", help="where the zones are written (default .twin/run)"
    )
    parser.add_argument(
        "--account", help="account id for an environment-agnostic assembly (default 123456789012)"
    )
    parser.add_argument("--region", help="region for an environment-agnostic assembly (default us-east-1)")
    args = parser.parse_args(argv)
    if args.events < 10:
        parser.error("--events: at least 10")
    try:
        mix = Mix(**{k: float(v) for k, v in (item.split("=", 1) for item in args.mix.split(",") if item)})
    except (TypeError, ValueError) as error:
        parser.error(f"--mix: {error}")
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    try:
        twin = LocalTwin(
            args.cdk_out, args.workdir, account=args.account, region=args.region, progress=progress
        )
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with twin:
        progress(
            f"cloud assembly {args.cdk_out}: {len(twin.assembly.stacks)} stacks; Spark and the States "
            "Language interpreter start on first use"
        )
        result = run_scenario(twin, Scenario(events=args.events, seed=args.seed, mix=mix), env=args.env)
        data = report.summary(result, twin)
    report.write(data, Path(args.workdir) / "summary.json")
    print(report.render(data))
    progress("done")
    return 0 if data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
