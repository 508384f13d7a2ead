"""DQDL as the twin evaluates it: each rule type the platform ships, on data with and without faults."""

from __future__ import annotations

from typing import Any

import pytest

from local_twin import glue_data_quality as dqdl
from stacks.etl_stack import PROCESSED_EVENTS_DQDL

ROWS = [
    ("a", "order", 10.0, "EUR"),
    ("b", "page_view", None, None),
    ("c", "order", 0.0, "USD"),
]


def results(spark: Any, ruleset: str, rows: list[tuple[Any, ...]]) -> dict[str, str]:
    frame = spark.createDataFrame(rows, "event_id string, event_type string, amount double, currency string")
    return {r["Description"]: r["Result"] for r in dqdl.evaluate(dqdl.parse(ruleset), frame)}


def test_the_platforms_rules_pass_on_good_data_where_optional_columns_are_null(spark: Any) -> None:
    rules = (
        "Rules = [ "
        + ", ".join(
            line.strip().rstrip(",")
            for line in PROCESSED_EVENTS_DQDL.splitlines()[1:-1]
            if "event_time" not in line and "event_date" not in line
        )
        + " ]"
    )
    outcome = results(spark, rules, ROWS)
    assert set(outcome.values()) == {"PASS"}, outcome


@pytest.mark.parametrize(
    ("rule", "rows", "expected"),
    [
        ('IsUnique "event_id"', [*ROWS, ("a", "order", 1.0, "EUR")], "FAIL"),
        ('IsUnique "event_id"', [*ROWS, (None, "order", 1.0, "EUR")], "PASS"),  # nulls left out
        ('IsComplete "event_id"', [*ROWS, (None, "order", 1.0, "EUR")], "FAIL"),
        ('ColumnValues "amount" >= 0', ROWS, "FAIL"),  # a NULL fails ColumnValues
        ('ColumnValues "amount" >= 0 where "amount IS NOT NULL"', ROWS, "PASS"),
        (
            'ColumnValues "amount" >= 0 where "amount IS NOT NULL"',
            [*ROWS, ("d", "order", -1.0, "EUR")],
            "FAIL",
        ),
        ('ColumnLength "currency" = 3', ROWS, "FAIL"),  # a NULL has length 0
        (
            'ColumnLength "currency" = 3 where "currency IS NOT NULL"',
            [*ROWS, ("d", "x", 1.0, "EURO")],
            "FAIL",
        ),
        ('ColumnValues "event_type" in ["order", "page_view"]', ROWS, "PASS"),
        ('ColumnValues "amount" between -1 and 11 with threshold > 0.6', ROWS, "PASS"),
        ("RowCount > 3", ROWS, "FAIL"),
        ("RowCount between 2 and 4", ROWS, "PASS"),
        (
            'IsComplete "amount" where "event_type = \'nothing\'"',
            ROWS,
            "FAIL",
        ),  # no row evaluated: empty state
    ],
)
def test_rule_semantics(spark: Any, rule: str, rows: list[tuple[Any, ...]], expected: str) -> None:
    assert results(spark, f"Rules = [ {rule} ]", rows) == {rule: expected}


def test_the_score_is_the_share_of_rules_passed(spark: Any) -> None:
    frame = spark.createDataFrame(ROWS, "event_id string, event_type string, amount double, currency string")
    evaluated = dqdl.evaluate(
        dqdl.parse('Rules = [ RowCount > 0, IsComplete "amount", IsUnique "event_id", RowCount > 5 ]'), frame
    )
    assert dqdl.score(evaluated) == 0.5
    failed = [r for r in evaluated if r["Result"] == "FAIL"]
    assert all("EvaluationMessage" in r for r in failed)
    assert evaluated[0]["EvaluatedMetrics"] == {"Dataset.*.RowCount": 3.0}


def test_an_unsupported_rule_type_or_bad_syntax_is_an_error() -> None:
    with pytest.raises(dqdl.DqdlError, match=r"DQDL rule type Freshness .* is not supported"):
        dqdl.parse('Rules = [ Freshness "updated" <= 3 hours ]')
    with pytest.raises(dqdl.DqdlError, match="Rules = \\[ rule"):
        dqdl.parse("RowCount > 0")
