"""GeoJSON road segments: a hand-made collection with one good feature and each refusal."""

from __future__ import annotations

import json

from dthub.domains.roads.ingest.geojson import GeojsonSegments
from dthub.hub.adapter import LOCATION

LINE = {"type": "LineString", "coordinates": [[117.2, 39.1], [117.2, 39.11]]}


def collection(*features: object) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def test_linestring_feature_becomes_a_segment_with_class_default_limit() -> None:
    feature = {
        "type": "Feature",
        "id": "hx-1",
        "geometry": LINE,
        "properties": {"name": "卫津路", "road_class": "arterial", "oneway": True, "district_code": "120104"},
    }
    parsed = GeojsonSegments().parse(collection(feature))
    assert parsed.rows.to_pylist() == [
        {
            "segment_id": "geojson:hx-1",
            "name": "卫津路",
            "road_class": "arterial",
            "geometry_wkt": "LINESTRING (117.2 39.1, 117.2 39.11)",
            "oneway": True,
            "bearing_deg": 0.0,
            "length_m": 1110.175,
            "speed_limit_kmh": 60.0,
            "speed_limit_source": "class_default",
            "free_flow_speed_kmh": 60.0,
            "corridor_id": "卫津路",
            "district_code": "120104",
            "source_ref": "hx-1",
            LOCATION: 0,
        }
    ]


def test_each_bad_feature_is_refused_with_its_reason_and_location() -> None:
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [117.2, 39.1]}, "properties": {}}
    no_id = {"type": "Feature", "geometry": LINE, "properties": {"road_class": "arterial"}}
    bad_class = {"type": "Feature", "geometry": LINE, "properties": {"segment_id": 7, "road_class": "lane"}}
    bad_speed = {
        "type": "Feature",
        "geometry": LINE,
        "properties": {"segment_id": 8, "road_class": "primary", "speed_limit_kmh": -5},
    }
    parsed = GeojsonSegments().parse(collection(point, no_id, bad_class, bad_speed))
    assert parsed.rows.num_rows == 0
    assert [(r.reason, r.location) for r in parsed.rejected] == [
        ("geojson.not_linestring", 0),
        ("geojson.missing_property", 1),
        ("geojson.bad_value", 2),
        ("geojson.bad_value", 3),
    ]
    fixed = json.loads(parsed.rejected[3].raw)
    fixed["properties"]["speed_limit_kmh"] = 50
    assert GeojsonSegments().parse_raw(json.dumps(fixed)).rows["speed_limit_kmh"].to_pylist() == [50.0]


def test_file_that_is_not_a_feature_collection_is_refused_whole() -> None:
    parsed = GeojsonSegments().parse(b'{"type": "Feature"}')
    assert [r.reason for r in parsed.rejected] == ["geojson.bad_json"]
