"""A producer of realistic events, and what the platform should make of them, computed independently.

``Producer.wave`` makes one delivery window of records (seeded, so a run is reproducible): mostly valid
events of a few types (page views without an amount, orders and refunds with an amount in one of three
currencies, user and session ids, attributes), and, in the proportions of ``Mix``:

* records the transform Lambda rejects, one kind per reason it can see from a producer: invalid JSON,
  not an object, a missing field, an invalid field, an empty record, invalid UTF-8, and newline-separated
  events of different types (``mixed_partition_keys``);
* records the Lambda passes and raw_to_processed quarantines: a negative or over-precise amount, a
  malformed currency, attributes that are not an object or are JSON text, a blank event id;
* exact duplicates (a producer's retry), updates (the same id sent again with a later time: the latest
  wins), late events (1-5 days old on arrival), redeliveries of an earlier wave's events (dropped as
  already stored) and, only when asked, cross-day redeliveries (the same id with another day's time:
  stored twice, which the data-quality gate's uniqueness rule catches).

``expected`` computes, from the records alone and without the platform's code, what each stage should
count and hold: Firehose failures, quarantined lines, duplicates removed, the processed events and the
consumer aggregates. The twin compares its measurements with it.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

EVENT_TYPES = (
    ("page_view", 0.5),
    ("search", 0.15),
    ("add_to_cart", 0.15),
    ("order_placed", 0.15),
    ("refund", 0.05),
)
WITH_AMOUNT = {"add_to_cart", "order_placed", "refund"}
CURRENCIES = ("EUR", "USD", "GBP")
FIREHOSE_REJECTS = (
    "invalid_json",
    "not_an_object",
    "missing_field",
    "invalid_field",
    "empty_record",
    "invalid_utf8",
    "mixed_partition_keys",
)
GLUE_REJECTS = (
    "negative_amount",
    "invalid_amount",
    "invalid_currency",
    "invalid_attributes",
    "invalid_field_type",
    "missing_event_id",
)


@dataclass(frozen=True)
class Mix:
    """Shares of a wave's records (the rest are valid, unique, on-time events)."""

    firehose_rejects: float = 0.02
    glue_rejects: float = 0.02
    duplicates: float = 0.02
    updates: float = 0.005
    late: float = 0.03
    redeliveries: float = 0.01  # of the previous waves' valid events, sent again
    cross_day_redeliveries: float = 0.0

    def __post_init__(self) -> None:
        for name, share in vars(self).items():
            if not 0 <= share <= 0.5:
                raise ValueError(f"mix.{name}: {share} is not allowed; expected a share between 0 and 0.5")


@dataclass(frozen=True)
class Produced:
    """One record as sent, and what it is (``kind``; ``reason`` for a rejected one)."""

    data: bytes
    arrival: datetime
    kind: str  # valid | duplicate | update | redelivery | cross_day | firehose_reject | glue_reject
    wave: int
    event: dict[str, Any] | None = None  # the event a valid-shaped record carries (normalized time)
    reason: str | None = None
    partition_key: str = ""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Producer:
    seed: int = 7
    mix: Mix = field(default_factory=Mix)
    users: int = 2000

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self.records: list[Produced] = []

    # --- generation ---

    def _event(self, arrival: datetime, *, late: bool = False) -> dict[str, Any]:
        r = self._random
        kind = r.choices([k for k, _ in EVENT_TYPES], [w for _, w in EVENT_TYPES])[0]
        lag = (
            timedelta(days=r.randint(1, 5), seconds=r.randint(0, 86_000))
            if late
            else timedelta(milliseconds=r.randint(0, 5000))
        )
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=r.getrandbits(128), version=4)),
            "event_type": kind,
            "event_time": _iso(arrival - lag),
        }
        if r.random() < 0.9:
            event["user_id"] = f"u{r.randint(1, self.users):05d}"
            event["session_id"] = f"s{r.getrandbits(48):012x}"
        if kind in WITH_AMOUNT:
            event["amount"] = float(Decimal(r.randint(100, 50_000)) / 100)
            event["currency"] = r.choice(CURRENCIES)
        if r.random() < 0.3:
            event["attributes"] = {
                "device": r.choice(("mobile", "desktop", "tablet")),
                "page": f"/p/{r.randint(1, 500)}",
            }
        return event

    def wave(self, count: int, *, start: datetime, span: timedelta, wave: int) -> list[Produced]:
        """``count`` records arriving evenly over ``span`` from ``start``."""
        r, mix = self._random, self.mix
        earlier = [p for p in self.records if p.kind == "valid"]
        records: list[Produced] = []
        valid_so_far: list[Produced] = []
        step = span / max(count, 1)
        for i in range(count):
            arrival = start + step * i
            roll = r.random()
            bands = [
                ("firehose_reject", mix.firehose_rejects),
                ("glue_reject", mix.glue_rejects),
                ("duplicate", mix.duplicates),
                ("update", mix.updates),
                ("late", mix.late),
                ("redelivery", mix.redeliveries if earlier else 0.0),
                ("cross_day", mix.cross_day_redeliveries if earlier else 0.0),
            ]
            kind = "valid"
            for name, share in bands:
                if roll < share:
                    kind = name
                    break
                roll -= share
            if kind in ("duplicate", "update") and not valid_so_far:
                kind = "valid"
            record = self._record(kind, arrival, wave, valid_so_far, earlier)
            records.append(record)
            if record.kind == "valid":
                valid_so_far.append(record)
        self.records += records
        return records

    def _record(  # noqa: PLR0911 (one branch per kind of record)
        self, kind: str, arrival: datetime, wave: int, current: list[Produced], earlier: list[Produced]
    ) -> Produced:
        r = self._random
        if kind == "firehose_reject":
            reason = r.choice(FIREHOSE_REJECTS)
            return Produced(self._firehose_reject(reason, arrival), arrival, kind, wave, reason=reason)
        if kind == "glue_reject":
            reason = r.choice(GLUE_REJECTS)
            event = self._glue_reject(reason, arrival)
            return Produced(
                _encode(event),
                arrival,
                kind,
                wave,
                event=event,
                reason=reason,
                partition_key=event["event_type"],
            )
        if kind == "duplicate":
            original = r.choice(current)
            return replace(original, arrival=arrival, kind="duplicate")
        if kind == "update":
            original = r.choice(current)
            assert original.event is not None
            event = dict(original.event)
            event["event_time"] = _iso(
                datetime.fromisoformat(event["event_time"]) + timedelta(seconds=r.randint(1, 30))
            )
            event["session_id"] = f"s{r.getrandbits(48):012x}"
            return Produced(
                _encode(event), arrival, "update", wave, event=event, partition_key=event["event_type"]
            )
        if kind in ("redelivery", "cross_day"):
            original = r.choice(earlier)
            if kind == "redelivery":
                return replace(original, arrival=arrival, kind="redelivery", wave=wave)
            assert original.event is not None
            event = dict(original.event)
            event["event_time"] = _iso(datetime.fromisoformat(event["event_time"]) + timedelta(days=1))
            return Produced(
                _encode(event), arrival, "cross_day", wave, event=event, partition_key=event["event_type"]
            )
        event = self._event(arrival, late=kind == "late")
        return Produced(
            _encode(event), arrival, "valid", wave, event=event, partition_key=event["event_type"]
        )

    def _firehose_reject(self, reason: str, arrival: datetime) -> bytes:  # noqa: PLR0911 (one per reason)
        event = self._event(arrival)
        if reason == "invalid_json":
            return _encode(event)[:-8]
        if reason == "not_an_object":
            return json.dumps([event["event_id"], event["event_type"]]).encode()
        if reason == "missing_field":
            event.pop(self._random.choice(("event_id", "event_type", "event_time")))
            return _encode(event)
        if reason == "invalid_field":
            field_name, value = self._random.choice(
                (("event_type", "Page View"), ("event_time", "yesterday"), ("event_id", ""))
            )
            event[field_name] = value
            return _encode(event)
        if reason == "empty_record":
            return b"  \n"
        if reason == "invalid_utf8":
            return b"\xff\xfe" + _encode(event)
        other = self._event(arrival)
        while other["event_type"] == event["event_type"]:
            other = self._event(arrival)
        return _encode(event) + b"\n" + _encode(other)

    def _glue_reject(self, reason: str, arrival: datetime) -> dict[str, Any]:
        event = self._event(arrival)
        if reason in ("negative_amount", "invalid_amount", "invalid_currency"):
            event.update(event_type="order_placed", amount=12.5, currency="EUR")
        if reason == "negative_amount":
            event["amount"] = -12.5
        elif reason == "invalid_amount":
            event["amount"] = 12.345
        elif reason == "invalid_currency":
            event["currency"] = "eur"
        elif reason == "invalid_attributes":
            event["attributes"] = ["mobile", "/p/1"]
        elif reason == "invalid_field_type":
            event["attributes"] = json.dumps({"device": "mobile"})
        elif reason == "missing_event_id":
            event["event_id"] = "   "
        return event


def _encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


# --- the independent computation -------------------------------------------------------------------------


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))


@dataclass
class Expected:
    produced: int = 0
    firehose_failed: int = 0
    firehose_reasons: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    duplicates_in_batch: int = 0
    duplicates_already_present: int = 0
    redeliveries_other_day: int = 0
    processed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duplicates_removed(self) -> int:
        return self.duplicates_in_batch + self.duplicates_already_present

    def consumer_rows(self) -> dict[tuple[str, str, str | None], dict[str, Any]]:
        """The consumer zone's rows: per (event_date, event_type, currency)."""
        rows: dict[tuple[str, str, str | None], dict[str, Any]] = {}
        for event in self.processed:
            moment = _time(event)
            key = (moment.date().isoformat(), event["event_type"], event.get("currency"))
            row = rows.setdefault(
                key, {"event_count": 0, "users": set(), "total_amount": None, "first": moment, "last": moment}
            )
            row["event_count"] += 1
            if event.get("user_id") is not None:
                row["users"].add(event["user_id"])
            if event.get("amount") is not None:
                row["total_amount"] = (row["total_amount"] or Decimal(0)) + Decimal(str(event["amount"]))
            row["first"], row["last"] = min(row["first"], moment), max(row["last"], moment)
        return rows


def expected(
    records: Iterable[Produced], batches: Iterable[Iterable[int]], *, lookback_days: int = 0
) -> Expected:
    """What the platform should make of ``records`` when the waves in each of ``batches`` are processed
    together, batch after batch (one pipeline run per batch).

    An event already stored under any event_date the batch touches is dropped (raw_to_processed reads
    those partitions' ids). ``lookback_days``: its redelivery index; above 0, an event stored by an
    earlier batch under any other event_date is dropped too (the batches run on one day, inside any
    lookback)."""
    records = list(records)
    result = Expected(produced=len(records))
    stored: dict[str, set[str]] = {}  # event_date -> ids stored
    indexed: set[str] = set()  # ids stored by earlier batches, any event_date
    for batch in batches:
        waves = set(batch)
        latest: dict[str, dict[str, Any]] = {}
        copies: Counter[str] = Counter()
        batch_events: list[dict[str, Any]] = []
        for record in (r for r in records if r.wave in waves):
            if record.kind == "firehose_reject":
                result.firehose_failed += 1
                result.firehose_reasons[record.reason or ""] += 1
                continue
            if record.kind == "glue_reject":
                result.quarantined += 1
                result.quarantine_reasons[record.reason or ""] += 1
                continue
            assert record.event is not None
            event = record.event
            batch_events.append(event)
            copies[event["event_id"]] += 1
            kept = latest.get(event["event_id"])
            if kept is None or (_time(event), _content(event)) > (_time(kept), _content(kept)):
                latest[event["event_id"]] = event
        result.duplicates_in_batch += sum(n - 1 for n in copies.values())
        touched = {_time(e).date().isoformat() for e in batch_events}
        under_touched = set().union(*(stored.get(day, set()) for day in touched))
        for event_id, event in latest.items():
            day = _time(event).date().isoformat()
            if event_id in under_touched:
                result.duplicates_already_present += 1
                continue
            if lookback_days > 0 and event_id in indexed:
                result.duplicates_already_present += 1
                result.redeliveries_other_day += 1
                continue
            stored.setdefault(day, set()).add(event_id)
            result.processed.append(event)
        indexed.update(latest)
    return result


def _content(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)
