"""One snapshot per stack per environment, so a diff shows exactly what an architecture change did.

Asset hashes and the CDK analytics resource are masked: a snapshot changes when the architecture
changes, not when a Lambda's bytes or the CDK version do. Fine-grained assertions live in tests/unit;
update snapshots deliberately with ``pytest --snapshot-update`` and review the diff.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.conftest import SynthesizedDelivery, SynthesizedPlatform

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalized(template_text: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(ASSET_HASH.sub("<asset-hash>", template_text))
    template.get("Resources", {}).pop("CDKMetadata", None)  # CDK-version analytics blob
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    if not template.get("Conditions"):
        template.pop("Conditions", None)
    return template


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_stack_templates(env_platform: SynthesizedPlatform, snapshot_json: SnapshotAssertion) -> None:
    for stack in env_platform.platform.stacks:
        template = normalized(env_platform.template_file(stack).read_text())
        assert template == snapshot_json(name=stack.stack_name)


def test_delivery_stack_templates(delivery: SynthesizedDelivery, snapshot_json: SnapshotAssertion) -> None:
    # tests/conftest.py's delivery configuration: both paths, dev and prod in accounts of their own
    for stack in (delivery.oidc, delivery.pipeline):
        template = normalized((delivery.outdir / f"{stack.artifact_id}.template.json").read_text())
        assert template == snapshot_json(name=stack.stack_name)


def test_normalization_masks_only_noise() -> None:
    text = json.dumps(
        {
            "Resources": {
                "CDKMetadata": {"Type": "AWS::CDK::Metadata"},
                "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "a" * 64 + ".zip"}}},
            },
            "Conditions": {"CDKMetadataAvailable": {}},
        }
    )

    assert normalized(text) == {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "<asset-hash>.zip"}}}
        }
    }
