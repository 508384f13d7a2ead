"""benchmarks/capacity.py: the first quota reached, the configuration chosen and its cost, per rate."""

from __future__ import annotations

from typing import Any

import pytest

from stacks import quotas
from tests.conftest import load_script

capacity = load_script("benchmarks/capacity.py")


def plan(rate: float, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "peak_factor": 2.0,
        "event_bytes": 500,
        "event_types": 50,
        "retention_days": 365,
        "region": "us-east-1",
    }
    options.update(overrides)
    return capacity.plan(rate, **options)


def test_a_thousand_events_a_second_fit_direct_put_in_a_large_region() -> None:
    result = plan(1_000)

    assert result.source == "direct_put"
    assert all(use.share <= capacity.HEADROOM for use in result.uses)


def test_direct_put_s_smaller_default_elsewhere_moves_the_same_rate_to_kinesis() -> None:
    # 2,000 events/s of 500 bytes at peak is ~0.95 MiB/s: 95% of the 1 MiB/s default outside the
    # large regions, above the 80% headroom.
    assert plan(1_000, region="ap-southeast-2").source == "kinesis (on-demand)"


def test_beyond_on_demand_the_plan_provisions_shards_and_names_the_account_quota_first() -> None:
    result = plan(1_000_000)

    assert result.source == "kinesis (2,500 shards)"  # 2M records/s at peak, 80% headroom
    first = result.uses[0]
    assert first.quota is quotas.KINESIS_SHARDS_PER_REGION and first.share == pytest.approx(5.0)


def test_event_types_drive_the_active_partitions() -> None:
    result = plan(1_000, event_types=400)

    first = result.uses[0]
    assert first.quota is quotas.FIREHOSE_ACTIVE_PARTITIONS and first.demand == 800  # two arrival days


def test_firehose_bills_each_record_as_five_kilobytes() -> None:
    small, large = plan(1_000, event_bytes=500), plan(1_000, event_bytes=5_120)

    ingestion = "Firehose ingestion (5 KB per record)"
    assert small.costs[ingestion] == pytest.approx(large.costs[ingestion])
    assert small.costs[ingestion] == pytest.approx(
        1_000 * capacity.SECONDS_PER_MONTH * 5_120 / 1e9 * quotas.PRICES["firehose_ingest_gb"].usd
    )
