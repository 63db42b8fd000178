"""The demo fleet: a valid registry (plates, phones, classes) and drivers that stay on the network."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

from shapely.geometry import LineString  # type: ignore[import-untyped]

from dthub.demo.city import SIMULATED, build_network
from dthub.demo.fleet import (
    CLASSES,
    Driver,
    Misbehaviour,
    assigned_routes,
    bus_routes,
    registry,
    registry_csv,
    route_line,
)
from dthub.domains.vehicles import registry as vehicle_registry
from dthub.domains.vehicles.rules import Fix, RuleConfig, evaluate
from dthub.domains.vehicles.segments import SegmentLimits
from dthub.hub.pii import is_mobile, plate_kind

START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def test_the_registry_is_deterministic_with_valid_unique_plates_and_phones() -> None:
    vehicles = registry(3_000)
    assert vehicles == registry(3_000)
    assert all(plate_kind(v.plate) is not None for v in vehicles), [
        v.plate for v in vehicles if not plate_kind(v.plate)
    ]
    assert all(v.plate.startswith(("津A", "津B")) for v in vehicles)
    assert all(is_mobile(v.phone) for v in vehicles)
    assert len({v.plate for v in vehicles}) == len({v.phone for v in vehicles}) == 3_000
    assert all(v.enterprise.endswith(SIMULATED) and v.simulated for v in vehicles)
    classes = Counter(v.vehicle_class for v in vehicles)
    assert set(classes) == {c.name for c in CLASSES}
    assert classes["taxi"] > classes["bus"] > classes["coach"]
    assert len({v.enterprise for v in vehicles}) >= 8


def test_the_registry_csv_goes_through_the_registry_import() -> None:
    vehicles = registry(50)
    imported = vehicle_registry.parse_csv(registry_csv(vehicles))
    assert [(v.phone, v.plate, v.vehicle_class, v.enterprise, v.simulated) for v in imported] == [
        (v.phone, v.plate, v.vehicle_class, v.enterprise, True) for v in vehicles
    ]
    assert all(v.auth_code for v in imported)


def drive(driver: Driver, fixes: int, every_s: float = 30) -> list[object]:
    return [driver.fix(START + timedelta(seconds=every_s * n)) for n in range(fixes)]


def test_a_driver_is_deterministic_moves_and_keeps_below_its_class_limit() -> None:
    network = build_network()
    vehicle = next(v for v in registry(20) if v.vehicle_class == "taxi")
    calm = Misbehaviour(overspeed=0, drift=0, silence=0)
    one = drive(Driver(vehicle, network, seed=3, start=START, misbehaviour=calm), 240)
    two = drive(Driver(vehicle, network, seed=3, start=START, misbehaviour=calm), 240)
    assert one == two
    reports = [r for r in one if r is not None]
    assert len(reports) == 240
    limit = RuleConfig().limits("taxi").speed_limit_kmh
    assert all(r.speed_kmh <= limit for r in reports)  # type: ignore[attr-defined]
    assert len({(r.longitude, r.latitude) for r in reports}) > 100  # type: ignore[attr-defined]
    assert any(r.speed_kmh == 0 for r in reports)  # type: ignore[attr-defined]  # a rest within 2 hours
    lons = [r.longitude for r in reports]  # type: ignore[attr-defined]
    assert min(lons) > 117.0
    assert max(lons) < 117.4


def test_misbehaviour_shows_as_overspeed_drift_and_silence() -> None:
    network = build_network()
    vehicle = next(v for v in registry(20) if v.vehicle_class == "dangerous_goods")
    wild = Misbehaviour(overspeed=0.05, drift=0.02, silence=0.01, silence_s=300)
    reports = drive(Driver(vehicle, network, seed=5, start=START, misbehaviour=wild), 400)
    limit = RuleConfig().limits("dangerous_goods").speed_limit_kmh
    assert any(r is not None and r.speed_kmh > limit for r in reports)  # type: ignore[attr-defined]
    assert any(r is None for r in reports)
    lats = [r.latitude for r in reports if r is not None]  # type: ignore[attr-defined]
    assert max(abs(a - b) for a, b in itertools.pairwise(lats)) > 0.04


def test_coaches_stand_still_from_two_to_five_at_night() -> None:
    network = build_network()
    coach = next(v for v in registry(20) if v.vehicle_class == "coach")
    night = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)  # 02:30 in Beijing
    driver = Driver(
        coach, network, seed=1, start=night, misbehaviour=Misbehaviour(overspeed=0, drift=0, silence=0)
    )
    reports = [driver.fix(night + timedelta(minutes=n)) for n in range(60)]
    assert all(r is not None and r.speed_kmh == 0 for r in reports)


def fixes_of(driver: Driver, fixes: int, start: datetime = START) -> list[Fix]:
    """The driver's reports as the platform's rules read them."""
    found = []
    for n in range(fixes):
        report = driver.fix(start + timedelta(seconds=30 * n))
        if report is None or report.time is None:
            continue
        vehicle = driver.vehicle
        found.append(Fix(phone=vehicle.phone, plate=vehicle.plate, vehicle_class=vehicle.vehicle_class,
                         at=report.time, lon=report.longitude, lat=report.latitude,
                         speed_kmh=report.speed_kmh, status_word=report.status))  # fmt: skip
    return found


def posted_limits() -> SegmentLimits:
    network = build_network()
    return SegmentLimits(
        (s.hub_id, "LINESTRING (" + ", ".join(f"{lon} {lat}" for lon, lat in s.coords) + ")",
         s.kind.speed_limit_kmh) for s in network.segments
    )  # fmt: skip


def test_law_abiding_drivers_raise_no_alarm_under_the_platforms_rules_day_or_night() -> None:
    network = build_network()
    vehicles = registry(24)
    routes = assigned_routes(vehicles, network)
    calm = Misbehaviour(overspeed=0, drift=0, silence=0, detour=0)
    limits = posted_limits()
    evening = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 20:00 in Beijing, into the night
    for start in (START, evening):
        for vehicle in vehicles:
            route = routes.get(vehicle.phone)
            driver = Driver(vehicle, network, seed=9, start=start, route=route, misbehaviour=calm)
            line = LineString(route_line(network, route)) if route else None
            alarms = evaluate(
                fixes_of(driver, 360, start), config=RuleConfig(), route=line, speed_limit=limits
            )
            assert alarms == [], (vehicle.vehicle_class, [(a.rule, a.detail) for a in alarms])


def test_a_bus_keeps_to_its_route_until_it_takes_a_detour() -> None:
    network = build_network()
    vehicles = registry(40)
    routes = assigned_routes(vehicles, network)
    assert len(set(routes.values())) == len(bus_routes(network)) == 8
    for cycle in bus_routes(network):  # each route runs on without a jump, and back to where it began
        legs = [network.segments[i] for i in cycle]
        assert all(a.end == b.start for a, b in zip(legs, [*legs[1:], legs[0]], strict=True))
    phone, route = next(iter(routes.items()))
    bus = next(v for v in vehicles if v.phone == phone)
    line = LineString(route_line(network, route))
    wild = Misbehaviour(overspeed=0, drift=0, silence=0, detour=0.02)
    driver = Driver(bus, network, seed=2, start=START, route=route, misbehaviour=wild)
    alarms = evaluate(fixes_of(driver, 240), config=RuleConfig(), route=line, speed_limit=posted_limits())
    assert {a.rule for a in alarms} == {"route_deviation"}
