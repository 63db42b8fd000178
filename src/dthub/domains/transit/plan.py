"""Itineraries from coordinates: walking access and egress to stops within a radius, RAPTOR's Pareto
journeys between them, each as legs (mode, route, stops, times, geometry) in a JSON close to
OpenTripPlanner's `plan` response (`plan.itineraries[].legs[]`), so existing clients map easily.

Times are seconds after midnight of the service day (`serviceDate`); OTP's epoch milliseconds need the
feed's time zone, which a multi-feed timetable does not have one of.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dthub.domains.transit.fares import itinerary_fare
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


def plan(
    tt: Timetable,
    origin: tuple[float, float],
    destination: tuple[float, float],
    departure_s: int,
    *,
    access_radius_m: float = 800.0,
    walk_speed_mps: float = 1.2,
    max_rounds: int = 8,
) -> dict[str, Any]:
    """OTP-like plan from (lat, lon) to (lat, lon) leaving at `departure_s`: one itinerary per number of
    transfers that arrives earlier than with fewer."""
    access = nearby_stops(tt, *origin, radius_m=access_radius_m, walk_speed_mps=walk_speed_mps)
    egress = nearby_stops(tt, *destination, radius_m=access_radius_m, walk_speed_mps=walk_speed_mps)
    sources = {stop: departure_s + walk for stop, walk in access.items()}
    journeys = earliest_arrival(tt, sources, egress, max_rounds=max_rounds) if access and egress else []
    return {
        "plan": {
            "serviceDate": tt.day.isoformat(),
            "date": departure_s,
            "from": _place("Origin", *origin),
            "to": _place("Destination", *destination),
            "itineraries": [
                _itinerary(tt, j, origin, destination, departure_s, access, egress) for j in journeys
            ],
        }
    }


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


def _itinerary(
    tt: Timetable,
    journey: Journey,
    origin: tuple[float, float],
    destination: tuple[float, float],
    departure_s: int,
    access: dict[int, int],
    egress: dict[int, int],
) -> dict[str, Any]:
    legs = [_leg(tt, leg) for leg in journey.legs]
    first = journey.legs[0].from_stop if journey.legs else -1
    last = journey.legs[-1].to_stop if journey.legs else -1
    start = legs[0]["startTime"] - access.get(first, 0) if legs else departure_s
    if access.get(first):
        legs.insert(0, _walk(start, start + access[first], _place("Origin", *origin), _stop_place(tt, first)))
    if egress.get(last):
        arrive = journey.legs[-1].arrival
        legs.append(
            _walk(arrive, arrive + egress[last], _stop_place(tt, last), _place("Destination", *destination))
        )
    walk = sum(leg["duration"] for leg in legs if leg["mode"] == "WALK")
    return {
        "startTime": start,
        "endTime": journey.arrival,
        "duration": journey.arrival - start,
        "walkTime": walk,
        "transitTime": sum(leg["duration"] for leg in legs if leg["transitLeg"]),
        "waitingTime": journey.arrival - start - sum(leg["duration"] for leg in legs),
        "transfers": journey.transfers,
        "legs": legs,
        "fare": itinerary_fare(legs, tt.day),  # sets each transit leg's `fare` too
    }
