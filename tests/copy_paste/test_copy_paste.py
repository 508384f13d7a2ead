"""Each construct file, copied alone into an empty folder as a user would, runs its docstring examples
verbatim in four apps: (a) a bare ``cdk.App()``; (b) the feature flags of a fresh ``cdk init app
--language python`` from the pinned CLI (generated here, not a committed copy); (c) (b) with the four
cdk-nag packs, with no finding on the construct's own resources; (d) (b) with a custom bootstrap
qualifier, also under cdk-nag. Each file's header states the minimum Python and aws-cdk-lib it needs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

CONSTRUCTS = ROOT / "constructs" / "datalake_constructs"
MODULES = sorted(p.stem for p in CONSTRUCTS.glob("[a-z]*.py"))
RUNNER = Path(__file__).with_name("run_example.py")
REQUIRES = re.compile(r"Requires Python >= (\d+)\.(\d+) and aws-cdk-lib >= (\d+)\.(\d+)\.(\d+)")
QUALIFIER = "team1"


@pytest.fixture(scope="session")
def init_flags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The context (feature flags) of a fresh ``cdk init app --language python`` of the pinned CLI."""
    folder = tmp_path_factory.mktemp("cdk-init")
    subprocess.run(
        [
            str(ROOT / "node_modules" / ".bin" / "cdk"),
            "init",
            "app",
            "--language",
            "python",
            "--generate-only",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    context: dict[str, Any] = json.loads((folder / "cdk.json").read_text())["context"]
    assert "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy" in context  # flags, not an empty file
    return context


def run_example(module: str, folder: Path, context: dict[str, Any] | None, *, nag: bool) -> dict[str, Any]:
    """Copies the file alone into ``folder`` and runs its examples there; returns the runner's report."""
    folder.mkdir()
    shutil.copy(CONSTRUCTS / f"{module}.py", folder / f"{module}.py")
    report = folder / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDK_")}
    env["CDK_OUTDIR"] = str(folder / "cdk.out")
    env["PYTHONPATH"] = ""  # nothing from this repository: the folder alone (the runner adds it)
    if context is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    result = subprocess.run(
        [sys.executable, str(RUNNER), str(folder), module, str(report), *(["--nag"] if nag else [])],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{module}: the example failed:\n{result.stderr[-4000:]}"
    reported: dict[str, Any] = json.loads(report.read_text())
    assert reported["constructs"], f"{module}: the example made none of the module's constructs"
    assert (folder / "cdk.out" / "manifest.json").exists(), f"{module}: the example did not synthesize"
    return reported


def own_findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Findings on the resources of the module's constructs (not on the example's other resources)."""
    roots = report["constructs"]
    return sorted(
        (rule, path)
        for rule, path in report["findings"]
        if any(path == root or path.startswith(f"{root}/") for root in roots)
    )


@pytest.mark.parametrize("module", MODULES)
def test_the_header_states_the_versions_it_needs_and_they_hold(module: str) -> None:
    source = (CONSTRUCTS / f"{module}.py").read_text()
    match = REQUIRES.search(source)
    assert match, f"{module}.py: no 'Requires Python >= X.Y and aws-cdk-lib >= X.Y.Z' in its header"
    python = (int(match.group(1)), int(match.group(2)))
    cdk_lib = tuple(int(g) for g in match.group(3, 4, 5))
    ast.parse(source, feature_version=python)  # no syntax newer than the stated Python
    installed = tuple(int(p) for p in importlib.metadata.version("aws-cdk-lib").split(".")[:3])
    assert installed >= cdk_lib
    assert sys.version_info[:2] >= python
    imports = {
        (node.module or "").split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    third_party = imports - set(sys.stdlib_module_names) - {"", "__future__"}
    assert third_party <= {"aws_cdk", "constructs"}, f"{module}.py imports {third_party}"


@pytest.mark.parametrize("module", MODULES)
def test_the_example_runs_in_a_bare_app(module: str, tmp_path: Path) -> None:
    run_example(module, tmp_path / "bare", None, nag=False)


@pytest.mark.parametrize("module", MODULES)
def test_the_example_runs_with_fresh_init_flags_and_no_nag_finding(
    module: str, tmp_path: Path, init_flags: dict[str, Any]
) -> None:
    report = run_example(module, tmp_path / "init", init_flags, nag=True)
    assert own_findings(report) == []


@pytest.mark.parametrize("module", MODULES)
def test_the_example_runs_with_a_custom_bootstrap_qualifier(
    module: str, tmp_path: Path, init_flags: dict[str, Any]
) -> None:
    context = {**init_flags, "@aws-cdk/core:bootstrapQualifier": QUALIFIER}
    report = run_example(module, tmp_path / "qualifier", context, nag=True)
    assert own_findings(report) == []
    templates = "".join(p.read_text() for p in (tmp_path / "qualifier" / "cdk.out").glob("*.template.json"))
    assert "hnb659fds" not in templates  # every asset and role reference follows the qualifier
