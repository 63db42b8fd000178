"""Supervision rules on hand-made tracks: whole alarm records asserted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from shapely.geometry import box  # type: ignore[import-untyped]

from dthub.domains.vehicles.rules import (
    Alarm,
    Fix,
    Geofence,
    RuleConfig,
    drift,
    fatigue,
    geofences,
    overspeed,
)

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # 10:00 in Tianjin
NIGHT = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)  # 23:00 in Tianjin
CONFIG = RuleConfig()


def drive(speeds: Sequence[float], *, start: datetime = T0, every_s: int = 60) -> list[Fix]:
    """A coach east along 39.1 N, one fix every `every_s`, moving as fast as it says."""
    fixes, lon = [], 117.1
    for n, speed in enumerate(speeds):
        fixes.append(
            Fix(phone="13900000001", plate="津A12345", vehicle_class="coach",
                at=start + timedelta(seconds=n * every_s), lon=round(lon, 6), lat=39.1, speed_kmh=speed)
        )  # fmt: skip
        lon += speed * every_s / 3600 / 86.5
    return fixes


def test_two_fixes_over_the_coach_limit_are_one_overspeed_alarm() -> None:
    fixes = drive([60, 120, 110, 60])
    assert overspeed(fixes, config=CONFIG) == [
        Alarm(rule="overspeed", severity="low", phone="13900000001", plate="津A12345",
              started_at=T0 + timedelta(minutes=1), ended_at=T0 + timedelta(minutes=2),
              detail="max 120 km/h over the limit 100 km/h", evidence=tuple(fixes[1:3]))
    ]  # fmt: skip


def test_at_night_the_limit_is_80_percent() -> None:
    fixes = drive([60, 90, 60], start=NIGHT)
    (alarm,) = overspeed(fixes, config=CONFIG)
    assert (alarm.started_at, alarm.detail) == (
        NIGHT + timedelta(minutes=1),
        "max 90 km/h over the limit 80 km/h",
    )


def test_five_hours_without_rest_is_one_fatigue_episode() -> None:
    fixes = drive([60] * 301)
    (alarm,) = fatigue(fixes, config=CONFIG)
    assert (alarm.rule, alarm.started_at, alarm.ended_at) == (
        "fatigue.continuous", T0, T0 + timedelta(hours=4, minutes=1)
    )  # fmt: skip


def test_a_twenty_minute_rest_resets_continuous_driving() -> None:
    fixes = drive([60] * 180 + [0] * 21 + [60] * 180)
    assert fatigue(fixes, config=CONFIG) == []


def test_a_jump_of_50_km_in_a_minute_is_drift() -> None:
    fixes = drive([60, 60, 60])
    jumped = [fixes[0], Fix(**{**fixes[1].__dict__, "lat": 39.55}), fixes[2]]
    assert [(a.rule, a.started_at) for a in drift(jumped, config=CONFIG)] == [
        ("drift", T0),
        ("drift", T0 + timedelta(minutes=1)),
    ]


def test_entering_and_leaving_a_watched_area_are_two_alarms() -> None:
    fixes = drive([60] * 10)
    area = Geofence("港区", box(fixes[3].lon - 0.001, 39.0, fixes[6].lon + 0.001, 39.2))
    assert [(a.rule, a.started_at, a.detail) for a in geofences(fixes, areas=[area])] == [
        ("geofence.entry", T0 + timedelta(minutes=3), "entered 港区"),
        ("geofence.exit", T0 + timedelta(minutes=7), "left 港区"),
    ]
