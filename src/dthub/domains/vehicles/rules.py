"""Supervision rules (动态监控规则) over a vehicle's fixes: pure functions, limits as arguments.

Defaults follow `reference/standards.md` §2 (道路运输车辆动态监督管理办法; 道路旅客运输企业安全管理规范
Art. 38): at most 4 h of continuous driving by day and 2 h at night, a rest of at least 20 min, at most
8 h in 24 h, night speed at most 80 % of the day limit, long-distance coaches stopped 02:00-05:00. The night
window (22:00-06:00), the class speed limits and the drift threshold are ⚠️ project conventions: they are
fields of `ClassLimits` / `RuleConfig`, never constants in the rules.

Every rule is incremental (增量计算): `TrackRules` keeps one vehicle's rule state (the fix before, the
open overspeed/night/deviation run, continuous-driving and rest accumulators, the 24 h and 7-day driving
windows) and `feed` reads only the new fixes. It returns the alarms those fixes raised or grew; a run
still open at the end of a feed comes back as it stands, and again, grown, by a later feed. An alarm's
`id` depends only on the rule, the terminal and its first fix, so the last version of each id after any
split of a track into feeds equals the alarm of one feed over the whole track (`evaluate`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from math import asin, cos, radians, sin, sqrt
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import LineString, Polygon  # type: ignore[import-untyped]

from dthub.domains.vehicles.jt808 import Version
from dthub.domains.vehicles.jt808.codes import alarm_flags

LOCAL = ZoneInfo("Asia/Shanghai")
EARTH_RADIUS_M = 6_371_008.8
OUT_OF_SERVICE = 1 << 4
"""Status bit 4 (停运): set while the vehicle is out of service."""
WEEK_44H = 44 * 3600
"""道路旅客运输企业安全管理规范 Art. 38: at most 44 h of driving in any 7 consecutive days (passenger)."""
DAY_S, WEEK_S = 86_400, 7 * 86_400


@dataclass(frozen=True, kw_only=True, slots=True)
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
    direction: int | None = None  # heading, degrees 0-359, where known

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
    max_weekly_driving_s: int | None = Field(
        default=None,
        description="Driving in any 7 consecutive days, s (passengers: 44 h = 158,400 s); None: no limit.",
    )
    banned_hours: tuple[int, int] | None = Field(
        default=None, description="Local hours [start, end) the class must not move (coach: 2-5)."
    )


class RuleConfig(BaseModel):
    """The supervision configuration: limits per vehicle class, and the conventions all classes share."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classes: Mapping[str, ClassLimits] = Field(
        default_factory=lambda: {
            "coach": ClassLimits(speed_limit_kmh=100, banned_hours=(2, 5), max_weekly_driving_s=WEEK_44H),
            "bus": ClassLimits(speed_limit_kmh=80, max_weekly_driving_s=WEEK_44H),
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

    def limits_of(self) -> Callable[[str | None], ClassLimits]:
        """`limits`, remembering each class's answer (the rules ask for every fix)."""
        known: dict[str | None, ClassLimits] = {}

        def of(vehicle_class: str | None) -> ClassLimits:
            found = known.get(vehicle_class)
            if found is None:
                found = known[vehicle_class] = self.limits(vehicle_class)
            return found

        return of

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


SpeedLimit = Callable[["Fix"], "tuple[float, str] | None"]
"""The posted limit where a fix is (km/h, and which segment), or None where no segment is known."""


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


def _local_metres(lon: float, lat: float, lat0: float) -> tuple[float, float]:
    """Equirectangular metres around latitude `lat0`: good to well under 1 % over a city."""
    k = radians(1) * EARTH_RADIUS_M
    return lon * k * cos(radians(lat0)), lat * k


class _Polyline:
    """Distance from a point to a lon/lat line, in local metres around the line's first point."""

    def __init__(self, line: LineString) -> None:
        coords = np.asarray(line.coords, dtype=float)
        self.lat0 = float(coords[0, 1])
        k = radians(1) * EARTH_RADIUS_M
        self.kx, self.ky = k * cos(radians(self.lat0)), k
        xy = coords * (self.kx, self.ky)
        self.a, ab = xy[:-1], xy[1:] - xy[:-1]
        self.ab, self.ab2 = ab, np.maximum((ab * ab).sum(axis=1), 1e-12)

    def distance_m(self, lon: float, lat: float) -> float:
        p = np.array((lon * self.kx, lat * self.ky))
        ap = p - self.a
        t = np.clip((ap * self.ab).sum(axis=1) / self.ab2, 0.0, 1.0)
        d = ap - self.ab * t[:, None]
        return float(np.sqrt((d * d).sum(axis=1).min()))


_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR_US, _DAY_US, _S_US = 3_600_000_000, 86_400_000_000, 1_000_000


def _micros(at: datetime) -> int:
    """Microseconds since the epoch (UTC), exact: the rules subtract and compare these ints instead of
    datetimes, with the same results (a difference over 10⁶ is what `timedelta.total_seconds` gives)."""
    return (at - _EPOCH) // _US


@lru_cache(maxsize=4_096)
def _offset_us(utc_hour: int) -> int | None:
    """`LOCAL`'s UTC offset throughout the UTC hour `utc_hour` (hours since the epoch), µs; None where it
    changes inside that hour (then the instant itself is converted)."""
    start = _EPOCH + timedelta(hours=utc_hour)
    first, last = start.astimezone(LOCAL).utcoffset(), (start + timedelta(hours=1) - _US).astimezone(LOCAL)
    if first is None or first != last.utcoffset():
        return None
    return first // _US


def _time_us(clock: time) -> int:
    return ((clock.hour * 60 + clock.minute) * 60 + clock.second) * _S_US + clock.microsecond


class _Clock:
    """Night or not, and the local hour, of an instant given in µs since the epoch: the local time of
    day from `LOCAL`'s offset per UTC hour (cached), compared as µs with the night window."""

    def __init__(self, night: tuple[time, time]) -> None:
        self.start, self.end = _time_us(night[0]), _time_us(night[1])
        self.wraps = night[0] > night[1]

    def __call__(self, us: int) -> tuple[bool, int]:
        offset = _offset_us(us // _HOUR_US)
        if offset is None:
            local = (_EPOCH + us * _US).astimezone(LOCAL)
            clock = _time_us(local.time())
        else:
            clock = (us + offset) % _DAY_US
        start, end = self.start, self.end
        night = clock >= start or clock < end if self.wraps else start <= clock < end
        return night, clock // _HOUR_US


class _Runs:
    """A run of consecutive fixes for which a rule holds; `close` makes a run an alarm (or None)."""

    __slots__ = ("close", "run")

    def __init__(self, close: Callable[[list[Fix]], Alarm | None]):
        self.close = close
        self.run: list[Fix] = []

    def step(self, inside: bool, fix: Fix, out: list[Alarm]) -> None:
        if inside:
            self.run.append(fix)
        elif self.run:
            alarm = self.close(self.run)
            self.run = []
            if alarm is not None:
                out.append(alarm)

    def pending(self, out: list[Alarm]) -> None:
        if self.run and (alarm := self.close(self.run)) is not None:
            out.append(alarm)


class _Fatigue:
    """Continuous driving without a rest, driving in 24 h and in 7 days (疲劳驾驶), fix by fix; times are
    µs since the epoch (`_micros`)."""

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self.moving_kmh = config.moving_kmh
        self.limits: ClassLimits | None = None
        self.stretch: list[Fix] = []
        self.driving_s = 0.0
        self.raised = False
        self.stopped_since: int | None = None
        self.day: deque[tuple[Fix, float, int]] = deque()  # (fix ending a driven interval, its s, its µs)
        self.day_s = 0.0
        self.day_raised = False
        self.spans: deque[list[Any]] = deque()  # [first, last fix, first, last µs] of each run of driving
        self.spans_s = 0.0
        self.week_raised = False

    def step(self, previous: Fix, was: int, fix: Fix, now: int, night: bool, out: list[Alarm]) -> None:
        """`was`, `now`: the µs of `previous` and `fix`."""
        limits = self.limits = self.limits or self.config.limits(previous.vehicle_class)
        gap = (now - was) / _S_US
        if previous.speed_kmh < self.moving_kmh:
            if self.stopped_since is None:
                self.stopped_since = was
            if (now - self.stopped_since) / _S_US >= limits.min_rest_s:
                self.stretch = []
            return
        self.stopped_since = None
        if not self.stretch:
            self.stretch, self.driving_s, self.raised = [previous], 0.0, False
        self.driving_s += gap
        self.stretch.append(fix)
        limit = limits.max_night_driving_s if night else limits.max_day_driving_s
        if self.driving_s > limit and not self.raised:
            self.raised = True
            detail = (
                f"{self.driving_s / 3600:.2f} h of driving without a {limits.min_rest_s // 60} min rest "
                f"(limit {limit / 3600:g} h)"
            )
            out.append(_alarm("fatigue.continuous", "high", self.stretch, detail))
        self._daily(fix, now, gap, limits, out)
        self._weekly(previous, was, fix, now, gap, limits, out)

    def _daily(self, fix: Fix, now: int, gap: float, limits: ClassLimits, out: list[Alarm]) -> None:
        day = self.day
        day.append((fix, gap, now))
        self.day_s += gap
        while (now - day[0][2]) / _S_US > DAY_S:
            self.day_s -= day.popleft()[1]
        if self.day_s <= limits.max_daily_driving_s:
            self.day_raised = False
        elif not self.day_raised:
            self.day_raised = True
            detail = (
                f"{self.day_s / 3600:.2f} h of driving within 24 h "
                f"(limit {limits.max_daily_driving_s / 3600:g} h)"
            )
            out.append(_alarm("fatigue.daily", "high", [f for f, _, _ in day], detail))

    def _weekly(
        self, previous: Fix, was: int, fix: Fix, now: int, gap: float, limits: ClassLimits, out: list[Alarm]
    ) -> None:
        """Driving time inside the last 7 × 24 h: the unbroken spans of driving, the oldest cut at the
        window's start, so a week of 30 s reports keeps a few hundred spans, not every fix."""
        spans = self.spans
        if spans and spans[-1][1] is previous:
            last = spans[-1]
            last[1], last[3] = fix, now
        else:
            spans.append([previous, fix, was, now])
        self.spans_s += gap
        cutoff = now - WEEK_S * _S_US
        while spans[0][3] <= cutoff:
            _, _, first, end = spans.popleft()
            self.spans_s -= (end - first) / _S_US
        head = spans[0]
        total = self.spans_s - max(0.0, (cutoff - head[2]) / _S_US)
        limit = limits.max_weekly_driving_s
        if limit is None or total <= limit:
            self.week_raised = False
        elif not self.week_raised:
            self.week_raised = True
            detail = f"{total / 3600:.2f} h of driving within 7 days (limit {limit / 3600:g} h)"
            out.append(_alarm("fatigue.weekly", "high", (head[0], fix), detail))


@dataclass(frozen=True, slots=True)
class _Class:
    """What the per-fix checks read of a class's limits, worked out once per class."""

    limits: ClassLimits
    day_kmh: float
    night_kmh: float
    banned: tuple[int, int] | None


class TrackRules:
    """One vehicle's supervision state (监控状态): `feed` it new fixes, oldest first.

    `route` is the assigned route of a fixed-route vehicle (lon/lat LineString), `speed_limit` the posted
    limit of the road segment a fix is on (where known; else the class limit applies). Per fix, only
    what can fire is computed: times as µs ints, the class's limits worked out once, no geofence or route
    work for a vehicle without them, no alarm-bit decoding while the terminal reports none."""

    def __init__(
        self,
        *,
        config: RuleConfig,
        areas: Sequence[Geofence] = (),
        route: LineString | None = None,
        speed_limit: SpeedLimit | None = None,
        version: Version = Version.JT2013,
    ) -> None:
        self.config, self.areas, self.version = config, tuple(areas), version
        self.speed_limit = speed_limit
        self._class_limits = config.limits_of()
        self._classes: dict[str | None, _Class] = {}
        self._clock = _Clock(config.night)
        self.last: Fix | None = None
        self._last_us = 0
        self._inside = [False] * len(self.areas)
        self._flags: frozenset[str] = frozenset()
        self._fatigue = _Fatigue(config)
        self._overspeeds = _Runs(self._overspeed)
        self._nights = _Runs(self._night_driving)
        self._runs = [self._overspeeds, self._nights]
        self._route: _Polyline | None = None
        if route is not None:
            self._route = _Polyline(route)
            self._worst = 0.0
            self._deviations = _Runs(self._deviation)
            self._runs.append(self._deviations)

    def _class(self, vehicle_class: str | None) -> _Class:
        found = self._classes.get(vehicle_class)
        if found is None:
            limits = self._class_limits(vehicle_class)
            day = limits.speed_limit_kmh
            found = self._classes[vehicle_class] = _Class(
                limits, day * 1.0, day * limits.night_speed_ratio, limits.banned_hours
            )
        return found

    def feed(self, fixes: Iterable[Fix]) -> list[Alarm]:
        """The alarms raised or grown by `fixes` (all later than the last fix fed), open runs as they
        stand; fixes not later than the last one fed are skipped (redelivered)."""
        out: list[Alarm] = []
        moving_kmh = self.config.moving_kmh
        clock, speed_limit, route = self._clock, self.speed_limit, self._route
        overspeeds, nights = self._overspeeds, self._nights
        for fix in fixes:
            previous = self.last
            now = _micros(fix.at)
            if previous is not None and now <= self._last_us:
                continue
            night, hour = clock(now)
            kind = self._class(fix.vehicle_class)
            speed = fix.speed_kmh
            if speed_limit is None:
                over = speed > (kind.night_kmh if night else kind.day_kmh)
            else:
                over = speed > self._limit(fix, night)[0]
            if over or overspeeds.run:
                overspeeds.step(over, fix, out)
            banned = kind.banned
            if banned is not None or nights.run:
                inside = banned is not None and speed >= moving_kmh and banned[0] <= hour < banned[1]
                nights.step(inside, fix, out)
            if route is not None:
                self._deviations.step(self._deviating(fix), fix, out)
            if fix.alarm_word or self._flags:
                self._flags_step(fix, out)
            if self.areas:
                self._areas_step(fix, previous is not None, out)
            if previous is not None:
                was = self._last_us
                self._fatigue.step(previous, was, fix, now, night, out)
                self._pairwise(previous, fix, (now - was) / _S_US, out)
            self.last, self._last_us = fix, now
        for runs in self._runs:
            if runs.run:
                runs.pending(out)
        return out

    def silence(self, now: datetime) -> Alarm | None:
        """The offline alarm (在线离线) of a vehicle silent since its last fix, in service, for more than
        `offline_s` at `now` (wall clock; measured from when the gateway received the fix, where known),
        ending at `now`; a later fix replaces it by the same id."""
        last = self.last
        if last is None or not last.in_service:
            return None
        silent_s = (now - (last.received_at or last.at)).total_seconds()
        limit = self.config.offline_s
        if silent_s <= limit:
            return None
        detail = f"no report for {silent_s / 60:.0f} min while in service (limit {limit / 60:g} min)"
        return replace(_alarm("offline", "medium", (last,), detail), ended_at=now)

    # --- runs -------------------------------------------------------------------------------------

    def _limit(self, fix: Fix, night: bool) -> tuple[float, str]:
        limits = self._class_limits(fix.vehicle_class)
        posted = self.speed_limit(fix) if self.speed_limit is not None else None
        base, where = posted if posted is not None else (limits.speed_limit_kmh, "")
        return base * (limits.night_speed_ratio if night else 1.0), where

    def _overspeed(self, run: list[Fix]) -> Alarm | None:
        limits = self._class_limits(run[0].vehicle_class)
        if (run[-1].at - run[0].at).total_seconds() < limits.overspeed_min_s:
            return None
        top = max(run, key=lambda f: f.speed_kmh)
        limit, where = self._limit(top, self.config.is_night(top.at))
        excess = top.speed_kmh / limit - 1
        severity = "high" if excess >= 0.5 else "medium" if excess >= 0.2 else "low"
        detail = f"max {top.speed_kmh:g} km/h over the limit {limit:g} km/h" + (
            f" of segment {where}" if where else ""
        )
        return _alarm("overspeed", severity, run, detail)

    def _night_driving(self, run: list[Fix]) -> Alarm:
        return _alarm("night_driving", "high", run, f"moving {len(run)} fixes in the banned hours (local)")

    def _deviating(self, fix: Fix) -> bool:
        assert self._route is not None
        off = self._route.distance_m(fix.lon, fix.lat)
        if off <= self.config.route_deviation_m:
            return False
        self._worst = max(self._worst, off) if self._deviations.run else off
        return True

    def _deviation(self, run: list[Fix]) -> Alarm:
        worst = self._worst
        limit = self.config.route_deviation_m
        detail = f"up to {worst:.0f} m off the assigned route (limit {limit:g} m)"
        return _alarm("route_deviation", "medium", run, detail)

    # --- fix by fix -------------------------------------------------------------------------------

    def _flags_step(self, fix: Fix, out: list[Alarm]) -> None:
        now = alarm_flags(fix.alarm_word, self.version) if fix.alarm_word else frozenset()
        for name in sorted(now - self._flags):
            out.append(_alarm(f"device.{name}", "medium", (fix,), f"terminal reported {name}"))
        self._flags = now

    def _pairwise(self, previous: Fix, fix: Fix, seconds: float, out: list[Alarm]) -> None:
        """Drift and offline between two fixes `seconds` apart."""
        config = self.config
        lat, lat0 = fix.lat, previous.lat  # distance_m, inline
        dlat, dlon = radians(lat - lat0), radians(fix.lon - previous.lon)
        h = sin(dlat / 2) ** 2 + cos(radians(lat0)) * cos(radians(lat)) * sin(dlon / 2) ** 2
        metres = 2 * EARTH_RADIUS_M * asin(min(1.0, sqrt(h)))
        implied = metres / seconds * 3.6 if seconds > 0 else float("inf") if metres > 0 else 0.0
        if implied > config.drift_kmh:
            detail = f"{metres:.0f} m in {seconds:g} s: implied {implied:.0f} km/h over {config.drift_kmh:g}"
            out.append(_alarm("drift", "low", (previous, fix), detail))
        if seconds > config.offline_s:
            if previous.in_service:
                detail = (
                    f"no report for {seconds / 60:.0f} min while in service "
                    f"(limit {config.offline_s / 60:g} min)"
                )
                out.append(_alarm("offline", "medium", (previous, fix), detail))
            if previous.vehicle_class in config.offline_move_classes and metres > config.offline_move_m:
                detail = (
                    f"moved {metres:.0f} m while offline for {seconds / 60:.0f} min "
                    f"(limit {config.offline_move_m:g} m)"
                )
                out.append(_alarm("offline_movement", "high", (previous, fix), detail))

    def _areas_step(self, fix: Fix, moved: bool, out: list[Alarm]) -> None:
        for n, area in enumerate(self.areas):
            was, now = self._inside[n], bool(shapely.contains_xy(area.polygon, fix.lon, fix.lat))
            self._inside[n] = now
            if not moved:
                continue
            if now and not was:
                kind, severity = ("forbidden_area", "high") if area.forbidden else ("geofence.entry", "low")
                out.append(_alarm(kind, severity, (fix,), f"entered {area.name}"))
            elif was and not now and not area.forbidden:
                out.append(_alarm("geofence.exit", "low", (fix,), f"left {area.name}"))


def latest(alarms: Iterable[Alarm]) -> list[Alarm]:
    """The last version of each alarm id, ordered by start then rule."""
    by_id = {alarm.id: alarm for alarm in alarms}
    return sorted(by_id.values(), key=lambda a: (a.started_at, a.rule, a.id))


def evaluate(
    fixes: Sequence[Fix],
    *,
    config: RuleConfig,
    areas: Sequence[Geofence] = (),
    route: LineString | None = None,
    now: datetime | None = None,
    speed_limit: SpeedLimit | None = None,
) -> list[Alarm]:
    """Every rule over one vehicle's fixes (oldest first) in one feed, ordered by start then rule; `now`
    closes the silence after the last fix."""
    rules = TrackRules(config=config, areas=areas, route=route, speed_limit=speed_limit)
    found = rules.feed(sorted(fixes, key=lambda f: f.at))
    if now is not None and (silent := rules.silence(now)) is not None:
        found.append(silent)
    return latest(found)


def _only(rules: str | tuple[str, ...], alarms: list[Alarm]) -> list[Alarm]:
    return [a for a in latest(alarms) if a.rule.startswith(rules)]


def overspeed(
    fixes: Sequence[Fix], *, config: RuleConfig, speed_limit: SpeedLimit | None = None
) -> list[Alarm]:
    """Each run of fixes above the segment or class limit (80 % of it at night) lasting `overspeed_min_s`
    or more (超速)."""
    return _only("overspeed", TrackRules(config=config, speed_limit=speed_limit).feed(fixes))


def fatigue(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Continuous driving over the day (4 h) or night (2 h) limit without a rest of `min_rest_s`
    (`fatigue.continuous`), over `max_daily_driving_s` within 24 h (`fatigue.daily`) and over
    `max_weekly_driving_s` within 7 days (`fatigue.weekly`); each raised once per episode."""
    return _only("fatigue.", TrackRules(config=config).feed(fixes))


def night_coach(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Runs of fixes of a class with banned hours (coaches: 02:00-05:00 local) moving in those hours."""
    return _only("night_driving", TrackRules(config=config).feed(fixes))


def drift(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Consecutive fixes whose implied speed exceeds `drift_kmh` (卫星定位漂移)."""
    return _only("drift", TrackRules(config=config).feed(fixes))


def geofences(fixes: Sequence[Fix], *, areas: Sequence[Geofence]) -> list[Alarm]:
    """Entry into (and, for watched areas, exit from) each area, between consecutive fixes."""
    found = TrackRules(config=RuleConfig(), areas=areas).feed(fixes)
    return _only(("geofence.", "forbidden_area"), found)


def device_alarms(fixes: Sequence[Fix], *, version: Version = Version.JT2013) -> list[Alarm]:
    """Alarm bits the terminal raised (set in a fix, clear in the one before), one alarm per bit."""
    return _only("device.", TrackRules(config=RuleConfig(), version=version).feed(fixes))


def offline_in_service(fixes: Sequence[Fix], *, now: datetime | None, config: RuleConfig) -> list[Alarm]:
    """Each silence of more than `offline_s` after a fix in service (在线离线): between two fixes, and,
    given `now`, after the last one (then `ended_at` is `now`, and grows while the silence lasts)."""
    rules = TrackRules(config=config)
    found = rules.feed(fixes)
    if now is not None and (silent := rules.silence(now)) is not None:
        found.append(silent)
    return _only("offline", [a for a in found if a.rule == "offline"])


def offline_movement(fixes: Sequence[Fix], *, config: RuleConfig) -> list[Alarm]:
    """Vehicles of `offline_move_classes` (dangerous goods) that reappear after more than `offline_s`
    silent more than `offline_move_m` away (离线位移)."""
    return _only("offline_movement", TrackRules(config=config).feed(fixes))


def route_deviation(fixes: Sequence[Fix], *, route: LineString, config: RuleConfig) -> list[Alarm]:
    """Runs of fixes farther than `route_deviation_m` from the vehicle's assigned route (a lon/lat
    LineString; 偏离路线) for fixed-route vehicles."""
    return _only("route_deviation", TrackRules(config=config, route=route).feed(fixes))
