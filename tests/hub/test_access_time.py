"""Tracks coarse in time as well as in space: a reader below the location level gets the time column
truncated to `TIME_GRID_MIN` minutes, and time windows of whole cells."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dthub.hub import access, query
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Consumer, Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.masking import coarsen_time
from dthub.hub.settings import Settings
from fixtures.tracks import PROBE, TRACKS, TrackLines, track_lines

CLEARED = Consumer(kind="person", id="cleared", clearance=Level.GENERAL_4, role=Role.ANALYST)
BELOW = Consumer(kind="person", id="below", clearance=Level.GENERAL_3, role=Role.ANALYST)


def at(minute: int) -> datetime:
    return datetime(2026, 3, 1, 0, minute, tzinfo=UTC)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    opened = Hub.open(Settings(home=tmp_path / "hub"), (PROBE,))
    ingest_bytes(opened, TrackLines(), track_lines(), source="tracks.jsonl")
    yield opened
    opened.close()


def times(hub: Hub, consumer: Consumer, asked: query.RowQuery) -> list[tuple[str, datetime]]:
    decision = access.decide(consumer, TRACKS, granted=True)
    rows = query.read_page(hub, consumer, TRACKS, decision, asked, fmt="json").to_pylist()
    return [(row["plate"], row["reported_at"]) for row in rows]


def test_a_reader_below_the_location_level_gets_times_truncated_to_15_minutes(hub: Hub) -> None:
    asked = query.RowQuery(sort=(("reported_at", False),))

    assert times(hub, CLEARED, asked) == [("津A12345", at(0)), ("津AD12345", at(5)), ("津B67890", at(10)),
                                          ("京A11111", at(15))]  # fmt: skip
    assert [t for _, t in times(hub, BELOW, asked)] == [at(0), at(0), at(0), at(15)]
    assert all(coarsen_time(at(m), minutes=access.TIME_GRID_MIN) == at(m - m % 15) for m in (0, 5, 10, 15))


def test_a_narrow_time_window_widens_to_whole_cells_for_a_reader_below(hub: Hub) -> None:
    asked = query.RowQuery(since=at(5), until=at(6), sort=(("reported_at", False),))

    assert times(hub, CLEARED, asked) == [("津AD12345", at(5))]
    assert [plate for plate, _ in times(hub, BELOW, asked)] == ["津A12345", "津AD12345", "津B67890"]
