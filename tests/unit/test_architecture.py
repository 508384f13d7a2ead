"""tools/architecture.py: nodes and edges it must infer from a small hand-written cloud assembly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_script

architecture = load_script("tools/architecture.py")

RAW_BUCKET_NAME = {"Fn::Join": ["", ["app-raw-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]}

STORAGE: dict[str, Any] = {
    "Resources": {
        "KeyA": {"Type": "AWS::KMS::Key", "Properties": {}},
        "KeyB": {"Type": "AWS::KMS::Key", "Properties": {}},
        "RawBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": RAW_BUCKET_NAME}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "AutoDeleteHandler": {"Type": "AWS::Lambda::Function", "Properties": {}},
    },
    "Outputs": {
        "RawArn": {"Value": {"Fn::GetAtt": ["RawBucket", "Arn"]}, "Export": {"Name": "app-raw-arn"}},
        "PublishOutputRefTopic": {"Value": {"Ref": "Topic"}},
    },
}

PIPELINE: dict[str, Any] = {
    "Resources": {
        "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {}},
        "Transform": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Delivery": {
            "Type": "AWS::KinesisFirehose::DeliveryStream",
            "Properties": {
                "KinesisStreamSourceConfiguration": {"KinesisStreamARN": {"Fn::GetAtt": ["Stream", "Arn"]}},
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": {"Fn::ImportValue": "app-raw-arn"},
                    "RoleARN": {"Fn::GetAtt": ["Role", "Arn"]},
                    "ProcessingConfiguration": {
                        "Processors": [
                            {"Parameters": [{"ParameterValue": {"Fn::GetAtt": ["Transform", "Arn"]}}]}
                        ]
                    },
                },
            },
        },
        "Crawler": {
            "Type": "AWS::Glue::Crawler",
            "Properties": {
                "Name": "app-raw-crawler",
                "DatabaseName": {"Ref": "Database"},
                "Targets": {
                    "S3Targets": [{"Path": {"Fn::Join": ["", ["s3://", RAW_BUCKET_NAME, "/events/"]]}}]
                },
            },
        },
        "Database": {"Type": "AWS::Glue::Database", "Properties": {"DatabaseInput": {"Name": "app_raw"}}},
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": "app-pipeline",
                "DefinitionString": '{"States":{"Crawl":{"Parameters":{"Name":"app-raw-crawler"}}}}',
            },
        },
        "OnObject": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "starts app-pipeline",  # a description names things; it is no reference
                "EventPattern": {
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [RAW_BUCKET_NAME]}},
                },
                "Targets": [{"Arn": {"Ref": "Machine"}, "Id": "Target0"}],
            },
        },
        "Queries": {  # named like the state machine, and quoting its own name: no arrow to the machine
            "Type": "AWS::Athena::WorkGroup",
            "Properties": {
                "Name": "app-pipeline",
                "WorkGroupConfiguration": {
                    "ResultConfiguration": {"OutputLocation": "s3://results/app-pipeline/"}
                },
            },
        },
        "Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Dimensions": [{"Name": "StreamName", "Value": {"Ref": "Stream"}}],
                "AlarmActions": [
                    {
                        "Fn::GetStackOutput": {
                            "StackName": "app-storage",
                            "OutputName": "PublishOutputRefTopic",
                        }
                    }
                ],
            },
        },
    }
}


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly of two stacks, as ``cdk synth`` writes it (manifest, tree, templates, metadata)."""
    out = tmp_path_factory.mktemp("cdk.out")
    artifacts: dict[str, Any] = {"Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}
    for name, body in (("app-storage", STORAGE), ("app-pipeline", PIPELINE)):
        (out / f"{name}.template.json").write_text(json.dumps(body))
        artifacts[f"{name}.assets"] = {"type": "cdk:asset-manifest", "properties": {"file": "x.json"}}
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json"},
            "displayName": name,
        }
    # CDK marks its own custom-resource handlers in the stack metadata
    artifacts["app-storage"]["metadata"] = {
        "/app-storage/AutoDelete": [{"type": "aws:cdk:is-custom-resource-handler-customResourceProvider"}]
    }
    (out / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))

    def construct(path: str, logical_id: str) -> dict[str, Any]:
        return {"path": path, "attributes": {"aws:cdk:cloudformation:logicalId": logical_id}}

    storage_children = {
        "Raw": {
            "path": "app-storage/Lake/Raw",
            "children": {"Resource": construct("app-storage/Lake/Raw/Resource", "RawBucket")},
        },
        "Handler": construct("app-storage/AutoDelete/Handler", "AutoDeleteHandler"),
    }
    tree = {
        "tree": {
            "id": "App",
            "path": "",
            "children": {
                "app-storage": {"id": "app-storage", "path": "app-storage", "children": storage_children},
                "app-pipeline": {"id": "app-pipeline", "path": "app-pipeline", "children": {}},
            },
        }
    }
    (out / "tree.json").write_text(json.dumps(tree))
    return out


@pytest.fixture(scope="module")
def diagram(assembly: Path) -> str:
    graph = architecture.build_graph(architecture.load_stacks(assembly))
    text: str = architecture.mermaid(graph)
    return text


def test_one_subgraph_per_stack_in_manifest_order(diagram: str) -> None:
    subgraphs = [line.strip() for line in diagram.splitlines() if line.strip().startswith("subgraph")]

    assert subgraphs == [
        'subgraph stack__app_storage["app-storage"]',
        'subgraph stack__app_pipeline["app-pipeline"]',
    ]


def test_main_resources_are_nodes_labelled_by_construct_path(diagram: str) -> None:
    assert 'storage__RawBucket[("Lake/Raw<br/>S3 bucket")]' in diagram  # path from tree.json
    for node in ("pipeline__Stream", "pipeline__Delivery", "pipeline__Crawler", "pipeline__Machine"):
        assert f"    {node}" in diagram
    assert "EventBridge rule: Object Created" in diagram


def test_keys_and_alarms_are_counted_and_iam_and_cdk_helpers_left_out(diagram: str) -> None:
    assert 'storage__AWS__KMS__Key("KMS keys (2)")' in diagram
    assert 'pipeline__AWS__CloudWatch__Alarm("CloudWatch alarms (1)")' in diagram
    assert "AutoDeleteHandler" not in diagram
    assert "pipeline__Role" not in diagram


@pytest.mark.parametrize(
    "edge",
    [
        # intra-stack references, direction from the property they sit in
        "pipeline__Stream -->|source| pipeline__Delivery",
        "pipeline__Delivery -.->|transform| pipeline__Transform",
        "pipeline__Crawler -->|tables| pipeline__Database",
        "pipeline__OnObject -->|triggers| pipeline__Machine",
        # across stacks: Fn::ImportValue, Fn::GetStackOutput, and a bucket's name quoted in a property
        "pipeline__Delivery -->|delivers| storage__RawBucket",
        "pipeline__AWS__CloudWatch__Alarm -.->|notifies| storage__Topic",
        "storage__RawBucket -->|crawled by| pipeline__Crawler",
        "storage__RawBucket -.->|Object Created| pipeline__OnObject",
        # a name inside a state machine definition
        "pipeline__Machine -.->|runs| pipeline__Crawler",
    ],
)
def test_inferred_edges(diagram: str, edge: str) -> None:
    assert f"  {edge}" in diagram.splitlines()


def test_no_edge_from_what_an_alarm_watches_or_from_a_description(diagram: str) -> None:
    edges = [line for line in diagram.splitlines() if "->" in line]

    assert not any(
        line.strip().startswith("pipeline__AWS__CloudWatch__Alarm") and "Stream" in line for line in edges
    )
    assert sum("pipeline__Machine" in line and "pipeline__OnObject" in line for line in edges) == 1
    assert not any("KMS" in line for line in edges)
    assert not any(line.strip().startswith("pipeline__Queries") for line in edges)


def test_markdown_embeds_the_mermaid_block(assembly: Path) -> None:
    text = architecture.markdown(architecture.build_graph(architecture.load_stacks(assembly)), "dev")

    assert "```mermaid\nflowchart LR\n" in text
    assert "make diagram" in text
