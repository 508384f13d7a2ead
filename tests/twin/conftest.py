"""The local twin's tests: small synthetic cloud assemblies for its parts, the platform's own assemblies
(synthesized once per session by tests/conftest.py) for the scenarios."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_twin.twin import LocalTwin
from tests.conftest import SynthesizedPlatform


def write_assembly(folder: Path, stacks: dict[str, dict[str, Any]], environment: str | None = None) -> Path:
    """A minimal cloud assembly: one stack artifact per template in ``stacks`` (name -> template)."""
    folder.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, template in stacks.items():
        (folder / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": environment or "aws://unknown-account/unknown-region",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    (folder / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return folder


def template(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"Resources": resources, **sections}


class AssemblyCopy:
    """A synthesized assembly copied to a test's folder, to change a template or an asset before a run."""

    def __init__(self, source: Path, target: Path) -> None:
        self.path = Path(shutil.copytree(source, target))

    def templates(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for path in sorted(self.path.glob("*.template.json")):
            yield path, json.loads(path.read_text())

    def edit(self, change: Callable[[str, dict[str, Any]], bool]) -> None:
        """Applies ``change(logical_id, resource)`` to every resource; it returns whether it changed it.
        Fails unless something changed (a test must not pass because its edit missed)."""
        changed = 0
        for path, body in self.templates():
            hits = sum(
                bool(change(logical_id, resource)) for logical_id, resource in body["Resources"].items()
            )
            if hits:
                path.write_text(json.dumps(body))
                changed += hits
        assert changed, "the edit matched no resource"


@pytest.fixture
def twin_on(tmp_path: Path) -> Iterator[Callable[..., LocalTwin]]:
    """``twin_on(assembly_dir)``: a twin with its zones under the test's folder, closed afterwards."""
    twins: list[LocalTwin] = []

    def make(assembly: Path, **options: Any) -> LocalTwin:
        twin = LocalTwin(assembly, tmp_path / f"twin-{len(twins)}", **options)
        twins.append(twin)
        return twin

    yield make
    for twin in twins:
        twin.close()


@pytest.fixture
def copy_of(tmp_path: Path) -> Callable[[SynthesizedPlatform], AssemblyCopy]:
    def make(platform: SynthesizedPlatform) -> AssemblyCopy:
        return AssemblyCopy(platform.outdir, tmp_path / f"assembly-{platform.platform.config.env_name}")

    return make
