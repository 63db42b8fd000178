"""GTFS-Realtime (实时公交数据): VehiclePositions and TripUpdates decoded with gtfs-realtime-bindings,
matched to the scheduled trips of the static feed they come with.

Matching (`match_trip`), in the order the GTFS-RT reference gives for a `TripDescriptor`:
- `trip_id` given: it must be a trip of the static feed that runs on the service date (`start_date`, or
  the local date of the entity's timestamp, or the day before for a trip past midnight);
- no `trip_id`: `route_id` (+ `direction_id`) + `start_time` picks the trip that starts then (a frequency
  trip, `frequencies.txt`, whose window holds it); without `start_time`, the route's only trip of the day.
Every entity that matches nothing is counted with a stable reason (`MatchReport.unmatched`).

Times of a TripUpdate (`time`, POSIX seconds) become seconds of the service day from the feed's
`agency_timezone`: the GTFS day starts at noon minus 12 h local time. Applying TripUpdates to a timetable
(`apply_trip_updates`) is in `transit.realtime_apply`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2 as rt

from dthub.domains.transit.gtfs import Feed, parse_date, seconds, texts
from dthub.domains.transit.timetable import DAY_S, active_services

MatchHow = Literal["trip_id", "route_start_time", "route_only_trip"]


class RealtimeError(ValueError):
    """Bytes that are not a GTFS-Realtime FeedMessage."""


@dataclass(frozen=True, kw_only=True)
class TripRef:
    """A GTFS-RT TripDescriptor as sent; empty fields are None."""

    trip_id: str | None = None
    route_id: str | None = None
    direction_id: int | None = None
    start_date: str | None = None
    """`YYYYMMDD`."""
    start_time: str | None = None
    """`HH:MM:SS`, may pass 24 h."""
    schedule_relationship: str = "SCHEDULED"


@dataclass(frozen=True, kw_only=True)
class VehiclePosition:
    """One VehiclePosition entity."""

    entity_id: str
    vehicle_id: str | None
    vehicle_label: str | None
    trip: TripRef | None
    lat: float | None
    lon: float | None
    bearing: float | None
    speed_mps: float | None
    timestamp: int | None
    """POSIX seconds of the fix; None when the entity has none (the header's applies)."""
    current_stop_sequence: int | None
    stop_id: str | None
    current_status: str | None
    occupancy_status: str | None


@dataclass(frozen=True, kw_only=True)
class StopTimeEvent:
    delay: int | None = None
    time: int | None = None
    """POSIX seconds."""


@dataclass(frozen=True, kw_only=True)
class StopTimeUpdate:
    stop_sequence: int | None = None
    stop_id: str | None = None
    arrival: StopTimeEvent | None = None
    departure: StopTimeEvent | None = None
    schedule_relationship: str = "SCHEDULED"
    """SCHEDULED, SKIPPED, NO_DATA (or UNSCHEDULED)."""


@dataclass(frozen=True, kw_only=True)
class TripUpdate:
    """One TripUpdate entity."""

    entity_id: str
    trip: TripRef
    vehicle_id: str | None = None
    timestamp: int | None = None
    delay: int | None = None
    """Trip-level delay, s (experimental in GTFS-RT): used before the first StopTimeUpdate's stop."""
    updates: tuple[StopTimeUpdate, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RealtimeFeed:
    """A decoded FeedMessage."""

    version: str
    incrementality: str
    timestamp: int
    positions: tuple[VehiclePosition, ...]
    trip_updates: tuple[TripUpdate, ...]
    alerts: int
    """Alert entities (counted, not decoded)."""
    empty: int
    """Entities with none of vehicle, trip_update and alert."""


def _opt(message: object, name: str) -> object | None:
    return getattr(message, name) if message.HasField(name) else None  # type: ignore[attr-defined]


def _text(message: object, name: str) -> str | None:
    value = _opt(message, name)
    return str(value) if value not in (None, "") else None


def _trip(descriptor: object) -> TripRef:
    direction = _opt(descriptor, "direction_id")
    relationship = rt.TripDescriptor.ScheduleRelationship.Name(descriptor.schedule_relationship)  # type: ignore[attr-defined]
    return TripRef(
        trip_id=_text(descriptor, "trip_id"),
        route_id=_text(descriptor, "route_id"),
        direction_id=int(direction) if direction is not None else None,  # type: ignore[call-overload]
        start_date=_text(descriptor, "start_date"),
        start_time=_text(descriptor, "start_time"),
        schedule_relationship=relationship,
    )


def _event(message: object, name: str) -> StopTimeEvent | None:
    event = _opt(message, name)
    if event is None:
        return None
    delay, time = _opt(event, "delay"), _opt(event, "time")
    return StopTimeEvent(
        delay=int(delay) if delay is not None else None,  # type: ignore[call-overload]
        time=int(time) if time is not None else None,  # type: ignore[call-overload]
    )


def position_of(entity: object) -> VehiclePosition:
    vehicle = entity.vehicle  # type: ignore[attr-defined]
    position = _opt(vehicle, "position")
    descriptor = _opt(vehicle, "vehicle")
    status = _opt(vehicle, "current_status")
    occupancy = _opt(vehicle, "occupancy_status")
    stamp = _opt(vehicle, "timestamp")
    sequence = _opt(vehicle, "current_stop_sequence")

    def pos(name: str) -> float | None:
        value = _opt(position, name) if position is not None else None
        return float(value) if value is not None else None  # type: ignore[arg-type]

    return VehiclePosition(
        entity_id=str(entity.id),  # type: ignore[attr-defined]
        vehicle_id=_text(descriptor, "id") if descriptor is not None else None,
        vehicle_label=_text(descriptor, "label") if descriptor is not None else None,
        trip=_trip(vehicle.trip) if vehicle.HasField("trip") else None,
        lat=pos("latitude"),
        lon=pos("longitude"),
        bearing=pos("bearing"),
        speed_mps=pos("speed"),
        timestamp=int(stamp) if stamp is not None else None,  # type: ignore[call-overload]
        current_stop_sequence=int(sequence) if sequence is not None else None,  # type: ignore[call-overload]
        stop_id=_text(vehicle, "stop_id"),
        current_status=rt.VehiclePosition.VehicleStopStatus.Name(status) if status is not None else None,
        occupancy_status=rt.VehiclePosition.OccupancyStatus.Name(occupancy)
        if occupancy is not None
        else None,
    )


def trip_update_of(entity: object) -> TripUpdate:
    update = entity.trip_update  # type: ignore[attr-defined]
    descriptor = _opt(update, "vehicle")
    stamp, delay = _opt(update, "timestamp"), _opt(update, "delay")
    stop_updates = tuple(
        StopTimeUpdate(
            stop_sequence=int(s.stop_sequence) if s.HasField("stop_sequence") else None,
            stop_id=s.stop_id or None,
            arrival=_event(s, "arrival"),
            departure=_event(s, "departure"),
            schedule_relationship=rt.TripUpdate.StopTimeUpdate.ScheduleRelationship.Name(
                s.schedule_relationship
            ),
        )
        for s in update.stop_time_update
    )
    return TripUpdate(
        entity_id=str(entity.id),  # type: ignore[attr-defined]
        trip=_trip(update.trip),
        vehicle_id=_text(descriptor, "id") if descriptor is not None else None,
        timestamp=int(stamp) if stamp is not None else None,  # type: ignore[call-overload]
        delay=int(delay) if delay is not None else None,  # type: ignore[call-overload]
        updates=stop_updates,
    )


def feed_message(data: bytes) -> object:
    """The protobuf FeedMessage of `data`; `RealtimeError` when it is not one."""
    message = rt.FeedMessage()
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        raise RealtimeError(f"not a GTFS-Realtime FeedMessage: {error}") from None
    if not message.HasField("header"):
        raise RealtimeError("not a GTFS-Realtime FeedMessage: no header")
    return message


def parse_feed(data: bytes) -> RealtimeFeed:
    """Decode a GTFS-Realtime FeedMessage (protobuf bytes)."""
    message = feed_message(data)
    positions, updates, alerts, empty = [], [], 0, 0
    for entity in message.entity:  # type: ignore[attr-defined]
        if entity.HasField("vehicle"):
            positions.append(position_of(entity))
        if entity.HasField("trip_update"):
            updates.append(trip_update_of(entity))
        if entity.HasField("alert"):
            alerts += 1
        if not any(entity.HasField(name) for name in ("vehicle", "trip_update", "alert")):
            empty += 1
    header = message.header  # type: ignore[attr-defined]
    return RealtimeFeed(
        version=str(header.gtfs_realtime_version),
        incrementality=rt.FeedHeader.Incrementality.Name(header.incrementality),
        timestamp=int(header.timestamp),
        positions=tuple(positions),
        trip_updates=tuple(updates),
        alerts=alerts,
        empty=empty,
    )


# --- matching to the static feed -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Match:
    """What one entity's trip descriptor matched: a static trip on a service date, or a reason."""

    entity_id: str
    trip_id: str | None = None
    """The static feed's trip id (not namespaced)."""
    service_date: date | None = None
    how: MatchHow | None = None
    reason: str | None = None
    """Why nothing matched: `no_trip_descriptor`, `unknown_trip_id`, `trip_not_running`, `bad_start_date`,
    `unknown_route_id`, `no_trip_at_start_time`, `route_not_running`, `ambiguous_route`."""

    @property
    def matched(self) -> bool:
        return self.trip_id is not None


@dataclass(frozen=True)
class MatchReport:
    matches: tuple[Match, ...]

    @property
    def matched(self) -> int:
        return sum(m.matched for m in self.matches)

    @property
    def unmatched(self) -> dict[str, int]:
        """Reason → entities."""
        return dict(Counter(m.reason for m in self.matches if m.reason is not None))

    def by_entity(self) -> dict[str, Match]:
        return {m.entity_id: m for m in self.matches}


@dataclass(frozen=True)
class Schedule:
    """The static feed as matching reads it: trips with their route, direction, service, first and last
    times, and frequency windows."""

    feed: Feed
    _services: dict[date, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def timezone(self) -> ZoneInfo:
        zones = texts(self.feed.column("agency.txt", "agency_timezone"))
        return ZoneInfo(str(zones[0]) if len(zones) and zones[0] else "UTC")

    @cached_property
    def trips(self) -> dict[str, tuple[str, int | None, str]]:
        """trip_id → (route_id, direction_id, service_id)."""
        directions = texts(self.feed.column("trips.txt", "direction_id"))
        return {
            trip: (route, int(direction) if direction else None, service)
            for trip, route, direction, service in zip(
                texts(self.feed.column("trips.txt", "trip_id")),
                texts(self.feed.column("trips.txt", "route_id")),
                directions,
                texts(self.feed.column("trips.txt", "service_id")),
                strict=True,
            )
        }

    @cached_property
    def routes(self) -> frozenset[str]:
        return frozenset(str(r) for r in texts(self.feed.column("routes.txt", "route_id")))

    @cached_property
    def first_last(self) -> dict[str, tuple[int, int]]:
        """trip_id → (first departure, last arrival), seconds of its service day."""
        stop_times = self.feed.get("stop_times.txt")
        if stop_times.num_rows == 0:
            return {}
        trips = texts(stop_times["trip_id"])
        departure = seconds(stop_times["departure_time"]).astype(np.int64)
        arrival = seconds(stop_times["arrival_time"]).astype(np.int64)
        times = np.where(departure >= 0, departure, arrival)
        result: dict[str, tuple[int, int]] = {}
        for trip, time in zip(trips.tolist(), times.tolist(), strict=True):
            if time < 0:
                continue
            low, high = result.get(trip, (time, time))
            result[trip] = (min(low, time), max(high, time))
        return result

    @cached_property
    def frequencies(self) -> dict[str, list[tuple[int, int, int, bool]]]:
        """trip_id → [(start, end, headway_s, exact_times)] of frequencies.txt."""
        table = self.feed.get("frequencies.txt")
        result: dict[str, list[tuple[int, int, int, bool]]] = {}
        if table.num_rows == 0:
            return result
        starts, ends = seconds(table["start_time"]), seconds(table["end_time"])
        exact = texts(self.feed.column("frequencies.txt", "exact_times"))
        for trip, start, end, headway, is_exact in zip(
            texts(table["trip_id"]), starts, ends, texts(table["headway_secs"]), exact, strict=True
        ):
            result.setdefault(trip, []).append((int(start), int(end), int(float(headway)), is_exact == "1"))
        return result

    def services(self, day: date) -> frozenset[str]:
        if day not in self._services:
            self._services[day] = frozenset(active_services(self.feed, day))
        return self._services[day]

    def runs(self, trip_id: str, day: date) -> bool:
        return self.trips[trip_id][2] in self.services(day)

    def local_date(self, posix: int) -> date:
        return datetime.fromtimestamp(posix, UTC).astimezone(self.timezone).date()

    def day_origin(self, day: date) -> int:
        """POSIX seconds of 00:00 of service day `day` in GTFS terms: noon local time minus 12 h."""
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=self.timezone)
        return int(noon.timestamp()) - 12 * 3600

    def starts_at(self, trip_id: str, start: int) -> bool:
        """Whether an instance of the trip starts at `start` (its first departure, or within one of its
        frequency windows: on the grid of the headway when `exact_times` is 1)."""
        windows = self.frequencies.get(trip_id)
        if windows:
            return any(
                low <= start < high and (not exact or (start - low) % headway == 0)
                for low, high, headway, exact in windows
            )
        return self.first_last.get(trip_id, (-1, -1))[0] == start


def _hms(text: str) -> int | None:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2])


def _service_dates(schedule: Schedule, ref: TripRef, timestamp: int | None) -> list[date] | None:
    """Service dates to try: the start date, or the local date of the timestamp and the day before."""
    if ref.start_date is not None:
        try:
            return [parse_date(ref.start_date)]
        except ValueError:
            return None
    if timestamp is None:
        return None
    today = schedule.local_date(timestamp)
    return [today, today - timedelta(days=1)]


def match_trip(schedule: Schedule, entity_id: str, ref: TripRef | None, timestamp: int | None) -> Match:
    """Match one trip descriptor to a scheduled trip (see the module docstring)."""
    if ref is None or (ref.trip_id is None and ref.route_id is None):
        return Match(entity_id=entity_id, reason="no_trip_descriptor")
    dates = _service_dates(schedule, ref, timestamp)
    if dates is None:
        return Match(entity_id=entity_id, reason="bad_start_date")
    if ref.trip_id is not None:
        if ref.trip_id not in schedule.trips:
            return Match(entity_id=entity_id, reason="unknown_trip_id")
        for day in dates:
            # the day before only for a trip whose times pass midnight
            late = day == dates[0] or schedule.first_last.get(ref.trip_id, (0, 0))[1] >= DAY_S
            if late and schedule.runs(ref.trip_id, day):
                return Match(entity_id=entity_id, trip_id=ref.trip_id, service_date=day, how="trip_id")
        return Match(entity_id=entity_id, reason="trip_not_running")
    assert ref.route_id is not None
    if ref.route_id not in schedule.routes:
        return Match(entity_id=entity_id, reason="unknown_route_id")
    start = _hms(ref.start_time) if ref.start_time is not None else None
    for day in dates:
        candidates = [
            trip
            for trip, (route, direction, _) in schedule.trips.items()
            if route == ref.route_id
            and (ref.direction_id is None or direction is None or direction == ref.direction_id)
            and schedule.runs(trip, day)
        ]
        if start is not None:
            starting = [trip for trip in candidates if schedule.starts_at(trip, start)]
            if len(starting) == 1:
                return Match(
                    entity_id=entity_id, trip_id=starting[0], service_date=day, how="route_start_time"
                )
            if len(starting) > 1:
                return Match(entity_id=entity_id, reason="ambiguous_route")
            continue
        if len(candidates) == 1:
            return Match(entity_id=entity_id, trip_id=candidates[0], service_date=day, how="route_only_trip")
        if len(candidates) > 1:
            return Match(entity_id=entity_id, reason="ambiguous_route")
        break  # no start time: only the entity's own local date is meant
    return Match(
        entity_id=entity_id, reason="no_trip_at_start_time" if start is not None else "route_not_running"
    )


def match_positions(schedule: Schedule, feed: RealtimeFeed) -> MatchReport:
    """Match every VehiclePosition of a decoded feed (the header's time when an entity has none)."""
    return MatchReport(
        tuple(
            match_trip(schedule, p.entity_id, p.trip, p.timestamp or feed.timestamp) for p in feed.positions
        )
    )


def match_trip_updates(schedule: Schedule, feed: RealtimeFeed) -> MatchReport:
    return MatchReport(
        tuple(
            match_trip(schedule, u.entity_id, u.trip, u.timestamp or feed.timestamp)
            for u in feed.trip_updates
        )
    )


def reasons(reports: Iterable[MatchReport]) -> Mapping[str, int]:
    """Unmatched entities by reason over several reports."""
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report.unmatched)
    return dict(total)
