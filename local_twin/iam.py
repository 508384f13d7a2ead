"""IAM: evaluates each action the twin performs against the synthesized policies.

Identity policies come from the templates (a role's inline ``Policies``, ``AWS::IAM::Policy`` and
``AWS::IAM::ManagedPolicy`` attached to it, and the few AWS managed policies the app attaches, whose
documents are reproduced below); resource policies from S3 bucket policies, KMS key policies, SNS topic
policies and Lambda permissions.

Evaluation follows AWS's policy evaluation logic for requests within one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

* an explicit ``Deny`` in any applicable policy denies;
* otherwise an ``Allow`` in the principal's identity policies or in the resource's policy (naming the
  principal) allows;
* KMS is the exception: the key policy must allow, either the principal itself or the account (the
  ``root`` principal), and in the second case the principal's identity policies must allow too
  (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html);
* a service principal (``events.amazonaws.com`` ...) has no identity policies: only resource policies.

Supported: ``Action``/``NotAction``, ``Resource``/``NotResource``, ``Principal`` (``AWS``, ``Service``,
``*``), the condition operators below with ``...IfExists`` and ``ForAnyValue:``/``ForAllValues:``. A
condition operator the evaluator does not know is an error, never a silent match.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from local_twin.assembly import CloudAssembly, Resource

# AWS managed policies attached by the app. Documents as published in the AWS Managed Policy Reference
# (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html).
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "service-role/AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
}


class PolicyError(Exception):
    """A policy the evaluator cannot read (an unknown operator, an unknown managed policy ...)."""


class AccessDenied(Exception):  # noqa: N818 (AWS's own name for the outcome)
    """A request the synthesized policies do not allow."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.message)
        self.decision = decision


@dataclass(frozen=True)
class Decision:
    principal: str
    action: str
    resource: str
    allowed: bool
    reason: str
    purpose: str = ""

    @property
    def message(self) -> str:
        verdict = "allowed" if self.allowed else "DENIED"
        why = f" ({self.purpose})" if self.purpose else ""
        return f"{verdict}: {self.principal} {self.action} on {self.resource}{why}: {self.reason}"


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    principals: Mapping[str, tuple[str, ...]] | None  # None: an identity policy
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]]
    source: str  # where the statement is, for messages

    @classmethod
    def parse(cls, raw: Mapping[str, Any], source: str, *, resource_policy: bool) -> Statement:
        def values(key: str) -> tuple[str, ...] | None:
            value = raw.get(key)
            if value is None:
                return None
            return tuple(str(v) for v in (value if isinstance(value, list) else [value]))

        principals: dict[str, tuple[str, ...]] | None = None
        if resource_policy:
            principal = raw.get("Principal")
            if principal == "*":
                principals = {"AWS": ("*",)}
            elif isinstance(principal, Mapping):
                principals = {
                    kind: tuple(str(v) for v in (p if isinstance(p, list) else [p]))
                    for kind, p in principal.items()
                }
            else:
                raise PolicyError(f"{source}: resource-policy statement without a Principal: {raw}")
        conditions = {
            operator: {
                key: tuple(_text(v) for v in (vs if isinstance(vs, list) else [vs]))
                for key, vs in block.items()
            }
            for operator, block in (raw.get("Condition") or {}).items()
        }
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{source}: statement Effect must be Allow or Deny, got {effect!r}")
        return cls(
            effect=effect,
            actions=values("Action"),
            not_actions=values("NotAction"),
            resources=values("Resource"),
            not_resources=values("NotResource"),
            principals=principals,
            conditions=conditions,
            source=source,
        )

    def applies(self, action: str, resource: str, context: Mapping[str, Sequence[str]]) -> bool:
        if self.actions is not None and not any(_match_action(p, action) for p in self.actions):
            return False
        if self.not_actions is not None and any(_match_action(p, action) for p in self.not_actions):
            return False
        if self.resources is not None and not any(_match_resource(p, resource) for p in self.resources):
            return False
        if self.not_resources is not None and any(_match_resource(p, resource) for p in self.not_resources):
            return False
        return all(
            _condition(operator, key, expected, context)
            for operator, block in self.conditions.items()
            for key, expected in block.items()
        )

    def names_principal(self, principal: Principal) -> bool:
        """Whether this resource-policy statement names ``principal`` itself (not only its account)."""
        assert self.principals is not None
        for kind, values in self.principals.items():
            for value in values:
                if kind == "AWS" and value == "*":
                    return True
                if kind == "AWS" and principal.kind == "AWS" and value == principal.arn:
                    return True
                if kind == "Service" and principal.kind == "Service" and value == principal.arn:
                    return True
        return False

    def names_account(self, account: str) -> bool:
        """Whether the statement trusts the whole account (``arn:...:root`` or the account id)."""
        assert self.principals is not None
        return any(
            kind == "AWS" and (value == account or re.fullmatch(rf"arn:[^:]+:iam::{account}:root", value))
            for kind, values in self.principals.items()
            for value in values
        )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@cache
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _match_action(pattern: str, action: str) -> bool:
    return _glob(pattern, ignore_case=True).fullmatch(action) is not None


def _match_resource(pattern: str, resource: str) -> bool:
    return _glob(pattern, ignore_case=False).fullmatch(resource) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own, with wildcards."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != len(value_parts):
        return False
    return all(fnmatch.fnmatchcase(v, p) for p, v in zip(pattern_parts, value_parts, strict=True))


def _number(text: str) -> float:
    return float(text)


_OPERATORS: dict[str, Any] = {
    "StringEquals": lambda e, v: e == v,
    "StringNotEquals": lambda e, v: e != v,
    "StringEqualsIgnoreCase": lambda e, v: e.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda e, v: e.lower() != v.lower(),
    "StringLike": _match_resource,
    "StringNotLike": lambda e, v: not _match_resource(e, v),
    "ArnEquals": lambda e, v: e == v,
    "ArnNotEquals": lambda e, v: e != v,
    "ArnLike": _arn_like,
    "ArnNotLike": lambda e, v: not _arn_like(e, v),
    "Bool": lambda e, v: e.lower() == v.lower(),
    "NumericEquals": lambda e, v: _number(v) == _number(e),
    "NumericNotEquals": lambda e, v: _number(v) != _number(e),
    "NumericLessThan": lambda e, v: _number(v) < _number(e),
    "NumericLessThanEquals": lambda e, v: _number(v) <= _number(e),
    "NumericGreaterThan": lambda e, v: _number(v) > _number(e),
    "NumericGreaterThanEquals": lambda e, v: _number(v) >= _number(e),
}
# A negated operator is true when the key is absent (IAM's condition element documentation).
_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
    "NumericNotEquals",
}


def _condition(
    operator: str, key: str, expected: Sequence[str], context: Mapping[str, Sequence[str]]
) -> bool:
    qualifier = ""
    if ":" in operator and operator.split(":", 1)[0] in ("ForAnyValue", "ForAllValues"):
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    present = _context_values(context, key)
    if base == "Null":
        is_null = present is None
        return any((e.lower() == "true") == is_null for e in expected)
    if base not in _OPERATORS:
        raise PolicyError(f"condition operator {operator} is not supported by the twin's evaluator")
    if present is None:
        return if_exists or base in _NEGATED or qualifier == "ForAllValues"
    test = _OPERATORS[base]
    if qualifier == "ForAllValues":
        return all(any(test(e, v) for e in expected) for v in present)
    if base in _NEGATED:  # negated: no expected value may match
        return all(test(e, v) for e in expected for v in present)
    return any(test(e, v) for e in expected for v in present)


def _context_values(context: Mapping[str, Sequence[str]], key: str) -> Sequence[str] | None:
    for name, values in context.items():
        if name.lower() == key.lower():
            return values
    return None


@dataclass(frozen=True)
class Principal:
    kind: str  # "AWS" (a role) or "Service"
    arn: str  # the role ARN, or the service principal name

    @property
    def label(self) -> str:
        return self.arn.rsplit("/", 1)[-1] if self.kind == "AWS" else self.arn


@dataclass
class PolicyEngine:
    """Every policy of the assembly, and a log of every decision made."""

    assembly: CloudAssembly
    decisions: list[Decision] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._identity: dict[str, list[Statement]] = {}
        self._role_names: dict[str, str] = {}
        self._resource: dict[str, list[Statement]] = {}  # resource ARN (bucket, key, topic, function)
        self._trust: dict[str, list[Statement]] = {}  # role ARN -> its trust policy
        self._assumed: dict[tuple[str, str, str | None], Decision] = {}
        self._load()

    # --- loading ---

    def _load(self) -> None:
        assembly = self.assembly
        for role in assembly.resources("AWS::IAM::Role"):
            arn = role.arn
            self._role_names[role.ref] = arn
            self._trust[arn] = _statements(
                role.properties["AssumeRolePolicyDocument"], f"{role.path} trust policy", resource=True
            )
            statements = self._identity.setdefault(arn, [])
            for policy in role.properties.get("Policies", []):
                statements += _statements(
                    policy["PolicyDocument"], f"{role.path} inline {policy['PolicyName']}"
                )
            for managed in role.properties.get("ManagedPolicyArns", []):
                statements += self._managed(str(managed), role)
        for policy in assembly.resources("AWS::IAM::Policy"):
            for role_name in policy.properties.get("Roles", []):
                self._identity.setdefault(self._role_arn(role_name, policy), []).extend(
                    _statements(policy.properties["PolicyDocument"], policy.path)
                )
        for policy in assembly.resources("AWS::IAM::ManagedPolicy"):
            for role_name in policy.properties.get("Roles", []):
                self._identity.setdefault(self._role_arn(role_name, policy), []).extend(
                    _statements(policy.properties["PolicyDocument"], policy.path)
                )
        for bucket_policy in assembly.resources("AWS::S3::BucketPolicy"):
            bucket = str(bucket_policy.properties["Bucket"])
            arn = f"arn:{assembly.env.partition}:s3:::{bucket}"
            self._resource.setdefault(arn, []).extend(
                _statements(bucket_policy.properties["PolicyDocument"], bucket_policy.path, resource=True)
            )
        for key in assembly.resources("AWS::KMS::Key"):
            self._resource.setdefault(key.arn, []).extend(
                _statements(key.properties["KeyPolicy"], f"{key.path} key policy", resource=True)
            )
        for topic_policy in assembly.resources("AWS::SNS::TopicPolicy"):
            for topic in topic_policy.properties["Topics"]:
                self._resource.setdefault(str(topic), []).extend(
                    _statements(topic_policy.properties["PolicyDocument"], topic_policy.path, resource=True)
                )
        for permission in assembly.resources("AWS::Lambda::Permission"):
            props = permission.properties
            principal = str(props["Principal"])
            raw = {
                "Effect": "Allow",
                "Action": props["Action"],
                "Principal": {"Service": principal}
                if principal.endswith(".amazonaws.com")
                else {"AWS": principal},
                "Resource": props["FunctionName"],
            }
            if "SourceArn" in props:
                raw["Condition"] = {"ArnLike": {"aws:SourceArn": props["SourceArn"]}}
            self._resource.setdefault(str(props["FunctionName"]), []).append(
                Statement.parse(raw, permission.path, resource_policy=True)
            )

    def _role_arn(self, role: str, owner: Resource) -> str:
        if role.startswith("arn:"):
            return role
        if role in self._role_names:
            return self._role_names[role]
        return owner.env.arn("iam", f"role/{role}", region=False)  # a role defined outside the app

    def _managed(self, arn: str, role: Resource) -> list[Statement]:
        match = re.fullmatch(r"arn:[^:]+:iam::aws:policy/(.+)", arn)
        if match:
            name = match.group(1)
            if name not in AWS_MANAGED_POLICIES:
                raise PolicyError(
                    f"{role.path}: AWS managed policy {name} is attached; the twin does not hold its "
                    "document (add it to local_twin.iam.AWS_MANAGED_POLICIES from the AWS reference)"
                )
            return _statements(AWS_MANAGED_POLICIES[name], f"AWS managed policy {name}")
        for policy in self.assembly.resources("AWS::IAM::ManagedPolicy"):
            if policy.ref == arn:
                return _statements(policy.properties["PolicyDocument"], policy.path)
        raise PolicyError(f"{role.path}: managed policy {arn} is neither AWS's nor in the assembly")

    # --- evaluation ---

    def role_arns(self) -> list[str]:
        return sorted(self._identity)

    def identity_statements(self, role_arn: str) -> list[Statement]:
        return list(self._identity.get(role_arn, []))

    def resource_statements(self, resource_arn: str) -> list[Statement]:
        return list(self._resource.get(resource_arn, []))

    def check(
        self,
        principal: Principal | str,
        action: str,
        resource: str,
        *,
        context: Mapping[str, str | Sequence[str]] | None = None,
        resource_policy_arn: str | None = None,
        purpose: str = "",
    ) -> Decision:
        """Evaluates one request and records it. ``resource_policy_arn``: whose resource policy applies
        (the bucket of an object ARN, the key, the topic); default: ``resource`` itself."""
        if isinstance(principal, str):
            principal = (
                Principal("AWS", principal)
                if principal.startswith("arn:")
                else Principal("Service", principal)
            )
        owner = resource_policy_arn if resource_policy_arn is not None else resource
        request_context = self._context(principal, context or {})
        allowed, reason = self._evaluate(principal, action, resource, owner, request_context)
        decision = Decision(principal.arn, action, resource, allowed, reason, purpose)
        self.decisions.append(decision)
        return decision

    def require(self, principal: Principal | str, action: str, resource: str, **kwargs: Any) -> Decision:
        """``check``, raising ``AccessDenied`` when the request is not allowed."""
        decision = self.check(principal, action, resource, **kwargs)
        if not decision.allowed:
            raise AccessDenied(decision)
        return decision

    def assume(
        self, role_arn: str, service: str, *, source_arn: str | None = None, purpose: str = ""
    ) -> Decision:
        """A service assumes ``role_arn``: its trust policy must allow ``sts:AssumeRole`` for the service
        (with ``aws:SourceAccount`` and, where the caller is a resource, its ``aws:SourceArn``)."""
        cached = self._assumed.get((role_arn, service, source_arn))
        if cached is not None:
            return cached
        principal = Principal("Service", service)
        extra = {
            "aws:SourceAccount": self.assembly.env.account,
            **({"aws:SourceArn": source_arn} if source_arn else {}),
        }
        context = self._context(principal, extra)
        statements = self._trust.get(role_arn)
        if statements is None:
            allowed, reason = False, f"no role {role_arn} in the assembly"
        elif any(
            s.effect == "Deny"
            and s.names_principal(principal)
            and s.applies("sts:AssumeRole", role_arn, context)
            for s in statements
        ):
            allowed, reason = False, "explicitly denied by the trust policy"
        else:
            trusting = next(
                (
                    s
                    for s in statements
                    if s.effect == "Allow"
                    and s.names_principal(principal)
                    and s.applies("sts:AssumeRole", role_arn, context)
                ),
                None,
            )
            allowed = trusting is not None
            reason = (
                f"trusted by {trusting.source}"
                if trusting
                else f"the trust policy does not let {service} assume the role"
            )
        decision = Decision(service, "sts:AssumeRole", role_arn, allowed, reason, purpose)
        self.decisions.append(decision)
        if not allowed:
            raise AccessDenied(decision)
        self._assumed[(role_arn, service, source_arn)] = decision
        return decision

    def _context(
        self, principal: Principal, extra: Mapping[str, str | Sequence[str]]
    ) -> dict[str, Sequence[str]]:
        env = self.assembly.env
        context: dict[str, Sequence[str]] = {
            "aws:SecureTransport": ["true"],  # the SDKs and AWS services call over TLS
            "s3:TlsVersion": ["1.3"],
            "aws:RequestedRegion": [env.region],
            "aws:ResourceAccount": [env.account],
        }
        if principal.kind == "AWS":
            context["aws:PrincipalArn"] = [principal.arn]
            context["aws:PrincipalAccount"] = [env.account]
            context["kms:CallerAccount"] = [env.account]
        for key, value in extra.items():
            context[key] = [value] if isinstance(value, str) else list(value)
        return context

    def _evaluate(  # noqa: PLR0911 (one return per step of AWS's evaluation logic)
        self,
        principal: Principal,
        action: str,
        resource: str,
        owner: str,
        context: Mapping[str, Sequence[str]],
    ) -> tuple[bool, str]:
        identity = self._identity.get(principal.arn, []) if principal.kind == "AWS" else []
        if principal.kind == "AWS" and principal.arn not in self._identity:
            return False, f"no role {principal.arn} in the assembly"
        resource_statements = [
            s
            for s in self._resource.get(owner, [])
            if s.names_principal(principal)
            or (principal.kind == "AWS" and s.names_account(self.assembly.env.account))
        ]
        for statement in (*identity, *resource_statements):
            if statement.effect == "Deny" and statement.applies(action, resource, context):
                return False, f"explicitly denied by {statement.source}"
        identity_allow = next(
            (s for s in identity if s.effect == "Allow" and s.applies(action, resource, context)), None
        )
        direct = next(
            (
                s
                for s in resource_statements
                if s.effect == "Allow"
                and s.names_principal(principal)
                and s.applies(action, resource, context)
            ),
            None,
        )
        if action.lower().startswith("kms:"):
            if direct is not None:
                return True, f"key policy {direct.source}"
            delegates = any(
                s.effect == "Allow"
                and s.names_account(self.assembly.env.account)
                and s.applies(action, resource, context)
                for s in resource_statements
            )
            if not self._resource.get(owner):
                return False, f"no key policy for {owner} in the assembly (a key defined outside the app)"
            if not delegates:
                return (
                    False,
                    "the key policy neither allows the principal nor delegates to the account's IAM policies",
                )
            if identity_allow is None:
                return False, "the key policy delegates to IAM, and no identity policy allows it"
            return True, f"key policy delegates to IAM; allowed by {identity_allow.source}"
        if identity_allow is not None:
            return True, f"allowed by {identity_allow.source}"
        if direct is not None:
            return True, f"allowed by resource policy {direct.source}"
        if principal.kind == "Service":
            return False, f"no resource policy of {owner} allows the service principal"
        return False, "no identity or resource policy allows it"

    # --- reporting ---

    @property
    def denials(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]

    def summary(self) -> dict[str, Any]:
        by_principal: dict[str, dict[str, int]] = {}
        for decision in self.decisions:
            counts = by_principal.setdefault(_short(decision.principal), {"allowed": 0, "denied": 0})
            counts["allowed" if decision.allowed else "denied"] += 1
        return {
            "checks": len(self.decisions),
            "denied": len(self.denials),
            "distinct": len({(d.principal, d.action, d.resource) for d in self.decisions}),
            "by_principal": by_principal,
        }


def _short(principal: str) -> str:
    return principal.rsplit("/", 1)[-1] if principal.startswith("arn:") else principal


def _statements(document: Any, source: str, *, resource: bool = False) -> list[Statement]:
    if isinstance(document, str):
        document = json.loads(document)
    raw = document.get("Statement", [])
    raw_list: Iterable[Mapping[str, Any]] = raw if isinstance(raw, list) else [raw]
    return [
        Statement.parse(s, f"{source} statement {s.get('Sid', i)}", resource_policy=resource)
        for i, s in enumerate(raw_list)
    ]
