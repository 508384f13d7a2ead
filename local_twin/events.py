"""EventBridge: the default bus's rules of the assembly, matched with EventBridge's semantics.

Event patterns (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html): every
field of the pattern must be in the event with the same nesting; a leaf's list matches if any of its
values matches (an event array matches if any element does); content filters ``prefix``, ``suffix``
(each also with ``equals-ignore-case``), ``anything-but`` (values, ``prefix``, ``suffix``,
``equals-ignore-case``, ``wildcard``), ``numeric``, ``exists``, ``equals-ignore-case``, ``wildcard``,
``cidr`` and ``$or``. A filter the twin does not know is an error.

Targets: a state machine (started with the target's role, which needs ``states:StartExecution``) and an
SNS topic (published as ``events.amazonaws.com`` with the rule's ARN as ``aws:SourceArn``). The input is
the whole event, the target's ``Input``, ``InputPath`` or ``InputTransformer`` (placeholders in quotes
take the value's text, outside quotes its JSON:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html). Schedule rules
(``cron(...)``, ``rate(...)``) are fired by the twin when asked, with the "Scheduled Event" shape.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local_twin.assembly import CloudAssembly, Resource
from local_twin.iam import PolicyEngine
from local_twin.sns import Sns

StartExecution = Callable[[str, str, dict[str, Any], str], str]  # (role, state machine ARN, input, why)


class PatternError(Exception):
    """A pattern or target the twin cannot evaluate."""


_MISSING = object()


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether ``event`` matches the EventBridge ``pattern``."""
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in rule):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping) or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not _leaf(rule, value):
                return False
        else:
            raise PatternError(f"pattern field {key!r} must be an object or a list, got {rule!r}")
    return True


def _leaf(rules: list[Any], value: Any) -> bool:
    for rule in rules:
        if isinstance(rule, Mapping) and "exists" in rule:
            present = value is not _MISSING and not isinstance(value, Mapping)
            if bool(rule["exists"]) == present:
                return True
            continue
        if value is _MISSING:
            continue
        values = value if isinstance(value, list) else [value]
        if any(_match(rule, v) for v in values):
            return True
    return False


def _match(rule: Any, value: Any) -> bool:  # noqa: PLR0911 (one branch per filter)
    if not isinstance(rule, Mapping):
        if isinstance(rule, bool) or isinstance(value, bool):
            return rule is value
        if isinstance(rule, int | float) and isinstance(value, int | float):
            return float(rule) == float(value)
        return bool(rule == value)
    if len(rule) != 1:
        raise PatternError(f"a content filter has exactly one key, got {dict(rule)}")
    ((name, argument),) = rule.items()
    text = value if isinstance(value, str) else None
    if name in ("prefix", "suffix"):
        if text is None:
            return False
        if isinstance(argument, Mapping) and set(argument) == {"equals-ignore-case"}:
            text, argument = text.lower(), str(argument["equals-ignore-case"]).lower()
        return text.startswith(argument) if name == "prefix" else text.endswith(argument)
    if name == "equals-ignore-case":
        return text is not None and text.lower() == str(argument).lower()
    if name == "wildcard":
        return text is not None and _wildcard(str(argument), text)
    if name == "anything-but":
        if isinstance(argument, Mapping):
            return text is not None and not _match(argument, text)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_match(x, value) for x in excluded)
    if name == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        operators = {
            "=": float.__eq__,
            "<": float.__lt__,
            "<=": float.__le__,
            ">": float.__gt__,
            ">=": float.__ge__,
        }
        pairs = list(zip(argument[::2], argument[1::2], strict=True))
        return all(operators[op](float(value), float(bound)) for op, bound in pairs)
    if name == "cidr":
        try:
            return text is not None and ipaddress.ip_address(text) in ipaddress.ip_network(
                str(argument), strict=False
            )
        except ValueError:
            return False
    raise PatternError(f"content filter {name!r} is not supported by the twin")


def _wildcard(pattern: str, text: str) -> bool:
    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]"))


def json_path(document: Any, path: str) -> Any:
    """A JSONPath of dotted names and ``[n]`` indexes (what EventBridge input paths use)."""
    if path == "$":
        return document
    if not path.startswith("$."):
        raise PatternError(f"input path {path!r} is not supported by the twin")
    value = document
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path[2:]):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or index >= len(value):
                return _MISSING
            value = value[index]
        else:
            if not isinstance(value, Mapping) or part not in value:
                return _MISSING
            value = value[part]
    return value


def render_input_transformer(transformer: Mapping[str, Any], event: Mapping[str, Any], rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name, path in transformer.get("InputPathsMap", {}).items():
        value = json_path(event, path)
        if value is _MISSING:
            raise PatternError(f"rule {rule.name}: input path {path} is not in the event")
        values[name] = value
    values.update(
        {
            "aws.events.rule-arn": rule.arn,
            "aws.events.rule-name": rule.name,
            "aws.events.event.ingestion-time": event.get("time"),
            "aws.events.event": event,
            "aws.events.event.json": event,
        }
    )
    template = str(transformer["InputTemplate"])
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        c = template[i]
        if c == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if c == '"':
            in_string = not in_string
        if c == "<":
            end = template.find(">", i)
            name = template[i + 1 : end] if end > 0 else ""
            if name in values:
                value = values[name]
                if in_string:
                    out.append(value if isinstance(value, str) else json.dumps(value))
                else:
                    out.append(json.dumps(value))
                i = end + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


@dataclass
class Rule:
    resource: Resource
    name: str
    arn: str
    pattern: dict[str, Any] | None
    schedule: str | None
    enabled: bool
    targets: list[dict[str, Any]]


@dataclass
class Delivery:
    rule: str
    target: str
    detail: str  # execution ARN or message id


@dataclass
class EventBridge:
    assembly: CloudAssembly
    iam: PolicyEngine
    sns: Sns
    start_execution: StartExecution | None = None
    queue: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    received: int = 0

    def __post_init__(self) -> None:
        self.rules: list[Rule] = []
        for resource in self.assembly.resources("AWS::Events::Rule"):
            props = resource.properties
            if props.get("EventBusName", "default") not in ("default", None):
                continue
            pattern = props.get("EventPattern")
            self.rules.append(
                Rule(
                    resource=resource,
                    name=resource.name,
                    arn=resource.arn,
                    pattern=json.loads(pattern) if isinstance(pattern, str) else pattern,
                    schedule=props.get("ScheduleExpression"),
                    enabled=props.get("State", "ENABLED") == "ENABLED",
                    targets=list(props.get("Targets", [])),
                )
            )

    def put_event(self, event: dict[str, Any]) -> None:
        """An AWS service's event arrives on the default bus (delivered by ``dispatch``)."""
        self.received += 1
        self.queue.append(event)

    def dispatch(self) -> list[Delivery]:
        """Delivers every queued event to the targets of the rules it matches."""
        delivered: list[Delivery] = []
        while self.queue:
            event = self.queue.pop(0)
            for rule in self.rules:
                if rule.enabled and rule.pattern is not None and matches(rule.pattern, event):
                    delivered += self._deliver(rule, event)
        self.deliveries += delivered
        return delivered

    def scheduled_rules(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.enabled and rule.schedule]

    def fire_schedule(self, rule: Rule, when: datetime) -> list[Delivery]:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.assembly.env.account,
            "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.assembly.env.region,
            "resources": [rule.arn],
            "detail": {},
        }
        delivered = self._deliver(rule, event)
        self.deliveries += delivered
        return delivered

    def _deliver(self, rule: Rule, event: dict[str, Any]) -> list[Delivery]:
        delivered = []
        for target in rule.targets:
            payload = self._input(target, event, rule)
            arn = str(target["Arn"])
            service = arn.split(":")[2]
            if service == "states":
                if self.start_execution is None:
                    raise PatternError("no Step Functions twin is connected to EventBridge")
                role = target.get("RoleArn")
                if role is None:
                    raise PatternError(f"rule {rule.name}: a state machine target needs a RoleArn")
                self.iam.assume(
                    str(role), "events.amazonaws.com", source_arn=rule.arn, purpose=f"rule {rule.name} target"
                )
                self.iam.require(str(role), "states:StartExecution", arn, purpose=f"rule {rule.name} target")
                execution = self.start_execution(str(role), arn, json.loads(payload), f"rule {rule.name}")
                delivered.append(Delivery(rule.name, arn, execution))
            elif service == "sns":
                message_id = self.sns.publish(
                    "events.amazonaws.com",
                    arn,
                    payload,
                    source_arn=rule.arn,
                    purpose=f"rule {rule.name} target",
                )
                delivered.append(Delivery(rule.name, arn, message_id))
            else:
                raise PatternError(f"rule {rule.name}: target service {service} is not run by the twin")
        return delivered

    def _input(self, target: Mapping[str, Any], event: dict[str, Any], rule: Rule) -> str:
        if "Input" in target:
            return str(target["Input"])
        if "InputPath" in target:
            value = json_path(event, str(target["InputPath"]))
            return json.dumps(None if value is _MISSING else value)
        if "InputTransformer" in target:
            return render_input_transformer(target["InputTransformer"], event, rule)
        return json.dumps(event)


def next_fire_time(expression: str, after: datetime) -> datetime:
    """The first time after ``after`` a ``cron(...)`` or ``rate(...)`` schedule fires (UTC). Cron fields
    may be numbers, lists, ranges, ``*``, ``?`` and ``*/n``; anything else is an error."""
    rate = re.fullmatch(r"rate\((\d+) (minutes?|hours?|days?)\)", expression)
    if rate:
        unit = rate.group(2).rstrip("s")
        return after + timedelta(**{f"{unit}s": int(rate.group(1))})
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", expression)
    if not cron:
        raise PatternError(f"schedule {expression!r} is not a cron(...) or rate(...) expression")
    minute, hour, day, month, weekday, year = (_cron_field(f, expression) for f in cron.groups())
    moment = (after + timedelta(minutes=1)).replace(second=0, microsecond=0)
    for _ in range(366 * 24 * 60):
        if (
            minute(moment.minute)
            and hour(moment.hour)
            and day(moment.day)
            and month(moment.month)
            and weekday(moment.isoweekday() % 7 + 1)
            and year(moment.year)
        ):
            return moment.astimezone(UTC)
        moment += timedelta(minutes=1)
    raise PatternError(f"schedule {expression!r} does not fire within a year")


def _cron_field(text: str, expression: str) -> Callable[[int], bool]:
    if text in ("*", "?"):
        return lambda _: True
    allowed: set[int] = set()
    steps: list[tuple[int, int]] = []
    for part in text.split(","):
        step = re.fullmatch(r"(\*|\d+)/(\d+)", part)
        span = re.fullmatch(r"(\d+)-(\d+)", part)
        if step:
            steps.append((0 if step.group(1) == "*" else int(step.group(1)), int(step.group(2))))
        elif span:
            allowed.update(range(int(span.group(1)), int(span.group(2)) + 1))
        elif part.isdigit():
            allowed.add(int(part))
        else:
            raise PatternError(f"cron field {text!r} of {expression} is not supported by the twin")
    return lambda v: v in allowed or any(v >= start and (v - start) % every == 0 for start, every in steps)
