"""Project layout rules that, once broken, break everything else in confusing ways."""

from __future__ import annotations

import importlib.util

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
