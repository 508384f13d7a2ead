"""Checks a deployed environment through its stack outputs: ``make check-deployment ENV=dev``.

Run after every deployment: by the GitHub Actions deploy workflow and as the post-deployment step of each
CDK Pipelines stage. Read-only: every call is a Describe/Get/Head that the CDK bootstrap lookup role
(``ReadOnlyAccess``) may make. By default the checks run as the lookup role of the caller's account and
region (the GitHub deploy role may assume nothing else); ``CHECK_ROLE_ARN`` names another (a CDK Pipelines
stage passes the target account's), ``--as-caller`` uses the caller's own credentials.

The outputs (stacks/platform.py, ``OUTPUTS``) come from environment variables of the same names (CDK
Pipelines passes them so) or, where those are unset, from CloudFormation's DescribeStacks on the
environment's stacks. Each check says what it verified; any failure exits 1.

Usage: ``python tools/check_deployment.py --env dev [--project datalake] [--region eu-west-1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent
QUALIFIER_KEY = "@aws-cdk/core:bootstrapQualifier"
DEFAULT_QUALIFIER = "hnb659fds"
# Output name -> the stack component that holds it (stacks/platform.py adds them).
OUTPUT_STACKS = {
    "AlertTopicArn": "operations",
    "RawBucketName": "storage",
    "ProcessedBucketName": "storage",
    "ConsumerBucketName": "storage",
    "DeliveryStreamName": "ingestion",
    "StateMachineArn": "orchestration",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name:<34} {self.detail}"


class DeploymentCheckError(RuntimeError):
    """The outputs could not be read."""


def outputs_from_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
    """Every output, when the environment holds all of them (a CDK Pipelines step), else None."""
    values = {name: environ.get(name, "") for name in OUTPUT_STACKS}
    return values if all(values.values()) else None


def outputs_from_stacks(cloudformation: Any, project: str, env: str) -> dict[str, str]:
    """The outputs, read from the environment's stacks; a missing stack or output is an error naming it."""
    found: dict[str, str] = {}
    for component in sorted(set(OUTPUT_STACKS.values())):
        stack_name = f"{project}-{env}-{component}"
        try:
            stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            raise DeploymentCheckError(f"{stack_name}: {error.response['Error']['Message']}") from error
        for output in stacks[0].get("Outputs", []):
            found[output["OutputKey"]] = output["OutputValue"]
    missing = [
        f"{name} (stack {project}-{env}-{OUTPUT_STACKS[name]})" for name in OUTPUT_STACKS if name not in found
    ]
    if missing:
        raise DeploymentCheckError(f"outputs missing: {', '.join(missing)}; is the stack up to date?")
    return {name: found[name] for name in OUTPUT_STACKS}


def _attempt(name: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "?")
        return Check(name, False, f"{code}: {error.response.get('Error', {}).get('Message', '')}")
    except BotoCoreError as error:
        return Check(name, False, str(error))


def check_bucket(s3: Any, label: str, bucket: str) -> list[Check]:
    def reachable() -> Check:
        s3.head_bucket(Bucket=bucket)
        return Check(f"{label} bucket exists", True, bucket)

    def encrypted() -> Check:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        algorithms = {r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules}
        return Check(
            f"{label} bucket KMS-encrypted",
            algorithms <= {"aws:kms", "aws:kms:dsse"},
            ", ".join(sorted(algorithms)),
        )

    def private() -> Check:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        closed = [key for key, value in block.items() if not value]
        return Check(
            f"{label} bucket blocks public access",
            not closed,
            "all four settings on" if not closed else f"off: {', '.join(closed)}",
        )

    return [_attempt(f"{label} bucket", probe) for probe in (reachable, encrypted, private)]


def run_checks(outputs: Mapping[str, str], client: Callable[[str], Any]) -> list[Check]:
    """Every check, on the resources the outputs name (``client(service)`` gives a boto3 client)."""
    s3, sns, firehose, sfn = client("s3"), client("sns"), client("firehose"), client("stepfunctions")
    checks: list[Check] = []

    def topic() -> Check:
        attributes = sns.get_topic_attributes(TopicArn=outputs["AlertTopicArn"])["Attributes"]
        key = attributes.get("KmsMasterKeyId", "")
        confirmed = attributes.get("SubscriptionsConfirmed", "0")
        return Check("alert topic encrypted", bool(key), f"{confirmed} confirmed subscription(s)")

    def stream() -> Check:
        description = firehose.describe_delivery_stream(DeliveryStreamName=outputs["DeliveryStreamName"])
        status = description["DeliveryStreamDescription"]["DeliveryStreamStatus"]
        return Check(
            "delivery stream active", status == "ACTIVE", f"{outputs['DeliveryStreamName']}: {status}"
        )

    def state_machine() -> Check:
        description = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
        status = description.get("status", "?")
        return Check("state machine active", status == "ACTIVE", f"{description.get('name', '?')}: {status}")

    checks.append(_attempt("alert topic", topic))
    for label in ("Raw", "Processed", "Consumer"):
        checks += check_bucket(s3, label.lower(), outputs[f"{label}BucketName"])
    checks.append(_attempt("delivery stream", stream))
    checks.append(_attempt("state machine", state_machine))
    return checks


def lookup_role_arn(session: boto3.Session, qualifier: str) -> str:
    """The CDK bootstrap lookup role (read-only) of the caller's account and region."""
    if not session.region_name:
        raise DeploymentCheckError("no region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")
    identity = session.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    account, region = identity["Account"], session.region_name
    return f"arn:{partition}:iam::{account}:role/cdk-{qualifier}-lookup-role-{account}-{region}"


def session_for(role_arn: str | None, region: str | None, *, qualifier: str | None) -> boto3.Session:
    """The session the checks use: ``role_arn``'s, else the caller's account lookup role's (with a
    ``qualifier``), else the caller's own."""
    # botocore reads AWS_DEFAULT_REGION, not AWS_REGION (which the AWS CLI and GitHub's action set)
    base = boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
    if not role_arn and qualifier:
        role_arn = lookup_role_arn(base, qualifier)
    if not role_arn:
        return base
    credentials = base.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="check-deployment")[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--env", required=True, help="the environment (a key of datalake.environments)")
    parser.add_argument("--project", default=None, help="default: datalake.project of cdk.json")
    parser.add_argument(
        "--region", default=None, help="default: AWS_REGION, else the SDK's (AWS_DEFAULT_REGION, the profile)"
    )
    parser.add_argument(
        "--role-arn",
        default=os.environ.get("CHECK_ROLE_ARN") or None,
        help="a read-only role to assume (default: the CDK lookup role of the caller's account and region)",
    )
    parser.add_argument(
        "--as-caller", action="store_true", help="check with the caller's own credentials, assuming no role"
    )
    args = parser.parse_args(argv)
    context = _context()
    qualifier = None if args.as_caller else context.get(QUALIFIER_KEY, DEFAULT_QUALIFIER)
    role_arn = None if args.as_caller else args.role_arn
    try:
        session = session_for(role_arn, args.region, qualifier=qualifier)
        outputs = outputs_from_environment(os.environ) or outputs_from_stacks(
            session.client("cloudformation"), args.project or context["datalake"]["project"], args.env
        )
    except (DeploymentCheckError, ClientError, BotoCoreError) as error:
        print(f"check-deployment: {error}", file=sys.stderr)
        return 1
    checks = run_checks(outputs, session.client)
    for check in checks:
        print(check)
    failed = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(failed)} of {len(checks)} checks passed for {args.env}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
