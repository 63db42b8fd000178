"""Segment levels, DTP and TPI on a hand-made network; the same jobs on real PeMS days on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dthub.domains.roads.congestion import CongestionThresholds, segment_levels, segment_speeds, tpi
from dthub.domains.roads.detector_health import HealthRules, detector_health
from dthub.hub import engine
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file

BANDS = CongestionThresholds()


def at(hour: int, minute: int) -> datetime:
    return datetime(2024, 5, 6, hour, minute, tzinfo=UTC)


@pytest.fixture
def duckdb_con() -> Iterator[Any]:
    con = engine.connect("duckdb")
    yield con
    con.disconnect()


def network(con: Any) -> tuple[Any, Any]:
    """Segments A (expressway, 1 km, free flow 80), B (arterial, 2 km, 60), C (branch, 0.5 km, 40) and their
    speeds at 00:00 and 00:05 (C reports once)."""
    segments = pa.table(
        {
            "segment_id": ["A", "B", "C"],
            "road_class": ["expressway", "arterial", "secondary_branch"],
            "length_m": [1000.0, 2000.0, 500.0],
            "free_flow_speed_kmh": [80.0, 60.0, 40.0],
            "district_code": ["120101", "120101", "120102"],
            "corridor_id": ["卫津路", "卫津路", None],
        }
    )
    speeds = pa.table(
        {
            "segment_id": ["A", "B", "C", "A", "B"],
            "observed_at": pa.array([at(0, 0)] * 3 + [at(0, 5)] * 2, pa.timestamp("us", tz="UTC")),
            "speed_kmh": [40.0, 60.0, 10.0, 70.0, 25.0],
        }
    )
    return (
        con.create_table("speeds", obj=speeds, temp=True, overwrite=True),
        con.create_table("segments", obj=segments, temp=True, overwrite=True),
    )


def test_segment_level_follows_the_speed_bands_of_its_road_class(duckdb_con: Any) -> None:
    speeds, segments = network(duckdb_con)
    levels = engine.to_arrow(segment_levels(speeds, segments, thresholds=BANDS)).to_pylist()
    assert [(row["segment_id"], row["interval_start"], row["level"]) for row in levels] == [
        ("A", at(0, 0), "light"),  # expressway at 40: (35, 50]
        ("A", at(0, 5), "free"),  # > 65
        ("B", at(0, 0), "free"),  # arterial at 60: > 40
        ("B", at(0, 5), "light"),  # (20, 30]
        ("C", at(0, 0), "severe"),  # branch at 10: ≤ 10
    ]


def test_network_dtp_weighs_travel_times_and_tpi_interpolates_in_its_band(duckdb_con: Any) -> None:
    speeds, segments = network(duckdb_con)
    five = tpi(speeds, segments, scope="network", interval_minutes=5, thresholds=BANDS)
    fifteen = tpi(speeds, segments, scope="network", interval_minutes=15, thresholds=BANDS)
    row = {"scope_id": "network", "segments": 3, "length_km": 3.5}
    assert engine.to_arrow(five).to_pylist() == [
        # actual 1/40 + 2/60 + 0.5/10 h, free 1/80 + 2/60 + 0.5/40 h: DTP 0.05 / 0.1083
        row | {"interval_start": at(0, 0), "dtp": 0.462, "tpi": 3.62, "level": "basically_free"},
        row
        | {"interval_start": at(0, 5), "segments": 2, "length_km": 3.0}
        | {"dtp": 0.514, "tpi": 4.28, "level": "light"},
    ]
    # 15 minutes: A at 55, B at 42.5 (means), C at 10
    assert engine.to_arrow(fifteen).to_pylist() == [
        row | {"interval_start": at(0, 0), "dtp": 0.494, "tpi": 3.94, "level": "basically_free"}
    ]


def test_district_and_corridor_tpi_count_only_their_segments(duckdb_con: Any) -> None:
    speeds, segments = network(duckdb_con)
    districts = tpi(speeds, segments, scope="district", interval_minutes=5, thresholds=BANDS)
    corridors = tpi(speeds, segments, scope="corridor", interval_minutes=5, thresholds=BANDS)
    first = [row for row in engine.to_arrow(districts).to_pylist() if row["interval_start"] == at(0, 0)]
    assert [(row["scope_id"], row["dtp"], row["tpi"], row["level"]) for row in first] == [
        ("120101", 0.214, 1.427, "free"),
        ("120102", 0.75, 8.333, "severe"),
    ]
    assert {row["scope_id"] for row in engine.to_arrow(corridors).to_pylist()} == {"卫津路"}


def test_flagged_station_days_are_left_out_of_segment_speeds(duckdb_con: Any) -> None:
    observations = pa.table(
        {
            "station_id": pa.array([1, 2, 2], pa.int32()),
            "observed_at": pa.array([at(0, 0), at(0, 0), at(0, 5)], pa.timestamp("us", tz="UTC")),
            "avg_speed_kmh": [80.0, 20.0, None],
        }
    )
    mapping = pa.table({"station_id": pa.array([1, 2], pa.int32()), "segment_id": ["A", "A"]})
    unhealthy = pa.table({"station_id": pa.array([2], pa.int32()), "day": [date(2024, 5, 6)]})
    con = duckdb_con
    speeds = segment_speeds(
        con.create_table("obs", obj=observations, temp=True),
        con.create_table("map", obj=mapping, temp=True),
        unhealthy=con.create_table("bad", obj=unhealthy, temp=True),
    )
    assert engine.to_arrow(speeds).to_pylist() == [
        {"segment_id": "A", "observed_at": at(0, 0), "speed_kmh": 80.0}
    ]


def sorted_table(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


@pytest.mark.spark
@pytest.mark.realdata
def test_duckdb_and_spark_give_identical_tpi_levels_and_flags_for_real_pems_days(
    hub: Hub, pems_files: list[Path], spark_con: Any, duckdb_con: Any
) -> None:
    for path in pems_files[:3]:
        for adapter in ("pems.station_5min", "pems.station_segments", "pems.detector_segments"):
            ingest_file(hub, hub.registry.adapter(adapter), path)
    results: dict[str, list[pa.Table]] = {}
    for con in (duckdb_con, spark_con):
        observed = hub.table("roads.detector_observations", con)
        segments = hub.table("roads.segments", con)
        flags = detector_health(observed, rules=HealthRules())
        speeds = segment_speeds(observed, hub.table("roads.detector_segments", con), unhealthy=flags)
        results[con.name] = [
            sorted_table(engine.to_arrow(job))
            for job in (
                flags,
                segment_levels(speeds, segments, thresholds=BANDS, interval_minutes=15),
                *(
                    tpi(speeds, segments, scope=scope, interval_minutes=minutes, thresholds=BANDS)
                    for scope in ("network", "corridor")
                    for minutes in (5, 15)
                ),
            )
        ]
    duck, spark = results["duckdb"], results["pyspark"]
    assert duck[3].num_rows == 220  # 15-minute buckets of 3 days on 101-N that have a speed (not all do)
    assert duck[2]["interval_start"].type == pa.timestamp("us", tz="UTC")
    for ours, theirs in zip(duck, spark, strict=True):
        assert ours.num_rows > 0
        assert ours.equals(theirs)
