"""GBFS bike share (共享单车 / 公共自行车): station_information and station_status, as data and as the
availability the planner reads.

`read_station_information` and `read_station_status` decode GBFS documents (v1.x / v2.x field names);
`BikeNetwork` is the stations at one moment with what each can do then: a station is a **pickup** when it
is installed, renting and has a bike, a **drop-off** when it is installed, returning and has a free dock.
A station whose status is unknown at that moment is neither. `bike_options` finds the best
(pickup, drop-off) pair between walking catchments, ride time by distance x detour / ride speed.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from dthub.domains.transit.geo import distance_m, nearby_pairs

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class GbfsError(ValueError):
    """A document that is not the GBFS file it should be."""


@dataclass(frozen=True, kw_only=True)
class Station:
    station_id: str
    name: str
    lat: float
    lon: float
    capacity: int | None = None
    address: str | None = None


@dataclass(frozen=True, kw_only=True)
class StationStatus:
    station_id: str
    bikes: int
    docks: int
    installed: bool
    renting: bool
    returning: bool
    last_reported: int | None
    """POSIX seconds."""


@dataclass(frozen=True, kw_only=True)
class StatusSnapshot:
    """One station_status document."""

    last_updated: int
    stations: tuple[StationStatus, ...]


def decompress(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _stations(document: Any, file: str) -> list[Any]:
    try:
        stations = document["data"]["stations"]
    except (KeyError, TypeError):
        raise GbfsError(f"{file}: no data.stations") from None
    if not isinstance(stations, list):
        raise GbfsError(f"{file}: data.stations is not a list")
    return stations


def station_of(item: Any) -> Station:
    """One station_information entry; `GbfsError` names what is missing."""
    if not isinstance(item, dict):
        raise GbfsError("station is not an object")
    try:
        station_id, lat, lon = str(item["station_id"]), float(item["lat"]), float(item["lon"])
    except (KeyError, TypeError, ValueError) as error:
        raise GbfsError(f"station {item.get('station_id')!r}: {error!r} missing or not a number") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise GbfsError(f"station {station_id}: ({lat}, {lon}) is not a WGS-84 position")
    capacity = item.get("capacity")
    return Station(
        station_id=station_id,
        name=str(item.get("name") or station_id),
        lat=lat,
        lon=lon,
        capacity=int(capacity) if capacity is not None else None,
        address=item.get("address"),
    )


def status_of(item: Any) -> StationStatus:
    """One station_status entry (`num_docks_available` may be absent for a dockless station: 0)."""
    if not isinstance(item, dict):
        raise GbfsError("status is not an object")
    try:
        bikes = int(item["num_bikes_available"])
        docks = int(item.get("num_docks_available", 0))
        station_id = str(item["station_id"])
    except (KeyError, TypeError, ValueError) as error:
        raise GbfsError(f"status {item.get('station_id')!r}: {error!r} missing or not a number") from None
    if bikes < 0 or docks < 0:
        raise GbfsError(f"status {station_id}: negative bikes or docks ({bikes}, {docks})")
    reported = item.get("last_reported")
    return StationStatus(
        station_id=station_id,
        bikes=bikes,
        docks=docks,
        installed=bool(item.get("is_installed", True)),
        renting=bool(item.get("is_renting", True)),
        returning=bool(item.get("is_returning", True)),
        last_reported=int(reported) if reported is not None else None,
    )


def read_station_information(data: bytes) -> list[Station]:
    document = json.loads(decompress(data))
    return [station_of(item) for item in _stations(document, "station_information")]


def read_station_status(data: bytes) -> list[StatusSnapshot]:
    """A station_status document, or JSON lines of them (one per poll), oldest first."""
    text = decompress(data).decode("utf-8")
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    snapshots = [
        StatusSnapshot(
            last_updated=int(document.get("last_updated", 0)),
            stations=tuple(status_of(item) for item in _stations(document, "station_status")),
        )
        for document in documents
    ]
    return sorted(snapshots, key=lambda s: s.last_updated)


@dataclass(frozen=True, kw_only=True)
class BikeNetwork:
    """Stations and their availability at one moment (`at`, POSIX seconds)."""

    at: int | None
    station_ids: tuple[str, ...]
    names: tuple[str, ...]
    lat: F64
    lon: F64
    bikes: I64
    docks: I64
    pickup: Bools
    dropoff: Bools

    @property
    def stations(self) -> int:
        return len(self.station_ids)


def network_at(
    stations: Sequence[Station],
    snapshots: Sequence[StatusSnapshot],
    at: int | None,
    *,
    max_age_s: int = 900,
) -> BikeNetwork:
    """The stations at `at` (the last poll when None): each with its status from the latest poll at or
    before `at` that lists it, unless that poll is more than `max_age_s` before `at` (then unknown: neither
    pickup nor drop-off). Real feeds publish empty polls now and then (Boulder: 2 of 1,396); they change
    nothing."""
    polls = [s for s in snapshots if at is None or s.last_updated <= at]
    moment = polls[-1].last_updated if polls else None
    now = at if at is not None else moment
    status: dict[str, StationStatus] = {}
    for snapshot in reversed(polls):
        if now is not None and now - snapshot.last_updated > max_age_s:
            break
        for item in snapshot.stations:
            status.setdefault(item.station_id, item)
        if len(status) >= len(stations):
            break
    known = [status.get(s.station_id) for s in stations]
    return BikeNetwork(
        at=moment,
        station_ids=tuple(s.station_id for s in stations),
        names=tuple(s.name for s in stations),
        lat=np.asarray([s.lat for s in stations], np.float64),
        lon=np.asarray([s.lon for s in stations], np.float64),
        bikes=np.asarray([k.bikes if k else 0 for k in known], np.int64),
        docks=np.asarray([k.docks if k else 0 for k in known], np.int64),
        pickup=np.asarray([k is not None and k.installed and k.renting and k.bikes > 0 for k in known], bool),
        dropoff=np.asarray(
            [k is not None and k.installed and k.returning and k.docks > 0 for k in known], bool
        ),
    )


@dataclass(frozen=True, kw_only=True)
class BikeRules:
    """How the planner rides: speeds, detour of the street network over the straight line, the time to take
    a bike out of a dock and to return it, and how far one walks to and from stations."""

    ride_speed_mps: float = 4.5
    """About 16 km/h, a city bike in traffic."""
    walk_speed_mps: float = 1.2
    detour: float = 1.3
    """Riding distance over great-circle distance (walks are straight, as the planner's)."""
    pickup_s: int = 60
    dropoff_s: int = 60
    walk_radius_m: float = 500.0
    """Walk at most this far to a pickup, and from a drop-off."""
    max_ride_s: int = 3600


@dataclass(frozen=True, kw_only=True)
class BikeLeg:
    """Walk to station `pickup`, take a bike, ride to station `dropoff`, dock it, walk on; seconds of each
    part (`total_s` includes the pickup and drop-off times)."""

    pickup: int
    dropoff: int
    walk_to_s: int
    ride_s: int
    walk_from_s: int
    pickup_s: int
    dropoff_s: int

    @property
    def total_s(self) -> int:
        return self.walk_to_s + self.pickup_s + self.ride_s + self.dropoff_s + self.walk_from_s


def walk_seconds(net: BikeNetwork, lat: float, lon: float, rules: BikeRules) -> F64:
    """Walking seconds between a point and every station; inf beyond `walk_radius_m`."""
    metres = distance_m(np.full(net.stations, lat), np.full(net.stations, lon), net.lat, net.lon)
    return np.where(metres <= rules.walk_radius_m, np.ceil(metres / rules.walk_speed_mps), np.inf)


def ride_seconds(net: BikeNetwork, pickups: I64, dropoffs: I64, rules: BikeRules) -> F64:
    """Riding seconds, pickups x dropoffs; inf beyond `max_ride_s` and from a station to itself."""
    a, b = np.meshgrid(pickups, dropoffs, indexing="ij")
    metres = distance_m(net.lat[a], net.lon[a], net.lat[b], net.lon[b])
    ride = np.ceil(metres * rules.detour / rules.ride_speed_mps)
    return np.where((ride <= rules.max_ride_s) & (a != b), ride, np.inf)


def docked_at(net: BikeNetwork, walk_to: F64, rules: BikeRules) -> tuple[F64, I64]:
    """From a start whose walk to each station is `walk_to`: seconds until a bike is docked at each
    station (inf where it takes none), and the pickup used. Only stations with a bike are pickups, only
    stations with a free dock are drop-offs."""
    docked = np.full(net.stations, np.inf)
    via = np.full(net.stations, -1, np.int64)
    pickups = np.flatnonzero(net.pickup & np.isfinite(walk_to))
    dropoffs = np.flatnonzero(net.dropoff)
    if len(pickups) and len(dropoffs):
        total = walk_to[pickups][:, None] + rules.pickup_s + ride_seconds(net, pickups, dropoffs, rules)
        best = np.argmin(total, axis=0)
        docked[dropoffs] = total[best, np.arange(len(dropoffs))] + rules.dropoff_s
        via[dropoffs] = np.where(np.isfinite(docked[dropoffs]), pickups[best], -1)
    return docked, via


def to_destination(net: BikeNetwork, walk_from: F64, rules: BikeRules) -> tuple[F64, I64]:
    """Seconds from standing at each station to the destination by bike (take one there, ride, dock at a
    station whose walk to the destination is `walk_from`, walk); inf where none; and the drop-off used."""
    after = np.full(net.stations, np.inf)
    via = np.full(net.stations, -1, np.int64)
    pickups = np.flatnonzero(net.pickup)
    dropoffs = np.flatnonzero(net.dropoff & np.isfinite(walk_from))
    if len(pickups) and len(dropoffs):
        total = rules.pickup_s + ride_seconds(net, pickups, dropoffs, rules) + rules.dropoff_s
        total = total + walk_from[dropoffs][None, :]
        best = np.argmin(total, axis=1)
        after[pickups] = total[np.arange(len(pickups)), best]
        via[pickups] = np.where(np.isfinite(after[pickups]), dropoffs[best], -1)
    return after, via


def bike_trip(
    net: BikeNetwork, origin: tuple[float, float], destination: tuple[float, float], rules: BikeRules
) -> BikeLeg | None:
    """The fastest walk-bike-walk between two points; None when no pickup with a bike is near the origin or
    no station with a free dock near the destination."""
    walk_to = walk_seconds(net, *origin, rules)
    walk_from = walk_seconds(net, *destination, rules)
    docked, via = docked_at(net, walk_to, rules)
    total = docked + walk_from
    if not np.isfinite(total).any():
        return None
    dropoff = int(np.argmin(total))
    return _leg(net, int(via[dropoff]), dropoff, walk_to[int(via[dropoff])], walk_from[dropoff], rules)


def _leg(
    net: BikeNetwork, pickup: int, dropoff: int, walk_to: float, walk_from: float, rules: BikeRules
) -> BikeLeg:
    ride = ride_seconds(net, np.asarray([pickup]), np.asarray([dropoff]), rules)[0, 0]
    return BikeLeg(
        pickup=pickup,
        dropoff=dropoff,
        walk_to_s=int(walk_to),
        ride_s=int(ride),
        walk_from_s=int(walk_from),
        pickup_s=rules.pickup_s,
        dropoff_s=rules.dropoff_s,
    )


def station_stop_pairs(
    net: BikeNetwork, stop_lat: F64, stop_lon: F64, stops: I64, rules: BikeRules
) -> tuple[I64, I64, F64]:
    """(station, stop, walking seconds) for each station and each of `stops` within `walk_radius_m`."""
    n = net.stations
    lat = np.concatenate((net.lat, stop_lat[stops]))
    lon = np.concatenate((net.lon, stop_lon[stops]))
    a, b, metres = nearby_pairs(lat, lon, np.ones(len(lat), bool), rules.walk_radius_m)
    keep = (a < n) & (b >= n)
    return a[keep], stops[b[keep] - n], np.ceil(metres[keep] / rules.walk_speed_mps)


def bike_access(
    net: BikeNetwork, origin: tuple[float, float], stop_lat: F64, stop_lon: F64, stops: I64, rules: BikeRules
) -> dict[int, BikeLeg]:
    """Stop → the fastest walk-bike-walk from the origin to it."""
    docked, via = docked_at(net, walk_seconds(net, *origin, rules), rules)
    station, stop, walk = station_stop_pairs(net, stop_lat, stop_lon, stops, rules)
    total = docked[station] + walk
    walk_to = walk_seconds(net, *origin, rules)
    best: dict[int, BikeLeg] = {}
    for n in np.argsort(total, kind="stable").tolist():
        if not np.isfinite(total[n]) or int(stop[n]) in best:
            continue
        dropoff = int(station[n])
        pickup = int(via[dropoff])
        best[int(stop[n])] = _leg(net, pickup, dropoff, walk_to[pickup], walk[n], rules)
    return best


def bike_egress(
    net: BikeNetwork,
    destination: tuple[float, float],
    stop_lat: F64,
    stop_lon: F64,
    stops: I64,
    rules: BikeRules,
) -> dict[int, BikeLeg]:
    """Stop → the fastest walk-bike-walk from it to the destination."""
    walk_from = walk_seconds(net, *destination, rules)
    after, via = to_destination(net, walk_from, rules)
    station, stop, walk = station_stop_pairs(net, stop_lat, stop_lon, stops, rules)
    total = walk + after[station]
    best: dict[int, BikeLeg] = {}
    for n in np.argsort(total, kind="stable").tolist():
        if not np.isfinite(total[n]) or int(stop[n]) in best:
            continue
        pickup = int(station[n])
        dropoff = int(via[pickup])
        best[int(stop[n])] = _leg(net, pickup, dropoff, walk[n], walk_from[dropoff], rules)
    return best


def utc(posix: int | None) -> datetime | None:
    return datetime.fromtimestamp(posix, UTC) if posix is not None else None
