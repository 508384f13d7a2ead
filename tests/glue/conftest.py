"""Writers of raw data in Firehose's layout (the Spark session is the suite's one, tests/conftest.py)."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

Line = str | dict[str, Any]

# PySpark turns timestamps into naive datetimes in the Python process's zone: make that UTC, as the
# session's, so expected values read the same everywhere.
os.environ["TZ"] = "UTC"
time.tzset()


def event(
    event_id: str, event_type: str = "page_view", event_time: str = "2026-11-23T09:30:00.000Z", **fields: Any
) -> dict[str, Any]:
    """A valid event as the transform Lambda emits it."""
    return {"event_id": event_id, "event_type": event_type, "event_time": event_time, **fields}


def write_raw_file(root: Path, event_type: str, dt: str, name: str, lines: Sequence[Line]) -> Path:
    """One Firehose object: ``<root>/event_type=<type>/dt=<dt>/<name>.gz``, GZIP JSON lines."""
    directory = root / f"event_type={event_type}" / f"dt={dt}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.gz"
    text = "".join(f"{line if isinstance(line, str) else json.dumps(line)}\n" for line in lines)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


class RawZone:
    """The raw events prefix of a test: ``add`` writes Firehose objects under it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._files = 0

    def add(self, event_type: str, dt: str, lines: Sequence[Line], name: str | None = None) -> Path:
        self._files += 1
        name = name or f"events-1-{dt}-10-00-{self._files:02d}-0000"
        return write_raw_file(self.root, event_type, dt, name, lines)

    def __str__(self) -> str:
        return str(self.root)


@pytest.fixture
def raw_zone(tmp_path: Path) -> RawZone:
    return RawZone(tmp_path / "raw" / "events")


def marker_dates(processed: Path) -> list[str]:
    """The dates of the change markers raw_to_processed left under ``processed`` (Hadoop's local
    ``.crc`` files aside), sorted, one per marker."""
    folder = processed / "_changed_dates"
    return sorted(p.name.split(".")[0] for p in folder.glob("*") if not p.name.startswith("."))
