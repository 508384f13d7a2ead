"""Compliance validation applied to the whole app: the four cdk-nag rule packs, and the record of AWS
Control Tower proactive controls (cfn-guard, run by tests/validators.py) that cannot read a reference
across stacks.

cdk-nag 3 runs as a CDK policy-validation plugin: any unacknowledged error *or* warning makes
``cdk synth`` fail and is listed in ``cdk.out/policy-validation-report.json``. Acknowledgments live
next to the resource they concern, never here.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import cdk_nag
import jsii
from aws_cdk import aws_athena as athena
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
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
    cdk.Aspects.of(app).add(CrossStackReferences())


def nag_violations(scope: IConstruct) -> list[tuple[str, str, str]]:
    """(rule, severity, construct path) for every unacknowledged finding of every pack under ``scope``."""
    found: list[tuple[str, str, str]] = []
    for pack in PACKS:
        for violation in pack().validate_scope(scope).violations:
            for resource in violation.violating_resources:
                found.append((violation.rule_name, str(violation.severity), str(resource.construct_path)))
    return found


def guard_suppress(resource: cdk.CfnResource, rule: str, reason: str) -> None:
    """Record an AWS Control Tower proactive control (a cfn-guard rule) that does not apply to a
    resource, with the reason, in its metadata (``guard.SuppressedRules`` and ``guard.Reasons``)."""
    guard = resource.get_metadata("guard") or {}
    rules = [r for r in guard.get("SuppressedRules", []) if r != rule] + [rule]
    resource.add_metadata(
        "guard", {"SuppressedRules": rules, "Reasons": {**guard.get("Reasons", {}), rule: reason}}
    )


def _local_or_literal(stack: cdk.Stack, value: Any) -> bool:
    """What the Control Tower rules can check: a literal, or a Ref/GetAtt to a resource of the template."""
    resolved = stack.resolve(value)
    if isinstance(resolved, str):
        return True
    if isinstance(resolved, dict) and ("Ref" in resolved or "Fn::GetAtt" in resolved):
        target = resolved["Ref"] if "Ref" in resolved else resolved["Fn::GetAtt"][0]
        return any(
            isinstance(child, cdk.CfnElement) and stack.get_logical_id(child) == target
            for child in stack.node.find_all()
        )
    return False


@jsii.implements(cdk.IAspect)
class CrossStackReferences:
    """Records, on each resource whose checked property refers to another stack (dev's shared key, the
    storage stack's log bucket), the control that cannot follow the reference and why. Other resources
    keep the control: it still fails one that leaves the property out."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is not None:
            self._check(node, node.kms_key_id, "cloudwatch_log_group_encrypted_check", "KmsKeyId")
        elif isinstance(node, athena.CfnWorkGroup):
            stack = cdk.Stack.of(node)
            config = stack.resolve(node.work_group_configuration) or {}
            key = config.get("resultConfiguration", config.get("ResultConfiguration", {}))
            encryption = key.get("encryptionConfiguration", key.get("EncryptionConfiguration", {}))
            value = encryption.get("kmsKey", encryption.get("KmsKey"))
            if value is not None:
                self._check(node, value, "athena_workgroup_results_encrypted_at_rest_kms_check", "KmsKey")
        elif isinstance(node, s3.CfnBucket) and node.logging_configuration is not None:
            logging = cdk.Stack.of(node).resolve(node.logging_configuration) or {}
            target = logging.get("destinationBucketName", logging.get("DestinationBucketName"))
            if target is not None:
                self._check(node, target, "s3_bucket_logging_enabled_check", "LoggingConfiguration")

    @staticmethod
    def _check(node: cdk.CfnResource, value: Any, rule: str, prop: str) -> None:
        stack = cdk.Stack.of(node)
        if _local_or_literal(stack, value):
            return
        guard_suppress(
            node,
            rule,
            f"{prop} is set, to a resource of another stack of this app (a cross-stack reference, e.g. "
            "the shared key of sharedEncryptionKey or the storage stack's access-log bucket); the control "
            "accepts only a literal or a reference within the template, so it cannot follow it.",
        )


def nag_format(stack: cdk.Stack, value: Any) -> str:
    """How cdk-nag renders a resource in a finding (``<LogicalId.Arn>``, ``<AWS::Region>`` ...)."""
    resolved = stack.resolve(value)
    if isinstance(resolved, str):
        return resolved
    if isinstance(resolved, dict) and "Ref" in resolved:
        return f"<{resolved['Ref']}>"
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        logical_id, attribute = resolved["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(resolved, dict) and "Fn::Join" in resolved:
        separator, parts = resolved["Fn::Join"]
        return str(separator).join(nag_format(stack, part) for part in parts)
    if isinstance(resolved, dict) and "Fn::Sub" in resolved:
        return str(resolved["Fn::Sub"]).replace("${", "<").replace("}", ">")
    return str(resolved)
