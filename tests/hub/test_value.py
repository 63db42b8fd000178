"""The first data value score: usage from the audit log, freshness against the update frequency, quality."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dthub.hub import audit, value
from dthub.hub.audit import Action
from dthub.hub.catalog import DatasetFigures
from dthub.hub.core import Hub

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def figures(latest: datetime | None, read: int = 100, quarantined: int = 0) -> DatasetFigures:
    return DatasetFigures(
        rows=read - quarantined, files=1, size_bytes=1, latest_event_at=latest, last_landed_at=latest,
        batches=1, rows_read=read, rows_quarantined=quarantined, open_quarantine=quarantined,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("PT5M", timedelta(minutes=5)), ("PT30S", timedelta(seconds=30)), ("P1D", timedelta(days=1)),
     ("P1DT2H", timedelta(days=1, hours=2)), ("irregular", None), ("P", None)],
)  # fmt: skip
def test_update_frequency_is_an_iso_duration(text: str, expected: timedelta | None) -> None:
    assert value.period(text) == expected


def test_fresh_within_two_periods_then_decaying_with_age() -> None:
    assert value.freshness(figures(NOW - timedelta(minutes=10)), "PT5M", NOW) == 1.0
    assert value.freshness(figures(NOW - timedelta(minutes=40)), "PT5M", NOW) == 0.25
    assert value.freshness(figures(None), "PT5M", NOW) == 0.0
    assert value.freshness(figures(NOW - timedelta(days=900)), "irregular", NOW) == 1.0


def test_score_weighs_usage_freshness_and_quality() -> None:
    reads = value.Usage(reads=1_000, consumers=5, rows_served=10_000)

    worth = value.value(reads, figures(NOW, read=100, quarantined=10), "PT5M", NOW)

    assert (worth.usage_part, worth.freshness_part, worth.quality_part) == (0.75, 1.0, 0.9)
    assert worth.score == pytest.approx(100 * (0.4 * 0.75 + 0.3 * 1.0 + 0.3 * 0.9), abs=0.05)


def test_usage_counts_reads_exports_consumers_and_rows_from_the_audit_log(hub: Hub) -> None:
    target = "roads.detector_observations"
    audit.append(hub.store, "person:a", Action.READ, target, {"rows": 10})
    audit.append(hub.store, "person:a", Action.EXPORT, target, {"rows": 500})
    audit.append(hub.store, "app:b", Action.READ, target, {"rows": 5})
    audit.append(hub.store, "app:b", Action.LOGIN, "person:b", {})
    audit.append(hub.store, "app:b", Action.READ, "roads.detector_stations", {"rows": 9})

    used = value.usage(hub.store, [target])

    assert used == {target: value.Usage(reads=3, consumers=2, rows_served=515)}
