"""Supervision rules on hand-made tracks: whole alarm records asserted."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from shapely.geometry import LineString, box  # type: ignore[import-untyped]

from dthub.domains.vehicles.rules import (
    WEEK_44H,
    Alarm,
    ClassLimits,
    Fix,
    Geofence,
    RuleConfig,
    TrackRules,
    device_alarms,
    drift,
    evaluate,
    fatigue,
    geofences,
    latest,
    night_coach,
    offline_in_service,
    offline_movement,
    overspeed,
    route_deviation,
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
    jumped = [fixes[0], replace(fixes[1], lat=39.55), fixes[2]]
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


def test_nine_hours_in_24_with_rests_is_daily_fatigue_only() -> None:
    fixes = drive([60] * 180 + [0] * 31 + [60] * 180 + [0] * 31 + [60] * 181)
    end = T0 + timedelta(hours=9, minutes=3)
    driven = tuple(b for a, b in itertools.pairwise(fixes) if a.speed_kmh >= 5 and b.at <= end)
    assert fatigue(fixes, config=CONFIG) == [
        Alarm(rule="fatigue.daily", severity="high", phone="13900000001", plate="津A12345",
              started_at=T0 + timedelta(minutes=1), ended_at=end,
              detail="8.02 h of driving within 24 h (limit 8 h)", evidence=driven)
    ]  # fmt: skip


def test_a_coach_moving_at_half_past_two_local_is_night_driving() -> None:
    fixes = drive([60, 60, 0], start=datetime(2025, 6, 1, 18, 30, tzinfo=UTC))  # 02:30 in Tianjin
    assert night_coach(fixes, config=CONFIG) == [
        Alarm(rule="night_driving", severity="high", phone="13900000001", plate="津A12345",
              started_at=fixes[0].at, ended_at=fixes[1].at,
              detail="moving 2 fixes in the banned hours (local)", evidence=tuple(fixes[:2]))
    ]  # fmt: skip


def test_a_taxi_moving_at_half_past_two_is_not_night_driving() -> None:
    fixes = drive([60, 60], start=datetime(2025, 6, 1, 18, 30, tzinfo=UTC))
    assert night_coach([replace(f, vehicle_class="taxi") for f in fixes], config=CONFIG) == []


def test_device_alarm_bits_raise_once_when_set() -> None:
    fixes = [replace(f, alarm_word=word) for f, word in zip(drive([60] * 4), [0, 0b11, 0b11, 0], strict=True)]
    assert device_alarms(fixes) == [
        Alarm(rule=f"device.{name}", severity="medium", phone="13900000001", plate="津A12345",
              started_at=fixes[1].at, ended_at=fixes[1].at, detail=f"terminal reported {name}",
              evidence=(fixes[1],))
        for name in ("emergency", "overspeed")
    ]  # fmt: skip


def test_silence_of_25_minutes_in_service_is_offline_until_now() -> None:
    fixes = drive([60, 60])
    now = fixes[1].at + timedelta(minutes=25)
    assert offline_in_service(fixes, now=now, config=CONFIG) == [
        Alarm(rule="offline", severity="medium", phone="13900000001", plate="津A12345",
              started_at=fixes[1].at, ended_at=now,
              detail="no report for 25 min while in service (limit 20 min)", evidence=(fixes[1],))
    ]  # fmt: skip


def test_a_gap_between_fixes_in_service_is_offline_and_out_of_service_is_not() -> None:
    fixes = drive([60, 60])
    gap = [fixes[0], replace(fixes[1], at=T0 + timedelta(minutes=30))]
    assert offline_in_service(gap, now=None, config=CONFIG) == [
        Alarm(rule="offline", severity="medium", phone="13900000001", plate="津A12345",
              started_at=T0, ended_at=T0 + timedelta(minutes=30),
              detail="no report for 30 min while in service (limit 20 min)", evidence=tuple(gap))
    ]  # fmt: skip
    parked = [replace(f, status_word=1 << 4) for f in gap]
    assert offline_in_service(parked, now=T0 + timedelta(hours=5), config=CONFIG) == []


def test_dangerous_goods_moving_8_km_while_offline_is_offline_movement() -> None:
    first, second = (replace(f, vehicle_class="dangerous_goods") for f in drive([60, 60]))
    back = replace(second, at=T0 + timedelta(minutes=30), lon=117.2)
    assert offline_movement([first, back], config=CONFIG) == [
        Alarm(rule="offline_movement", severity="high", phone="13900000001", plate="津A12345",
              started_at=T0, ended_at=T0 + timedelta(minutes=30),
              detail="moved 8629 m while offline for 30 min (limit 1000 m)", evidence=(first, back))
    ]  # fmt: skip
    assert offline_movement([replace(first, vehicle_class="coach"), back], config=CONFIG) == []


def test_a_fix_1_km_off_the_assigned_route_is_a_deviation() -> None:
    fixes = drive([60] * 5)
    fixes[2] = replace(fixes[2], lat=39.11)
    route = LineString([(117.0, 39.1), (117.3, 39.1)])
    assert route_deviation(fixes, route=route, config=CONFIG) == [
        Alarm(rule="route_deviation", severity="medium", phone="13900000001", plate="津A12345",
              started_at=fixes[2].at, ended_at=fixes[2].at,
              detail="up to 1112 m off the assigned route (limit 500 m)", evidence=(fixes[2],))
    ]  # fmt: skip


def test_44_hours_in_7_days_is_weekly_fatigue_for_a_coach_not_for_a_taxi() -> None:
    # 6 days of 7.5 h a day (three 2.5 h stints with 30 min rests): 45 h > 44 h, never 8 h in 24 h
    day = [60.0] * 150 + [0.0] * 31 + [60.0] * 150 + [0.0] * 31 + [60.0] * 150 + [0.0]
    fixes = [replace(f, at=f.at + timedelta(days=n)) for n in range(6) for f in drive(day)]
    found = fatigue(fixes, config=CONFIG)
    assert [(a.rule, a.started_at, a.evidence[-1].at) for a in found] == [
        ("fatigue.weekly", T0, T0 + timedelta(days=5, hours=7, minutes=33))
    ]
    assert found[0].detail == "44.02 h of driving within 7 days (limit 44 h)"
    assert fatigue([replace(f, vehicle_class="taxi") for f in fixes], config=CONFIG) == []


def _scenario() -> tuple[list[Fix], list[Geofence], LineString]:
    """15 h of a coach that does a bit of everything: speeds, rests, drifts, leaves its route, falls
    silent, crosses areas, raises device alarms, drives through the night."""
    rng = random.Random(7)
    speeds = [rng.choice([0, 30, 60, 60, 90, 110, 125]) for _ in range(900)]
    fixes = drive(speeds, start=datetime(2025, 6, 1, 12, 0, tzinfo=UTC), every_s=60)
    for n in rng.sample(range(len(fixes)), 12):
        fixes[n] = replace(fixes[n], lat=fixes[n].lat + rng.choice([0.02, 0.3]))  # off route, drift
    for n in rng.sample(range(len(fixes)), 8):
        fixes[n] = replace(fixes[n], alarm_word=rng.choice([1, 2, 6]))
    gaps = sorted(rng.sample(range(1, len(fixes)), 5))
    shifted, extra = [], timedelta(0)
    for n, fix in enumerate(fixes):
        extra += timedelta(minutes=35) if n in gaps else timedelta(0)
        shifted.append(replace(fix, at=fix.at + extra))
    area = Geofence("港区", box(117.15, 39.0, 117.25, 39.2))
    forbidden = Geofence("水源保护区", box(117.3, 39.0, 117.32, 39.2), forbidden=True)
    return shifted, [area, forbidden], LineString([(117.0, 39.1), (118.5, 39.1)])


def test_any_split_into_feeds_ends_with_exactly_the_alarms_of_one_feed() -> None:
    fixes, areas, route = _scenario()
    coach = ClassLimits(speed_limit_kmh=100, banned_hours=(2, 5), overspeed_min_s=90,
                        max_weekly_driving_s=WEEK_44H)  # fmt: skip
    config = RuleConfig(classes={"coach": coach})
    whole = evaluate(fixes, config=config, areas=areas, route=route)
    assert {a.rule for a in whole} >= {
        "overspeed", "fatigue.continuous", "night_driving", "drift", "geofence.entry", "geofence.exit",
        "forbidden_area", "device.emergency", "device.overspeed", "offline", "route_deviation",
    }  # fmt: skip
    rng = random.Random(11)
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(fixes)), rng.randint(1, 60)))
        rules = TrackRules(config=config, areas=areas, route=route)
        found = []
        for start, end in itertools.pairwise([0, *cuts, len(fixes)]):
            found += rules.feed(fixes[start:end])
        assert latest(found) == whole
    # one fix at a time, with every fix redelivered once
    rules = TrackRules(config=config, areas=areas, route=route)
    found = [a for fix in fixes for a in rules.feed([fix, fix])]
    assert latest(found) == whole


def test_the_rules_clock_reads_night_and_hour_as_the_local_time_does() -> None:
    """The rules read night and the local hour from µs ints and a cached offset per UTC hour: the same
    answers as converting each instant to Asia/Shanghai, at the window's edges to the microsecond."""
    from datetime import time

    from dthub.domains.vehicles.rules import LOCAL, _Clock, _micros

    rng = random.Random(808)
    edges = [datetime(2026, 11, 25, h, tzinfo=UTC) + timedelta(microseconds=d)
             for h in (13, 14, 21, 22, 23) for d in (-1, 0, 1)]  # fmt: skip
    spread = [
        datetime(1995, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**15)) for _ in range(3000)
    ]
    for night in ((time(22), time(6)), (time(1, 30, 0, 5), time(4)), (time(0), time(0))):
        config = RuleConfig(night=night)
        clock = _Clock(night)
        for at in edges + spread:
            local = at.astimezone(LOCAL)
            assert clock(_micros(at)) == (config.is_night(at), local.hour), (night, at)
