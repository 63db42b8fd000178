"""Daily KPIs per enterprise on hand-made fixes, registry and alarms: whole KPI records asserted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dthub.domains.vehicles.kpis import EnterpriseKpis, daily_kpis
from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.rules import Alarm, Fix, RuleConfig

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # 10:00 in Tianjin, 2025-06-02
DAY = date(2025, 6, 2)


def vehicle(phone: str, enterprise: str) -> Vehicle:
    return Vehicle(phone=phone, plate=f"津A{phone[-5:]}", plate_colour=2, vehicle_class="coach",
                   enterprise=enterprise, terminal_id=phone, auth_code="x")  # fmt: skip


REGISTRY = {
    v.phone: v for v in (vehicle("1001", "甲公司"), vehicle("1002", "甲公司"), vehicle("2001", "乙公司"))
}


def fix(phone: str, seconds: float, *, speed: float = 60, lon: float | None = None, lat: float = 39.1) -> Fix:
    """A fix moving east at 60 km/h from 117.1 E, `seconds` after T0."""
    east = 117.1 + 60 * seconds / 3600 / 86.5 if lon is None else lon
    return Fix(phone=phone, plate=None, vehicle_class="coach", at=T0 + timedelta(seconds=seconds),
               lon=east, lat=lat, speed_kmh=speed)  # fmt: skip


def alarm(rule: str, phone: str, at: datetime) -> Alarm:
    return Alarm(rule=rule, severity="low", phone=phone, plate=None, started_at=at, ended_at=at, detail="",
                 evidence=())  # fmt: skip


def test_kpis_of_two_enterprises_over_a_hand_made_day() -> None:
    fixes = [
        # 1001: 30 s apart, then a 150 s gap while driving (5 expected, 1 received); one speed of 300 km/h
        *(fix("1001", s) for s in (0, 30, 60)),
        fix("1001", 90, speed=300),
        fix("1001", 240),
        fix("1001", -86_400),  # the day before: left out
        # 2001: parked, one fix 0.5° north of the others: drift
        *(fix("2001", s, speed=0, lon=117.2, lat=lat)
          for s, lat in ((0, 39.1), (30, 39.6), (60, 39.1), (90, 39.1))),
        fix("9999", 0),  # not registered: left out
    ]  # fmt: skip
    alarms = [
        alarm("overspeed", "1001", T0),
        alarm("device.emergency", "1001", T0),
        alarm("drift", "2001", T0),
        alarm("overspeed", "1002", T0 - timedelta(days=1)),
    ]
    assert daily_kpis(fixes, REGISTRY, alarms, day=DAY, rules=RuleConfig()) == [
        EnterpriseKpis(enterprise="乙公司", day=DAY, vehicles=1, online=1, online_rate=1.0, fixes=4,
                       driving_fixes=0, expected_fixes=0, track_completeness=None, qualified_fixes=4,
                       data_qualified_rate=1.0, drift_fixes=1, drift_rate=0.25, violations=1,
                       violations_per_100=100.0),
        EnterpriseKpis(enterprise="甲公司", day=DAY, vehicles=2, online=1, online_rate=0.5, fixes=5,
                       driving_fixes=4, expected_fixes=8, track_completeness=0.5, qualified_fixes=4,
                       data_qualified_rate=0.8, drift_fixes=0, drift_rate=0.0, violations=1,
                       violations_per_100=50.0),
    ]  # fmt: skip


def test_more_fixes_than_the_interval_expects_cap_completeness_at_one() -> None:
    fixes = [fix("2001", s) for s in range(0, 60, 5)]  # 11 intervals of 5 s: 55 s, 2 fixes expected
    (kpis,) = daily_kpis(fixes, {"2001": REGISTRY["2001"]}, [], day=DAY, rules=RuleConfig())
    assert (kpis.driving_fixes, kpis.expected_fixes, kpis.track_completeness) == (11, 2, 1.0)


def test_a_registered_enterprise_without_any_fix_is_offline_with_no_rates() -> None:
    (one,) = daily_kpis([], {"1002": REGISTRY["1002"]}, [], day=DAY, rules=RuleConfig())
    assert one == EnterpriseKpis(
        enterprise="甲公司", day=DAY, vehicles=1, online=0, online_rate=0.0, fixes=0, driving_fixes=0,
        expected_fixes=0, track_completeness=None, qualified_fixes=0, data_qualified_rate=None, drift_fixes=0,
        drift_rate=None, violations=0, violations_per_100=0.0,
    )  # fmt: skip
