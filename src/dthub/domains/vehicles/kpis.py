"""Daily KPIs per enterprise (联网联控考核指标): online rate, track completeness, data-qualified rate,
drift rate and violations per 100 vehicles, from typed fixes, the registry and the alarms.

`reference/standards.md` §2 names the national network appraisal indicators (交运发〔2014〕267号, revised
2016) but not their formulas; these definitions are ⚠️ project conventions, documented in `docs/api.md`:

- online rate: registered vehicles with at least one fix that local day / registered vehicles;
- track completeness: fixes received while driving / fixes expected at `report_interval_s` while driving,
  capped at 1. Driving is each interval between consecutive fixes that both move (>= `moving_kmh`); each
  received 1 fix, and a vehicle expects round(seconds driven / `report_interval_s`);
- data-qualified rate: fixes with valid coordinates (in range, not 0/0), time (not more than
  `clock_skew_s` after the gateway received it) and speed (0 to `max_valid_speed_kmh`) / all fixes;
- drift rate: drift fixes / all fixes, a fix drifting when its implied speed from the last fix that did
  not drift exceeds `drift_kmh` (a spike out and back counts once);
- violations per 100 vehicles: alarms started that local day, less the device's own (`device.*`) and
  geofence notices (`geofence.*`), × 100 / registered vehicles.

The day is the local (Asia/Shanghai) calendar day; fixes of unregistered terminals are left out. A rate
over nothing (no fixes, no driving) is None. `read_day` is the shell that reads the lake and the store.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from dthub.domains.vehicles.datasets import LOCATION_REPORTS
from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.rules import LOCAL, Alarm, Fix, RuleConfig, distance_m
from dthub.domains.vehicles.tables import AlarmRow
from dthub.hub.core import Hub

NOT_VIOLATIONS = ("device.", "geofence.")
"""Rule-key prefixes that are notices, not violations: what the terminal reports, geofence entry/exit."""


@dataclass(frozen=True, kw_only=True)
class KpiConfig:
    """Conventions of the KPIs (⚠️ not standard text)."""

    report_interval_s: float = 30.0
    """Reporting interval while driving (terminal parameter 0x0029, commonly 30 s)."""
    max_valid_speed_kmh: float = 220.0
    clock_skew_s: float = 300.0
    """A fix timed more than this after its reception has a bad time."""


@dataclass(frozen=True, kw_only=True)
class EnterpriseKpis:
    """One enterprise's KPIs for one local day."""

    enterprise: str
    day: date
    vehicles: int
    online: int
    online_rate: float | None
    fixes: int
    driving_fixes: int
    expected_fixes: int
    track_completeness: float | None
    qualified_fixes: int
    data_qualified_rate: float | None
    drift_fixes: int
    drift_rate: float | None
    violations: int
    violations_per_100: float | None


def qualified(fix: Fix, config: KpiConfig) -> bool:
    """Valid coordinates, time and speed."""
    coordinates = -180 <= fix.lon <= 180 and -90 <= fix.lat <= 90 and (fix.lon, fix.lat) != (0.0, 0.0)
    on_time = fix.received_at is None or (fix.at - fix.received_at).total_seconds() <= config.clock_skew_s
    return coordinates and on_time and 0 <= fix.speed_kmh <= config.max_valid_speed_kmh


def drift_fixes(fixes: Sequence[Fix], *, drift_kmh: float) -> int:
    """Fixes whose implied speed from the last fix that did not drift exceeds `drift_kmh`."""
    count, anchor = 0, None
    for fix in fixes:
        if anchor is not None:
            seconds = (fix.at - anchor.at).total_seconds()
            metres = distance_m(anchor, fix)
            implied = metres / seconds * 3.6 if seconds > 0 else float("inf") if metres > 0 else 0.0
            if implied > drift_kmh:
                count += 1
                continue
        anchor = fix
    return count


def _driving(fixes: Sequence[Fix], moving_kmh: float, interval_s: float) -> tuple[int, int]:
    """(received, expected) fixes over the intervals driven."""
    received, seconds = 0, 0.0
    for previous, fix in itertools.pairwise(fixes):
        if previous.speed_kmh >= moving_kmh and fix.speed_kmh >= moving_kmh:
            received += 1
            seconds += (fix.at - previous.at).total_seconds()
    return received, round(seconds / interval_s)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def daily_kpis(
    fixes: Iterable[Fix],
    vehicles: Mapping[str, Vehicle],
    alarms: Iterable[Alarm],
    *,
    day: date,
    rules: RuleConfig,
    config: KpiConfig | None = None,
) -> list[EnterpriseKpis]:
    """The KPIs of each enterprise of the registry for local `day`, by enterprise name."""
    config = config or KpiConfig()
    tracks: dict[str, list[Fix]] = defaultdict(list)
    for fix in fixes:
        if fix.phone in vehicles and fix.at.astimezone(LOCAL).date() == day:
            tracks[fix.phone].append(fix)
    violations: dict[str, int] = defaultdict(int)
    for alarm in alarms:
        vehicle = vehicles.get(alarm.phone)
        if vehicle and alarm.started_at.astimezone(LOCAL).date() == day:
            violations[vehicle.enterprise] += not alarm.rule.startswith(NOT_VIOLATIONS)
    fleets: dict[str, list[str]] = defaultdict(list)
    for phone, vehicle in vehicles.items():
        fleets[vehicle.enterprise].append(phone)
    kpis = []
    for enterprise, phones in sorted(fleets.items()):
        online = total = driving = expected = good = drifting = 0
        for phone in phones:
            track = sorted(tracks.get(phone, ()), key=lambda f: f.at)
            online += bool(track)
            total += len(track)
            received, wanted = _driving(track, rules.moving_kmh, config.report_interval_s)
            driving, expected = driving + received, expected + wanted
            good += sum(qualified(f, config) for f in track)
            drifting += drift_fixes(track, drift_kmh=rules.drift_kmh)
        completeness = _rate(driving, expected)
        kpis.append(
            EnterpriseKpis(
                enterprise=enterprise,
                day=day,
                vehicles=len(phones),
                online=online,
                online_rate=_rate(online, len(phones)),
                fixes=total,
                driving_fixes=driving,
                expected_fixes=expected,
                track_completeness=None if completeness is None else min(1.0, completeness),
                qualified_fixes=good,
                data_qualified_rate=_rate(good, total),
                drift_fixes=drifting,
                drift_rate=_rate(drifting, total),
                violations=violations[enterprise],
                violations_per_100=_rate(100 * violations[enterprise], len(phones)),
            )
        )
    return kpis


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day as [start, end) in UTC."""
    start = datetime.combine(day, time(), LOCAL).astimezone(UTC)
    return start, start + timedelta(days=1)


FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)
"""Days whose local bounds are representable (the day after LAST_DAY would overflow)."""


def read_day(
    hub: Hub,
    day: date,
    *,
    vehicles: Mapping[str, Vehicle],
    rules: RuleConfig,
    config: KpiConfig | None = None,
) -> list[EnterpriseKpis]:
    """`daily_kpis` over the lake's location reports and the stored alarms of local `day`."""
    start, end = day_bounds(day)
    naive = (start.replace(tzinfo=None), end.replace(tzinfo=None))
    con = hub.connect()
    try:
        table = hub.table(LOCATION_REPORTS.id, con)
        table = table.filter((table.reported_at >= naive[0]) & (table.reported_at < naive[1]))
        columns = ("phone", "reported_at", "received_at", "lon", "lat", "speed_kmh", "status_word")
        rows = table.select(*columns).to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    fixes = [
        Fix(phone=row["phone"], plate=None, vehicle_class=None, at=_utc(row["reported_at"]),
            received_at=_utc(row["received_at"]) if row["received_at"] else None, lon=row["lon"],
            lat=row["lat"], speed_kmh=row["speed_kmh"], status_word=row["status_word"] or 0)
        for row in rows
        if row["lon"] is not None and row["lat"] is not None and row["speed_kmh"] is not None
    ]  # fmt: skip
    query = select(AlarmRow).where(AlarmRow.started_at >= start, AlarmRow.started_at < end)
    with hub.store.session() as session:
        alarms = [
            Alarm(rule=row.rule, severity=row.severity, phone=row.phone, plate=row.plate,
                  started_at=_utc(row.started_at), ended_at=_utc(row.ended_at), detail=row.detail,
                  evidence=())
            for row in session.scalars(query)
        ]  # fmt: skip
    return daily_kpis(fixes, vehicles, alarms, day=day, rules=rules, config=config)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
