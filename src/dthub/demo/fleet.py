"""The demo fleet (模拟车队): a registry of operating vehicles and how each drives the demo network.

Pure and deterministic: `registry(count, seed)` gives the same vehicles (taxis, buses, coaches, dangerous
goods and heavy trucks of several enterprises, every one `（模拟）`, plates in the 津A/津B formats), and a
`Driver` moves one vehicle along the network from one fix to the next: buses along their bus route and
back, the others turning at random at junctions; the speed of the traffic (the detectors' daily profile)
kept to 90 % of the lower of the class and the posted limit (80 % of that at night), and of the lowest limit
of the roads meeting at a junction near one; rests of 25-45 minutes after 40-80 minutes at the wheel,
coaches parked 02:00-05:00, and a 12-hour duty.

Misbehaviour is injected at a low rate, each kind drawn per fix, so that alarms appear: overspeed (a run
of three fixes at 130 % of the class limit), a position drift (one fix 0.05° north), silence (25 minutes
without reports, still moving: offline, and for dangerous goods offline movement), and for buses a detour
(four fixes on the parallel street, 1.2 km off the route).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dthub.demo.city import (
    BRANCH,
    CENTRE_LAT,
    CENTRE_LON,
    KM_PER_DEG_LAT,
    KM_PER_DEG_LON,
    SIMULATED,
    CityPlan,
    Network,
    heading_deg,
    position_at,
)
from dthub.demo.detectors import BEIJING, peak_share
from dthub.demo.gtfs import BUS_LINES
from dthub.domains.vehicles.jt808 import LocationReport
from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.rules import OUT_OF_SERVICE, RuleConfig

ACC_ON = 1 << 0
POSITIONED = 1 << 1


@dataclass(frozen=True, kw_only=True)
class VehicleClass:
    """One class of operating vehicle in the demo."""

    name: str
    share: float
    enterprises: tuple[str, ...]
    plate_colour: int
    """JT/T 697.7: 2 yellow, 5 green (new energy)."""


CLASSES = (
    VehicleClass(name="taxi", share=0.50, plate_colour=5, enterprises=(
        f"天津市津门出租汽车有限公司{SIMULATED}", f"天津市海河出租汽车有限公司{SIMULATED}",
        f"天津市滨城出租汽车有限公司{SIMULATED}")),
    VehicleClass(name="bus", share=0.20, plate_colour=5, enterprises=(
        f"天津公交集团第一客运有限公司{SIMULATED}", f"天津公交集团第二客运有限公司{SIMULATED}")),
    VehicleClass(name="coach", share=0.07, plate_colour=2, enterprises=(
        f"天津长途汽车客运有限公司{SIMULATED}",)),
    VehicleClass(name="dangerous_goods", share=0.08, plate_colour=2, enterprises=(
        f"天津渤化危险货物运输有限公司{SIMULATED}", f"天津港危险品物流有限公司{SIMULATED}")),
    VehicleClass(name="heavy_truck", share=0.15, plate_colour=2, enterprises=(
        f"天津港集装箱运输有限公司{SIMULATED}", f"天津津通重型货运有限公司{SIMULATED}")),
)  # fmt: skip


def plate(vehicle_class: str, number: int) -> str:
    """A plate in Tianjin's formats: new-energy taxis 津AD·xxxxx, buses 津Axxxxx·D, coaches 津B·xxxxx,
    dangerous goods 津BW·xxxx, heavy trucks 津BK·xxxx (no separator dot, as the registry keeps them)."""
    if vehicle_class == "taxi":
        return f"津AD{number:05d}"
    if vehicle_class == "bus":
        return f"津A{number:05d}D"
    if vehicle_class == "coach":
        return f"津B{number:05d}"
    if vehicle_class == "dangerous_goods":
        return f"津BW{number:04d}"
    return f"津BK{number:04d}"


def registry(count: int, *, seed: int = 7) -> list[Vehicle]:
    """`count` simulated vehicles, classes in their shares, enterprises in turn."""
    rng = random.Random(seed)
    weights = [c.share for c in CLASSES]
    vehicles = []
    numbers: dict[str, int] = {}
    for index in range(count):
        kind = CLASSES[index % len(CLASSES)] if index < len(CLASSES) else rng.choices(CLASSES, weights)[0]
        numbers[kind.name] = numbers.get(kind.name, 0) + 1
        vehicles.append(
            Vehicle(
                phone=f"1440{index:07d}",
                plate=plate(kind.name, numbers[kind.name]),
                plate_colour=kind.plate_colour,
                vehicle_class=kind.name,
                enterprise=kind.enterprises[numbers[kind.name] % len(kind.enterprises)],
                terminal_id=f"TJ{index:05d}",
                auth_code="",
                simulated=True,
            )
        )
    return vehicles


def registry_csv(vehicles: list[Vehicle]) -> str:
    """The registry as the CSV `dthub vehicles import-registry` reads (auth codes left to the import)."""
    lines = ["plate,plate_colour,vehicle_class,enterprise,terminal_id,phone,auth_code,simulated"]
    for v in vehicles:
        lines.append(
            f"{v.plate},{v.plate_colour},{v.vehicle_class},{v.enterprise},{v.terminal_id},{v.phone},,true"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, kw_only=True)
class Misbehaviour:
    """Chance per fix that a vehicle starts each kind of misbehaviour."""

    overspeed: float = 1 / 3_000
    drift: float = 1 / 30_000
    silence: float = 1 / 60_000
    detour: float = 1 / 1_500
    """Buses only: leaving the route for the parallel street."""
    overspeed_fixes: int = 3
    detour_fixes: int = 4
    silence_s: float = 1_500.0


JUNCTION_M = 60.0
"""Within this of a junction a vehicle keeps to the lowest limit of the roads meeting there (the platform
matches a fix to the nearest segment within 20 m)."""
SAFETY = 0.9
"""Share of the applicable limit a law-abiding driver keeps to."""


def bus_routes(network: Network, plan: CityPlan | None = None) -> list[tuple[int, ...]]:
    """The bus routes of the demo feed (`demo.gtfs.BUS_LINES`, north-south then east-west) as segment
    cycles: along the street to the 中环线, then back."""
    plan = plan or CityPlan()
    index = {segment.segment_id: i for i, segment in enumerate(network.segments)}
    routes = []
    for axis in ("ns", "ew"):
        for line in BUS_LINES:
            forward = sorted(k for k in index if k.startswith(f"tjsim-{axis}{line}-") and k.endswith("-f"))
            backward = sorted((k for k in index if k.startswith(f"tjsim-{axis}{line}-") and k.endswith("-b")),
                              reverse=True)  # fmt: skip
            routes.append(tuple(index[k] for k in forward + backward))
    return routes


def assigned_routes(vehicles: Sequence[Vehicle], network: Network) -> dict[str, tuple[int, ...]]:
    """Terminal phone → route (segment cycle) of each bus, the routes in turn."""
    routes = bus_routes(network)
    buses = [v for v in vehicles if v.vehicle_class == "bus"]
    return {bus.phone: routes[number % len(routes)] for number, bus in enumerate(buses)}


def route_line(network: Network, route: tuple[int, ...]) -> list[tuple[float, float]]:
    """The (lon, lat) line of a route's outward half, as the platform's route-deviation rule reads it."""
    outward = route[: len(route) // 2]
    points: list[tuple[float, float]] = []
    for index in outward:
        coords = network.segments[index].coords
        points += coords[1:] if points else coords
    return points


class Driver:
    """One vehicle on the network: `fix(at)` moves it to `at` and returns its report, or None while silent.

    A bus with a `route` follows its segment cycle; others turn at random at each junction."""

    def __init__(
        self,
        vehicle: Vehicle,
        network: Network,
        *,
        seed: int,
        start: datetime,
        route: tuple[int, ...] | None = None,
        rules: RuleConfig | None = None,
        misbehaviour: Misbehaviour | None = None,
    ) -> None:
        self.vehicle, self.network, self.route = vehicle, network, route
        self.rules = rules or RuleConfig()
        self.limits = self.rules.limits(vehicle.vehicle_class)
        self.misbehaviour = misbehaviour or Misbehaviour()
        self.rng = random.Random(f"{seed}:{vehicle.phone}")
        self.step = self.rng.randrange(len(route)) if route else 0
        self.segment = route[self.step] if route else self.rng.randrange(len(network.segments))
        self.offset_m = self.rng.uniform(0, network.segments[self.segment].length_m)
        self.at = start
        self.duty_ends = start + timedelta(hours=self.rng.uniform(10, 12))
        self.duty_starts_again = self.duty_ends + timedelta(hours=12)
        self.rest_at = start + timedelta(minutes=self.rng.uniform(5, 80))
        self.rest_until = start
        self.overspeed_left = 0
        self.detour_left = 0
        self.silent_until: datetime | None = None

    @property
    def silent(self) -> bool:
        return self.silent_until is not None

    def fix(self, at: datetime) -> LocationReport | None:
        """Advance to `at` (UTC) and report; None while the terminal is silent."""
        seconds = max(0.0, (at - self.at).total_seconds())
        self.at = at
        speed, status = self._speed_and_status(at)
        self._advance(speed * seconds / 3.6)
        if self.overspeed_left == 0:  # the limits where it now is: its new segment, a junction near
            posted = self.network.segments[self.segment].kind.speed_limit_kmh
            speed = min(speed, self._cap(posted, at), self._junction_cap(at))
        if self.silent_until is not None:
            if at < self.silent_until:
                return None
            self.silent_until = None
        chance = self.misbehaviour
        if speed > 0 and self.rng.random() < chance.silence:
            self.silent_until = at + timedelta(seconds=chance.silence_s)
            return None
        segment = self.network.segments[self.segment]
        lon, lat = position_at(segment, self.offset_m)
        if speed > 0 and self.rng.random() < chance.drift:
            lat += 0.05
        shifted = self._detour(lon, lat, speed)
        if shifted is not None:  # on the parallel street, a branch street: its limit
            (lon, lat), speed = shifted, min(speed, self._cap(BRANCH.speed_limit_kmh, at))
        return LocationReport(
            alarm=0,
            status=status,
            latitude=round(lat, 6),
            longitude=round(lon, 6),
            altitude_m=3,
            speed_kmh=round(speed, 1),
            direction=heading_deg(segment),
            time=at.replace(microsecond=0),
        )

    def _cap(self, posted_kmh: float, at: datetime) -> float:
        """The most a law-abiding driver goes under a posted limit at `at`, day or night."""
        night = self.limits.night_speed_ratio if self.rules.is_night(at) else 1.0
        return SAFETY * min(self.limits.speed_limit_kmh, posted_kmh) * night

    def _junction_cap(self, at: datetime) -> float:
        segment = self.network.segments[self.segment]
        if self.offset_m < JUNCTION_M:
            return self._cap(self.network.junction_limit_kmh[segment.start], at)
        if segment.length_m - self.offset_m < JUNCTION_M:
            return self._cap(self.network.junction_limit_kmh[segment.end], at)
        return math.inf

    def _detour(self, lon: float, lat: float, speed: float) -> tuple[float, float] | None:
        """Where a bus on a detour is: on the parallel street, one grid spacing towards the centre; None
        when not on one."""
        if self.route is None or speed == 0:
            return None
        if self.detour_left == 0 and self.rng.random() < self.misbehaviour.detour:
            self.detour_left = self.misbehaviour.detour_fixes
        if self.detour_left == 0:
            return None
        self.detour_left -= 1
        spacing = CityPlan().grid_spacing_km
        if self.network.segments[self.segment].segment_id.startswith("tjsim-ns"):
            return lon - math.copysign(spacing / KM_PER_DEG_LON, lon - CENTRE_LON), lat
        return lon, lat - math.copysign(spacing / KM_PER_DEG_LAT, lat - CENTRE_LAT)

    def _speed_and_status(self, at: datetime) -> tuple[float, int]:
        if at >= self.duty_starts_again:
            self.duty_ends = at + timedelta(hours=self.rng.uniform(10, 12))
            self.duty_starts_again = self.duty_ends + timedelta(hours=12)
        if at >= self.duty_ends:
            return 0.0, POSITIONED | OUT_OF_SERVICE
        local = at + BEIJING
        banned = self.limits.banned_hours
        if banned is not None and banned[0] <= local.hour < banned[1]:
            return 0.0, POSITIONED
        if at >= self.rest_at:
            self.rest_until = at + timedelta(minutes=self.rng.uniform(25, 45))
            self.rest_at = self.rest_until + timedelta(minutes=self.rng.uniform(40, 80))
        if at < self.rest_until:
            return 0.0, POSITIONED
        if self.overspeed_left == 0 and self.rng.random() < self.misbehaviour.overspeed:
            self.overspeed_left = self.misbehaviour.overspeed_fixes
        if self.overspeed_left:
            self.overspeed_left -= 1
            night = self.limits.night_speed_ratio if self.rules.is_night(at) else 1.0
            return round(self.limits.speed_limit_kmh * night * 1.3, 1), ACC_ON | POSITIONED
        kind = self.network.segments[self.segment].kind
        hour = local.hour + local.minute / 60
        traffic = kind.free_flow_speed_kmh * (1 - 0.5 * peak_share(hour)) * self.rng.uniform(0.85, 1.05)
        return max(8.0, min(traffic, self._cap(kind.speed_limit_kmh, at))), ACC_ON | POSITIONED

    def _advance(self, metres: float) -> None:
        self.offset_m += metres
        while self.offset_m > self.network.segments[self.segment].length_m:
            self.offset_m -= self.network.segments[self.segment].length_m
            if self.route:
                self.step = (self.step + 1) % len(self.route)
                self.segment = self.route[self.step]
            else:
                self.segment = self.rng.choice(self.network.next_segments(self.segment))
