"""Project layout rules that, once broken, break everything else in confusing ways."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import ROOT


def test_constructs_folder_never_becomes_a_package() -> None:
    # An __init__.py here would shadow the PyPI `constructs` package that aws-cdk-lib imports.
    assert not (ROOT / "constructs" / "__init__.py").exists()


def test_constructs_resolves_to_the_pypi_package_and_ours_is_importable() -> None:
    spec = importlib.util.find_spec("constructs")
    assert spec is not None and spec.origin is not None
    assert "site-packages" in spec.origin

    ours = importlib.util.find_spec("datalake_constructs")
    assert ours is not None and ours.origin is not None
    assert ours.origin.startswith(str(ROOT / "constructs"))


def test_construct_files_depend_only_on_cdk_constructs_and_the_standard_library() -> None:
    allowed = ("aws_cdk", "constructs", "__future__")
    for path in (ROOT / "constructs" / "datalake_constructs").glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")):
                module = line.split()[1].split(".")[0]
                is_stdlib = module in __import__("sys").stdlib_module_names
                assert module in allowed or is_stdlib, f"{path.name} imports {module}"


def test_aws_cdk_lib_bytecode_is_compiled_at_install() -> None:
    # The Makefile's `uv sync --compile-bytecode`: uv skips compiling by default and, where
    # PYTHONDONTWRITEBYTECODE is set (CI, containers), every synth then recompiles aws-cdk-lib's
    # generated modules, which doubles synth time (benchmarks/synth_time.py). Checked on modules the
    # app never imports, so bytecode Python writes itself while the tests run does not count.
    spec = importlib.util.find_spec("aws_cdk")
    assert spec is not None and spec.origin is not None
    package = Path(spec.origin).parent
    for module in ("aws_gamelift/__init__.py", "alexa_ask/__init__.py"):
        compiled = Path(importlib.util.cache_from_source(str(package / module)))
        assert compiled.exists(), f"no bytecode for aws_cdk/{module}: install with make (--compile-bytecode)"
