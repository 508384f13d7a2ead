"""Runs one construct file's docstring example as a user would, in a folder holding only that file.

Usage: ``python run_example.py <folder> <module> <report.json> [--nag]``. The example is the first
``Example::`` block of the module's docstrings, run verbatim as ``__main__`` (it builds its own
``cdk.App()``, whose context comes from ``CDK_CONTEXT_JSON`` as under the CDK CLI). With ``--nag``, the
four cdk-nag packs evaluate the app after the example ran. The report lists the paths of the module's
construct instances and every nag finding (rule, path).

A helper of tests/copy_paste (not a test): it imports nothing from this repository.
"""

from __future__ import annotations

import ast
import json
import sys
import textwrap
from pathlib import Path
from typing import Any


def example_of(source: str) -> str:
    """The first ``Example::`` block of the module's docstrings, dedented."""
    tree = ast.parse(source)
    nodes: list[Any] = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef))]
    for node in nodes:
        doc = ast.get_docstring(node, clean=False)
        if doc and "Example::" in doc:
            lines = doc.split("Example::", 1)[1].split("\n")[1:]
            block: list[str] = []
            indent: int | None = None
            for line in lines:
                if not line.strip():
                    block.append("")
                    continue
                width = len(line) - len(line.lstrip())
                if indent is None:
                    indent = width
                if width < indent:
                    break
                block.append(line)
            return textwrap.dedent("\n".join(block)).strip() + "\n"
    raise SystemExit("no Example:: block")


def main() -> None:
    folder, module, report = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    nag = "--nag" in sys.argv[4:]
    sys.path.insert(0, str(folder))
    import aws_cdk as cdk  # noqa: PLC0415

    apps: list[Any] = []
    original = cdk.App

    class RecordedApp(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            apps.append(self)

    cdk.App = RecordedApp  # type: ignore[misc]
    code = example_of((folder / f"{module}.py").read_text())
    exec(compile(code, f"<example of {module}.py>", "exec"), {"__name__": "__main__"})
    (app,) = apps
    own = sorted(node.node.path for node in app.node.find_all() if type(node).__module__ == module)
    findings: list[tuple[str, str]] = []
    if nag:
        import cdk_nag  # noqa: PLC0415

        for pack in (
            cdk_nag.AwsSolutionsChecks,
            cdk_nag.NIST80053R5Checks,
            cdk_nag.HIPAASecurityChecks,
            cdk_nag.PCIDSS321Checks,
        ):
            for violation in pack().validate_scope(app).violations:
                for resource in violation.violating_resources:
                    findings.append((violation.rule_name, str(resource.construct_path)))
    report.write_text(json.dumps({"constructs": own, "findings": findings}))


if __name__ == "__main__":
    main()
