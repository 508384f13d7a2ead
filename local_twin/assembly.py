"""Reads a synthesized cloud assembly (``cdk.out``): its stacks, their templates resolved, their assets.

Everything the twin runs comes from here: resource properties with every intrinsic function resolved
(``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::GetStackOutput``, ``Fn::ImportValue``,
conditions, ...) for one account and region, and the asset files a property points to (a Lambda's code,
a Glue job's script).

Physical names: a resource with an explicit name property keeps it; any other gets a deterministic name
derived from its stack and logical id, as CloudFormation would generate a unique one. Identifiers AWS
assigns at creation (KMS key ids, Redshift namespace ids, security-group ids) are derived the same way.
An attribute or function the loader does not know is an error naming it, never a guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class AssemblyError(Exception):
    """The cloud assembly holds something the twin cannot read or resolve."""


@dataclass(frozen=True)
class Environment:
    """Where the twin pretends the app is deployed."""

    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


def _digest(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _generated_name(stack: str, logical_id: str, limit: int = 64, *, lower: bool = False) -> str:
    """A CloudFormation-style generated name: ``<stack>-<logical id>-<suffix>``, within ``limit``."""
    suffix = _digest(stack, logical_id, length=12).upper()
    base = f"{stack}-{logical_id}"[: limit - len(suffix) - 1]
    name = f"{base}-{suffix}"
    return name.lower() if lower else name


# Ref and Fn::GetAtt of each resource type the platform uses: (Ref, {attribute: value}).
# ``name`` is the resource's physical name, ``arn`` a helper building ARNs in the environment.
_NAME_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::S3::Bucket": ("BucketName",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
    "AWS::IAM::Policy": ("PolicyName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Logs::LogStream": ("LogStreamName",),
    "AWS::Kinesis::Stream": ("Name",),
    "AWS::KinesisFirehose::DeliveryStream": ("DeliveryStreamName",),
    "AWS::StepFunctions::StateMachine": ("StateMachineName",),
    "AWS::Events::Rule": ("Name",),
    "AWS::Glue::Database": ("DatabaseInput", "Name"),
    "AWS::Glue::Table": ("TableInput", "Name"),
    "AWS::Glue::Crawler": ("Name",),
    "AWS::Glue::Job": ("Name",),
    "AWS::Glue::SecurityConfiguration": ("Name",),
    "AWS::Glue::DataQualityRuleset": ("Name",),
    "AWS::Athena::WorkGroup": ("Name",),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::RedshiftServerless::Namespace": ("NamespaceName",),
    "AWS::RedshiftServerless::Workgroup": ("WorkgroupName",),
    "AWS::Redshift::Cluster": ("ClusterIdentifier",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::Budgets::Budget": ("Budget", "BudgetName"),
}
_NAME_LIMITS = {
    "AWS::S3::Bucket": 63,
    "AWS::IAM::Role": 64,
    "AWS::Lambda::Function": 64,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::Kinesis::Stream": 128,
    "AWS::KinesisFirehose::DeliveryStream": 64,
}


@dataclass
class Resource:
    """One resource of one stack, with its properties resolved on first use."""

    stack: Stack
    logical_id: str
    type: str
    raw: Mapping[str, Any]

    @cached_property
    def properties(self) -> dict[str, Any]:
        resolved = self.stack.resolve(self.raw.get("Properties", {}))
        assert isinstance(resolved, dict)
        return resolved

    @property
    def path(self) -> str:
        """The construct path (``stack/Construct/Resource``), for messages."""
        return str(self.raw.get("Metadata", {}).get("aws:cdk:path", f"{self.stack.name}/{self.logical_id}"))

    @cached_property
    def name(self) -> str:
        """The physical name: the explicit name property, or a generated one."""
        keys = _NAME_PROPERTIES.get(self.type)
        if keys:
            value: Any = self.raw.get("Properties", {})
            for key in keys:
                value = value.get(key) if isinstance(value, Mapping) else None
            if value is not None:
                return str(self.stack.resolve(value))
        lower = self.type in ("AWS::S3::Bucket", "AWS::Glue::Database")
        return _generated_name(self.stack.name, self.logical_id, _NAME_LIMITS.get(self.type, 64), lower=lower)

    @property
    def env(self) -> Environment:
        return self.stack.assembly.env

    @cached_property
    def ref(self) -> Any:
        env, name, t = self.env, self.name, self.type
        arn_refs = {
            "AWS::SNS::Topic": lambda: env.arn("sns", name),
            "AWS::StepFunctions::StateMachine": lambda: env.arn("states", f"stateMachine:{name}"),
            "AWS::IAM::ManagedPolicy": lambda: env.arn("iam", f"policy/{name}", region=False),
            "AWS::SecretsManager::Secret": lambda: self._secret_arn(name),
            "AWS::SQS::Queue": lambda: f"https://sqs.{env.region}.{env.url_suffix}/{env.account}/{name}",
            "AWS::KMS::Key": lambda: self._key_id,
            "AWS::EC2::VPC": lambda: f"vpc-{_digest(self.stack.name, self.logical_id, length=17)}",
            "AWS::EC2::Subnet": lambda: f"subnet-{_digest(self.stack.name, self.logical_id, length=17)}",
            "AWS::EC2::SecurityGroup": lambda: f"sg-{_digest(self.stack.name, self.logical_id, length=17)}",
            "AWS::EC2::RouteTable": lambda: f"rtb-{_digest(self.stack.name, self.logical_id, length=17)}",
            "AWS::EC2::VPCEndpoint": lambda: f"vpce-{_digest(self.stack.name, self.logical_id, length=17)}",
            "AWS::Athena::NamedQuery": lambda: _digest(self.stack.name, self.logical_id, length=32),
        }
        if t in arn_refs:
            return arn_refs[t]()
        return name

    @cached_property
    def _key_id(self) -> str:
        h = _digest(self.stack.name, self.logical_id, length=32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def _secret_arn(self, name: str) -> str:
        return self.env.arn("secretsmanager", f"secret:{name}-{_digest(name, length=6)}")

    @cached_property
    def arn(self) -> str:
        return str(self.attribute("Arn"))

    def attribute(self, attribute: str) -> Any:
        """``Fn::GetAtt`` of this resource."""
        env, name, t = self.env, self.name, self.type
        if attribute == "Arn":
            arns = {
                "AWS::S3::Bucket": lambda: f"arn:{env.partition}:s3:::{name}",
                "AWS::IAM::Role": lambda: env.arn("iam", f"role/{name}", region=False),
                "AWS::KMS::Key": lambda: env.arn("kms", f"key/{self._key_id}"),
                "AWS::Lambda::Function": lambda: env.arn("lambda", f"function:{name}"),
                "AWS::Logs::LogGroup": lambda: env.arn("logs", f"log-group:{name}:*"),
                "AWS::Kinesis::Stream": lambda: env.arn("kinesis", f"stream/{name}"),
                "AWS::KinesisFirehose::DeliveryStream": lambda: env.arn("firehose", f"deliverystream/{name}"),
                "AWS::Events::Rule": lambda: env.arn("events", f"rule/{name}"),
                "AWS::SQS::Queue": lambda: env.arn("sqs", name),
                "AWS::SNS::Topic": lambda: env.arn("sns", name),
                "AWS::StepFunctions::StateMachine": lambda: env.arn("states", f"stateMachine:{name}"),
                "AWS::CloudWatch::Alarm": lambda: env.arn("cloudwatch", f"alarm:{name}"),
                "AWS::IAM::ManagedPolicy": lambda: env.arn("iam", f"policy/{name}", region=False),
            }
            if t in arns:
                return arns[t]()
        simple: dict[tuple[str, str], Any] = {
            ("AWS::SNS::Topic", "TopicName"): lambda: name,
            ("AWS::SNS::Topic", "TopicArn"): lambda: env.arn("sns", name),
            ("AWS::StepFunctions::StateMachine", "Name"): lambda: name,
            ("AWS::KMS::Key", "KeyId"): lambda: self._key_id,
            ("AWS::IAM::Role", "RoleId"): lambda: f"AROA{_digest(name, length=17).upper()}",
            ("AWS::SQS::Queue", "QueueName"): lambda: name,
            ("AWS::SQS::Queue", "QueueUrl"): lambda: self.ref,
            ("AWS::S3::Bucket", "DomainName"): lambda: f"{name}.s3.{env.url_suffix}",
            ("AWS::S3::Bucket", "RegionalDomainName"): lambda: f"{name}.s3.{env.region}.{env.url_suffix}",
            ("AWS::EC2::SecurityGroup", "GroupId"): lambda: self.ref,
            ("AWS::EC2::VPC", "CidrBlock"): lambda: self.properties["CidrBlock"],
            ("AWS::EC2::VPC", "DefaultSecurityGroup"): lambda: (
                f"sg-{_digest(self.stack.name, self.logical_id, 'default', length=17)}"
            ),
            ("AWS::RedshiftServerless::Namespace", "Namespace.NamespaceArn"): lambda: env.arn(
                "redshift-serverless", f"namespace/{self._key_id}"
            ),
            ("AWS::RedshiftServerless::Namespace", "Namespace.NamespaceName"): lambda: name,
            ("AWS::RedshiftServerless::Namespace", "Namespace.NamespaceId"): lambda: self._key_id,
            ("AWS::RedshiftServerless::Workgroup", "Workgroup.WorkgroupArn"): lambda: env.arn(
                "redshift-serverless", f"workgroup/{self._key_id}"
            ),
            ("AWS::RedshiftServerless::Workgroup", "Workgroup.WorkgroupName"): lambda: name,
            ("AWS::RedshiftServerless::Workgroup", "Workgroup.WorkgroupId"): lambda: self._key_id,
            ("AWS::Athena::WorkGroup", "CreationTime"): lambda: "2026-01-01T00:00:00Z",
        }
        if (t, attribute) in simple:
            return simple[(t, attribute)]()
        if t == "Custom::RedshiftServerlessAdminSecret" and attribute == "namespace.adminPasswordSecretArn":
            # What Redshift creates for ManageAdminPassword: a secret named redshift!<namespace>-<user>.
            namespace = self.properties["Create"]
            parameters = json.loads(namespace)["parameters"]
            return self._secret_arn(f"redshift!{parameters['namespaceName']}-admin")
        if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource":
            # A custom resource's attributes are whatever its handler returns at deploy time.
            return f"<{self.logical_id}.{attribute}: set by a custom resource at deploy time>"
        raise AssemblyError(f"{self.path}: Fn::GetAtt {attribute} of {t} is not known to the twin")


@dataclass
class Stack:
    """One stack artifact: its template, resolved on demand for the assembly's environment."""

    assembly: CloudAssembly
    artifact_id: str
    name: str
    template: Mapping[str, Any]
    directory: Path

    @cached_property
    def resources(self) -> dict[str, Resource]:
        return {
            logical_id: Resource(self, logical_id, body["Type"], body)
            for logical_id, body in self.template.get("Resources", {}).items()
            if "Condition" not in body or self.condition(body["Condition"])
        }

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise AssemblyError(f"{self.name}: condition {name} is not defined")
        return bool(self.resolve(conditions[name]))

    @cached_property
    def outputs(self) -> dict[str, Any]:
        return {key: self.resolve(body["Value"]) for key, body in self.template.get("Outputs", {}).items()}

    @cached_property
    def exports(self) -> dict[str, Any]:
        found = {}
        for body in self.template.get("Outputs", {}).values():
            if "Export" in body:
                found[str(self.resolve(body["Export"]["Name"]))] = self.resolve(body["Value"])
        return found

    def _pseudo(self, name: str) -> Any:
        env = self.assembly.env
        pseudo = {
            "AWS::AccountId": env.account,
            "AWS::Region": env.region,
            "AWS::Partition": env.partition,
            "AWS::URLSuffix": env.url_suffix,
            "AWS::StackName": self.name,
            "AWS::StackId": env.arn("cloudformation", f"stack/{self.name}/{_digest(self.name, length=32)}"),
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        parameters = self.template.get("Parameters", {})
        if name in parameters:
            if "Default" not in parameters[name]:
                raise AssemblyError(f"{self.name}: parameter {name} has no default")
            return parameters[name]["Default"]
        return None

    def ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name not in self.resources:
            raise AssemblyError(f"{self.name}: Ref to unknown resource {name}")
        return self.resources[name].ref

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources:
            raise AssemblyError(f"{self.name}: Fn::GetAtt on unknown resource {logical_id}")
        return self.resources[logical_id].attribute(attribute)

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911 (one branch per intrinsic function)
        """``value`` with every intrinsic function of this template evaluated."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, self.resolve(attribute))
            if key == "Fn::Join":
                separator, parts = arg
                return str(separator).join(str(p) for p in self.resolve(parts))
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = self.resolve(arg)
                return str(text).split(separator)
            if key == "Fn::GetAZs":
                return [f"{self.assembly.env.region}{zone}" for zone in "abc"]
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.condition(condition) else when_false)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return left == right
            if key == "Fn::Or":
                return any(self.resolve(arg))
            if key == "Fn::And":
                return all(self.resolve(arg))
            if key == "Fn::Not":
                return not self.resolve(arg)[0]
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Contains":
                items, item = self.resolve(arg)
                return item in items
            if key == "Fn::Base64":
                import base64  # noqa: PLC0415

                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
            if key == "Fn::GetStackOutput":
                spec = self.resolve(arg)
                return self.assembly.stack(spec["StackName"]).output(spec["OutputName"])
            if key == "Fn::ImportValue":
                return self.assembly.import_value(str(self.resolve(arg)))
            if key == "Fn::FindInMap":
                mapping, first, second = self.resolve(arg)
                return self.template["Mappings"][mapping][first][second]
            if key.startswith("Fn::"):
                raise AssemblyError(f"{self.name}: intrinsic function {key} is not supported by the twin")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def output(self, name: str) -> Any:
        if name not in self.template.get("Outputs", {}):
            raise AssemblyError(f"{self.name}: no output {name}")
        return self.outputs[name]

    def _sub(self, arg: Any) -> str:
        template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, template)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


class CloudAssembly:
    """A ``cdk.out`` directory, read for one environment (account and region)."""

    def __init__(
        self, directory: str | Path, *, account: str | None = None, region: str | None = None
    ) -> None:
        self.directory = Path(directory)
        manifest_path = self.directory / "manifest.json"
        if not manifest_path.is_file():
            raise AssemblyError(f"{self.directory}: not a cloud assembly (no manifest.json); run cdk synth")
        self.manifest = json.loads(manifest_path.read_text())
        artifacts = self.manifest.get("artifacts", {})
        stacks = {k: v for k, v in artifacts.items() if v.get("type") == "aws:cloudformation:stack"}
        if not stacks:
            raise AssemblyError(f"{self.directory}: the assembly holds no stack")
        self.env = Environment(
            account=account or self._environment_part(stacks, 0) or DEFAULT_ACCOUNT,
            region=region or self._environment_part(stacks, 1) or DEFAULT_REGION,
        )
        self.stacks: dict[str, Stack] = {}
        for artifact_id, artifact in stacks.items():
            properties = artifact.get("properties", {})
            name = properties.get("stackName", artifact_id)
            template = json.loads((self.directory / properties["templateFile"]).read_text())
            self.stacks[name] = Stack(self, artifact_id, name, template, self.directory)
        self._assets = self._read_assets(artifacts)

    @staticmethod
    def _environment_part(stacks: Mapping[str, Any], index: int) -> str | None:
        """The account (0) or region (1) the stacks are bound to, if they are (all alike)."""
        values = set()
        for artifact in stacks.values():
            environment = str(artifact.get("environment", "aws://unknown-account/unknown-region"))
            part = environment.removeprefix("aws://").split("/")[index]
            if not part.startswith("unknown-"):
                values.add(part)
        if len(values) > 1:
            raise AssemblyError(f"the stacks are bound to several environments: {sorted(values)}")
        return values.pop() if values else None

    def _read_assets(self, artifacts: Mapping[str, Any]) -> dict[str, Path]:
        """Asset object key (``<hash>.<ext>``) -> local file or folder of the assembly."""
        assets: dict[str, Path] = {}
        for artifact in artifacts.values():
            if artifact.get("type") != "cdk:asset-manifest":
                continue
            manifest = json.loads((self.directory / artifact["properties"]["file"]).read_text())
            for entry in manifest.get("files", {}).values():
                for destination in entry.get("destinations", {}).values():
                    assets[destination["objectKey"]] = self.directory / entry["source"]["path"]
        return assets

    def asset(self, object_key: str) -> Path:
        """The local file (or folder, for a zip asset) CDK published as ``object_key``."""
        key = object_key.rsplit("/", 1)[-1]
        if key not in self._assets:
            raise AssemblyError(f"asset {object_key} is not in the assembly's asset manifests")
        return self._assets[key]

    def stack(self, name: str) -> Stack:
        if name not in self.stacks:
            raise AssemblyError(f"no stack named {name} in {self.directory}")
        return self.stacks[name]

    def import_value(self, export: str) -> Any:
        for stack in self.stacks.values():
            if export in stack.exports:
                return stack.exports[export]
        raise AssemblyError(f"Fn::ImportValue: no stack exports {export}")

    def resources(self, resource_type: str) -> Iterator[Resource]:
        for stack in self.stacks.values():
            for resource in stack.resources.values():
                if resource.type == resource_type:
                    yield resource

    def one(self, resource_type: str, **properties: Any) -> Resource:
        """The single resource of a type whose properties include ``properties``."""
        found = [
            r
            for r in self.resources(resource_type)
            if all(r.properties.get(k) == v for k, v in properties.items())
        ]
        if len(found) != 1:
            raise AssemblyError(f"expected one {resource_type} with {properties}, found {len(found)}")
        return found[0]

    def find_by_arn(self, arn: str) -> Resource | None:
        for stack in self.stacks.values():
            for resource in stack.resources.values():
                try:
                    if resource.type in _ARN_TYPES and resource.arn == arn:
                        return resource
                except AssemblyError:
                    continue
        return None

    def find_by_name(self, resource_type: str, name: str) -> Resource | None:
        for resource in self.resources(resource_type):
            if resource.name == name:
                return resource
        return None


_ARN_TYPES = {
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::Kinesis::Stream",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Events::Rule",
    "AWS::SNS::Topic",
    "AWS::StepFunctions::StateMachine",
    "AWS::SQS::Queue",
    "AWS::CloudWatch::Alarm",
    "AWS::IAM::ManagedPolicy",
}
