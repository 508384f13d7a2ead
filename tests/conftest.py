"""Shared fixtures: the whole app is synthesized once per environment per test session."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# jsii starts Node on first use: prefer the project's pinned Node 22 over the machine's Node 20, as
# the Makefile does, so `pytest` run directly behaves the same.
_NODE_BIN = Path(__file__).resolve().parent.parent / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and not os.environ.get("PATH", "").startswith(str(_NODE_BIN)):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

import aws_cdk as cdk  # noqa: E402 (after PATH is set for jsii)
import pytest  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from stacks.platform import APP_OPTIONS, Platform, build_platform  # noqa: E402

ROOT = _NODE_BIN.parent.parent
ENVIRONMENTS = ("dev", "prod")


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (feature flags and configuration): a bare cdk.App() does not read it."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return copy.deepcopy(context)


def load_script(relative_path: str) -> ModuleType:
    """A script under benchmarks/ or tools/ (folders of scripts, not packages), loaded from its file."""
    path = ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def app_with_context(tmp_path: Path | None = None, **overrides: Any) -> cdk.App:
    context = cdk_json_context()
    context.update(overrides)
    return cdk.App(context=context, outdir=str(tmp_path) if tmp_path else None, **APP_OPTIONS)


@dataclass(frozen=True)
class SynthesizedPlatform:
    app: cdk.App
    platform: Platform
    outdir: Path

    def template_file(self, stack: cdk.Stack) -> Path:
        return self.outdir / f"{stack.artifact_id}.template.json"

    def template(self, stack: cdk.Stack) -> Template:
        return Template.from_json(json.loads(self.template_file(stack).read_text()))

    @property
    def template_files(self) -> list[Path]:
        return [self.template_file(stack) for stack in self.platform.stacks]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], SynthesizedPlatform]:
    """``synthesized("dev")``: the app of one environment, built and synthesized at most once."""
    cache: dict[str, SynthesizedPlatform] = {}

    def get(env: str) -> SynthesizedPlatform:
        if env not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{env}")
            app = app_with_context(outdir, env=env)
            platform = build_platform(app)
            app.synth()  # runs the cdk-nag plugins: raises on any unacknowledged finding
            cache[env] = SynthesizedPlatform(app=app, platform=platform, outdir=outdir)
        return cache[env]

    return get


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def env_platform(request: pytest.FixtureRequest, synthesized: Callable[[str], SynthesizedPlatform]) -> Any:
    """Parametrizes a test over every shipped environment."""
    return synthesized(request.param)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The suite's one local Spark session (Glue 5.0's Spark line), built as the local twin builds it:
    the Glue script tests and the twin's scenarios share it (a session starts in ~4 s)."""
    from local_twin.spark import session  # noqa: PLC0415 (Spark only for the tests that need it)

    spark_session = session(app_name="tests", memory="2g")
    yield spark_session
    spark_session.stop()


@pytest.fixture(scope="session")
def dev(synthesized: Callable[[str], SynthesizedPlatform]) -> SynthesizedPlatform:
    return synthesized("dev")


@pytest.fixture(scope="session")
def prod(synthesized: Callable[[str], SynthesizedPlatform]) -> SynthesizedPlatform:
    return synthesized("prod")


# --- delivery (README, "Deploy"): a configuration with both paths on, dev and prod in their own accounts -

DELIVERY_REPOSITORY = "octo-org/datalake-platform"
PIPELINE_ACCOUNT, DEV_ACCOUNT, PROD_ACCOUNT = "111111111111", "222222222222", "333333333333"
DELIVERY_REGION = "eu-west-1"
DELIVERY_QUALIFIER = "team1"
CONNECTION_ARN = (
    f"arn:aws:codeconnections:{DELIVERY_REGION}:{PIPELINE_ACCOUNT}:"
    "connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
)


def delivery_context(**delivery: Any) -> dict[str, Any]:
    """The datalake context of cdk.json with a delivery block (both paths unless overridden) and dev and
    prod in accounts of their own."""
    datalake: dict[str, Any] = cdk_json_context()["datalake"]
    datalake["delivery"] = {
        "github": {"repository": DELIVERY_REPOSITORY, "oidcProviderArn": None},
        "pipeline": {
            "connectionArn": CONNECTION_ARN,
            "repository": DELIVERY_REPOSITORY,
            "branch": "main",
            "account": PIPELINE_ACCOUNT,
            "region": DELIVERY_REGION,
            "stages": [
                {"environment": "dev", "manualApproval": False},
                {"environment": "prod", "manualApproval": True},
            ],
        },
        **delivery,
    }
    datalake["environments"]["dev"].update(account=DEV_ACCOUNT, region=DELIVERY_REGION)
    datalake["environments"]["prod"].update(account=PROD_ACCOUNT, region=DELIVERY_REGION)
    return datalake


def delivery_app(
    tmp_path: Path | None = None, env: str = "dev", **delivery: Any
) -> tuple[cdk.App, list[cdk.Stack]]:
    """An app as app.py builds it, with the delivery configuration above: the environment's stacks,
    its account's GitHub OIDC stack and the pipeline stack (not synthesized yet)."""
    from stacks.delivery import build_delivery  # noqa: PLC0415 (only the delivery tests need it)

    app = app_with_context(
        tmp_path,
        env=env,
        datalake=delivery_context(**delivery),
        **{"@aws-cdk/core:bootstrapQualifier": DELIVERY_QUALIFIER},
    )
    build_platform(app)
    return app, build_delivery(app, env)


@dataclass(frozen=True)
class SynthesizedDelivery:
    app: cdk.App
    outdir: Path
    oidc: cdk.Stack
    pipeline: cdk.Stack

    def template(self, stack: cdk.Stack) -> Template:
        return Template.from_json(
            json.loads((self.outdir / f"{stack.artifact_id}.template.json").read_text())
        )

    @property
    def template_files(self) -> list[Path]:
        """Every template: the delivery stacks, dev's stacks and both stages', all with literal accounts
        and regions (which the shipped, environment-agnostic configuration never exercises)."""
        from tests.validators import template_paths  # noqa: PLC0415

        return template_paths(self.outdir)


@pytest.fixture(scope="session")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedDelivery:
    """The delivery configuration's app, synthesized once (cdk-nag's four packs run on every stack,
    the pipeline's stages included)."""
    outdir = tmp_path_factory.mktemp("cdk-delivery")
    app, stacks = delivery_app(outdir)
    app.synth()
    oidc, pipeline = stacks
    return SynthesizedDelivery(app=app, outdir=outdir, oidc=oidc, pipeline=pipeline)
