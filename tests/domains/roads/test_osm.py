"""OSM GraphML → road segments: the real Futian network, and named edge cases."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pytest

from dthub.domains.roads.ingest.osm import OsmGraphml
from dthub.domains.roads.network import RoadClass, RoadClassDefaults, osm_road_class
from dthub.hub.adapter import LOCATION
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file
from fixtures.hub import REALDATA, need_realdata

FUTIAN = REALDATA / "osm" / "shenzhen_transbigdata" / "shenzhen_futian_G.graphml"

GRAPHML = """<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
<key id="x" for="node" attr.name="x" attr.type="string"/>
<key id="y" for="node" attr.name="y" attr.type="string"/>
<key id="h" for="edge" attr.name="highway" attr.type="string"/>
<key id="m" for="edge" attr.name="maxspeed" attr.type="string"/>
<key id="g" for="edge" attr.name="geometry" attr.type="string"/>
<graph edgedefault="directed">
<node id="1"><data key="x">114.0</data><data key="y">22.5</data></node>
<node id="2"><data key="x">114.01</data><data key="y">22.5</data></node>
<edge source="1" target="2"><data key="h">['primary', 'trunk']</data><data key="m">50 mph</data></edge>
<edge source="2" target="1"><data key="h">footway</data></edge>
<edge source="2" target="1"><data key="h">residential</data><data key="g">POINT (1 2)</data></edge>
</graph></graphml>"""


def test_way_with_several_highway_values_takes_the_highest_class() -> None:
    assert osm_road_class("['primary', 'trunk']") == RoadClass.EXPRESSWAY
    assert osm_road_class("['service', 'residential']") == RoadClass.SECONDARY_BRANCH
    assert osm_road_class("footway") is None


def test_edges_become_segments_footways_are_skipped_bad_geometry_is_refused() -> None:
    parsed = OsmGraphml(defaults=RoadClassDefaults()).parse(GRAPHML.encode())
    assert parsed.rows.drop_columns([LOCATION]).to_pylist() == [
        {
            "segment_id": "osm:1-2-0",
            "name": None,
            "road_class": "expressway",
            "geometry_wkt": "LINESTRING (114 22.5, 114.01 22.5)",
            "oneway": False,
            "bearing_deg": 89.998,
            "length_m": 1028.962,
            "speed_limit_kmh": 80.467,  # 50 mph
            "speed_limit_source": "source",
            "free_flow_speed_kmh": 80.467,
            "corridor_id": None,
            "district_code": None,
            "source_ref": None,
        }
    ]
    assert parsed.skipped == 1
    assert [(r.reason, r.location) for r in parsed.rejected] == [("osm.bad_geometry", 2)]
    assert json.loads(parsed.rejected[0].raw)["attrs"]["geometry"] == "POINT (1 2)"


def test_bad_file_is_refused_whole() -> None:
    parsed = OsmGraphml().parse(b"<graphml><oops")
    assert parsed.rows.num_rows == 0
    assert [r.reason for r in parsed.rejected] == ["osm.bad_graphml"]


@pytest.mark.realdata
def test_futian_network_lands_every_road_edge_as_a_segment(hub: Hub) -> None:
    result = ingest_file(hub, OsmGraphml(), need_realdata(FUTIAN))
    assert result.landed == 2225  # of 4,009 edges; 1,784 footways, paths, service roads
    segments = hub.table("roads.segments", hub.connect()).to_pyarrow()
    counts = dict(zip(*pc.value_counts(segments["road_class"]).flatten(), strict=True))
    assert {str(k): v.as_py() for k, v in counts.items()} == {
        "secondary_branch": 1849,
        "arterial": 302,
        "expressway": 74,
    }
    by_id = {row["segment_id"]: row for row in segments.to_pylist()}
    assert by_id["osm:278659481-7975286429-0"] == {
        "segment_id": "osm:278659481-7975286429-0",
        "name": "新闻路",
        "road_class": "secondary_branch",  # tertiary
        "geometry_wkt": "LINESTRING (114.0397861 22.5444302, 114.0392495 22.5444216, 114.0391695 22.544419)",
        "oneway": True,
        "bearing_deg": 268.88,
        "length_m": 63.439,  # OSMnx (a sphere): 63.337
        "speed_limit_kmh": 40.0,
        "speed_limit_source": "class_default",
        "free_flow_speed_kmh": 40.0,
        "corridor_id": "新闻路",
        "district_code": None,
        "source_ref": "855206669",
    }
    assert by_id["osm:278659481-1116501296-0"]["speed_limit_source"] == "source"  # maxspeed 40
    assert by_id["osm:278659481-1116501296-0"]["length_m"] == 7.035  # OSMnx: 7.041
