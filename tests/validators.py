"""Template validators shared by ``make synth`` and the test suite: CloudFormation Validate, cfn-lint,
checkov and AWS Control Tower's proactive controls (cfn-guard).

cdk-nag runs inside ``cdk synth`` (a policy-validation plugin that fails synth on any finding); this
module checks the synthesized templates with four CloudFormation-level scanners and prints the
summary ``make synth`` shows. Usage: ``python -m tests.validators cdk.out``.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import re
import subprocess
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# checkov pins an old boto3, so it lives in its own environment (see .ci/checkov/pyproject.toml).
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"


@dataclass(frozen=True)
class Finding:
    tool: str
    template: str
    rule: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.tool} {self.rule} {self.template}:{self.resource} {self.message}"


def template_paths(outdir: Path) -> list[Path]:
    """Every template of the cloud assembly, with those of nested assemblies (a pipeline's stages)."""
    return sorted(outdir.glob("*.template.json")) + sorted(outdir.glob("assembly-*/*.template.json"))


def run_cloudformation_validate(templates: list[Path]) -> list[Finding]:
    """CDK's built-in template validation, on templates already synthesized: aws-cdk-lib's own
    ``CloudFormationValidatePlugin`` (the CloudFormation Validate engine it bundles, its default rules,
    its ignore list; errors and warnings).

    app.py turns that plugin off inside ``cdk synth``, where it adds 4-6 s to every synth of this app
    (benchmarks/synth_time.py); it runs here instead, next to cfn-lint and checkov.
    """
    if not templates:
        return []
    report = _cloudformation_validate_plugin().validate(_validation_context(templates))
    return [
        Finding(
            tool="cfn-validate",
            template=Path(resource.template_path).name,
            rule=violation.rule_name,
            resource=resource.resource_logical_id or "",
            message=f"{violation.severity}: {violation.description}",
        )
        for violation in report.violations
        for resource in violation.violating_resources
    ]


@cache
def _cloudformation_validate_plugin() -> Any:
    import aws_cdk as cdk  # noqa: PLC0415 (only this validator needs the CDK: ~0.5 s to import)

    return cdk.CloudFormationValidatePlugin()  # loads the engine and its schemas: ~2 s, once


def _validation_context(templates: list[Path]) -> Any:
    """What CDK hands a validation plugin after synth (``IPolicyValidationContext``), for files."""
    import aws_cdk as cdk  # noqa: PLC0415
    import jsii  # noqa: PLC0415

    paths = [str(path.resolve()) for path in templates]

    # jsii reads an implementation's members through properties (plain attributes are not seen).
    @jsii.implements(cdk.IPolicyValidationContext)
    class _Context:
        @property
        def template_paths(self) -> list[str]:
            return paths

        @property
        def stack_templates(self) -> list[cdk.PolicyValidationStack]:
            return [
                cdk.PolicyValidationStack(
                    stack_construct_path=Path(path).name.removesuffix(".template.json"), template_path=path
                )
                for path in paths
            ]

        @property
        def app_construct(self) -> cdk.App:
            return cdk.App()  # the interface requires one; the plugin reads the templates only

        @property
        def account_id(self) -> None:
            return None  # environment-agnostic templates

        @property
        def region(self) -> None:
            return None

    return _Context()


def run_cfn_lint(templates: list[Path]) -> list[Finding]:
    """Every cfn-lint error, warning and informational finding (all of them count)."""
    if not templates:
        return []
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", "--", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    # The exit code is a bitmask of finding levels (2 error, 4 warning, 8 info); 1 means it crashed.
    if result.returncode & 1 or (result.returncode and not result.stdout.strip()):
        raise RuntimeError(f"cfn-lint failed to run (exit {result.returncode}): {result.stderr}")
    if not result.stdout.strip():
        return []
    return [
        Finding(
            tool="cfn-lint",
            template=Path(m["Filename"]).name,
            rule=m["Rule"]["Id"],
            resource="/".join(str(p) for p in m["Location"]["Path"][:2]),
            message=m["Message"],
        )
        for m in json.loads(result.stdout)
    ]


@dataclass(frozen=True)
class CheckovResult:
    passed: int
    skipped: int
    failed: list[Finding]
    skips: list[dict[str, str]]


def run_checkov(templates: list[Path]) -> CheckovResult:
    """checkov's CloudFormation checks, offline (``--skip-download``)."""
    if not CHECKOV.exists():
        raise RuntimeError(f"{CHECKOV} is missing: run `make install`")
    args = [str(CHECKOV), "--skip-download", "--framework", "cloudformation", "-o", "json"]
    for template in templates:
        args += ["-f", str(template)]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise RuntimeError(f"checkov failed to run (exit {result.returncode}): {result.stderr[-2000:]}")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    passed = skipped = 0
    failed: list[Finding] = []
    skips: list[dict[str, str]] = []
    for report in reports:
        summary = report.get("summary", {})
        passed += summary.get("passed", 0)
        skipped += summary.get("skipped", 0)
        results = report.get("results", {})
        for check in results.get("failed_checks", []):
            failed.append(
                Finding(
                    tool="checkov",
                    template=Path(check["file_path"]).name,
                    rule=check["check_id"],
                    resource=check["resource"],
                    message=check["check_name"],
                )
            )
        for check in results.get("skipped_checks", []):
            skips.append(
                {
                    "id": check["check_id"],
                    "resource": check["resource"],
                    "comment": (check.get("check_result") or {}).get("suppress_comment", ""),
                }
            )
    return CheckovResult(passed=passed, skipped=skipped, failed=failed, skips=skips)


GUARD_PACKAGE = "cdklabs-cdk-validator-cfnguard"


@cache
def _cfn_guard() -> tuple[Path, Path]:
    """(the cfn-guard binary, the Control Tower rules folder), unpacked once from the jsii bundle of the
    pinned ``cdklabs-cdk-validator-cfnguard`` into ``.tools/cfn-guard/<version>/``."""
    version = importlib.metadata.version(GUARD_PACKAGE)
    folder = ROOT / ".tools" / "cfn-guard" / version
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}[
        platform.machine().lower()
    ]
    system = "macos" if sys.platform == "darwin" else "ubuntu"
    binary = folder / "package" / "bin" / system / machine / "cfn-guard"
    rules = folder / "package" / "rules" / "control-tower" / "cfn-guard"
    if not binary.exists():
        (bundle,) = [
            f.locate() for f in importlib.metadata.files(GUARD_PACKAGE) or [] if str(f).endswith(".jsii.tgz")
        ]
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(Path(str(bundle))) as archive:
            archive.extractall(folder, filter="data")
        binary.chmod(0o755)
    return binary, rules


def _json_documents(text: str) -> list[dict[str, Any]]:
    """cfn-guard's JSON output: one document per rule file, concatenated."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index < len(text):
            document, index = decoder.raw_decode(text, index)
            documents.append(document)
    return documents


def _control(failure: Any) -> str:
    """The control's id and title (``CT.S3.PR.2: Require ...``) from a failure's messages."""
    if isinstance(failure, dict):
        message = failure.get("custom_message")
        if isinstance(message, str) and "[CT." in message:
            line = message.strip().splitlines()[0]
            return line.replace("[", "", 1).replace("]", "", 1)
        for value in failure.values():
            if found := _control(value):
                return found
    if isinstance(failure, list):
        for value in failure:
            if found := _control(value):
                return found
    return ""


def guard_suppressions(resource: dict[str, Any]) -> dict[str, str]:
    """rule -> reason of the controls a resource suppresses: ``Metadata.guard.SuppressedRules`` (the
    cfn-guard rules registry's convention) with a reason per rule in ``Metadata.guard.Reasons``."""
    guard = resource.get("Metadata", {}).get("guard", {})
    reasons = guard.get("Reasons", {})
    return {rule: str(reasons.get(rule, "")) for rule in guard.get("SuppressedRules", [])}


def run_cfn_guard(templates: list[Path]) -> list[Finding]:
    """AWS Control Tower's proactive controls, the cfn-guard rules that ``cdklabs-cdk-validator-cfnguard``
    bundles, run by the cfn-guard binary it bundles. A failure on a resource that suppresses the rule
    with a reason is accepted; a suppression without a reason is itself a finding."""
    binary, rules = _cfn_guard()
    findings: list[Finding] = []
    for template in templates:
        resources: dict[str, Any] = json.loads(template.read_text()).get("Resources", {})
        result = subprocess.run(
            [
                str(binary),
                *("validate", "--rules", str(rules), "--data", str(template)),
                *("--output-format", "json", "--show-summary", "none"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode not in (0, 19):  # 19: some rule failed
            raise RuntimeError(f"cfn-guard failed on {template.name}: {result.stderr[-2000:]}")
        for document in _json_documents(result.stdout):
            for failure in document.get("not_compliant", []):
                rule = failure["Rule"]["name"]
                failing = sorted(set(re.findall(r"/Resources/([A-Za-z0-9]+)", json.dumps(failure))))
                for logical_id in failing or [""]:
                    suppressed = guard_suppressions(resources.get(logical_id, {}))
                    if suppressed.get(rule):
                        continue
                    findings.append(
                        Finding(
                            tool="cfn-guard",
                            template=template.name,
                            rule=rule,
                            resource=logical_id,
                            message=(
                                "suppressed without a reason" if rule in suppressed else _control(failure)
                            ),
                        )
                    )
    return findings


def nag_report(outdir: Path) -> list[str]:
    """Violations recorded by the cdk-nag plugins in the cloud assembly (synth fails if any)."""
    report_file = outdir / "validation-report.json"
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text())
    return [
        f"{violation.get('ruleName')} {resource.get('constructPath', '')}"
        for plugin in report.get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for resource in violation.get("violatingResources", [])
    ]


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else "cdk.out")
    templates = template_paths(outdir)
    if not templates:
        print(f"no templates in {outdir}: run cdk synth first", file=sys.stderr)
        return 2
    print(f"{'stack':<40} {'resources':>9}  top resource types")
    for template in templates:
        resources = json.loads(template.read_text()).get("Resources", {})
        types = Counter(r["Type"] for r in resources.values())
        top = ", ".join(f"{t.split('::', 1)[1]}={n}" for t, n in types.most_common(4))
        print(f"{template.name.removesuffix('.template.json'):<40} {len(resources):>9}  {top}")
    nag = nag_report(outdir)
    validate = run_cloudformation_validate(templates)
    lint = run_cfn_lint(templates)
    checkov = run_checkov(templates)
    guard = run_cfn_guard(templates)
    print(
        f"\ncdk-nag (AwsSolutions, NIST 800-53 R5, HIPAA, PCI DSS 3.2.1): {len(nag)} unacknowledged"
        f"\nCloudFormation Validate (CDK's built-in validation): {len(validate)} findings"
        f"\ncfn-lint: {len(lint)} findings"
        f"\ncheckov: {checkov.passed} passed, {len(checkov.failed)} failed, "
        f"{checkov.skipped} skipped with a reason"
        f"\nAWS Control Tower proactive controls (cfn-guard): {len(guard)} failures not suppressed "
        "with a reason"
    )
    for finding in [*nag, *validate, *lint, *checkov.failed, *guard]:
        print(f"  {finding}")
    return 1 if nag or validate or lint or checkov.failed or guard else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
