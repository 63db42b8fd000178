"""Itineraries from coordinates: walking access and egress to stops within a radius, RAPTOR's Pareto
journeys between them, each as legs (mode, route, stops, times, geometry) in a JSON close to
OpenTripPlanner's `plan` response (`plan.itineraries[].legs[]`), so existing clients map easily.

Times are seconds after midnight of the service day (`serviceDate`); OTP's epoch milliseconds need the
feed's time zone, which a multi-feed timetable does not have one of. Planned on a timetable with realtime
times (`realtime_apply`), `mark_realtime` gives each transit leg OTP's `realTime`, `departureDelay` and
`arrivalDelay` against the scheduled timetable.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dthub.domains.transit.fares import itinerary_fare
from dthub.domains.transit.gbfs import BikeLeg, BikeNetwork, BikeRules, bike_access, bike_egress, bike_trip
from dthub.domains.transit.raptor import Journey, Leg, earliest_arrival
from dthub.domains.transit.timetable import Timetable, distance_m


def nearby_stops(
    tt: Timetable, lat: float, lon: float, *, radius_m: float, walk_speed_mps: float
) -> dict[int, int]:
    """Served stops within `radius_m` of a point → walking seconds."""
    metres = distance_m(np.full(tt.stops, lat), np.full(tt.stops, lon), tt.stop_lat, tt.stop_lon)
    served = np.zeros(tt.stops, bool)
    served[tt.position_stop] = True
    near = np.flatnonzero(served & (metres <= radius_m))
    return {int(s): int(np.ceil(metres[s] / walk_speed_mps)) for s in near}


@dataclass(frozen=True)
class BikeShare:
    """A bike-share system for the planner: its stations with availability at one moment, and how one
    rides (`gbfs.BikeRules`: ride speed, detour, pickup and drop-off times, walking radius)."""

    name: str
    network: BikeNetwork
    rules: BikeRules = field(default_factory=BikeRules)


Approach = int | BikeLeg
"""How a rider gets between a point and a stop: walking seconds, or walk-bike-walk."""


def _seconds(approach: Approach) -> int:
    return approach if isinstance(approach, int) else approach.total_s


def plan(
    tt: Timetable,
    origin: tuple[float, float],
    destination: tuple[float, float],
    departure_s: int,
    *,
    access_radius_m: float = 800.0,
    walk_speed_mps: float = 1.2,
    max_rounds: int = 8,
    bikes: BikeShare | None = None,
) -> dict[str, Any]:
    """OTP-like plan from (lat, lon) to (lat, lon) leaving at `departure_s`: one itinerary per number of
    transfers that arrives earlier than with fewer. With `bikes`, also the bike-only itinerary (walk to a
    station with a bike, ride to one with a free dock, walk on) and the transit itineraries that reach
    stops or leave them by bike, where they arrive earlier than any by walking and transit."""
    access = nearby_stops(tt, *origin, radius_m=access_radius_m, walk_speed_mps=walk_speed_mps)
    egress = nearby_stops(tt, *destination, radius_m=access_radius_m, walk_speed_mps=walk_speed_mps)
    walks: tuple[dict[int, Approach], dict[int, Approach]] = (dict(access), dict(egress))
    journeys = _search(tt, walks[0], walks[1], departure_s, max_rounds)
    itineraries = [_itinerary(tt, j, origin, destination, departure_s, *walks, bikes) for j in journeys]
    if bikes is not None:
        itineraries += _bike_itineraries(
            tt, bikes, origin, destination, departure_s, walks, journeys, max_rounds
        )
    return {
        "plan": {
            "serviceDate": tt.day.isoformat(),
            "date": departure_s,
            "from": _place("Origin", *origin),
            "to": _place("Destination", *destination),
            "itineraries": itineraries,
        }
    }


def _search(
    tt: Timetable, access: dict[int, Approach], egress: dict[int, Approach], departure_s: int, max_rounds: int
) -> list[Journey]:
    if not access or not egress:
        return []
    sources = {stop: departure_s + _seconds(a) for stop, a in access.items()}
    targets = {stop: _seconds(a) for stop, a in egress.items()}
    return earliest_arrival(tt, sources, targets, max_rounds=max_rounds)


def _bike_itineraries(
    tt: Timetable,
    bikes: BikeShare,
    origin: tuple[float, float],
    destination: tuple[float, float],
    departure_s: int,
    walks: tuple[dict[int, Approach], dict[int, Approach]],
    by_walking: list[Journey],
    max_rounds: int,
) -> list[dict[str, Any]]:
    """The bike-only itinerary, then transit itineraries with a bike first or last mile that arrive
    earlier than the best by walking."""
    net, rules = bikes.network, bikes.rules
    found: list[dict[str, Any]] = []
    only = bike_trip(net, origin, destination, rules)
    if only is not None:
        legs = _bike_legs(
            bikes, only, departure_s, _place("Origin", *origin), _place("Destination", *destination)
        )
        found.append(_summary(legs, departure_s, departure_s + only.total_s, 0))
    served = np.unique(tt.position_stop).astype(np.int64)
    by_bike = (
        bike_access(net, origin, tt.stop_lat, tt.stop_lon, served, rules),
        bike_egress(net, destination, tt.stop_lat, tt.stop_lon, served, rules),
    )
    if not by_bike[0] and not by_bike[1]:
        return found
    mixed: list[dict[int, Approach]] = []
    for walk, bike in zip(walks, by_bike, strict=True):
        best: dict[int, Approach] = dict(walk)
        for stop, leg in bike.items():
            if stop not in best or leg.total_s < _seconds(best[stop]):
                best[stop] = leg
        mixed.append(best)
    fastest = min((j.arrival for j in by_walking), default=None)
    for journey in _search(tt, mixed[0], mixed[1], departure_s, max_rounds):
        first = journey.legs[0].from_stop if journey.legs else -1
        last = journey.legs[-1].to_stop if journey.legs else -1
        biked = isinstance(mixed[0].get(first), BikeLeg) or isinstance(mixed[1].get(last), BikeLeg)
        if biked and (fastest is None or journey.arrival < fastest):
            found.append(_itinerary(tt, journey, origin, destination, departure_s, mixed[0], mixed[1], bikes))
    return found


def _place(name: str, lat: float, lon: float, stop_id: str | None = None) -> dict[str, Any]:
    place: dict[str, Any] = {"name": name, "lat": lat, "lon": lon}
    if stop_id is not None:
        place["stopId"] = stop_id
    return place


def _stop_place(tt: Timetable, stop: int) -> dict[str, Any]:
    return _place(
        str(tt.stop_names[stop]), float(tt.stop_lat[stop]), float(tt.stop_lon[stop]), str(tt.stop_ids[stop])
    )


def _walk(start: int, end: int, frm: dict[str, Any], to: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "WALK",
        "startTime": start,
        "endTime": end,
        "duration": end - start,
        "from": frm,
        "to": to,
        "legGeometry": {
            "type": "LineString",
            "coordinates": [[frm["lon"], frm["lat"]], [to["lon"], to["lat"]]],
        },
        "transitLeg": False,
    }


def _leg(tt: Timetable, leg: Leg) -> dict[str, Any]:
    if leg.kind == "walk":
        return _walk(leg.departure, leg.arrival, _stop_place(tt, leg.from_stop), _stop_place(tt, leg.to_stop))
    route = int(tt.trip_route[leg.trip])
    stops = tt.position_stop[leg.board_position : leg.alight_position + 1]
    return {
        "mode": str(tt.route_modes[route]),
        "route": str(tt.route_names[route]),
        "routeId": str(tt.route_ids[route]),
        "tripId": str(tt.trip_ids[leg.trip]),
        "headsign": str(tt.trip_headsign[leg.trip]),
        "startTime": leg.departure,
        "endTime": leg.arrival,
        "duration": leg.arrival - leg.departure,
        "from": _stop_place(tt, leg.from_stop),
        "to": _stop_place(tt, leg.to_stop),
        "intermediateStops": [_stop_place(tt, int(s)) for s in stops[1:-1]],
        "legGeometry": {
            "type": "LineString",
            "coordinates": [[float(tt.stop_lon[s]), float(tt.stop_lat[s])] for s in stops],
        },
        "transitLeg": True,
    }


def _station_place(bikes: BikeShare, station: int, *, free: str) -> dict[str, Any]:
    net = bikes.network
    place = _place(net.names[station], float(net.lat[station]), float(net.lon[station]))
    place.update(
        vertexType="BIKESHARE",
        bikeShareId=net.station_ids[station],
        networks=[bikes.name],
        **({"bikesAvailable": int(net.bikes[station])} if free == "bikes" else {}),
        **({"spacesAvailable": int(net.docks[station])} if free == "docks" else {}),
    )
    return place


def _bike_legs(
    bikes: BikeShare, leg: BikeLeg, start: int, frm: dict[str, Any], to: dict[str, Any]
) -> list[dict[str, Any]]:
    """Walk to the pickup, ride (taking the bike out and docking it included), walk on, from `start`."""
    pickup = _station_place(bikes, leg.pickup, free="bikes")
    dropoff = _station_place(bikes, leg.dropoff, free="docks")
    at_pickup = start + leg.walk_to_s
    docked = at_pickup + leg.pickup_s + leg.ride_s + leg.dropoff_s
    ride = _walk(at_pickup, docked, pickup, dropoff)
    ride.update(mode="BICYCLE", rentedBike=True, operator=bikes.name)
    legs = [ride]
    if leg.walk_to_s:
        legs.insert(0, _walk(start, at_pickup, frm, pickup))
    if leg.walk_from_s:
        legs.append(_walk(docked, docked + leg.walk_from_s, dropoff, to))
    return legs


def _approach_legs(
    bikes: BikeShare | None, approach: Approach | None, start: int, frm: dict[str, Any], to: dict[str, Any]
) -> list[dict[str, Any]]:
    if isinstance(approach, BikeLeg):
        assert bikes is not None
        return _bike_legs(bikes, approach, start, frm, to)
    if approach:
        return [_walk(start, start + approach, frm, to)]
    return []


def _summary(legs: list[dict[str, Any]], start: int, end: int, transfers: int) -> dict[str, Any]:
    return {
        "startTime": start,
        "endTime": end,
        "duration": end - start,
        "walkTime": sum(leg["duration"] for leg in legs if leg["mode"] == "WALK"),
        "transitTime": sum(leg["duration"] for leg in legs if leg["transitLeg"]),
        "waitingTime": end - start - sum(leg["duration"] for leg in legs),
        "transfers": transfers,
        "legs": legs,
    }


def _itinerary(
    tt: Timetable,
    journey: Journey,
    origin: tuple[float, float],
    destination: tuple[float, float],
    departure_s: int,
    access: dict[int, Approach],
    egress: dict[int, Approach],
    bikes: BikeShare | None = None,
) -> dict[str, Any]:
    legs = [_leg(tt, leg) for leg in journey.legs]
    first = journey.legs[0].from_stop if journey.legs else -1
    last = journey.legs[-1].to_stop if journey.legs else -1
    into, out = access.get(first), egress.get(last)
    start = legs[0]["startTime"] - (_seconds(into) if into else 0) if legs else departure_s
    legs[:0] = (
        _approach_legs(bikes, into, start, _place("Origin", *origin), _stop_place(tt, first)) if legs else []
    )
    if journey.legs:
        arrive = journey.legs[-1].arrival
        legs += _approach_legs(bikes, out, arrive, _stop_place(tt, last), _place("Destination", *destination))
    itinerary = _summary(legs, start, journey.arrival, journey.transfers)
    itinerary["fare"] = itinerary_fare(legs, tt.day)  # sets each transit leg's `fare` too
    return itinerary


def scheduled_times(tt: Timetable, trip: int, from_stop: str, to_stop: str) -> tuple[int, int] | None:
    """(departure at `from_stop`, arrival at the next `to_stop` after it) of trip `trip` of `tt`; None when
    the trip does not serve them in that order."""
    pattern = int(np.searchsorted(tt.pattern_trip_start, trip, side="right") - 1)
    row = trip - int(tt.pattern_trip_start[pattern])
    positions = np.arange(tt.pattern_start[pattern], tt.pattern_start[pattern + 1])
    stops = [str(s) for s in tt.stop_ids[tt.position_stop[positions]]]
    if from_stop not in stops:
        return None
    board = stops.index(from_stop)
    if to_stop not in stops[board + 1 :]:
        return None
    alight = stops.index(to_stop, board + 1)
    departure = int(tt.departure[tt.column_start[positions[board]] + row])
    arrival = int(tt.arrival[tt.column_start[positions[alight]] + row])
    return departure, arrival


def mark_realtime(
    answer: dict[str, Any],
    scheduled: Timetable | None,
    trip_index: Mapping[str, int],
    updated: Collection[str],
) -> None:
    """Give every transit leg of a plan OTP's `realTime` (its trip is in `updated`, or its times differ
    from the schedule), `departureDelay` and `arrivalDelay` (seconds later than `scheduled`, the timetable
    without realtime; `trip_index` maps its trip ids to indices). `scheduled` None: the plan is on the
    schedule, no leg is realtime."""
    for itinerary in answer["plan"]["itineraries"]:
        for leg in itinerary["legs"]:
            if not leg["transitLeg"]:
                continue
            if scheduled is None:
                leg.update(realTime=False, departureDelay=0, arrivalDelay=0)
                continue
            trip = trip_index.get(leg["tripId"])
            times = (
                scheduled_times(scheduled, trip, leg["from"]["stopId"], leg["to"]["stopId"])
                if trip is not None
                else None
            )
            departure, arrival = times if times is not None else (leg["startTime"], leg["endTime"])
            leg["departureDelay"] = leg["startTime"] - departure
            leg["arrivalDelay"] = leg["endTime"] - arrival
            leg["realTime"] = leg["tripId"] in updated or bool(leg["departureDelay"] or leg["arrivalDelay"])
