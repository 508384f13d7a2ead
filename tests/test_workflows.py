"""The GitHub Actions workflows (.github/workflows): actionlint clean, least privilege, pinned actions, and
the same Makefile targets a developer runs, so CI and a laptop cannot drift apart.

Each rule is a function over the parsed workflow, tested on the real workflows and on a broken one.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".venv" / "bin" / "actionlint"
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
ROLE_ACTION = "aws-actions/configure-aws-credentials"


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True
    if True in document:
        document["on"] = document.pop(True)
    return document


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {m.group(1) for m in re.finditer(r"^([a-z][a-z-]*):", text, re.MULTILINE)}


def problems(workflow: dict[str, Any], targets: set[str]) -> list[str]:
    """What breaks the rules: a job without explicit permissions, id-token: write on a job that assumes no
    role, an action not pinned to a commit SHA, a `make` target the Makefile lacks, a command that is not
    a make target, a deploy job without an environment and a concurrency group."""
    found: list[str] = []
    if workflow.get("permissions") not in ({}, None) and workflow.get("permissions") != "read-all":
        found.append(f"workflow-level permissions {workflow.get('permissions')!r}: grant per job instead")
    for name, job in workflow.get("jobs", {}).items():
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            found.append(f"{name}: no explicit permissions")
            permissions = {}
        steps = job.get("steps", [])
        uses = [s["uses"] for s in steps if "uses" in s] + ([job["uses"]] if "uses" in job else [])
        for action in uses:
            if not action.startswith("./") and not PINNED.fullmatch(action):
                found.append(f"{name}: {action} is not pinned to a commit SHA")
        assumes_role = any(a.startswith(f"{ROLE_ACTION}@") for a in uses)
        if permissions.get("id-token") == "write" and not assumes_role:
            found.append(f"{name}: id-token: write without assuming a role")
        if assumes_role and permissions.get("id-token") != "write":
            found.append(f"{name}: assumes a role without id-token: write")
        credentials = next(
            (i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith(ROLE_ACTION)), None
        )
        for index, step in enumerate(steps):
            installs = any(f"make {t}" in str(step.get("run", "")) for t in ("synth", "test", "install"))
            if credentials is not None and index > credentials and installs:
                found.append(f"{name}: installs or synthesizes while holding AWS credentials")
            for line in str(step.get("run", "")).splitlines():
                command = line.strip()
                if command.startswith("make "):
                    target = command.split()[1]
                    if target not in targets:
                        found.append(f"{name}: make {target} is not a Makefile target")
        if any("make deploy" in str(s.get("run", "")) for s in steps):
            if not job.get("environment"):
                found.append(f"{name}: deploys outside a GitHub environment")
            concurrency = job.get("concurrency") or {}
            if not concurrency.get("group") or concurrency.get("cancel-in-progress") is not False:
                found.append(f"{name}: deploys without a concurrency group that queues")
    return found


def make_commands(workflows: list[dict[str, Any]]) -> set[str]:
    return {
        line.strip().split()[1]
        for workflow in workflows
        for job in workflow.get("jobs", {}).values()
        for step in job.get("steps", [])
        for line in str(step.get("run", "")).splitlines()
        if line.strip().startswith("make ")
    }


# --- the real workflows ---------------------------------------------------------------------------


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, workflow_files())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_workflow_follows_the_rules(path: Path) -> None:
    assert problems(load(path), makefile_targets()) == []


def test_workflows_run_the_developers_commands() -> None:
    workflows = [load(p) for p in workflow_files()]
    assert {"test", "synth", "diff", "deploy", "check-deployment"} <= make_commands(workflows)


def test_pull_requests_and_main_pass_the_same_gate() -> None:
    ci, deploy = load(WORKFLOWS / "ci.yml"), load(WORKFLOWS / "deploy.yml")
    assert "pull_request" in ci["on"] and deploy["on"]["push"]["branches"] == ["main"]
    for workflow in (ci, deploy):
        assert workflow["jobs"]["checks"]["uses"] == "./.github/workflows/checks.yml"
    checks = load(WORKFLOWS / "checks.yml")
    assert make_commands([checks]) == {"test", "synth"}
    assert checks["jobs"]["synth"]["strategy"]["matrix"]["env"] == ["dev", "prod"]


def test_prod_deploys_after_dev_in_its_own_environment() -> None:
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    assert jobs["dev"]["needs"] == "checks" and jobs["dev"]["environment"] == "dev"
    assert jobs["prod"]["needs"] == "dev" and jobs["prod"]["environment"] == "prod"
    assert jobs["dev"]["concurrency"]["group"] != jobs["prod"]["concurrency"]["group"]


def test_pull_request_diffs_go_to_the_job_summary() -> None:
    diff = load(WORKFLOWS / "ci.yml")["jobs"]["diff"]
    runs = "\n".join(str(s.get("run", "")) for s in diff["steps"])
    assert "make diff" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert "environment" not in diff  # the diff role trusts pull_request tokens, not an environment


def test_dependency_downloads_are_cached() -> None:
    for path in workflow_files():
        for name, job in load(path).get("jobs", {}).items():
            if any("make " in str(s.get("run", "")) for s in job.get("steps", [])):
                cached = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/cache@")]
                assert cached and "~/.cache/uv" in cached[0]["with"]["path"], f"{path.name}:{name}"


# --- the rules catch what they name -----------------------------------------------------------------


BROKEN = """
name: broken
on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: make tests
  ship:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      id-token: write
    steps:
      - run: make deploy ENV=prod
"""


def test_the_rules_catch_a_broken_workflow(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)

    found = problems(load(path), makefile_targets())

    assert found == [
        "build: no explicit permissions",
        "build: actions/checkout@v4 is not pinned to a commit SHA",
        "build: make tests is not a Makefile target",
        "ship: id-token: write without assuming a role",
        "ship: deploys outside a GitHub environment",
        "ship: deploys without a concurrency group that queues",
    ]


def test_the_rules_catch_credentials_taken_before_the_install(tmp_path: Path) -> None:
    role = f"{ROLE_ACTION}@e3dd6a429d7300a6a4c196c26e071d42e0343502"
    workflow = {
        "jobs": {
            "ship": {
                "permissions": {"contents": "read", "id-token": "write"},
                "environment": "dev",
                "concurrency": {"group": "deploy-dev", "cancel-in-progress": False},
                "steps": [{"uses": role}, {"run": "make synth ENV=dev"}, {"run": "make deploy ENV=dev"}],
            }
        }
    }
    assert problems(workflow, makefile_targets()) == [
        "ship: installs or synthesizes while holding AWS credentials"
    ]


def test_actionlint_does_check(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(
        BROKEN.replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-2404", 1)
        + "      - run: echo ${{ matrix.nope }}\n"
    )

    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 1
    assert "ubuntu-2404" in result.stdout and "matrix" in result.stdout
