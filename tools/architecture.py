"""Draw the synthesized app as a Mermaid flowchart: ``docs/architecture.md`` (``make diagram``).

Reads a cloud assembly (``cdk.out``: manifest.json, tree.json, the templates), so the picture follows the
code: one subgraph per stack, a node per main resource, KMS keys and alarms counted per stack, and edges
inferred from the templates: ``Ref``/``Fn::GetAtt`` inside a stack, ``Fn::GetStackOutput`` and
``Fn::ImportValue`` across stacks, and physical names (bucket, job, crawler...) quoted in other resources'
properties. What a reference means (who feeds whom) comes from the property it sits in; see RULES.

Usage: ``python tools/architecture.py [--env dev | --cdk-out DIR] [--output docs/architecture.md]``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"

# Drawn one node each: type -> (caption, Mermaid shape as "open|close").
MAIN_TYPES: dict[str, tuple[str, str]] = {
    "AWS::S3::Bucket": ("S3 bucket", '[("|")]'),
    "AWS::Kinesis::Stream": ("Kinesis stream", '[/"|"/]'),
    "AWS::KinesisFirehose::DeliveryStream": ("Firehose", '[/"|"/]'),
    "AWS::Lambda::Function": ("Lambda", '(["|"])'),
    "AWS::Glue::Database": ("Glue database", '[("|")]'),
    "AWS::Glue::Table": ("Glue table", '[("|")]'),
    "AWS::Glue::Crawler": ("Glue crawler", '["|"]'),
    "AWS::Glue::Job": ("Glue job", '["|"]'),
    "AWS::Glue::Trigger": ("Glue trigger", '{{"|"}}'),
    "AWS::Glue::DataQualityRuleset": ("Glue data quality", '["|"]'),
    "AWS::StepFunctions::StateMachine": ("Step Functions", '["|"]'),
    "AWS::Events::Rule": ("EventBridge rule", '{{"|"}}'),
    "AWS::SNS::Topic": ("SNS topic", '(["|"])'),
    "AWS::SQS::Queue": ("SQS queue", '[/"|"/]'),
    "AWS::Athena::WorkGroup": ("Athena workgroup", '["|"]'),
    "AWS::Redshift::Cluster": ("Redshift cluster", '[("|")]'),
    "AWS::RedshiftServerless::Namespace": ("Redshift Serverless namespace", '[("|")]'),
    "AWS::RedshiftServerless::Workgroup": ("Redshift Serverless workgroup", '["|"]'),
    "AWS::EC2::VPC": ("VPC", '["|"]'),
    "AWS::EC2::NatGateway": ("NAT gateway", '["|"]'),
    "AWS::SecretsManager::Secret": ("secret", '["|"]'),
    "AWS::CloudWatch::Dashboard": ("dashboard", '["|"]'),
    "AWS::Budgets::Budget": ("budget", '["|"]'),
}
# Counted, one node per stack: type -> caption.
SUMMARY_TYPES: dict[str, str] = {
    "AWS::KMS::Key": "KMS keys",
    "AWS::CloudWatch::Alarm": "CloudWatch alarms",
    "AWS::EC2::VPCEndpoint": "VPC endpoints",
}
NAME_PROPERTIES = (
    "BucketName",
    "Name",
    "StateMachineName",
    "TopicName",
    "QueueName",
    "DeliveryStreamName",
    "FunctionName",
    "ClusterIdentifier",
    "WorkgroupName",  # a Serverless namespace usually shares its workgroup's name: the workgroup wins
)
NOT_REFERENCES = frozenset({"Description", "AlarmDescription", "Tags", "DisplayName"})

# (referrer type, property-path regex, target type or "*", direction, label, dotted); first match wins.
# "in" draws target -> referrer (the referrer reads from it); label None drops the reference.
Rule = tuple[str, str, str, str, str | None, bool]
RULES: list[Rule] = [
    ("*", "", "AWS::SNS::Topic", "out", "notifies", True),
    (
        "AWS::KinesisFirehose::DeliveryStream",
        r"^KinesisStreamSourceConfiguration",
        "*",
        "in",
        "source",
        False,
    ),
    ("AWS::KinesisFirehose::DeliveryStream", r"ProcessingConfiguration", "*", "out", "transform", True),
    ("AWS::KinesisFirehose::DeliveryStream", r"DestinationConfiguration", "*", "out", "delivers", False),
    ("AWS::Glue::Crawler", r"^Targets", "*", "in", "crawled by", False),
    ("AWS::Glue::Crawler", r"^DatabaseName", "*", "out", "tables", False),
    ("AWS::Glue::Job", r"^DefaultArguments\.--(source|input|from)", "*", "in", "reads", False),
    ("AWS::Glue::Job", r"^DefaultArguments", "*", "out", "writes", False),
    ("AWS::Glue::DataQualityRuleset", r"^TargetTable", "*", "out", "checks", True),
    ("AWS::Events::Rule", r"^Targets", "*", "out", "triggers", False),
    ("AWS::Events::Rule", r"^EventPattern", "*", "in", "events", True),
    ("AWS::StepFunctions::StateMachine", r"^Definition", "AWS::Glue::Database", "out", None, True),
    ("AWS::StepFunctions::StateMachine", r"^Definition", "*", "out", "runs", True),
    ("AWS::CloudWatch::Alarm", "", "*", "out", None, True),  # what an alarm watches: not a flow
    ("AWS::S3::Bucket", r"^LoggingConfiguration", "*", "out", "access logs", True),
    ("AWS::Athena::WorkGroup", r"ResultConfiguration", "*", "out", "results", True),
    ("AWS::S3::Bucket", r"^NotificationConfiguration", "*", "out", "notifies", False),
    ("*", "", "*", "out", "uses", True),
]

Address = tuple[str, str]  # (stack name, logical id)


@dataclass(frozen=True)
class Stack:
    name: str
    template: Mapping[str, Any]
    paths: Mapping[str, str]  # logical id -> construct path inside the stack
    internal: frozenset[str]  # construct paths of CDK's own helpers (custom-resource providers)


@dataclass(frozen=True)
class Node:
    id: str
    stack: str
    label: str
    shape: str


@dataclass
class Graph:
    stacks: list[str]
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple[str, str, bool], list[str]] = field(default_factory=dict)  # -> labels

    def connect(self, source: str, target: str, label: str, dotted: bool) -> None:
        if source != target:
            labels = self.edges.setdefault((source, target, dotted), [])
            if label not in labels:
                labels.append(label)


# ---- reading the assembly ---------------------------------------------------------------------------


def load_stacks(cdk_out: Path) -> list[Stack]:
    """Every stack of a cloud assembly, in manifest order, with construct paths from tree.json."""
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    tree_file = cdk_out / "tree.json"
    tree = json.loads(tree_file.read_text())["tree"] if tree_file.exists() else {}
    stacks = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        name = properties.get("stackName", artifact.get("displayName", artifact_id))
        template = json.loads((cdk_out / properties["templateFile"]).read_text())
        node = tree.get("children", {}).get(artifact.get("displayName", artifact_id), {})
        paths = {logical: path for path, logical in logical_ids(node)}
        for logical, resource in template.get("Resources", {}).items():  # tree.json omits some (L1 helpers)
            cdk_path = resource.get("Metadata", {}).get("aws:cdk:path")
            paths.setdefault(logical, cdk_path or logical)
        prefix = f"{node.get('path', name)}/"
        paths = {logical: path.removeprefix(prefix) for logical, path in paths.items()}
        stacks.append(Stack(name, template, paths, internal_paths(cdk_out, artifact, prefix)))
    return stacks


def logical_ids(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(construct path, logical id) of every CloudFormation resource under a tree.json node."""
    logical = node.get("attributes", {}).get("aws:cdk:cloudformation:logicalId")
    if logical:
        yield node["path"], logical
    for child in node.get("children", {}).values():
        yield from logical_ids(child)


def internal_paths(cdk_out: Path, artifact: Mapping[str, Any], prefix: str) -> frozenset[str]:
    """Construct paths CDK marks as its own custom-resource handlers, from the stack's metadata."""
    metadata: dict[str, Any] = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact and (cdk_out / artifact["additionalMetadataFile"]).exists():
        metadata.update(json.loads((cdk_out / artifact["additionalMetadataFile"]).read_text()))
    return frozenset(
        path.lstrip("/").removeprefix(prefix)
        for path, entries in metadata.items()
        if any(
            str(entry.get("type", "")).startswith("aws:cdk:is-custom-resource-handler") for entry in entries
        )
    )


def is_internal(stack: Stack, logical: str) -> bool:
    path = stack.paths[logical]
    return any(part.startswith("Custom::") for part in path.split("/")) or any(
        path == internal or path.startswith(f"{internal}/") for internal in stack.internal
    )


# ---- template values ----------------------------------------------------------------------------


def render(value: Any) -> str:
    """A template value as text; intrinsics become ``${...}`` placeholders, so names compare as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and len(value) == 1:
        function, argument = next(iter(value.items()))
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::Join" and isinstance(argument, list) and isinstance(argument[1], list):
            return str(argument[0]).join(render(part) for part in argument[1])
        if function == "Fn::Sub":
            return str(argument[0] if isinstance(argument, list) else argument)
    return "${?}"


def physical_name(props: Mapping[str, Any]) -> str | None:
    """A resource's own name, if fixed in the template and distinctive enough to search for."""
    database = props.get("DatabaseInput")
    candidates = [props.get(key) for key in NAME_PROPERTIES]
    candidates.append(database.get("Name") if isinstance(database, Mapping) else None)
    for value in candidates:
        if value is not None:
            name = render(value)
            if len(re.sub(r"\$\{[^}]*\}", "", name)) >= 6:  # not just placeholders
                return name
    return None


def is_intrinsic(key: str) -> bool:
    return key == "Ref" or key.startswith("Fn::")


def references(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(property path, kind, target) of every reference in a property value. Kinds: ``local`` (a logical
    id), ``output`` ((stack, output name) of ``Fn::GetStackOutput``), ``import`` (an export name), and
    ``text`` (a string, rendered if built with ``Fn::Join``/``Fn::Sub``, to search for names)."""
    if isinstance(value, str):
        yield path, "text", value
    elif isinstance(value, list):
        for item in value:
            yield from references(item, path)
    elif isinstance(value, Mapping) and len(value) == 1 and is_intrinsic(next(iter(value))):
        function, argument = next(iter(value.items()))
        if function == "Ref":
            if not str(argument).startswith("AWS::"):
                yield path, "local", str(argument)
        elif function == "Fn::GetAtt":
            yield path, "local", str(argument[0] if isinstance(argument, list) else argument.split(".")[0])
        elif function == "Fn::GetStackOutput":
            yield path, "output", (render(argument.get("StackName")), argument.get("OutputName"))
        elif function == "Fn::ImportValue":
            yield path, "import", render(argument)
        elif function == "Fn::Sub":
            text = render(value)
            yield path, "text", text
            for name in re.findall(r"\$\{([^}!]+)\}", text):
                if not name.startswith("AWS::"):
                    yield path, "local", name.split(".")[0]
        else:  # Fn::Join, Fn::Select, Fn::If...: look inside too
            if function == "Fn::Join":
                yield path, "text", render(value)
            yield from references(argument, path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from references(item, f"{path}.{key}" if path else key)


# ---- building the graph ---------------------------------------------------------------------------


def node_id(*parts: str) -> str:
    return re.sub(r"\W", "_", "__".join(parts))


def short_name(stack: str, stacks: list[str]) -> str:
    """A stack's name without the prefix all stacks share: ``storage`` for ``datalake-dev-storage``."""
    shared = 0
    while len(stacks) > 1 and len({tuple(name.split("-")[: shared + 1]) for name in stacks}) == 1:
        shared += 1
    return "-".join(stack.split("-")[shared:]) or stack


def node_label(stack: Stack, logical: str, resource: Mapping[str, Any], caption: str) -> str:
    path = re.sub(r"/(Resource|Default)$", "", stack.paths[logical])
    props = resource.get("Properties", {})
    detail = props.get("ScheduleExpression") or ", ".join(
        props.get("EventPattern", {}).get("detail-type", [])
    )
    return f"{path}<br/>{caption}" + (f": {detail}" if detail else "")


def build_graph(stacks: list[Stack]) -> Graph:
    graph = Graph(stacks=[stack.name for stack in stacks])
    where: dict[Address, str] = {}  # resource -> the node that stands for it
    for stack in stacks:
        short = short_name(stack.name, graph.stacks)
        counts: dict[str, int] = {}
        for logical, resource in stack.template.get("Resources", {}).items():
            kind = resource["Type"]
            if kind in MAIN_TYPES and not is_internal(stack, logical):
                caption, shape = MAIN_TYPES[kind]
                label = node_label(stack, logical, resource, caption)
                where[stack.name, logical] = node_id(short, logical)
                graph.nodes[where[stack.name, logical]] = Node(
                    where[stack.name, logical], stack.name, label, shape
                )
            elif kind in SUMMARY_TYPES:
                counts[kind] = counts.get(kind, 0) + 1
                where[stack.name, logical] = node_id(short, kind)
        for kind, count in counts.items():
            summary = node_id(short, kind)
            graph.nodes[summary] = Node(summary, stack.name, f"{SUMMARY_TYPES[kind]} ({count})", '("|")')
    for source, target, label, dotted in inferred_edges(stacks, where):
        graph.connect(source, target, label, dotted)
    return graph


@dataclass(frozen=True)
class Index:
    """What a reference can resolve to, across the whole app."""

    stacks: Mapping[str, Stack]
    types: Mapping[Address, str]
    names: Mapping[str, Address]  # physical name -> resource
    exports: Mapping[str, tuple[str, Any]]  # export name -> (stack, exported value)


def build_index(stacks: list[Stack], where: Mapping[Address, str]) -> Index:
    types = {(s.name, logical): r["Type"] for s in stacks for logical, r in s.template["Resources"].items()}
    names: dict[str, Address] = {}
    for stack in stacks:
        for logical, resource in stack.template["Resources"].items():
            name = physical_name(resource.get("Properties", {}))
            if name and (stack.name, logical) in where and resource["Type"] in MAIN_TYPES:
                names[name] = (stack.name, logical)
    exports = {
        render(output["Export"]["Name"]): (stack.name, output["Value"])
        for stack in stacks
        for output in stack.template.get("Outputs", {}).values()
        if "Export" in output
    }
    return Index({stack.name: stack for stack in stacks}, types, names, exports)


def inferred_edges(stacks: list[Stack], where: Mapping[Address, str]) -> Iterator[tuple[str, str, str, bool]]:
    index = build_index(stacks, where)
    for stack in stacks:
        for logical, resource in stack.template["Resources"].items():
            if (stack.name, logical) not in where:
                continue
            props = {k: v for k, v in resource.get("Properties", {}).items() if k not in NOT_REFERENCES}
            own_names = {render(props[key]) for key in (*NAME_PROPERTIES, "NamespaceName") if key in props}
            for path, kind, reference in references(props):
                for target in resolve(index, stack, kind, reference, own_names):
                    # Counted resources are never targets: an arrow to "KMS keys (3)" says nothing.
                    if target == (stack.name, logical) or index.types.get(target) not in MAIN_TYPES:
                        continue
                    edge = classify(resource, path, index.types[target])
                    if edge and target in where:
                        label, dotted, inbound = edge
                        ends = (where[target], where[stack.name, logical])
                        yield (*(ends if inbound else ends[::-1]), label, dotted)


def resolve(index: Index, stack: Stack, kind: str, reference: Any, own_names: set[str]) -> list[Address]:
    """The resources a reference points to. A text may name several, but not by the referrer's own name
    (an Athena workgroup and a state machine may both be called ``<prefix>-pipeline``)."""
    value = None
    if kind == "local":
        return [(stack.name, str(reference))]
    if kind == "text":
        return [
            address
            for name, address in index.names.items()
            if name not in own_names and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", reference)
        ]
    if kind == "output" and reference[0] in index.stacks:
        producer = reference[0]
        value = index.stacks[producer].template.get("Outputs", {}).get(reference[1], {}).get("Value")
    elif kind == "import" and reference in index.exports:
        producer, value = index.exports[reference]
    return [(producer, target) for _, k, target in references(value) if k == "local"] if value else []


def classify(resource: Mapping[str, Any], path: str, target_type: str) -> tuple[str, bool, bool] | None:
    """(label, dotted, inbound) of "``resource`` refers to a ``target_type`` at ``path``", from RULES;
    None when the reference is not worth an arrow."""
    for referrer, pattern, wanted, direction, label, dotted in RULES:
        if referrer in ("*", resource["Type"]) and wanted in ("*", target_type) and re.search(pattern, path):
            if label == "events":  # name the event: "Object Created", "Glue Job State Change"
                detail_types = resource.get("Properties", {}).get("EventPattern", {}).get("detail-type", [])
                return ", ".join(detail_types) or label, dotted, True
            return (label, dotted, direction == "in") if label else None
    return None


# ---- output ---------------------------------------------------------------------------------------


def mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    for stack in graph.stacks:
        lines.append(f'  subgraph {node_id("stack", stack)}["{stack}"]')
        for node in (n for n in graph.nodes.values() if n.stack == stack):
            opening, closing = node.shape.split("|")
            lines.append(f"    {node.id}{opening}{node.label.replace(chr(34), '#quot;')}{closing}")
        lines.append("  end")
    for (source, target, dotted), labels in graph.edges.items():
        arrow = "-.->" if dotted else "-->"
        lines.append(f"  {source} {arrow}|{', '.join(labels)}| {target}")
    return "\n".join(lines)


def markdown(graph: Graph, env: str) -> str:
    return f"""# Architecture

<!-- Generated by `make diagram` (tools/architecture.py) from the synthesized app; do not edit. -->

The **{env}** environment as synthesized: one box per stack, one node per main resource. Solid arrows
are data flow, dotted ones control, events and alerts; arrows are inferred from the templates
(references, cross-stack outputs, and names quoted in properties). KMS keys, alarms and VPC endpoints
are counted per stack; IAM, log groups, networking details and CDK's own helper functions are left out.

```mermaid
{mermaid(graph)}
```
"""


def synth(env: str, outdir: Path) -> Path:
    command = [str(CDK), "synth", "--quiet", "-c", f"env={env}", "-o", str(outdir)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"cdk synth -c env={env} failed")
    return outdir


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="dev", help="environment to synthesize (default: dev)")
    parser.add_argument("--cdk-out", type=Path, help="an already-synthesized assembly instead")
    parser.add_argument("--output", type=Path, help="write here instead of printing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        graph = build_graph(load_stacks(args.cdk_out or synth(args.env, Path(tmp))))
    text = markdown(graph, args.env)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
        print(f"{args.output}: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
