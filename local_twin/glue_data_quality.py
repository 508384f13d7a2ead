"""Glue Data Quality: DQDL rulesets evaluated on a table's data with Spark.

Rule types (the ones the platform ships), with Glue's documented semantics:

* ``RowCount <op> n``: rows of the data (``Dataset.*.RowCount``);
* ``IsComplete "c"``: every value non-null (``Column.c.Completeness`` = 1.0);
* ``IsUnique "c"``: every non-null value occurs exactly once (``Column.c.Uniqueness`` = 1.0; nulls are left
  out, as in Deequ, the open-source engine Glue Data Quality is built on);
* ``ColumnValues "c" <op> v`` (also ``in [..]``, ``between a and b``): a NULL value fails the rule
  (https://docs.aws.amazon.com/glue/latest/dg/dqdl-rule-types-ColumnValues.html);
* ``ColumnLength "c" <op> n``: a NULL counts as length 0
  (https://docs.aws.amazon.com/glue/latest/dg/dqdl-rule-types-ColumnLength.html);

each with an optional ``where "<SQL condition>"`` (only rows meeting it are evaluated) and
``with threshold <op> x`` (the share of rows that must comply). A rule over no rows fails with
"Empty state", as Deequ's analyzers do (an assumption: see docs/first-deploy.md). The score is the share
of rules that passed. Any other rule type is an error, never a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as sf

_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>>=|<=|!=|=|>|<)|(?P<punct>[\[\],])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))'
)
SUPPORTED = ("RowCount", "IsComplete", "IsUnique", "ColumnValues", "ColumnLength")


class DqdlError(Exception):
    """A ruleset the twin cannot evaluate (a syntax error or an unsupported rule type)."""


@dataclass(frozen=True)
class Condition:
    operator: str  # = != > >= < <= between in
    values: tuple[Any, ...]

    def column(self, value: Column) -> Column:
        v = self.values
        operations: dict[str, Callable[[], Column]] = {
            "=": lambda: value == v[0],
            "!=": lambda: value != v[0],
            ">": lambda: value > v[0],
            ">=": lambda: value >= v[0],
            "<": lambda: value < v[0],
            "<=": lambda: value <= v[0],
            "between": lambda: (value > v[0]) & (value < v[1]),
            "in": lambda: value.isin(list(v)),
        }
        condition: Column = operations[self.operator]()
        return condition

    def holds(self, number: float) -> bool:
        v = self.values
        checks: dict[str, Callable[[], bool]] = {
            "=": lambda: number == v[0],
            "!=": lambda: number != v[0],
            ">": lambda: number > v[0],
            ">=": lambda: number >= v[0],
            "<": lambda: number < v[0],
            "<=": lambda: number <= v[0],
            "between": lambda: v[0] < number < v[1],
            "in": lambda: number in v,
        }
        return checks[self.operator]()

    def __str__(self) -> str:
        if self.operator == "between":
            return f"between {self.values[0]} and {self.values[1]}"
        if self.operator == "in":
            return f"in {list(self.values)}"
        return f"{self.operator} {self.values[0]}"


@dataclass(frozen=True)
class Rule:
    text: str
    kind: str
    column: str | None
    condition: Condition | None
    where: str | None
    threshold: Condition | None


def parse(ruleset: str) -> list[Rule]:
    """``Rules = [ ... ]`` -> rules, each with its original text."""
    match = re.fullmatch(r"\s*Rules\s*=\s*\[(.*)\]\s*", ruleset, re.DOTALL)
    if not match:
        raise DqdlError("a DQDL ruleset is 'Rules = [ rule, ... ]'")
    return [_rule(text) for text in _split_rules(match.group(1))]


def _split_rules(body: str) -> list[str]:
    rules: list[str] = []
    current: list[str] = []
    depth, quoted = 0, False
    for i, char in enumerate(body):
        if char == '"' and (i == 0 or body[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        if char == "," and not quoted and depth == 0:
            rules.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        rules.append("".join(current).strip())
    return rules


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise DqdlError(f"cannot read {text[position:]!r} in rule {text!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _value(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "string":
        return text[1:-1].replace('\\"', '"')
    raise DqdlError(f"expected a value, got {text!r}")


def _condition(tokens: list[tuple[str, str]], rule: str) -> tuple[Condition, list[tuple[str, str]]]:
    if not tokens:
        raise DqdlError(f"rule {rule!r} has no condition")
    kind, text = tokens[0]
    if kind == "op":
        return Condition(text, (_value(tokens[1]),)), tokens[2:]
    if kind == "word" and text.lower() == "between":
        if len(tokens) < 4 or tokens[2][1].lower() != "and":
            raise DqdlError(f"rule {rule!r}: expected 'between a and b'")
        return Condition("between", (_value(tokens[1]), _value(tokens[3]))), tokens[4:]
    if kind == "word" and text.lower() == "in":
        values, rest = [], tokens[1:]
        if not rest or rest[0][1] != "[":
            raise DqdlError(f"rule {rule!r}: expected 'in [ ... ]'")
        rest = rest[1:]
        while rest and rest[0][1] != "]":
            if rest[0][1] != ",":
                values.append(_value(rest[0]))
            rest = rest[1:]
        return Condition("in", tuple(values)), rest[1:]
    raise DqdlError(f"rule {rule!r}: expected a comparison, got {text!r}")


def _rule(text: str) -> Rule:
    tokens = _tokens(text)
    kind = tokens[0][1]
    if kind not in SUPPORTED:
        raise DqdlError(
            f"DQDL rule type {kind} (in {text!r}) is not supported by the twin; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    rest = tokens[1:]
    column = None
    if kind != "RowCount":
        if not rest or rest[0][0] != "string":
            raise DqdlError(f"rule {text!r}: expected a quoted column name")
        column, rest = _value(rest[0]), rest[1:]
    condition = None
    if kind in ("RowCount", "ColumnValues", "ColumnLength"):
        condition, rest = _condition(rest, text)
    where = threshold = None
    while rest:
        word = rest[0][1].lower()
        if word == "where" and len(rest) > 1 and rest[1][0] == "string":
            where, rest = _value(rest[1]), rest[2:]
        elif word == "with" and len(rest) > 1 and rest[1][1].lower() == "threshold":
            threshold, rest = _condition(rest[2:], text)
        else:
            raise DqdlError(f"rule {text!r}: unexpected {rest[0][1]!r}")
    return Rule(text, kind, column, condition, where, threshold)


def evaluate(rules: list[Rule], data: DataFrame) -> list[dict[str, Any]]:
    """Each rule's result in GetDataQualityResult's ``RuleResults`` shape."""
    return [_evaluate(i, rule, data) for i, rule in enumerate(rules, 1)]


def _evaluate(index: int, rule: Rule, data: DataFrame) -> dict[str, Any]:
    frame = data.where(rule.where) if rule.where else data
    metrics: dict[str, float] = {}
    message = ""
    if rule.kind == "RowCount":
        assert rule.condition is not None
        rows = frame.count()
        metrics["Dataset.*.RowCount"] = float(rows)
        passed = rule.condition.holds(rows)
        message = "" if passed else f"Value: {rows} does not meet the constraint requirement!"
        return _result(index, rule, passed, metrics, message)
    assert rule.column is not None
    if rule.column not in frame.columns:
        return {**_result(index, rule, False, {}, f"Column {rule.column} not found"), "Result": "ERROR"}
    column = sf.col(f"`{rule.column}`")
    total = frame.count()
    if total == 0:
        return _result(
            index,
            rule,
            False,
            {},
            f"Empty state for analyzer of {rule.column}: all input values were NULL or no row was evaluated.",
        )
    if rule.kind == "IsComplete":
        complete = frame.where(column.isNotNull()).count() / total
        metrics[f"Column.{rule.column}.Completeness"] = complete
        compliance = complete
    elif rule.kind == "IsUnique":
        counts = frame.where(column.isNotNull()).groupBy(column).count()
        non_null = frame.where(column.isNotNull()).count()
        once = counts.where(sf.col("count") == 1).count()
        uniqueness = once / non_null if non_null else 0.0
        metrics[f"Column.{rule.column}.Uniqueness"] = uniqueness
        compliance = uniqueness
        if not non_null:
            return _result(
                index,
                rule,
                False,
                metrics,
                f"Empty state for analyzer of {rule.column}: all input values were NULL.",
            )
    else:
        assert rule.condition is not None
        value = sf.coalesce(sf.length(column), sf.lit(0)) if rule.kind == "ColumnLength" else column
        failing = frame.where(~sf.coalesce(rule.condition.column(value), sf.lit(False))).count()
        compliance = 1 - failing / total
        name = "LengthCompliance" if rule.kind == "ColumnLength" else "ColumnValues.Compliance"
        metrics[f"Column.{rule.column}.{name}"] = compliance
    passed = rule.threshold.holds(compliance) if rule.threshold else compliance == 1.0
    if not passed:
        message = f"Value: {compliance:.4f} does not meet the constraint requirement!"
    return _result(index, rule, passed, metrics, message)


def _result(index: int, rule: Rule, passed: bool, metrics: dict[str, float], message: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "Name": f"Rule_{index}",
        "Description": rule.text,
        "Result": "PASS" if passed else "FAIL",
        "EvaluatedMetrics": metrics,
        "EvaluatedRule": rule.text,
    }
    if message:
        result["EvaluationMessage"] = message
    return result


def score(results: list[dict[str, Any]]) -> float:
    return sum(r["Result"] == "PASS" for r in results) / len(results) if results else 0.0
