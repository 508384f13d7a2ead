"""The twin's policy evaluator: AWS's evaluation logic within one account, on a synthetic assembly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from local_twin.assembly import CloudAssembly
from local_twin.iam import AccessDenied, PolicyEngine, PolicyError
from tests.twin.conftest import template, write_assembly

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
BUCKET = "arn:aws:s3:::data-bucket"


def role(
    policies: list[dict[str, Any]], trust: dict[str, Any] | None = None, managed: list[str] | None = None
) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": "worker",
            "AssumeRolePolicyDocument": trust
            or {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "glue.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            },
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": policies}}],
            **({"ManagedPolicyArns": managed} if managed else {}),
        },
    }


def engine(tmp_path: Path, resources: dict[str, Any]) -> PolicyEngine:
    folder = write_assembly(tmp_path / "assembly", {"stack": template(resources)})
    return PolicyEngine(CloudAssembly(folder))


def test_identity_policy_allows_exactly_its_actions_and_resources(tmp_path: Path) -> None:
    iam = engine(
        tmp_path,
        {"Role": role([{"Effect": "Allow", "Action": "S3:get*", "Resource": f"{BUCKET}/events/?/*"}])},
    )

    assert iam.check(ROLE, "s3:GetObject", f"{BUCKET}/events/a/x.gz").allowed  # action case-insensitive
    assert not iam.check(ROLE, "s3:GetObject", f"{BUCKET}/events/ab/x.gz").allowed  # ? is one character
    denied = iam.check(ROLE, "s3:PutObject", f"{BUCKET}/events/a/x.gz")
    assert not denied.allowed and denied.reason == "no identity or resource policy allows it"
    with pytest.raises(AccessDenied, match=r"DENIED: .*worker s3:PutObject"):
        iam.require(ROLE, "s3:PutObject", f"{BUCKET}/events/a/x.gz")


def test_an_explicit_deny_wins_and_not_action_not_resource_invert(tmp_path: Path) -> None:
    iam = engine(
        tmp_path,
        {
            "Role": role(
                [
                    {"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": f"{BUCKET}/*"},
                    {"Effect": "Deny", "Action": "s3:*", "NotResource": f"{BUCKET}/public/*"},
                ]
            )
        },
    )

    assert iam.check(ROLE, "s3:GetObject", f"{BUCKET}/public/a").allowed
    assert not iam.check(ROLE, "s3:DeleteObject", f"{BUCKET}/public/a").allowed  # NotAction
    outside = iam.check(ROLE, "s3:GetObject", f"{BUCKET}/private/a")
    assert not outside.allowed and outside.reason.startswith("explicitly denied by")


def test_conditions_follow_iam_semantics_for_missing_keys_if_exists_and_negation(tmp_path: Path) -> None:
    iam = engine(
        tmp_path,
        {
            "Role": role(
                [
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": BUCKET,
                        "Condition": {"StringLike": {"s3:prefix": ["events/*"]}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": "*",
                        "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-1"}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:PutObject",
                        "Resource": "*",
                        "Condition": {"StringEqualsIfExists": {"s3:x-amz-acl": "private"}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "sqs:SendMessage",
                        "Resource": "*",
                        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/a*"}},
                    },
                ]
            )
        },
    )

    assert iam.check(ROLE, "s3:ListBucket", BUCKET, context={"s3:prefix": "events/"}).allowed
    assert not iam.check(ROLE, "s3:ListBucket", BUCKET, context={"s3:prefix": "other/"}).allowed
    assert not iam.check(ROLE, "s3:ListBucket", BUCKET).allowed  # a missing key: the condition is false
    assert iam.check(ROLE, "s3:GetObject", f"{BUCKET}/a").allowed  # negated with the key missing: true
    assert not iam.check(ROLE, "s3:GetObject", f"{BUCKET}/a", context={"aws:SourceVpc": "vpc-1"}).allowed
    assert iam.check(ROLE, "s3:PutObject", f"{BUCKET}/a").allowed  # IfExists with the key missing: true
    assert not iam.check(ROLE, "s3:PutObject", f"{BUCKET}/a", context={"s3:x-amz-acl": "public-read"}).allowed
    # ArnLike matches each of the six parts on its own: "*" never spans a colon.
    assert iam.check(
        ROLE, "sqs:SendMessage", "q", context={"aws:SourceArn": "arn:aws:events:eu-west-1:1:rule/abc"}
    ).allowed
    assert not iam.check(
        ROLE, "sqs:SendMessage", "q", context={"aws:SourceArn": "arn:aws:events:eu:west:1:rule/abc"}
    ).allowed


def test_a_bucket_policy_denies_insecure_transport_and_grants_a_service_principal(tmp_path: Path) -> None:
    iam = engine(
        tmp_path,
        {
            "Role": role([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
            "Policy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": "data-bucket",
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Action": "s3:*",
                                "Resource": f"{BUCKET}/*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            },
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Resource": f"{BUCKET}/logs/*",
                                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                            },
                        ]
                    },
                },
            },
        },
    )
    obj = f"{BUCKET}/logs/a"

    assert iam.check(ROLE, "s3:GetObject", obj, resource_policy_arn=BUCKET).allowed  # over TLS (the twin's)
    plain = iam.check(
        ROLE, "s3:GetObject", obj, resource_policy_arn=BUCKET, context={"aws:SecureTransport": "false"}
    )
    assert not plain.allowed and "explicitly denied" in plain.reason
    assert iam.check(
        "logging.s3.amazonaws.com",
        "s3:PutObject",
        obj,
        resource_policy_arn=BUCKET,
        context={"aws:SourceAccount": ACCOUNT},
    ).allowed
    assert not iam.check(
        "logging.s3.amazonaws.com",
        "s3:PutObject",
        obj,
        resource_policy_arn=BUCKET,
        context={"aws:SourceAccount": "999999999999"},
    ).allowed
    assert not iam.check(
        "delivery.logs.amazonaws.com", "s3:PutObject", obj, resource_policy_arn=BUCKET
    ).allowed


def _key(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": statements}}}


ROOT = {
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}


def test_kms_needs_the_key_policy_and_delegation_needs_an_identity_allow(tmp_path: Path) -> None:
    iam = engine(
        tmp_path,
        {
            "Role": role([{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]),
            "Delegating": _key([ROOT]),
            "Closed": _key(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:role/other"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ]
            ),
            "Direct": _key(
                [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": ROLE},
                        "Action": "kms:GenerateDataKey",
                        "Resource": "*",
                    }
                ]
            ),
        },
    )
    arns = {r.logical_id: r.arn for r in iam.assembly.resources("AWS::KMS::Key")}

    assert iam.check(ROLE, "kms:Decrypt", arns["Delegating"]).allowed
    delegated_only = iam.check(ROLE, "kms:GenerateDataKey", arns["Delegating"])
    assert not delegated_only.allowed and "no identity policy allows it" in delegated_only.reason
    closed = iam.check(ROLE, "kms:Decrypt", arns["Closed"])  # an identity allow is not enough
    assert not closed.allowed and "neither allows the principal nor delegates" in closed.reason
    assert iam.check(ROLE, "kms:GenerateDataKey", arns["Direct"]).allowed  # the key policy alone
    outside = iam.check(ROLE, "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/not-in-the-app")
    assert not outside.allowed and "outside the app" in outside.reason


def test_a_service_assumes_a_role_only_as_its_trust_policy_says(tmp_path: Path) -> None:
    trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:*"}
                },
            }
        ]
    }
    iam = engine(tmp_path, {"Role": role([], trust=trust)})
    machine = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:pipeline"

    assert iam.assume(ROLE, "states.amazonaws.com", source_arn=machine).allowed
    with pytest.raises(AccessDenied, match=r"does not let glue\.amazonaws\.com assume"):
        iam.assume(ROLE, "glue.amazonaws.com")
    with pytest.raises(AccessDenied):
        iam.assume(ROLE, "states.amazonaws.com", source_arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f")


def test_what_the_evaluator_cannot_read_is_an_error(tmp_path: Path) -> None:
    strange = engine(
        tmp_path / "a",
        {
            "Role": role(
                [
                    {
                        "Effect": "Allow",
                        "Action": "*",
                        "Resource": "*",
                        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}},
                    }
                ]
            )
        },
    )
    with pytest.raises(PolicyError, match="DateGreaterThan is not supported"):
        strange.check(ROLE, "s3:GetObject", "x")
    with pytest.raises(PolicyError, match="AWS managed policy AmazonS3FullAccess is attached"):
        engine(tmp_path / "b", {"Role": role([], managed=["arn:aws:iam::aws:policy/AmazonS3FullAccess"])})


def test_every_decision_is_recorded_with_its_purpose(tmp_path: Path) -> None:
    iam = engine(tmp_path, {"Role": role([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])})
    iam.check(ROLE, "s3:GetObject", "a", purpose="job run")
    iam.check(ROLE, "s3:PutObject", "a", purpose="job run")

    assert [(d.action, d.allowed, d.purpose) for d in iam.decisions] == [
        ("s3:GetObject", True, "job run"),
        ("s3:PutObject", False, "job run"),
    ]
    assert iam.summary()["by_principal"] == {"worker": {"allowed": 1, "denied": 1}}
