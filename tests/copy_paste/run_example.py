"""Runs one construct file's docstring examples as a user would.

Usage: ``python run_example.py <folder> <module> <report.json> [--nag]``: the folder holds only that
file, copied there. With ``--installed`` in place of the folder, the module comes from the installed
``datalake_constructs`` distribution, importable by its file name as the examples import it. Each
``Example::`` block of the module's docstrings runs verbatim as ``__main__`` (it builds its own
``cdk.App()``, whose context comes from ``CDK_CONTEXT_JSON`` as under the CDK CLI). With ``--nag``, the
four cdk-nag packs evaluate each app after its example ran. The report lists the paths of the module's
construct instances and every nag finding (rule, path).

A helper of tests/copy_paste (not a test): it imports nothing from this repository.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any


def examples_of(source: str) -> list[str]:
    """Every ``Example::`` block of the module's docstrings, dedented."""
    tree = ast.parse(source)
    nodes: list[Any] = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef))]
    found = []
    for node in nodes:
        doc = ast.get_docstring(node, clean=False)
        if not doc or "Example::" not in doc:
            continue
        block: list[str] = []
        indent: int | None = None
        for line in doc.split("Example::", 1)[1].split("\n")[1:]:
            if not line.strip():
                block.append("")
                continue
            width = len(line) - len(line.lstrip())
            indent = width if indent is None else indent
            if width < indent:
                break
            block.append(line)
        found.append(textwrap.dedent("\n".join(block)).strip() + "\n")
    if not found:
        raise SystemExit("no Example:: block")
    return found


def main() -> None:
    where, module, report = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    nag = "--nag" in sys.argv[4:]
    if where == "--installed":
        loaded = importlib.import_module(f"datalake_constructs.{module}")
        sys.modules[module] = loaded  # the examples import it by its file name
        source_file, module_name = Path(str(loaded.__file__)), loaded.__name__
    else:
        sys.path.insert(0, where)
        source_file, module_name = Path(where) / f"{module}.py", module
    import aws_cdk as cdk  # noqa: PLC0415

    apps: list[Any] = []
    original = cdk.App

    class RecordedApp(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            apps.append(self)

    cdk.App = RecordedApp  # type: ignore[misc]
    for code in examples_of(source_file.read_text()):
        exec(compile(code, f"<example of {module}.py>", "exec"), {"__name__": "__main__"})
    own = sorted(
        node.node.path for app in apps for node in app.node.find_all() if type(node).__module__ == module_name
    )
    findings: list[tuple[str, str]] = []
    if nag:
        import cdk_nag  # noqa: PLC0415

        packs = (
            cdk_nag.AwsSolutionsChecks,
            cdk_nag.NIST80053R5Checks,
            cdk_nag.HIPAASecurityChecks,
            cdk_nag.PCIDSS321Checks,
        )
        for app in apps:
            for pack in packs:
                for violation in pack().validate_scope(app).violations:
                    for resource in violation.violating_resources:
                        findings.append((violation.rule_name, str(resource.construct_path)))
    report.write_text(json.dumps({"constructs": own, "findings": findings}))


if __name__ == "__main__":
    main()
