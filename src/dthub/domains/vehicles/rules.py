"""Supervision rules (动态监控规则) over a vehicle's fixes: pure functions, limits as arguments.

Defaults follow `reference/standards.md` §2 (道路运输车辆动态监督管理办法; 道路旅客运输企业安全管理规范
Art. 38): at most 4 h of continuous driving by day and 2 h at night, a rest of at least 20 min, at most
8 h in 24 h, night speed at most 80 % of the day limit, long-distance coaches stopped 02:00-05:00. The night
window (22:00-06:00), the class speed limits and the drift threshold are ⚠️ project conventions: they are
fields of `ClassLimits` / `RuleConfig`, never constants in the rules.

Every rule takes one vehicle's fixes, oldest first, and returns `Alarm`s whose `id` depends only on the
rule, the terminal and the first fix: evaluating a longer track again finds the same alarms again.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from math import asin, cos, radians, sin, sqrt
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import LineString, Point, Polygon  # type: ignore[import-untyped]

from dthub.domains.vehicles.jt808 import Version
from dthub.domains.vehicles.jt808.codes import alarm_flags

LOCAL = ZoneInfo("Asia/Shanghai")
EARTH_RADIUS_M = 6_371_008.8
OUT_OF_SERVICE = 1 << 4
"""Status bit 4 (停运): set while the vehicle is out of service."""


@dataclass(frozen=True, kw_only=True)
class Fix:
    """One location report of a vehicle, as the rules read it."""

    phone: str
    plate: str | None
    vehicle_class: str | None
    at: datetime  # UTC
    lon: float
    lat: float
    speed_kmh: float
    alarm_word: int = 0
    status_word: int = 0
    received_at: datetime | None = None  # UTC; when the gateway received it, where known

    @property
    def in_service(self) -> bool:
        """Status bit 4 (停运) clear."""
        return not self.status_word & OUT_OF_SERVICE


@dataclass(frozen=True, kw_only=True)
class Alarm:
    """A violation with its evidence (the fixes that show it)."""

    rule: str
    severity: str
    phone: str
    plate: str | None
    started_at: datetime
    ended_at: datetime
    detail: str
    evidence: tuple[Fix, ...] = field(repr=False)

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.phone}:{self.started_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


class ClassLimits(BaseModel):
    """Limits of one vehicle class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed_limit_kmh: float = Field(description="⚠️ Class speed limit where no segment limit is known, km/h.")
    night_speed_ratio: float = Field(default=0.8, description="Night limit as a share of the day limit.")
    overspeed_min_s: int = Field(default=0, description="⚠️ Shortest overspeed stretch that is an alarm, s.")
    max_day_driving_s: int = Field(default=14_400, description="Continuous driving by day, s (4 h).")
    max_night_driving_s: int = Field(default=7_200, description="Continuous driving at night, s (2 h).")
    min_rest_s: int = Field(default=1_200, description="A stop this long or longer is a rest, s (20 min).")
    max_daily_driving_s: int = Field(default=28_800, description="Driving in any 24 h, s (8 h).")
    banned_hours: tuple[int, int] | None = Field(
        default=None, description="Local hours [start, end) the class must not move (coach: 2-5)."
    )


class RuleConfig(BaseModel):
    """The supervision configuration: limits per vehicle class, and the conventions all classes share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: Mapping[str, ClassLimits] = Field(
        default_factory=lambda: {
            "coach": ClassLimits(speed_limit_kmh=100, banned_hours=(2, 5)),
            "bus": ClassLimits(speed_limit_kmh=80),
            "taxi": ClassLimits(speed_limit_kmh=80),
            "dangerous_goods": ClassLimits(speed_limit_kmh=80),
            "heavy_truck": ClassLimits(speed_limit_kmh=90),
        },
        description="⚠️ Limits per class; an unknown class gets `default`.",
    )
    default: ClassLimits = Field(default_factory=lambda: ClassLimits(speed_limit_kmh=100))
    night: tuple[time, time] = Field(default=(time(22), time(6)), description="⚠️ Night window, local time.")
    moving_kmh: float = Field(default=5.0, description="Slower than this counts as stopped, km/h.")
    drift_kmh: float = Field(default=160.0, description="⚠️ Implied speed between fixes that is drift, km/h.")
    offline_s: int = Field(
        default=1_200, description="⚠️ No report this long while in service is offline (离线), s (20 min)."
    )
    offline_move_m: float = Field(
        default=1_000.0, description="⚠️ Moving farther than this across an offline gap is 离线位移, m."
    )
    offline_move_classes: tuple[str, ...] = Field(
        default=("dangerous_goods",), description="Classes whose movement while offline is an alarm."
    )
    route_deviation_m: float = Field(
        default=500.0, description="⚠️ A fix farther than this from its assigned route deviates, m."
    )

    def limits(self, vehicle_class: str | None) -> ClassLimits:
        return self.classes.get(vehicle_class or "", self.default)

    def is_night(self, at: datetime) -> bool:
        local = at.astimezone(LOCAL).time()
        start, end = self.night
        return local >= start or local < end if start > end else start <= local < end


@dataclass(frozen=True)
class Geofence:
    """A named area: `forbidden` ones raise on entry (high), others on entry and exit (low)."""

    name: str
    polygon: Polygon
    forbidden: bool = False


def distance_m(a: Fix, b: Fix) -> float:
    """Great-circle distance between two fixes, m (haversine)."""
    dlat, dlon = radians(b.lat - a.lat), radians(b.lon - a.lon)
    h = sin(dlat / 2) ** 2 + cos(radians(a.lat)) * cos(radians(b.lat)) * sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(h)))


def _stretches(fixes: Sequence[Fix], inside: Callable[[Fix], bool]) -> list[list[Fix]]:
    """Runs of consecutive fixes for which `inside` holds."""
    runs: list[list[Fix]] = []
    current: list[Fix] = []
    for fix in fixes:
        if inside(fix):
            current.append(fix)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _alarm(rule: str, severity: str, evidence: Sequence[Fix], detail: str) -> Alarm:
    first = evidence[0]
    return Alarm(
        rule=rule,
        severity=severity,
        phone=first.phone,
        plate=first.plate,
        started_at=first.at,
        ended_at=evidence[-1].at,
        detail=detail,
        evidence=tuple(evidence),
    )


def overspeed(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Each run of fixes above the class limit (80 % of it at night) lasting `overspeed_min_s` or more."""

    def limit(fix: Fix) -> float:
        limits = config.limits(fix.vehicle_class)
        ratio = limits.night_speed_ratio if config.is_night(fix.at) else 1.0
        return limits.speed_limit_kmh * ratio

    alarms = []
    for run in _stretches(fixes, lambda f: f.speed_kmh > limit(f)):
        limits = config.limits(run[0].vehicle_class)
        if (run[-1].at - run[0].at).total_seconds() < limits.overspeed_min_s:
            continue
        top = max(run, key=lambda f: f.speed_kmh)
        excess = top.speed_kmh / limit(top) - 1
        alarms.append(
            _alarm(
                "overspeed",
                "high" if excess >= 0.5 else "medium" if excess >= 0.2 else "low",
                run,
                f"max {top.speed_kmh:g} km/h over the limit {limit(top):g} km/h",
            )
        )
    return alarms


def fatigue(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Continuous driving over the day (4 h) or night (2 h) limit without a rest of `min_rest_s`
    (`fatigue.continuous`), and over `max_daily_driving_s` within 24 h (`fatigue.daily`)."""
    alarms: list[Alarm] = []
    if len(fixes) < 2:
        return alarms
    limits = config.limits(fixes[0].vehicle_class)
    stretch: list[Fix] = []
    driving_s = 0.0
    raised = False
    stopped_since: datetime | None = None
    intervals: list[tuple[Fix, float]] = []  # (fix at the end of a driven interval, its seconds)
    for previous, fix in itertools.pairwise(fixes):
        gap = (fix.at - previous.at).total_seconds()
        if previous.speed_kmh >= config.moving_kmh:
            stopped_since = None
            if not stretch:
                stretch, driving_s, raised = [previous], 0.0, False
            driving_s += gap
            stretch.append(fix)
            intervals.append((fix, gap))
            limit = limits.max_night_driving_s if config.is_night(fix.at) else limits.max_day_driving_s
            if driving_s > limit and not raised:
                raised = True
                alarms.append(
                    _alarm(
                        "fatigue.continuous",
                        "high",
                        stretch,
                        f"{driving_s / 3600:.2f} h of driving without a {limits.min_rest_s // 60} min rest "
                        f"(limit {limit / 3600:g} h)",
                    )
                )
        else:
            stopped_since = stopped_since or previous.at
            if (fix.at - stopped_since).total_seconds() >= limits.min_rest_s:
                stretch = []
    window: list[tuple[Fix, float]] = []
    total = 0.0
    for fix, seconds in intervals:
        window.append((fix, seconds))
        total += seconds
        while (fix.at - window[0][0].at).total_seconds() > 86_400:
            total -= window.pop(0)[1]
        if total > limits.max_daily_driving_s:
            evidence = [f for f, _ in window]
            alarms.append(
                _alarm(
                    "fatigue.daily",
                    "high",
                    evidence,
                    f"{total / 3600:.2f} h of driving within 24 h "
                    f"(limit {limits.max_daily_driving_s / 3600:g} h)",
                )
            )
            break
    return alarms


def night_coach(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Runs of fixes of a class with banned hours (coaches: 02:00-05:00 local) moving in those hours."""

    def banned(fix: Fix) -> bool:
        hours = config.limits(fix.vehicle_class).banned_hours
        if hours is None or fix.speed_kmh < config.moving_kmh:
            return False
        return hours[0] <= fix.at.astimezone(LOCAL).hour < hours[1]

    return [
        _alarm("night_driving", "high", run, f"moving {len(run)} fixes in the banned hours (local)")
        for run in _stretches(fixes, banned)
    ]


def drift(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Consecutive fixes whose implied speed exceeds `drift_kmh` (卫星定位漂移)."""
    alarms = []
    for previous, fix in itertools.pairwise(fixes):
        seconds = (fix.at - previous.at).total_seconds()
        metres = distance_m(previous, fix)
        implied = metres / seconds * 3.6 if seconds > 0 else float("inf") if metres > 0 else 0.0
        if implied > config.drift_kmh:
            alarms.append(
                _alarm(
                    "drift",
                    "low",
                    (previous, fix),
                    f"{metres:.0f} m in {seconds:g} s: implied {implied:.0f} km/h over {config.drift_kmh:g}",
                )
            )
    return alarms


def geofences(fixes: Sequence[Fix], *, areas: Sequence[Geofence]) -> list[Alarm]:
    """Entry into (and, for watched areas, exit from) each area, between consecutive fixes."""
    alarms = []
    for area in areas:
        for previous, fix in itertools.pairwise(fixes):
            was = area.polygon.contains(Point(previous.lon, previous.lat))
            now = area.polygon.contains(Point(fix.lon, fix.lat))
            if now and not was:
                kind, severity = ("forbidden_area", "high") if area.forbidden else ("geofence.entry", "low")
                alarms.append(_alarm(kind, severity, (fix,), f"entered {area.name}"))
            elif was and not now and not area.forbidden:
                alarms.append(_alarm("geofence.exit", "low", (fix,), f"left {area.name}"))
    return alarms


def device_alarms(fixes: Sequence[Fix], *, version: Version = Version.JT2013) -> list[Alarm]:
    """Alarm bits the terminal raised (set in a fix, clear in the one before), one alarm per bit."""
    alarms = []
    before: frozenset[str] = frozenset()
    for fix in fixes:
        now = alarm_flags(fix.alarm_word, version)
        for name in sorted(now - before):
            alarms.append(_alarm(f"device.{name}", "medium", (fix,), f"terminal reported {name}"))
        before = now
    return alarms


def offline_in_service(fixes: Sequence[Fix], *, now: datetime | None, config: RuleConfig) -> list[Alarm]:
    """Each silence of more than `offline_s` after a fix in service (在线离线): between two fixes, and,
    given `now`, after the last one (then `ended_at` is `now`, and grows while the silence lasts)."""
    alarms = []
    limit = config.offline_s
    pairs: list[tuple[Fix, Fix | None]] = list(itertools.pairwise(fixes))
    if fixes and now is not None:
        pairs.append((fixes[-1], None))
    for previous, fix in pairs:
        until = now if fix is None else fix.at
        assert until is not None
        silent_s = (until - previous.at).total_seconds()
        if previous.in_service and silent_s > limit:
            evidence = (previous,) if fix is None else (previous, fix)
            detail = f"no report for {silent_s / 60:.0f} min while in service (limit {limit / 60:g} min)"
            alarms.append(replace(_alarm("offline", "medium", evidence, detail), ended_at=until))
    return alarms


def offline_movement(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Vehicles of `offline_move_classes` (dangerous goods) that reappear after more than `offline_s`
    silent more than `offline_move_m` away (离线位移)."""
    alarms = []
    for previous, fix in itertools.pairwise(fixes):
        if previous.vehicle_class not in config.offline_move_classes:
            continue
        silent_s = (fix.at - previous.at).total_seconds()
        metres = distance_m(previous, fix)
        if silent_s > config.offline_s and metres > config.offline_move_m:
            detail = (
                f"moved {metres:.0f} m while offline for {silent_s / 60:.0f} min "
                f"(limit {config.offline_move_m:g} m)"
            )
            alarms.append(_alarm("offline_movement", "high", (previous, fix), detail))
    return alarms


def _local_metres(lon: float, lat: float, lat0: float) -> tuple[float, float]:
    """Equirectangular metres around latitude `lat0`: good to well under 1 % over a city."""
    k = radians(1) * EARTH_RADIUS_M
    return lon * k * cos(radians(lat0)), lat * k


def route_deviation(fixes: Sequence[Fix], *, route: LineString, config: RuleConfig) -> list[Alarm]:
    """Runs of fixes farther than `route_deviation_m` from the vehicle's assigned route (a lon/lat
    LineString; 偏离路线) for fixed-route vehicles."""
    if not fixes:
        return []
    lat0 = fixes[0].lat
    line = LineString([_local_metres(x, y, lat0) for x, y in route.coords])

    def off(fix: Fix) -> float:
        return float(line.distance(Point(_local_metres(fix.lon, fix.lat, lat0))))

    alarms = []
    for run in _stretches(fixes, lambda f: off(f) > config.route_deviation_m):
        worst = max(off(f) for f in run)
        detail = f"up to {worst:.0f} m off the assigned route (limit {config.route_deviation_m:g} m)"
        alarms.append(_alarm("route_deviation", "medium", run, detail))
    return alarms


def evaluate(
    fixes: Sequence[Fix],
    *,
    config: RuleConfig,
    areas: Sequence[Geofence] = (),
    route: LineString | None = None,
    now: datetime | None = None,
) -> list[Alarm]:
    """Every rule over one vehicle's fixes (oldest first), ordered by start then rule; `route` is the
    assigned route of a fixed-route vehicle, `now` closes the silence after the last fix."""
    alarms = [
        *overspeed(fixes, config=config),
        *fatigue(fixes, config=config),
        *night_coach(fixes, config=config),
        *drift(fixes, config=config),
        *geofences(fixes, areas=areas),
        *device_alarms(fixes),
        *offline_in_service(fixes, now=now, config=config),
        *offline_movement(fixes, config=config),
        *(route_deviation(fixes, route=route, config=config) if route is not None else ()),
    ]
    return sorted(alarms, key=lambda a: (a.started_at, a.rule))
