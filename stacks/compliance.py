"""Compliance validation applied to the whole app: the four cdk-nag rule packs.

cdk-nag 3 runs as a CDK policy-validation plugin: any unacknowledged error *or* warning makes
``cdk synth`` fail and is listed in ``cdk.out/policy-validation-report.json``. Acknowledgments live
next to the resource they concern, never here.
"""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

PACKS: tuple[type[cdk_nag.NagPack], ...] = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.PCIDSS321Checks,
)


def add_compliance_checks(app: cdk.App) -> None:
    """Register every rule pack on ``app``.

    The first pack also copies acknowledgments into each resource's template metadata (``cdk_nag``),
    so the synthesized templates carry an audit trail of what was accepted and why.
    """
    first, *rest = PACKS
    plugins = [first(app, verbose=True, write_suppressions_to_cloud_formation=True)]
    plugins += [pack(app, verbose=True) for pack in rest]
    cdk.Validations.of(app).add_plugins(*plugins)


def nag_violations(scope: IConstruct) -> list[tuple[str, str, str]]:
    """(rule, severity, construct path) for every unacknowledged finding of every pack under ``scope``."""
    found: list[tuple[str, str, str]] = []
    for pack in PACKS:
        for violation in pack().validate_scope(scope).violations:
            for resource in violation.violating_resources:
                found.append((violation.rule_name, str(violation.severity), str(resource.construct_path)))
    return found
