"""Delivery (README, "Deploy"): the GitHub OIDC deploy access, the CDK pipeline and their configuration.

The trust tests run the roles' synthesized trust policies through the local twin's IAM evaluator with
the claims of GitHub's OIDC tokens: they fail if a trust admits another repository, a branch, a pull
request where an environment is required, or another environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from local_twin.iam import Statement
from stacks.config import ConfigError
from stacks.delivery import build_delivery
from stacks.delivery_config import parse_delivery
from stacks.pipeline_stack import pinned_cdk_cli_version
from tests.conftest import (
    CONNECTION_ARN,
    DELIVERY_QUALIFIER,
    DELIVERY_REGION,
    DELIVERY_REPOSITORY,
    DEV_ACCOUNT,
    PIPELINE_ACCOUNT,
    PROD_ACCOUNT,
    SynthesizedDelivery,
    app_with_context,
    delivery_context,
)

TOKEN_HOST = "token.actions.githubusercontent.com"


def resources_of(template: Template, type_: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(type_)
    return found


def role_named(template: Template, name: str) -> dict[str, Any]:
    roles = [
        r
        for r in resources_of(template, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == name
    ]
    assert len(roles) == 1, f"expected one role {name}"
    return roles[0]


def admits(role: dict[str, Any], provider: Any, claims: dict[str, str]) -> bool:
    """Whether the trust policy lets a web-identity token with ``claims`` from ``provider`` in."""
    for raw in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        statement = Statement.parse(raw, "trust", resource_policy=True)
        assert statement.principals is not None
        federated = statement.principals.get("Federated", ())
        if statement.effect != "Allow" or str(provider) not in federated:  # the parser keeps str(value)
            continue
        if statement.applies(
            "sts:AssumeRoleWithWebIdentity", "*", {f"{TOKEN_HOST}:{k}": [v] for k, v in claims.items()}
        ):
            return True
    return False


def provider_ref(template: Template) -> Any:
    (logical_id,) = resources_of(template, "AWS::IAM::OIDCProvider")
    return {"Ref": logical_id}


# --- the GitHub OIDC stack --------------------------------------------------------------------------


def test_oidc_provider_is_githubs_with_the_sts_audience(delivery: SynthesizedDelivery) -> None:
    delivery.template(delivery.oidc).has_resource_properties(
        "AWS::IAM::OIDCProvider",
        {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]},
    )


def test_oidc_stack_is_in_the_environments_account(delivery: SynthesizedDelivery) -> None:
    assert delivery.oidc.account == DEV_ACCOUNT
    assert delivery.oidc.region == DELIVERY_REGION


def test_deploy_role_trusts_only_the_repository_in_its_github_environment(
    delivery: SynthesizedDelivery,
) -> None:
    template = delivery.template(delivery.oidc)
    role, provider = role_named(template, "datalake-dev-github-deploy"), provider_ref(template)
    good = {"aud": "sts.amazonaws.com", "sub": f"repo:{DELIVERY_REPOSITORY}:environment:dev"}

    assert admits(role, provider, good)
    for claims in (
        {**good, "sub": "repo:octo-org/other-repo:environment:dev"},  # another repository
        {**good, "sub": "repo:evil-org/datalake-platform:environment:dev"},  # another owner
        {**good, "sub": f"repo:{DELIVERY_REPOSITORY}:environment:prod"},  # another environment
        {**good, "sub": f"repo:{DELIVERY_REPOSITORY}:ref:refs/heads/main"},  # a branch, no environment
        {**good, "sub": f"repo:{DELIVERY_REPOSITORY}:pull_request"},  # a pull request
        {**good, "sub": f"repo:{DELIVERY_REPOSITORY}:environment:dev-extra"},  # a longer name
        {**good, "aud": "https://github.com/octo-org"},  # another audience
    ):
        assert not admits(role, provider, claims), claims
    assert not admits(role, {"Ref": "SomeOtherProvider"}, good)


def test_diff_role_trusts_only_the_repositorys_pull_requests(delivery: SynthesizedDelivery) -> None:
    template = delivery.template(delivery.oidc)
    role, provider = role_named(template, "datalake-dev-github-diff"), provider_ref(template)
    good = {"aud": "sts.amazonaws.com", "sub": f"repo:{DELIVERY_REPOSITORY}:pull_request"}

    assert admits(role, provider, good)
    for sub in (
        "repo:octo-org/other-repo:pull_request",
        f"repo:{DELIVERY_REPOSITORY}:environment:dev",
        f"repo:{DELIVERY_REPOSITORY}:ref:refs/heads/feature",
    ):
        assert not admits(role, provider, {**good, "sub": sub}), sub


def bootstrap_role(role: str, account: str = DEV_ACCOUNT) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":iam::{account}:role/cdk-{DELIVERY_QUALIFIER}-{role}-role-{account}-{DELIVERY_REGION}",
            ],
        ]
    }


def managed_policy_of(template: Template, role_logical_id: str) -> dict[str, Any]:
    policies = [
        p
        for p in resources_of(template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_logical_id} in p["Properties"].get("Roles", [])
    ]
    assert len(policies) == 1
    return policies[0]["Properties"]["PolicyDocument"]


def logical_id_of_role(template: Template, name: str) -> str:
    (logical_id,) = [
        k
        for k, r in resources_of(template, "AWS::IAM::Role").items()
        if r["Properties"].get("RoleName") == name
    ]
    return logical_id


def test_deploy_role_may_only_assume_the_cdk_bootstrap_roles_of_its_qualifier(
    delivery: SynthesizedDelivery,
) -> None:
    template = delivery.template(delivery.oidc)
    document = managed_policy_of(template, logical_id_of_role(template, "datalake-dev-github-deploy"))

    assert document["Statement"] == [
        {
            "Sid": "AssumeCdkBootstrapRoles",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": [
                bootstrap_role("deploy"),
                bootstrap_role("file-publishing"),
                bootstrap_role("lookup"),
            ],
        }
    ]
    # no other policy reaches the role
    role = role_named(template, "datalake-dev-github-deploy")
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]
    assert resources_of(template, "AWS::IAM::Policy") == {}


def test_diff_role_may_only_read_the_environments_templates(delivery: SynthesizedDelivery) -> None:
    # not the lookup role: its ReadOnlyAccess would reach any pull request of any branch
    template = delivery.template(delivery.oidc)
    document = managed_policy_of(template, logical_id_of_role(template, "datalake-dev-github-diff"))

    (statement,) = document["Statement"]
    assert statement["Action"] == [
        "cloudformation:DescribeStacks",
        "cloudformation:GetTemplate",
        "ssm:GetParameter",
    ]
    resources = json.dumps(statement["Resource"])
    assert f":cloudformation:{DELIVERY_REGION}:{DEV_ACCOUNT}:stack/datalake-dev-*/*" in resources
    assert (
        f":ssm:{DELIVERY_REGION}:{DEV_ACCOUNT}:parameter/cdk-bootstrap/{DELIVERY_QUALIFIER}/version"
        in resources
    )
    assert len(statement["Resource"]) == 2 and "sts:" not in json.dumps(document)


def test_deploy_sessions_last_at_most_an_hour(delivery: SynthesizedDelivery) -> None:
    for role in resources_of(delivery.template(delivery.oidc), "AWS::IAM::Role").values():
        assert role["Properties"]["MaxSessionDuration"] == 3600


def test_an_account_holds_the_roles_of_every_environment_in_it(tmp_path: Path) -> None:
    # Given dev and prod without accounts (one shared account)
    context = delivery_context(pipeline=None)
    for env in context["environments"].values():
        env.update(account=None, region=None)
    app = app_with_context(tmp_path, env="dev", datalake=context)

    # When the app is built
    (oidc,) = build_delivery(app, "dev")

    # Then one stack holds both environments' roles
    names = {
        r["Properties"]["RoleName"]
        for r in Template.from_stack(oidc).find_resources("AWS::IAM::Role").values()
    }
    assert names == {
        "datalake-dev-github-deploy",
        "datalake-dev-github-diff",
        "datalake-prod-github-deploy",
        "datalake-prod-github-diff",
    }


def test_an_existing_provider_is_used_not_created(tmp_path: Path) -> None:
    arn = f"arn:aws:iam::{DEV_ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
    app = app_with_context(
        tmp_path,
        env="dev",
        datalake=delivery_context(
            pipeline=None, github={"repository": DELIVERY_REPOSITORY, "oidcProviderArn": arn}
        ),
    )

    (oidc,) = build_delivery(app, "dev")

    template = Template.from_stack(oidc)
    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    role = role_named(template, "datalake-dev-github-deploy")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Federated": arn}


def test_delivery_stacks_carry_the_projects_tags_but_no_environment(delivery: SynthesizedDelivery) -> None:
    for stack in (delivery.oidc, delivery.pipeline):
        for role in resources_of(delivery.template(stack), "AWS::IAM::Role").values():
            tags = {t["Key"]: t["Value"] for t in role["Properties"]["Tags"]}
            assert tags["project"] == "datalake" and tags["component"] == "delivery"
            assert "environment" not in tags


def test_the_default_configuration_adds_no_delivery_stack() -> None:
    app = app_with_context()
    assert build_delivery(app, "dev") == []


# --- the pipeline -----------------------------------------------------------------------------------


def pipeline_stages(delivery: SynthesizedDelivery) -> list[dict[str, Any]]:
    (pipeline,) = resources_of(delivery.template(delivery.pipeline), "AWS::CodePipeline::Pipeline").values()
    stages: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
    return stages


def test_pipeline_source_is_the_codeconnections_connection(delivery: SynthesizedDelivery) -> None:
    source = pipeline_stages(delivery)[0]
    (action,) = source["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert action["Configuration"] == {
        "ConnectionArn": CONNECTION_ARN,
        "FullRepositoryId": DELIVERY_REPOSITORY,
        "BranchName": "main",
        "DetectChanges": True,
    }


def test_pipeline_synthesizes_with_make_synth_then_deploys_dev_then_prod(
    delivery: SynthesizedDelivery,
) -> None:
    assert [s["Name"] for s in pipeline_stages(delivery)] == [
        "Source",
        "Build",
        "UpdatePipeline",
        "Assets",
        "Dev",
        "Prod",
    ]
    delivery.template(delivery.pipeline).has_resource_properties(
        "AWS::CodeBuild::Project",
        {"Source": {"BuildSpec": Match.string_like_regexp(r'"commands": \[\s*"make synth"\s*\]')}},
    )


def actions(stage: dict[str, Any]) -> list[tuple[int, str, str]]:
    return sorted((a["RunOrder"], a["ActionTypeId"]["Provider"], a["Name"]) for a in stage["Actions"])


def test_prod_deploys_only_after_its_diff_and_a_manual_approval_and_dev_without(
    delivery: SynthesizedDelivery,
) -> None:
    stages = {s["Name"]: s for s in pipeline_stages(delivery)}

    prod = actions(stages["Prod"])
    # the approver reads the diff first: cdk diff of the stage's stacks, then the approval, then the stacks
    assert prod[0][1:] == ("CodeBuild", "DiffProd")
    assert prod[1][1:] == ("Manual", "ApproveProd") and prod[1][0] > prod[0][0]
    assert all(order > prod[1][0] for order, _, _ in prod[2:]), "a prod action runs before approval"
    assert "Manual" not in {provider for _, provider, _ in actions(stages["Dev"])}
    delivery.template(delivery.pipeline).has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "Source": {
                "BuildSpec": Match.string_like_regexp(
                    r"make diff ENV=prod STACKS='datalake-pipeline/Prod/\*'"
                )
            }
        },
    )


def test_each_stage_ends_with_its_deployment_check(delivery: SynthesizedDelivery) -> None:
    template = delivery.template(delivery.pipeline)
    stages = {s["Name"]: s for s in pipeline_stages(delivery)}
    for env, account in (("dev", DEV_ACCOUNT), ("prod", PROD_ACCOUNT)):
        last = actions(stages[env.capitalize()])[-1]
        assert last[1:] == ("CodeBuild", f"Check{env.capitalize()}")
        (check,) = [a for a in stages[env.capitalize()]["Actions"] if a["Name"] == last[2]]
        # the stage's outputs reach the step as environment variables
        variables = json.loads(check["Configuration"]["EnvironmentVariables"])
        assert {v["name"] for v in variables} >= {"StateMachineArn", "RawBucketName", "DeliveryStreamName"}
        template.has_resource_properties(
            "AWS::CodeBuild::Project",
            {
                "Source": {
                    "BuildSpec": Match.string_like_regexp(
                        f"make check-deployment ENV={env} REGION={DELIVERY_REGION}"
                    )
                },
                "Environment": Match.object_like(
                    {
                        "EnvironmentVariables": [
                            {
                                "Name": "CHECK_ROLE_ARN",
                                "Type": "PLAINTEXT",
                                "Value": bootstrap_role("lookup", account),
                            }
                        ]
                    }
                ),
            },
        )


def test_pipeline_is_cross_account_with_an_encrypted_artifact_store(delivery: SynthesizedDelivery) -> None:
    assert (delivery.pipeline.account, delivery.pipeline.region) == (PIPELINE_ACCOUNT, DELIVERY_REGION)
    template = delivery.template(delivery.pipeline)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    (pipeline,) = resources_of(template, "AWS::CodePipeline::Pipeline").values()
    assert pipeline["Properties"]["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"


def test_pipeline_uses_the_pinned_cdk_cli(delivery: SynthesizedDelivery) -> None:
    version = pinned_cdk_cli_version()
    assert version.startswith("2.")
    delivery.template(delivery.pipeline).has_resource_properties(
        "AWS::CodeBuild::Project",
        {"Source": {"BuildSpec": Match.string_like_regexp(f"npm install -g aws-cdk@{version}")}},
    )


def test_pipeline_stages_deploy_the_same_stacks_as_cdk_deploy(delivery: SynthesizedDelivery) -> None:
    stages = {s["Name"]: s for s in pipeline_stages(delivery)}
    deployed = {
        a["Configuration"]["StackName"]
        for a in stages["Prod"]["Actions"]
        if "StackName" in a.get("Configuration", {})
    }
    assert deployed == {
        f"datalake-prod-{c}"
        for c in ("operations", "storage", "ingestion", "etl", "serving", "orchestration")
    }


# --- configuration errors name their key ------------------------------------------------------------


def parse(**delivery: Any) -> Any:
    return parse_delivery(delivery_context(**delivery), qualifier=DELIVERY_QUALIFIER)


def stages(*entries: tuple[str, bool]) -> dict[str, Any]:
    pipeline = dict(delivery_context()["delivery"]["pipeline"])
    pipeline["stages"] = [{"environment": e, "manualApproval": a} for e, a in entries]
    return pipeline


@pytest.mark.parametrize(
    ("delivery", "key", "says"),
    [
        (
            {"github": {"repository": "datalake-platform", "oidcProviderArn": None}},
            "delivery.github.repository",
            "owner/name",
        ),
        (
            {"github": {"repository": "octo-org/a/b", "oidcProviderArn": None}},
            "delivery.github.repository",
            "owner/name",
        ),
        (
            {"github": {"repository": "-octo/repo", "oidcProviderArn": None}},
            "delivery.github.repository",
            "owner/name",
        ),
        (
            {"pipeline": stages(("dev", False), ("qa", True))},
            "delivery.pipeline.stages[1].environment",
            "unknown environment 'qa'",
        ),
        (
            {"pipeline": stages(("dev", False), ("prod", False))},
            "delivery.pipeline.stages[1].manualApproval",
            "production",
        ),
        (
            {"pipeline": stages(("dev", False), ("dev", True))},
            "delivery.pipeline.stages[1].environment",
            "already a stage",
        ),
        ({"pipeline": stages()}, "delivery.pipeline.stages", "expected a list of stages"),
        (
            {
                "pipeline": {
                    **stages(("dev", False)),
                    "connectionArn": "arn:aws:codecommit:eu-west-1:111111111111:repo",
                }
            },
            "delivery.pipeline.connectionArn",
            "CodeConnections",
        ),
        (
            {"pipeline": {**stages(("dev", False)), "account": None}},
            "delivery.pipeline.account/region",
            "required",
        ),
        ({"pipeline": {**stages(("dev", False)), "branch": "a..b"}}, "delivery.pipeline.branch", "branch"),
        ({"gitlab": {}}, "delivery", "unknown key(s) gitlab"),
        (
            {
                "github": {
                    "repository": DELIVERY_REPOSITORY,
                    "oidcProviderArn": "arn:aws:iam::1:oidc-provider/x",
                }
            },
            "delivery.github.oidcProviderArn",
            "token.actions.githubusercontent.com",
        ),
    ],
)
def test_bad_delivery_configuration_fails_naming_the_key(
    delivery: dict[str, Any], key: str, says: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse(**delivery)
    assert str(error.value).startswith(f"datalake.{key}"), str(error.value)
    assert says in str(error.value)


def test_a_bad_bootstrap_qualifier_fails_naming_the_context_key() -> None:
    with pytest.raises(ConfigError, match=r"^@aws-cdk/core:bootstrapQualifier: 'Team_1'"):
        parse_delivery(delivery_context(), qualifier="Team_1")


def test_bad_delivery_configuration_fails_synth(tmp_path: Path) -> None:
    app = app_with_context(tmp_path, env="dev", datalake=delivery_context(pipeline=stages(("prod", False))))
    with pytest.raises(ConfigError, match=r"stages\[0\]\.manualApproval"):
        build_delivery(app, "dev")
