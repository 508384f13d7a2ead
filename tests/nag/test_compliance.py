"""The validation harness on every environment: cdk-nag (4 packs), CDK's built-in CloudFormation
validation, cfn-lint and checkov all clean.

Each validator also runs on a deliberately non-compliant control, in the same call, so these tests
fail if a validator silently stops checking anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from stacks.compliance import PACKS, add_compliance_checks, nag_violations
from stacks.platform import APP_OPTIONS, build_platform
from tests.conftest import (
    ENVIRONMENTS,
    SynthesizedDelivery,
    SynthesizedPlatform,
    app_with_context,
    cdk_json_context,
)
from tests.validators import (
    CheckovResult,
    Finding,
    run_cfn_guard,
    run_cfn_lint,
    run_checkov,
    run_cloudformation_validate,
)

MIN_REASON_LENGTH = 60


# --- cdk-nag ---------------------------------------------------------------------------------------


def test_no_unacknowledged_nag_findings(env_platform: SynthesizedPlatform) -> None:
    assert nag_violations(env_platform.app) == []


def test_all_four_packs_are_registered() -> None:
    assert [p.__name__ for p in PACKS] == [
        "AwsSolutionsChecks",
        "NIST80053R5Checks",
        "HIPAASecurityChecks",
        "PCIDSS321Checks",
    ]


def test_synth_fails_on_a_non_compliant_resource(tmp_path: Path) -> None:
    # Given the app's harness on an app holding a bucket with no logging, TLS policy or KMS
    app = app_with_context(tmp_path)
    s3.Bucket(cdk.Stack(app, "Control"), "Plain")
    add_compliance_checks(app)

    # Then synth stops, naming findings from every pack
    with pytest.raises(RuntimeError) as failure:
        app.synth()
    message = str(failure.value)
    for rule in (
        "AwsSolutions-S1",
        "NIST.800.53.R5-S3BucketLoggingEnabled",
        "HIPAA.Security-S3BucketSSLRequestsOnly",
        "PCI.DSS.321-S3DefaultEncryptionKMS",
    ):
        assert rule in message


def acknowledgments(app: cdk.App) -> list[tuple[Any, str, str]]:
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    return [
        (construct, rule.split("::", 1)[-1], reason)
        for construct in app.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule, reason in entry.data.items()
        # aws-cdk-lib's own: it acknowledges its validation plugin's W3010 on a stack whose AZs came from
        # the context lookup (an environment with an account and region)
        if not rule.startswith("CloudFormation-Validate::")
    ]


def test_no_unacknowledged_nag_findings_in_the_delivery_stacks(delivery: SynthesizedDelivery) -> None:
    # the pipeline stack, its two stages (each environment's platform) and the GitHub OIDC stack
    assert nag_violations(delivery.app) == []


def test_acknowledgments_are_narrow_and_reasoned(env_platform: SynthesizedPlatform) -> None:
    assert_narrow_and_reasoned(env_platform.app)


def test_delivery_acknowledgments_are_narrow_and_reasoned(delivery: SynthesizedDelivery) -> None:
    assert_narrow_and_reasoned(delivery.app)


def assert_narrow_and_reasoned(app: cdk.App) -> None:
    found = acknowledgments(app)

    assert found, "expected the documented acknowledgments (e.g. replication) to be present"
    for construct, rule, reason in found:
        assert not isinstance(construct, cdk.Stage | cdk.Stack), f"{rule} acknowledged on a whole {construct}"
        assert len(reason) >= MIN_REASON_LENGTH, f"{rule} on {construct.node.path}: reason too thin"
        if rule.startswith("AwsSolutions-IAM5"):
            assert "[" in rule, f"IAM5 must be acknowledged finding by finding, not wholesale: {rule}"


def test_acknowledgments_are_recorded_in_the_templates(env_platform: SynthesizedPlatform) -> None:
    # the audit trail: the first pack writes acknowledgments into resource metadata
    recorded = [
        rule["id"]
        for path in env_platform.template_files
        for resource in json.loads(path.read_text())["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert "NIST.800.53.R5-S3BucketReplicationEnabled" in recorded


# --- CloudFormation Validate, cfn-lint and checkov (each run once over every environment + a control) -


CONTROL_TEMPLATE = {
    "Resources": {
        "PlainBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"VersioningConfiguration": {"Status": "Bogus"}},
        }
    }
}


@pytest.fixture(scope="module")
def all_templates(
    synthesized: Any, delivery: SynthesizedDelivery, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    control = tmp_path_factory.mktemp("control") / "control.template.json"
    control.write_text(json.dumps(CONTROL_TEMPLATE))
    templates = [path for env in ENVIRONMENTS for path in synthesized(env).template_files]
    return [*templates, *delivery.template_files, control]


@pytest.fixture(scope="module")
def cloudformation_validate_findings(all_templates: list[Path]) -> list[Finding]:
    return run_cloudformation_validate(all_templates)


@pytest.fixture(scope="module")
def cfn_lint_findings(all_templates: list[Path]) -> list[Finding]:
    return run_cfn_lint(all_templates)


@pytest.fixture(scope="module")
def checkov(all_templates: list[Path]) -> CheckovResult:
    return run_checkov(all_templates)


def test_cdk_builtin_validation_finds_nothing_in_our_templates(
    cloudformation_validate_findings: list[Finding],
) -> None:
    # app.py turns CDK's built-in validation off inside `cdk synth` (speed); the templates must still
    # pass it, here and in `make synth`, and so must a construct copied into an app that keeps it on.
    ours = [f for f in cloudformation_validate_findings if f.template != "control.template.json"]
    assert ours == []


def test_cdk_builtin_validation_does_check(cloudformation_validate_findings: list[Finding]) -> None:
    control = [f for f in cloudformation_validate_findings if f.template == "control.template.json"]
    assert [(f.rule, f.resource) for f in control] == [("W3030", "PlainBucket")]  # Status: 'Bogus'


def test_cfn_lint_finds_nothing_in_our_templates(cfn_lint_findings: list[Finding]) -> None:
    ours = [f for f in cfn_lint_findings if f.template != "control.template.json"]
    assert ours == []


def test_cfn_lint_does_check(cfn_lint_findings: list[Finding]) -> None:
    assert any(f.template == "control.template.json" and f.rule.startswith("E") for f in cfn_lint_findings)


def test_checkov_fails_nothing_in_our_templates(checkov: CheckovResult) -> None:
    ours = [f for f in checkov.failed if f.template != "control.template.json"]
    assert ours == []
    assert checkov.passed > 0


def test_checkov_does_check(checkov: CheckovResult) -> None:
    control = {f.rule for f in checkov.failed if f.template == "control.template.json"}
    assert {"CKV_AWS_18", "CKV_AWS_21"} <= control  # access logging, versioning


@pytest.fixture(scope="module")
def control_tower(all_templates: list[Path]) -> list[Finding]:
    return run_cfn_guard(all_templates)


def test_control_tower_controls_fail_nothing_in_our_templates(control_tower: list[Finding]) -> None:
    ours = [f for f in control_tower if f.template != "control.template.json"]
    assert ours == []


def test_control_tower_controls_do_check(control_tower: list[Finding]) -> None:
    control = {(f.rule, f.resource) for f in control_tower if f.template == "control.template.json"}
    assert {
        ("s3_bucket_logging_enabled_check", "PlainBucket"),
        ("s3_bucket_default_encryption_kms_check", "PlainBucket"),
        ("s3_bucket_object_lock_enabled_check", "PlainBucket"),
    } <= control


def test_a_control_suppressed_without_a_reason_is_a_finding_and_with_one_is_accepted(tmp_path: Path) -> None:
    bucket = json.loads(json.dumps(CONTROL_TEMPLATE["Resources"]["PlainBucket"]))
    bucket["Metadata"] = {
        "guard": {
            "SuppressedRules": ["s3_bucket_logging_enabled_check", "s3_bucket_object_lock_enabled_check"],
            "Reasons": {"s3_bucket_logging_enabled_check": "the log target itself"},
        }
    }
    template = tmp_path / "suppressed.template.json"
    template.write_text(json.dumps({"Resources": {"PlainBucket": bucket}}))

    found = {(f.rule, f.message) for f in run_cfn_guard([template])}

    assert ("s3_bucket_object_lock_enabled_check", "suppressed without a reason") in found
    assert not any(rule == "s3_bucket_logging_enabled_check" for rule, _ in found)


def test_every_control_suppression_in_our_templates_names_a_rule_that_exists_and_a_reason(
    all_templates: list[Path],
) -> None:
    from tests.validators import _cfn_guard, guard_suppressions  # noqa: PLC0415

    _, rules = _cfn_guard()
    known = {
        name
        for path in rules.rglob("*.guard")
        for name in re.findall(r"^rule (\w+) when", path.read_text(), flags=re.MULTILINE)
    }
    seen = 0
    for template in all_templates:
        for resource in json.loads(template.read_text()).get("Resources", {}).values():
            for rule, reason in guard_suppressions(resource).items():
                seen += 1
                assert rule in known, rule
                assert len(reason) >= MIN_REASON_LENGTH, (rule, reason)
    assert seen > 0


def test_every_checkov_skip_has_a_reason(checkov: CheckovResult) -> None:
    assert checkov.skips, "expected the documented skips (e.g. the log bucket's own logging)"
    for skip in checkov.skips:
        assert len(skip["comment"]) >= MIN_REASON_LENGTH, skip


def test_the_provisioned_redshift_option_passes_every_validator(tmp_path: Path) -> None:
    """The shipped environments use Serverless; switching prod to a provisioned RA3 cluster must stay
    as clean (nag and every template scanner) without new acknowledgments."""
    context = cdk_json_context()
    redshift = context["datalake"]["environments"]["prod"]["serving"]["redshift"]
    redshift["deployment"] = "provisioned"
    redshift["provisioned"] = {"nodeType": "ra3.xlplus", "numberOfNodes": 2, "snapshotRetentionDays": 7}
    context["env"] = "prod"
    app = cdk.App(context=context, outdir=str(tmp_path), **APP_OPTIONS)
    platform = build_platform(app)
    app.synth()  # raises on any unacknowledged nag finding
    template_path = tmp_path / f"{platform.serving.artifact_id}.template.json"
    template = json.loads(template_path.read_text())
    assert any(r["Type"] == "AWS::Redshift::Cluster" for r in template["Resources"].values())
    assert nag_violations(app) == []
    assert run_cloudformation_validate([template_path]) == []
    assert run_cfn_lint([template_path]) == []
    assert run_checkov([template_path]).failed == []


def test_the_event_mode_crawler_option_passes_every_validator(tmp_path: Path) -> None:
    """crawlerTrigger 's3_events': the raw crawler consumes the raw bucket's object events; the zones the
    jobs write stay crawled on demand by the pipeline (their buckets send no events)."""
    context = cdk_json_context()
    context["datalake"]["environments"]["dev"]["etl"]["crawlerTrigger"] = "s3_events"
    context["env"] = "dev"
    app = cdk.App(context=context, outdir=str(tmp_path), **APP_OPTIONS)
    platform = build_platform(app)
    app.synth()  # raises on any unacknowledged nag finding
    template_path = tmp_path / f"{platform.etl.artifact_id}.template.json"
    resources = json.loads(template_path.read_text())["Resources"]
    recrawl = {
        r["Properties"]["Name"].split("-")[-2]: r["Properties"]["RecrawlPolicy"]["RecrawlBehavior"]
        for r in resources.values()
        if r["Type"] == "AWS::Glue::Crawler"
    }
    assert recrawl == {
        "raw": "CRAWL_EVENT_MODE",
        "processed": "CRAWL_NEW_FOLDERS_ONLY",
        "consumer": "CRAWL_NEW_FOLDERS_ONLY",
    }
    assert [r for r in resources.values() if r["Type"] == "AWS::SQS::Queue"]
    assert nag_violations(app) == []
    assert run_cloudformation_validate([template_path]) == []
    assert run_cfn_lint([template_path]) == []
    assert run_checkov([template_path]).failed == []
