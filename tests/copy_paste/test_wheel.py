"""The construct library as a distribution: built into a wheel, installed into a fresh virtual
environment, every module imported and its examples synthesized from the installed package."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.copy_paste.test_copy_paste import MODULES, RUNNER

pytestmark = pytest.mark.slow

UV = ROOT / ".tools" / "uv" / "bin" / "uv"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the built wheel, the python of a fresh virtual environment it is installed in)."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [str(UV), "build", "--wheel", str(ROOT / "constructs"), "-o", str(folder / "dist")],
        check=True,
        capture_output=True,
    )
    (wheel,) = (folder / "dist").glob("datalake_constructs-*.whl")
    venv = folder / "venv"
    subprocess.run(
        [str(UV), "venv", "--quiet", "--python", "3.11", str(venv)], check=True, capture_output=True
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [str(UV), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
    )
    return wheel, python


def test_the_wheel_is_versioned_with_its_changelog(installed: tuple[Path, Path]) -> None:
    wheel, python = installed
    version = wheel.name.split("-")[1]
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(f"datalake_constructs-{version}.dist-info/METADATA").decode()
        names = archive.namelist()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert "Requires-Dist: aws-cdk-lib<3,>=2.275.0" in metadata
    assert {f"datalake_constructs/{m}.py" for m in MODULES} <= set(names)
    assert "datalake_constructs/py.typed" in names
    assert f"## {version} - " in (ROOT / "constructs" / "CHANGELOG.md").read_text()
    reported = subprocess.run(
        [str(python), "-c", "import datalake_constructs; print(datalake_constructs.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert reported == version


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_and_synthesizes_from_the_installed_package(
    module: str, installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, python = installed
    report = tmp_path / "report.json"
    result = subprocess.run(
        [str(python), str(RUNNER), "--installed", module, str(report)],
        cwd=tmp_path,
        env={"CDK_OUTDIR": str(tmp_path / "cdk.out"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "manifest.json").exists()
    assert '"constructs": []' not in report.read_text()
