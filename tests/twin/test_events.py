"""EventBridge twin: pattern matching semantics, input transformers, schedules, the platform's rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from local_twin.events import PatternError, matches, next_fire_time, render_input_transformer
from tests.conftest import SynthesizedPlatform

S3_EVENT = {
    "source": "aws.s3",
    "detail-type": "Object Created",
    "detail": {
        "bucket": {"name": "raw"},
        "object": {"key": "events/event_type=a/x.gz", "size": 5},
        "tags": ["x", "y"],
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.s3"]}, True),
        ({"source": ["aws.glue", "aws.s3"]}, True),  # any value of the list
        ({"detail": {"object": {"key": [{"prefix": "events/"}]}}}, True),
        ({"detail": {"object": {"key": [{"prefix": "errors/"}]}}}, False),
        ({"detail": {"object": {"key": [{"suffix": ".GZ"}]}}}, False),
        ({"detail": {"object": {"key": [{"suffix": {"equals-ignore-case": ".GZ"}}]}}}, True),
        ({"detail": {"tags": ["y"]}}, True),  # an event array matches if any element does
        ({"detail": {"object": {"size": [{"numeric": [">", 0, "<=", 5]}]}}}, True),
        ({"detail": {"object": {"size": [{"numeric": [">", 5]}]}}}, False),
        ({"detail": {"object": {"key": [{"anything-but": {"prefix": "events/"}}]}}}, False),
        ({"detail": {"object": {"etag": [{"exists": False}]}}}, True),
        ({"detail": {"object": {"etag": [{"exists": True}]}}}, False),
        ({"detail": {"object": [{"exists": True}]}}, False),  # exists only on leaves
        ({"detail": {"missing": {"key": ["a"]}}}, False),  # every pattern field must be in the event
        ({"$or": [{"source": ["aws.glue"]}, {"detail-type": ["Object Created"]}]}, True),
        ({"detail": {"object": {"key": [{"wildcard": "events/*/x.gz"}]}}}, True),
    ],
)
def test_event_patterns_match_as_eventbridge_does(pattern: dict[str, object], expected: bool) -> None:
    assert matches(pattern, S3_EVENT) is expected


def test_an_unknown_filter_is_an_error() -> None:
    with pytest.raises(PatternError, match="'regex' is not supported"):
        matches({"source": [{"regex": ".*"}]}, S3_EVENT)


def test_input_transformer_quotes_outside_strings_and_inlines_inside(dev: SynthesizedPlatform) -> None:
    from local_twin.events import Rule  # noqa: PLC0415

    rule = Rule(
        resource=None,
        name="r",
        arn="arn:aws:events:us-east-1:1:rule/r",
        pattern=None,
        schedule=None,
        enabled=True,
        targets=[],
    )  # type: ignore[arg-type]
    rendered = render_input_transformer(
        {
            "InputPathsMap": {"key": "$.detail.object.key", "size": "$.detail.object.size"},
            "InputTemplate": '{"k":<key>,"t":"size <size> of <key>","rule":<aws.events.rule-name>}',
        },
        S3_EVENT,
        rule,
    )
    assert json.loads(rendered) == {
        "k": "events/event_type=a/x.gz",
        "t": "size 5 of events/event_type=a/x.gz",
        "rule": "r",
    }


def test_cron_schedules_fire_at_their_next_time() -> None:
    after = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)
    assert next_fire_time("cron(0 3 * * ? *)", after) == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    assert next_fire_time("cron(*/15 * * * ? *)", after) == datetime(2026, 12, 6, 19, 15, tzinfo=UTC)
    assert next_fire_time("rate(2 hours)", after) == datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    with pytest.raises(PatternError, match="not supported"):
        next_fire_time("cron(0 3 L * ? *)", after)


def test_the_platforms_trigger_rule_starts_runs_for_events_objects_only(dev: SynthesizedPlatform) -> None:
    from local_twin.assembly import CloudAssembly  # noqa: PLC0415

    assembly = CloudAssembly(dev.outdir)
    (rule,) = [r for r in assembly.resources("AWS::Events::Rule") if "OnRawObjectCreated" in r.logical_id]
    pattern = rule.properties["EventPattern"]
    raw = assembly.one(
        "AWS::S3::Bucket", BucketName=f"datalake-dev-raw-{assembly.env.account}-{assembly.env.region}"
    ).name

    def event(bucket: str, key: str) -> dict[str, object]:
        return {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
        }

    assert matches(pattern, event(raw, "events/event_type=a/dt=2026-12-06/x.gz"))
    assert not matches(pattern, event(raw, "errors/processing-failed/dt=2026-12-06/x.gz"))
    assert not matches(pattern, event("another-bucket", "events/x.gz"))
