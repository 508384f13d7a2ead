"""The cloud-assembly loader: intrinsic functions, cross-stack references, names, assets, environments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_twin.assembly import AssemblyError, CloudAssembly
from tests.conftest import SynthesizedPlatform
from tests.twin.conftest import template, write_assembly


def test_intrinsics_resolve_for_the_twins_account_and_region(tmp_path: Path) -> None:
    producer = template(
        {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}}},
        Outputs={"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "shared-key"}}},
    )
    consumer = template(
        {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": {
                        "Fn::Join": ["-", ["raw", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}]]
                    },
                    "Tags": [
                        {"Key": "sub", "Value": {"Fn::Sub": "${AWS::Partition}:${Bucket.Arn}:${!Literal}"}},
                        {"Key": "select", "Value": {"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}},
                        {"Key": "azs", "Value": {"Fn::Select": [2, {"Fn::GetAZs": ""}]}},
                        {"Key": "if", "Value": {"Fn::If": ["InEurope", "eu", {"Ref": "AWS::NoValue"}]}},
                    ],
                },
            },
            "Other": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "KmsMasterKeyId": {
                        "Fn::GetStackOutput": {"StackName": "producer", "OutputName": "KeyArn"}
                    },
                    "DisplayName": {"Fn::ImportValue": "shared-key"},
                },
            },
            "Skipped": {"Type": "AWS::SNS::Topic", "Condition": "InEurope", "Properties": {}},
        },
        Conditions={"InEurope": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
    )
    folder = write_assembly(tmp_path, {"producer": producer, "consumer": consumer})
    assembly = CloudAssembly(folder, account="111122223333", region="us-west-2")

    bucket = assembly.stack("consumer").resources["Bucket"]
    assert bucket.name == "raw-111122223333-us-west-2"
    tags = {t["Key"]: t.get("Value") for t in bucket.properties["Tags"]}
    assert tags == {
        "sub": "aws:arn:aws:s3:::raw-111122223333-us-west-2:${Literal}",
        "select": "b",
        "azs": "us-west-2c",
        "if": None,  # AWS::NoValue removes the property
    }
    key_arn = assembly.stack("producer").resources["Key"].arn
    assert key_arn.startswith("arn:aws:kms:us-west-2:111122223333:key/")
    topic = assembly.stack("consumer").resources["Other"]
    assert topic.properties["KmsMasterKeyId"] == key_arn == topic.properties["DisplayName"]
    assert topic.ref == f"arn:aws:sns:us-west-2:111122223333:{topic.name}"
    assert "Skipped" not in assembly.stack("consumer").resources  # its condition is false in us-west-2


def test_what_the_loader_cannot_resolve_is_an_error_naming_it(tmp_path: Path) -> None:
    broken = template(
        {"Fn": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::Transform": {}}}}}
    )
    assembly = CloudAssembly(write_assembly(tmp_path / "a", {"s": broken}))
    with pytest.raises(AssemblyError, match="Fn::Transform is not supported"):
        _ = assembly.stack("s").resources["Fn"].properties
    with pytest.raises(AssemblyError, match="not a cloud assembly"):
        CloudAssembly(tmp_path / "nothing")
    bound = write_assembly(tmp_path / "b", {"s": template({})}, environment="aws://444455556666/eu-central-1")
    assert (CloudAssembly(bound).env.account, CloudAssembly(bound).env.region) == (
        "444455556666",
        "eu-central-1",
    )


def test_the_platforms_assembly_resolves_every_resource_and_finds_every_asset(
    dev: SynthesizedPlatform,
) -> None:
    assembly = CloudAssembly(dev.outdir)
    for stack in assembly.stacks.values():
        for resource in stack.resources.values():
            json.dumps(resource.properties)  # every intrinsic resolved to plain JSON
    job_scripts = [
        assembly.asset(str(j.properties["Command"]["ScriptLocation"]))
        for j in assembly.resources("AWS::Glue::Job")
    ]
    assert sorted(p.read_text().splitlines()[0] for p in job_scripts) == sorted(
        (Path("glue_scripts") / name).read_text().splitlines()[0]
        for name in ("raw_to_processed.py", "processed_to_consumer.py")
    )
