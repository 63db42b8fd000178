"""Daily mean speeds and corridor speed profiles: hand-made cases on DuckDB, real PeMS days on both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dthub.domains.roads.speed import corridor_speed_profile, daily_mean_speed
from dthub.hub import engine
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_bytes, ingest_file

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def at(hour: int, minute: int, day: int = 4) -> datetime:
    return datetime(2022, 10, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def duckdb_con() -> Iterator[Any]:
    con = engine.connect("duckdb")
    yield con
    con.disconnect()


def observations(con: Any, rows: list[tuple[int, datetime, int | None, float | None]]) -> Any:
    """A `roads.detector_observations` table of (station_id, observed_at, total_flow, avg_speed_kmh)."""
    station_id, observed_at, total_flow, avg_speed_kmh = zip(*rows, strict=True)
    data = pa.table(
        {
            "station_id": pa.array(station_id, pa.int32()),
            "observed_at": pa.array(observed_at, UTC_TIMESTAMP),
            "total_flow": pa.array(total_flow, pa.int32()),
            "avg_speed_kmh": pa.array(avg_speed_kmh, pa.float64()),
        }
    )
    return con.create_table("observations", obj=data, temp=True, overwrite=True)


def stations(con: Any, rows: list[tuple[int, int, str, str]]) -> Any:
    """A `roads.detector_stations` table of (station_id, freeway, direction, lane_type)."""
    station_id, freeway, direction, lane_type = zip(*rows, strict=True)
    data = pa.table(
        {
            "station_id": pa.array(station_id, pa.int32()),
            "freeway": pa.array(freeway, pa.int16()),
            "direction": pa.array(direction, pa.string()),
            "lane_type": pa.array(lane_type, pa.string()),
        }
    )
    return con.create_table("stations", obj=data, temp=True, overwrite=True)


def test_daily_mean_speed_averages_intervals_with_a_speed(duckdb_con: Any) -> None:
    table = observations(
        duckdb_con,
        [
            (7, at(23, 50), 10, 100.0),
            (7, at(23, 55), 10, None),
            (7, at(0, 0, day=5), 10, 60.0),
            (3, at(8, 0), 10, 70.123_45),
            (3, at(8, 5), 10, 80.0),
        ],
    )
    assert engine.to_arrow(daily_mean_speed(table)).to_pylist() == [
        {"station_id": 3, "day": date(2022, 10, 4), "mean_speed_kmh": 75.062, "intervals": 2},
        {"station_id": 7, "day": date(2022, 10, 4), "mean_speed_kmh": 100.0, "intervals": 1},
        {"station_id": 7, "day": date(2022, 10, 5), "mean_speed_kmh": 60.0, "intervals": 1},
    ]


def pems_text(*lines: tuple[str, int, int, float]) -> bytes:
    """PeMS station 5-minute text: (local time, station, flow, speed in mph) of a mainline station on
    US 101 N, without lane data."""
    fields = [
        [local_time, str(station), "4", "101", "N", "ML", ".5", "10", "100", str(flow), ".05", str(speed)]
        + [""] * 40
        for local_time, station, flow, speed in lines
    ]
    return "".join(",".join(line) + "\n" for line in fields).encode()


def test_daily_mean_speed_of_ingested_pems_counts_utc_days(hub: Hub, duckdb_con: Any) -> None:
    data = pems_text(("10/04/2022 16:55:00", 401833, 50, 50.0), ("10/04/2022 17:00:00", 401833, 50, 60.0))
    ingest_bytes(hub, hub.registry.adapter("pems.station_5min"), data, source="two_intervals.txt")
    table = hub.table("roads.detector_observations", duckdb_con)
    # 17:00 in Pacific daylight time is midnight UTC: the next day
    assert engine.to_arrow(daily_mean_speed(table)).to_pylist() == [
        {"station_id": 401833, "day": date(2022, 10, 4), "mean_speed_kmh": 80.467, "intervals": 1},
        {"station_id": 401833, "day": date(2022, 10, 5), "mean_speed_kmh": 96.561, "intervals": 1},
    ]


def test_corridor_profile_weights_speeds_by_flow_and_counts_sharp_drops(duckdb_con: Any) -> None:
    roads = stations(
        duckdb_con, [(1, 101, "N", "ML"), (2, 101, "N", "ML"), (3, 101, "N", "OR"), (4, 880, "S", "ML")]
    )
    table = observations(
        duckdb_con,
        [
            (1, at(0, 0), 100, 100.0),
            (1, at(0, 5), 50, 70.0),  # 30 km/h below the interval before: a sharp drop
            (1, at(0, 10), 10, None),  # no speed: counts in the flow, not in the speed
            (2, at(0, 0), 100, 80.0),
            (2, at(0, 15), 20, 50.0),  # 30 km/h lower, but 15 minutes later: a gap, not a drop
            (3, at(0, 0), 500, 10.0),  # on-ramp: not mainline
            (4, at(0, 20), 0, 90.0),  # no flow: no flow-weighted speed
        ],
    )
    profile = corridor_speed_profile(table, roads, bucket_minutes=15, drop_kmh=20.0, max_gap_minutes=5)
    assert engine.to_arrow(profile).to_pylist() == [
        {
            "freeway": 101,
            "direction": "N",
            "bucket_start": at(0, 0),
            "flow_weighted_speed_kmh": 86.0,  # (100×100 + 50×70 + 100×80) / 250
            "total_flow": 260,
            "stations_reporting": 2,
            "sharp_drops": 1,
        },
        {
            "freeway": 101,
            "direction": "N",
            "bucket_start": at(0, 15),
            "flow_weighted_speed_kmh": 50.0,
            "total_flow": 20,
            "stations_reporting": 1,
            "sharp_drops": 0,
        },
        {
            "freeway": 880,
            "direction": "S",
            "bucket_start": at(0, 15),
            "flow_weighted_speed_kmh": None,
            "total_flow": 0,
            "stations_reporting": 1,
            "sharp_drops": 0,
        },
    ]


def sorted_table(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


@pytest.mark.spark
@pytest.mark.realdata
def test_duckdb_and_spark_give_identical_speeds_for_real_pems_days(
    hub: Hub, pems_files: list[Path], spark_con: Any, duckdb_con: Any
) -> None:
    for path in pems_files[:3]:
        ingest_file(hub, hub.registry.adapter("pems.station_5min"), path)
        ingest_file(hub, hub.registry.adapter("pems.stations"), path)
    results: dict[str, list[pa.Table]] = {}
    for con in (duckdb_con, spark_con):
        observed = hub.table("roads.detector_observations", con)
        described = hub.table("roads.detector_stations", con)
        results[con.name] = [
            sorted_table(engine.to_arrow(corridor_speed_profile(observed, described))),
            sorted_table(engine.to_arrow(daily_mean_speed(observed))),
        ]
    (profile, daily), (spark_profile, spark_daily) = results["duckdb"], results["pyspark"]
    assert profile.num_rows == 3 * 96  # 3 days of 15-minute buckets on US 101 N
    assert daily.num_rows > 0
    assert pc.sum(profile["sharp_drops"]).as_py() > 0  # the window over each station's series ran
    assert profile["bucket_start"].type == pa.timestamp("us", tz="UTC")
    assert profile.equals(spark_profile)
    assert daily.equals(spark_daily)
