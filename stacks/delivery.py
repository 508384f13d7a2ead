"""The delivery stacks the configuration asks for (``datalake.delivery``), next to the platform's."""

from __future__ import annotations

import aws_cdk as cdk

from stacks.delivery_config import load_delivery
from stacks.github_oidc_stack import GitHubOidcStack
from stacks.pipeline_stack import PipelineStack


def build_delivery(app: cdk.App, env_name: str) -> list[cdk.Stack]:
    """Add the GitHub OIDC stack of ``env_name``'s account (with ``delivery.github``) and the pipeline
    stack (with ``delivery.pipeline``) to ``app``; return them (none by default)."""
    delivery = load_delivery(app)
    stacks: list[cdk.Stack] = []
    if delivery.github is not None:
        stacks.append(GitHubOidcStack(app, delivery=delivery, env_name=env_name))
    if delivery.pipeline is not None:
        stacks.append(PipelineStack(app, delivery=delivery))
    # The project's tags, without an environment: an OIDC stack holds every environment of its account,
    # the pipeline deploys them all (its stages carry their own environment's tags).
    shared = {k: v for k, v in delivery.environments[env_name].tags.items() if k != "environment"}
    for stack in stacks:
        for key, value in {**shared, "component": "delivery"}.items():
            cdk.Tags.of(stack).add(key, value)
    return stacks
