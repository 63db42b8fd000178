"""GBFS landed as datasets: bike-share stations (station_information) and their status over time
(station_status, one row per station per poll).

`gbfs.station_information` reads one station_information document; locations are station numbers in it
(0-based) and a refused station is kept as its JSON. `gbfs.station_status` reads a station_status
document or JSON lines of them (one per poll, gzip accepted); locations are line numbers, and a refused
station is kept as a one-station document, which replays. Refused: `gbfs.bad_json`, `gbfs.bad_station`,
`gbfs.bad_status`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from dthub.domains.transit.gbfs import GbfsError, decompress, station_of, status_of, utc
from dthub.hub.adapter import LOCATION, LocationUnit, Parsed, Rejected, text_lines
from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec, in_range

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
OWNER = "市交通运输委 慢行交通处 (cycling and walking division)"


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


BIKE_STATIONS = DatasetSpec(
    id="transit.bike_stations",
    title_zh="公共自行车站点",
    title_en="Bike-share stations",
    description="GBFS station_information of each bike-share system: where its docking stations are.",
    schema=pa.schema(
        [
            _field("system", pa.string(), "Bike-share system, e.g. `boulder_bcycle`", nullable=False),
            _field("station_id", pa.string(), "GBFS station_id", nullable=False),
            _field("name", pa.string(), "Station name"),
            _field("address", pa.string(), "Address"),
            _field("lat", pa.float64(), "Latitude, WGS-84", nullable=False),
            _field("lon", pa.float64(), "Longitude, WGS-84", nullable=False),
            _field("capacity", pa.int32(), "Docks, where the system publishes it"),
        ]
    ),
    primary_key=("system", "station_id"),
    time_column=None,
    owner=OWNER,
    update_frequency="irregular",
    retention_days=None,
    level=Level.GENERAL_1,
    point_columns=("lon", "lat"),
    rules=(in_range("lat", -90, 90), in_range("lon", -180, 180), in_range("capacity", 0, 10_000)),
)

BIKE_STATION_STATUS = DatasetSpec(
    id="transit.bike_station_status",
    title_zh="公共自行车站点状态",
    title_en="Bike-share station status",
    description=(
        "GBFS station_status polls: bikes and free docks at each station, and whether it rents and takes "
        "bikes back. One row per station per poll; times UTC."
    ),
    schema=pa.schema(
        [
            _field("system", pa.string(), "Bike-share system", nullable=False),
            _field("station_id", pa.string(), "GBFS station_id", nullable=False),
            _field("polled_at", UTC_TIMESTAMP, "The document's last_updated", nullable=False),
            _field("last_reported", UTC_TIMESTAMP, "When the station last reported"),
            _field("bikes_available", pa.int32(), "num_bikes_available", nullable=False),
            _field("docks_available", pa.int32(), "num_docks_available"),
            _field("is_installed", pa.bool_(), "Installed"),
            _field("is_renting", pa.bool_(), "Rents bikes out"),
            _field("is_returning", pa.bool_(), "Takes bikes back"),
        ]
    ),
    primary_key=("system", "station_id", "polled_at"),
    time_column="polled_at",
    owner=OWNER,
    update_frequency="PT1M",
    retention_days=366,
    level=Level.GENERAL_1,
    rules=(in_range("bikes_available", 0, 10_000), in_range("docks_available", 0, 10_000)),
)


def _table(schema: pa.Schema, rows: list[dict[str, Any]], locations: list[int]) -> pa.Table:
    full = schema.append(pa.field(LOCATION, pa.int64()))
    return pa.Table.from_pylist([{**r, LOCATION: n} for r, n in zip(rows, locations, strict=True)], full)


@dataclass(frozen=True)
class GbfsStations:
    """GBFS station_information (JSON) → `transit.bike_stations`."""

    name: ClassVar[str] = "gbfs.station_information"
    dataset: ClassVar[str] = "transit.bike_stations"
    location_unit: ClassVar[LocationUnit] = "record"
    system: str = "gbfs"

    def _items(self, data: bytes) -> list[Any]:
        document = json.loads(decompress(data))
        stations = document.get("data", {}).get("stations") if isinstance(document, dict) else None
        if not isinstance(stations, list):
            raise GbfsError("station_information: no data.stations list")
        return stations

    def parse(self, data: bytes) -> Parsed:
        try:
            items = self._items(data)
        except (ValueError, AttributeError) as error:
            rejected = Rejected(reason="gbfs.bad_json", detail=str(error), location=None, raw="")
            return Parsed(rows=_table(BIKE_STATIONS.schema, [], []), rejected=(rejected,))
        return self._parse(list(enumerate(items)))

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        items = self._items(data)
        return [json.dumps(items[n], ensure_ascii=False) for n in locations]

    def parse_raw(self, raw: str) -> Parsed:
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as error:
            rejected = Rejected(reason="gbfs.bad_json", detail=str(error), location=0, raw=raw)
            return Parsed(rows=_table(BIKE_STATIONS.schema, [], []), rejected=(rejected,))
        return self._parse([(0, item)])

    def _parse(self, items: list[tuple[int, Any]]) -> Parsed:
        rows, locations, rejected = [], [], []
        for location, item in items:
            try:
                station = station_of(item)
            except GbfsError as error:
                raw = json.dumps(item, ensure_ascii=False)
                rejected.append(
                    Rejected(reason="gbfs.bad_station", detail=str(error), location=location, raw=raw)
                )
                continue
            rows.append(
                {
                    "system": self.system,
                    "station_id": station.station_id,
                    "name": station.name,
                    "address": station.address,
                    "lat": station.lat,
                    "lon": station.lon,
                    "capacity": station.capacity,
                }
            )
            locations.append(location)
        return Parsed(rows=_table(BIKE_STATIONS.schema, rows, locations), rejected=tuple(rejected))


@dataclass(frozen=True)
class GbfsStationStatus:
    """GBFS station_status (a document, or JSON lines of polls; gzip accepted) → bike_station_status."""

    name: ClassVar[str] = "gbfs.station_status"
    dataset: ClassVar[str] = "transit.bike_station_status"
    location_unit: ClassVar[LocationUnit] = "line"
    system: str = "gbfs"

    def _lines(self, data: bytes) -> list[str]:
        text = decompress(data).decode("utf-8", "replace")
        try:
            return [json.dumps(json.loads(text))]  # one (maybe pretty-printed) document
        except json.JSONDecodeError:
            return text.split("\n")

    def parse(self, data: bytes) -> Parsed:
        rows: list[dict[str, Any]] = []
        locations: list[int] = []
        rejected: list[Rejected] = []
        skipped = 0
        for number, line in enumerate(self._lines(data), start=1):
            if not line.strip():
                skipped += 1
                continue
            self._line(line, number, rows, locations, rejected)
        return Parsed(
            rows=_table(BIKE_STATION_STATUS.schema, rows, locations),
            rejected=tuple(rejected),
            skipped=skipped,
        )

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        return text_lines("\n".join(self._lines(data)).encode(), locations)

    def parse_raw(self, raw: str) -> Parsed:
        return self.parse(raw.encode())

    def _line(
        self,
        line: str,
        number: int,
        rows: list[dict[str, Any]],
        locations: list[int],
        rejected: list[Rejected],
    ) -> None:
        try:
            document = json.loads(line)
            stations = document["data"]["stations"]
            polled = int(document["last_updated"])
            if not isinstance(stations, list):
                raise TypeError("data.stations is not a list")
        except (ValueError, KeyError, TypeError) as error:
            rejected.append(Rejected(reason="gbfs.bad_json", detail=repr(error), location=number, raw=line))
            return
        for item in stations:
            try:
                status = status_of(item)
            except GbfsError as error:
                one = json.dumps({"last_updated": polled, "data": {"stations": [item]}}, ensure_ascii=False)
                rejected.append(
                    Rejected(reason="gbfs.bad_status", detail=str(error), location=number, raw=one)
                )
                continue
            rows.append(
                {
                    "system": self.system,
                    "station_id": status.station_id,
                    "polled_at": utc(polled),
                    "last_reported": utc(status.last_reported),
                    "bikes_available": status.bikes,
                    "docks_available": status.docks,
                    "is_installed": status.installed,
                    "is_renting": status.renting,
                    "is_returning": status.returning,
                }
            )
            locations.append(number)
