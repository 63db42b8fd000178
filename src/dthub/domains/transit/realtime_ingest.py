"""Realtime transit data landed as datasets: vehicle positions (from GTFS-RT VehiclePositions, or the CSV
of positions CapMetrics recorded from Capital Metro's GTFS-RT feed) and stop-time updates (GTFS-RT
TripUpdates).

Ids are stored as the realtime feed sends them, not namespaced: a position belongs to the static feed its
realtime feed comes with, and matching (`transit.realtime`) happens when it is read. Locations are entity
numbers (0-based) of the FeedMessage, or line numbers of the CSV; a quarantined entity is kept as its
GTFS-RT JSON (`google.protobuf.json_format`), which replays.

Refused: `gtfsrt.bad_message` (the whole source), `gtfsrt.no_position`, `gtfsrt.no_vehicle`,
`gtfsrt.no_trip`; `capmetrics.bad_line`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import pyarrow as pa
from google.protobuf import json_format
from google.transit import gtfs_realtime_pb2 as rt

from dthub.domains.transit.realtime import (
    RealtimeError,
    StopTimeEvent,
    TripRef,
    feed_message,
    position_of,
    trip_update_of,
)
from dthub.hub.adapter import LOCATION, LineText, LocationUnit, Parsed, Rejected
from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec, in_range

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
OWNER = "市交通运输委 公共交通处 (public transport division)"


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


_TRIP_FIELDS = [
    _field("trip_id", pa.string(), "Trip id as the realtime feed sends it (static feed's id)"),
    _field("route_id", pa.string(), "Route id as sent"),
    _field("direction_id", pa.int8(), "Direction, 0 or 1, as sent"),
    _field("start_date", pa.string(), "Service date of the trip, YYYYMMDD, as sent"),
    _field("start_time", pa.string(), "Start time of the trip, HH:MM:SS, as sent"),
]

VEHICLE_POSITIONS = DatasetSpec(
    id="transit.vehicle_positions",
    title_zh="公交车辆实时位置",
    title_en="Transit vehicle positions",
    description=(
        "Positions of buses and trains in service (AVL), from GTFS-Realtime VehiclePositions: vehicle, "
        "the trip it serves, position, speed, and the stop it is at or going to. Times UTC."
    ),
    schema=pa.schema(
        [
            _field("source", pa.string(), "Realtime feed, e.g. `capmetro`", nullable=False),
            _field(
                "vehicle_id", pa.string(), "Vehicle id (VehicleDescriptor.id, else entity id)", nullable=False
            ),
            _field(
                "observed_at", UTC_TIMESTAMP, "Time of the fix (the header's when absent)", nullable=False
            ),
            *_TRIP_FIELDS,
            _field("trip_headsign", pa.string(), "Headsign, where the source has it"),
            _field("lat", pa.float64(), "Latitude, WGS-84"),
            _field("lon", pa.float64(), "Longitude, WGS-84"),
            _field("bearing", pa.float64(), "Bearing, degrees clockwise from north"),
            _field("speed_mps", pa.float64(), "Speed, m/s"),
            _field("current_stop_sequence", pa.int32(), "Stop sequence of the current stop"),
            _field("stop_id", pa.string(), "Current stop"),
            _field("current_status", pa.string(), "INCOMING_AT, STOPPED_AT or IN_TRANSIT_TO"),
            _field("occupancy_status", pa.string(), "Occupancy, GTFS-RT OccupancyStatus"),
        ]
    ),
    primary_key=("source", "vehicle_id", "observed_at"),
    time_column="observed_at",
    owner=OWNER,
    update_frequency="PT30S",
    retention_days=366,
    level=Level.GENERAL_1,
    vehicle_column=None,
    point_columns=("lon", "lat"),
    rules=(in_range("lat", -90, 90), in_range("lon", -180, 180), in_range("speed_mps", 0, 100)),
)

STOP_TIME_UPDATES = DatasetSpec(
    id="transit.stop_time_updates",
    title_zh="公交实时到站预测",
    title_en="Transit stop time updates",
    description=(
        "GTFS-Realtime TripUpdates: per trip, predicted arrival and departure (delay or absolute time) at "
        "its stops, or the trip cancelled; one row per StopTimeUpdate (a trip without any: one row with "
        "`update_index` -1). Times UTC."
    ),
    schema=pa.schema(
        [
            _field("source", pa.string(), "Realtime feed", nullable=False),
            _field("feed_time", UTC_TIMESTAMP, "Header timestamp of the FeedMessage", nullable=False),
            _field("entity_id", pa.string(), "Entity id", nullable=False),
            _field("update_index", pa.int32(), "Order of the StopTimeUpdate in the entity", nullable=False),
            *_TRIP_FIELDS,
            _field("trip_relationship", pa.string(), "SCHEDULED, CANCELED, ADDED ..."),
            _field("vehicle_id", pa.string(), "Vehicle serving the trip"),
            _field("trip_delay_s", pa.int32(), "Trip-level delay, s"),
            _field("stop_sequence", pa.int32(), "Stop sequence of the static trip"),
            _field("stop_id", pa.string(), "Stop id"),
            _field("arrival_delay_s", pa.int32(), "Arrival delay, s"),
            _field("arrival_time", UTC_TIMESTAMP, "Predicted arrival"),
            _field("departure_delay_s", pa.int32(), "Departure delay, s"),
            _field("departure_time", UTC_TIMESTAMP, "Predicted departure"),
            _field("stop_relationship", pa.string(), "SCHEDULED, SKIPPED or NO_DATA"),
        ]
    ),
    primary_key=("source", "feed_time", "entity_id", "update_index"),
    time_column="feed_time",
    owner=OWNER,
    update_frequency="PT30S",
    retention_days=366,
    level=Level.GENERAL_1,
)


def _utc(posix: int | None) -> datetime | None:
    return datetime.fromtimestamp(posix, UTC) if posix is not None else None


def _trip_columns(trip: TripRef | None) -> dict[str, Any]:
    if trip is None:
        return dict.fromkeys(("trip_id", "route_id", "direction_id", "start_date", "start_time"))
    return {
        "trip_id": trip.trip_id,
        "route_id": trip.route_id,
        "direction_id": trip.direction_id,
        "start_date": trip.start_date,
        "start_time": trip.start_time,
    }


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class _GtfsRt:
    """Entities of one FeedMessage → rows; the raw record of an entity is its JSON."""

    source: str = "gtfsrt"
    location_unit: ClassVar[LocationUnit] = "record"
    schema: ClassVar[pa.Schema]

    def parse(self, data: bytes) -> Parsed:
        try:
            message: Any = feed_message(data)
        except RealtimeError as error:
            return Parsed(
                rows=self._table([], []),
                rejected=(Rejected(reason="gtfsrt.bad_message", detail=str(error), location=None, raw=""),),
            )
        return self._entities(list(enumerate(message.entity)), int(message.header.timestamp))

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        message: Any = feed_message(data)
        stamp = int(message.header.timestamp)
        return [self._raw(message.entity[n], stamp) for n in locations]

    def parse_raw(self, raw: str) -> Parsed:
        message: Any = rt.FeedMessage()
        try:
            json_format.Parse(raw, message)
        except json_format.ParseError as error:
            rejected = Rejected(reason="gtfsrt.bad_message", detail=str(error), location=0, raw=raw)
            return Parsed(rows=self._table([], []), rejected=(rejected,))
        return self._entities(list(enumerate(message.entity)), int(message.header.timestamp))

    @staticmethod
    def _raw(entity: Any, stamp: int) -> str:
        message: Any = rt.FeedMessage()
        message.header.gtfs_realtime_version = "2.0"
        message.header.timestamp = stamp
        message.entity.append(entity)
        return str(json_format.MessageToJson(message, indent=None))

    def _entities(self, entities: list[tuple[int, Any]], stamp: int) -> Parsed:
        rows: list[dict[str, Any]] = []
        locations: list[int] = []
        rejected: list[Rejected] = []
        skipped = 0
        for location, entity in entities:
            try:
                made = self._rows(entity, stamp)
            except _Refused as refused:
                raw = self._raw(entity, stamp)
                rejected.append(
                    Rejected(reason=refused.reason, detail=refused.detail, location=location, raw=raw)
                )
                continue
            if made is None:
                skipped += 1
                continue
            rows.extend(made)
            locations.extend([location] * len(made))
        return Parsed(rows=self._table(rows, locations), rejected=tuple(rejected), skipped=skipped)

    def _rows(self, entity: Any, stamp: int) -> list[dict[str, Any]] | None:
        raise NotImplementedError

    def _table(self, rows: list[dict[str, Any]], locations: list[int]) -> pa.Table:
        schema = self.schema.append(pa.field(LOCATION, pa.int64()))
        return pa.Table.from_pylist(
            [{**row, LOCATION: n} for row, n in zip(rows, locations, strict=True)], schema
        )


@dataclass(frozen=True)
class GtfsRtVehiclePositions(_GtfsRt):
    """GTFS-RT FeedMessage (protobuf) → `transit.vehicle_positions`; entities without a vehicle position
    are skipped (a TripUpdate or Alert in the same feed)."""

    name: ClassVar[str] = "gtfsrt.vehicle_positions"
    dataset: ClassVar[str] = "transit.vehicle_positions"
    schema: ClassVar[pa.Schema] = VEHICLE_POSITIONS.schema

    def _rows(self, entity: Any, stamp: int) -> list[dict[str, Any]] | None:
        if not entity.HasField("vehicle"):
            return None
        position = position_of(entity)
        if position.lat is None or position.lon is None:
            raise _Refused("gtfsrt.no_position", f"entity {position.entity_id}: no latitude/longitude")
        return [
            {
                "source": self.source,
                "vehicle_id": position.vehicle_id or position.entity_id,
                "observed_at": _utc(position.timestamp or stamp),
                **_trip_columns(position.trip),
                "trip_headsign": None,
                "lat": position.lat,
                "lon": position.lon,
                "bearing": position.bearing,
                "speed_mps": position.speed_mps,
                "current_stop_sequence": position.current_stop_sequence,
                "stop_id": position.stop_id,
                "current_status": position.current_status,
                "occupancy_status": position.occupancy_status,
            }
        ]


def _event_columns(prefix: str, event: StopTimeEvent | None) -> dict[str, Any]:
    return {
        f"{prefix}_delay_s": event.delay if event else None,
        f"{prefix}_time": _utc(event.time) if event else None,
    }


@dataclass(frozen=True)
class GtfsRtTripUpdates(_GtfsRt):
    """GTFS-RT FeedMessage (protobuf) → `transit.stop_time_updates`."""

    name: ClassVar[str] = "gtfsrt.trip_updates"
    dataset: ClassVar[str] = "transit.stop_time_updates"
    schema: ClassVar[pa.Schema] = STOP_TIME_UPDATES.schema

    def _rows(self, entity: Any, stamp: int) -> list[dict[str, Any]] | None:
        if not entity.HasField("trip_update"):
            return None
        update = trip_update_of(entity)
        if update.trip.trip_id is None and update.trip.route_id is None:
            raise _Refused("gtfsrt.no_trip", f"entity {update.entity_id}: neither trip_id nor route_id")
        base = {
            "source": self.source,
            "feed_time": _utc(stamp),
            "entity_id": update.entity_id,
            **_trip_columns(update.trip),
            "trip_relationship": update.trip.schedule_relationship,
            "vehicle_id": update.vehicle_id,
            "trip_delay_s": update.delay,
        }
        if not update.updates:
            empty = {"stop_sequence": None, "stop_id": None, "stop_relationship": None}
            return [
                {
                    **base,
                    "update_index": -1,
                    **empty,
                    **_event_columns("arrival", None),
                    **_event_columns("departure", None),
                }
            ]
        return [
            {
                **base,
                "update_index": n,
                "stop_sequence": stop.stop_sequence,
                "stop_id": stop.stop_id,
                **_event_columns("arrival", stop.arrival),
                **_event_columns("departure", stop.departure),
                "stop_relationship": stop.schedule_relationship,
            }
            for n, stop in enumerate(update.updates)
        ]


CAPMETRICS_COLUMNS = ("vehicle_id", "timestamp", "speed", "route_id", "trip_id", "latitude", "longitude")


@dataclass(frozen=True)
class CapMetricsPositions(LineText):
    """CapMetrics' daily CSV of Capital Metro (Austin) GTFS-RT positions → `transit.vehicle_positions`:
    `vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign`, ISO 8601 times with
    offset, speed in m/s. A fix at (0, 0) is refused (`capmetrics.no_position`), as is a line that does
    not parse (`capmetrics.bad_line`)."""

    name: ClassVar[str] = "capmetrics.vehicle_positions"
    dataset: ClassVar[str] = "transit.vehicle_positions"
    source: str = "capmetro"

    def parse(self, data: bytes) -> Parsed:
        text = data.decode("utf-8", "replace")
        lines = text.split("\n")
        header: list[str] | None = None
        rows: list[dict[str, Any]] = []
        locations: list[int] = []
        rejected: list[Rejected] = []
        skipped = 0
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\r")
            if not line.strip():
                skipped += 1
                continue
            if line.startswith("vehicle_id,"):
                header = next(csv.reader([line]))
                skipped += 1
                continue
            try:
                rows.append(self._row(line, header or [*CAPMETRICS_COLUMNS, "trip_headsign"]))
                locations.append(number)
            except _Refused as refused:
                rejected.append(
                    Rejected(reason=refused.reason, detail=refused.detail, location=number, raw=line)
                )
        schema = VEHICLE_POSITIONS.schema.append(pa.field(LOCATION, pa.int64()))
        table = pa.Table.from_pylist(
            [{**r, LOCATION: n} for r, n in zip(rows, locations, strict=True)], schema
        )
        return Parsed(rows=table, rejected=tuple(rejected), skipped=skipped)

    def _row(self, line: str, header: list[str]) -> dict[str, Any]:
        values = next(csv.reader(io.StringIO(line)))
        if len(values) != len(header):
            raise _Refused("capmetrics.bad_line", f"{len(values)} fields, want {len(header)}")
        record = dict(zip(header, values, strict=True))
        try:
            observed = datetime.fromisoformat(record["timestamp"])
            lat, lon = float(record["latitude"]), float(record["longitude"])
            speed = float(record["speed"]) if record.get("speed") else None
        except (KeyError, ValueError) as error:
            raise _Refused("capmetrics.bad_line", str(error)) from None
        if observed.tzinfo is None:
            raise _Refused("capmetrics.bad_line", f"timestamp {record['timestamp']!r} has no UTC offset")
        if lat == 0 or lon == 0:
            raise _Refused("capmetrics.no_position", f"position ({lat}, {lon}) is no fix")
        return {
            "source": self.source,
            "vehicle_id": record["vehicle_id"],
            "observed_at": observed.astimezone(UTC),
            "trip_id": record.get("trip_id") or None,
            "route_id": record.get("route_id") or None,
            "direction_id": None,
            "start_date": None,
            "start_time": None,
            "trip_headsign": record.get("trip_headsign") or None,
            "lat": lat,
            "lon": lon,
            "bearing": None,
            "speed_mps": speed,
            "current_stop_sequence": None,
            "stop_id": None,
            "current_status": None,
            "occupancy_status": None,
        }
