"""The demo city's road network: deterministic, valid, inside Tianjin, connected, landed as GeoJSON."""

from __future__ import annotations

import json

from dthub.demo.city import DISTRICTS, SIMULATED, build_network, feature_collection, position_at
from dthub.domains.roads.datasets import ROAD_CLASSES
from dthub.domains.roads.ingest.geojson import GeojsonSegments

TIANJIN = (116.7, 118.1, 38.5, 40.3)
"""Tianjin municipality: west, east, south, north."""


def test_the_same_plan_gives_the_same_network_to_the_metre() -> None:
    assert build_network() == build_network()
    assert json.dumps(feature_collection(build_network())) == json.dumps(feature_collection(build_network()))


def test_every_segment_has_a_class_limits_a_district_and_lies_inside_tianjin() -> None:
    network = build_network()
    assert len(network.segments) > 300
    classes = {segment.kind.road_class for segment in network.segments}
    assert classes == set(ROAD_CLASSES)
    west, east, south, north = TIANJIN
    for segment in network.segments:
        kind = segment.kind
        assert 0 < kind.free_flow_speed_kmh <= kind.speed_limit_kmh <= 120
        assert segment.district_code in DISTRICTS
        assert segment.name.endswith(SIMULATED)
        assert segment.segment_id.startswith("tjsim-")
        assert segment.length_m < 4_000, segment.segment_id
        assert len(segment.coords) >= 2
        assert segment.length_m > 50
        assert all(west < lon < east and south < lat < north for lon, lat in segment.coords)
    assert len({segment.segment_id for segment in network.segments}) == len(network.segments)
    assert {s.district_code for s in network.segments} == set(DISTRICTS)


def test_a_vehicle_can_reach_every_segment_from_any_segment() -> None:
    network = build_network()
    reached, todo = {0}, [0]
    while todo:
        for onward in network.next_segments(todo.pop()):
            if onward not in reached:
                reached.add(onward)
                todo.append(onward)
    assert len(reached) == len(network.segments)


def test_one_way_streets_have_one_direction_and_two_way_roads_two() -> None:
    network = build_network()
    one_way = [s for s in network.segments if s.oneway]
    assert one_way
    assert all(s.segment_id.endswith("-f") for s in one_way)
    two_way = {s.segment_id[:-2] for s in network.segments if not s.oneway}
    ids = {s.segment_id for s in network.segments}
    assert all(f"{base}-f" in ids and f"{base}-b" in ids for base in two_way)


def test_positions_along_a_segment_run_from_its_start_to_its_end() -> None:
    segment = build_network().segments[0]
    assert position_at(segment, 0) == segment.coords[0]
    assert position_at(segment, segment.length_m + 50) == segment.coords[-1]


def test_the_geojson_adapter_takes_every_feature() -> None:
    data = json.dumps(feature_collection(build_network()), ensure_ascii=False).encode()
    parsed = GeojsonSegments().parse(data)
    assert parsed.rejected == ()
    rows = parsed.rows.to_pylist()
    assert len(rows) == len(build_network().segments)
    assert all(row["speed_limit_source"] == "source" and row["segment_id"].startswith("geojson:tjsim-")
               for row in rows)  # fmt: skip
