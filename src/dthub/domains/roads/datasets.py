"""Catalog entries of the roads domain: detector stations and their 5-minute observations."""

from __future__ import annotations

import pyarrow as pa

from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec, in_range, one_of

MAX_LANES = 8
"""Lanes per station in the PeMS 5-minute format."""

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


def _lane_fields(lane: int) -> list[pa.Field]:
    return [
        _field(f"lane{lane}_samples", pa.int32(), f"Good samples received for lane {lane}"),
        _field(f"lane{lane}_flow", pa.int32(), f"Vehicles in lane {lane} over the 5 minutes"),
        _field(f"lane{lane}_occupancy", pa.float64(), f"Mean occupancy of lane {lane}, 0-1"),
        _field(f"lane{lane}_speed_kmh", pa.float64(), f"Flow-weighted mean speed of lane {lane}"),
        _field(f"lane{lane}_observed", pa.bool_(), f"Lane {lane} measured (true) or imputed"),
    ]


DETECTOR_OBSERVATIONS = DatasetSpec(
    id="roads.detector_observations",
    title_zh="检测器五分钟观测",
    title_en="Detector 5-minute observations",
    description=(
        "Flow, occupancy and speed per detector station and 5-minute interval, across all lanes and "
        "per lane, as reported by the detector system (Caltrans PeMS 'Station 5-Minute'). Speeds are "
        "converted from mph to km/h; times are the start of the interval in UTC."
    ),
    schema=pa.schema(
        [
            _field("station_id", pa.int32(), "Detector station id", nullable=False),
            _field("observed_at", UTC_TIMESTAMP, "Start of the 5-minute interval", nullable=False),
            _field("samples", pa.int32(), "Good samples received for all lanes"),
            _field("observed_pct", pa.float64(), "Share of lane points measured, not imputed, %"),
            _field("total_flow", pa.int32(), "Vehicles over the 5 minutes, all lanes"),
            _field("avg_occupancy", pa.float64(), "Mean occupancy across lanes, 0-1"),
            _field("avg_speed_kmh", pa.float64(), "Flow-weighted mean speed across lanes, km/h"),
            *[field for lane in range(1, MAX_LANES + 1) for field in _lane_fields(lane)],
        ]
    ),
    primary_key=("station_id", "observed_at"),
    time_column="observed_at",
    owner="市交通运输委 路网监测中心 (road network monitoring centre)",
    update_frequency="PT5M",
    retention_days=None,
    level=Level.GENERAL_2,
    rules=(
        in_range("observed_pct", 0, 100),
        in_range("total_flow", 0, 10_000),
        in_range("avg_occupancy", 0, 1),
        in_range("avg_speed_kmh", 0, 200),
        *[
            rule
            for lane in range(1, MAX_LANES + 1)
            for rule in (
                in_range(f"lane{lane}_occupancy", 0, 1),
                in_range(f"lane{lane}_speed_kmh", 0, 200),
            )
        ],
    ),
)

LANE_TYPES = ("CD", "CH", "FF", "FR", "HV", "ML", "OR")
"""PeMS lane types: collector/distributor, conventional highway, freeway-freeway connector, off ramp,
HOV, mainline, on ramp."""

DETECTOR_STATIONS = DatasetSpec(
    id="roads.detector_stations",
    title_zh="检测器站点",
    title_en="Detector stations",
    description=(
        "Detector stations as their observations describe them: district, road, direction, lane type "
        "and the length of road each covers. The first description of a station is kept."
    ),
    schema=pa.schema(
        [
            _field("station_id", pa.int32(), "Detector station id", nullable=False),
            _field("district", pa.int16(), "Operating district"),
            _field("freeway", pa.int16(), "Road (freeway) number"),
            _field("direction", pa.string(), "Direction of travel: N, S, E or W"),
            _field("lane_type", pa.string(), "Lane type: " + ", ".join(LANE_TYPES)),
            _field("length_mi", pa.float64(), "Length of road the station covers, miles (PeMS)"),
            _field("first_seen_at", UTC_TIMESTAMP, "First interval the station reported"),
        ]
    ),
    primary_key=("station_id",),
    time_column=None,
    owner="市交通运输委 路网监测中心 (road network monitoring centre)",
    update_frequency="irregular",
    retention_days=None,
    level=Level.GENERAL_1,
    rules=(
        one_of("direction", ("N", "S", "E", "W")),
        one_of("lane_type", LANE_TYPES),
        in_range("length_mi", 0, 100),
    ),
)

ROAD_CLASSES = ("expressway", "arterial", "secondary_branch")
"""Road classes (`roads.network.RoadClass`): 快速路, 主干路, 次干路及支路."""

SEGMENTS = DatasetSpec(
    id="roads.segments",
    title_zh="路段",
    title_en="Road segments",
    description=(
        "Directed road segments (路段): one direction of travel between two junctions, with its road "
        "class (expressway / arterial / secondary-branch), geometry (WKT LineString, WGS-84, drawn in the "
        "direction of travel), length, speed limit and free-flow speed. Loaded from OSM GraphML, GeoJSON, "
        "or a detector system whose stations stand for segments."
    ),
    schema=pa.schema(
        [
            _field("segment_id", pa.string(), "Segment id, `<source>:<id>`", nullable=False),
            _field("name", pa.string(), "Road name"),
            _field("road_class", pa.string(), "Road class: " + ", ".join(ROAD_CLASSES), nullable=False),
            _field("geometry_wkt", pa.string(), "LineString in WGS-84 (EPSG:4326), WKT; empty if unknown"),
            _field(
                "oneway", pa.bool_(), "The road is one-way (单行); false: this is one of its two directions"
            ),
            _field("bearing_deg", pa.float64(), "Azimuth from the first to the last point, 0-360 (0: north)"),
            _field("length_m", pa.float64(), "Length on the WGS-84 ellipsoid, metres", nullable=False),
            _field("speed_limit_kmh", pa.float64(), "Speed limit, km/h", nullable=False),
            _field("speed_limit_source", pa.string(), "Where the limit comes from: source or class_default"),
            _field("free_flow_speed_kmh", pa.float64(), "Free-flow speed (自由流速度), km/h", nullable=False),
            _field("corridor_id", pa.string(), "Corridor (走廊) the segment belongs to: road name or ref"),
            _field("district_code", pa.string(), "District (行政区划代码, GB/T 2260), if known"),
            _field("source_ref", pa.string(), "Id of the feature in its source (OSM way ids)"),
        ]
    ),
    primary_key=("segment_id",),
    time_column=None,
    owner="市交通运输委 路网监测中心 (road network monitoring centre)",
    update_frequency="irregular",
    retention_days=None,
    level=Level.GENERAL_1,
    rules=(
        one_of("road_class", ROAD_CLASSES),
        in_range("length_m", 0, 100_000),
        in_range("speed_limit_kmh", 1, 200),
        in_range("free_flow_speed_kmh", 1, 200),
        in_range("bearing_deg", 0, 360),
    ),
)

DETECTOR_SEGMENTS = DatasetSpec(
    id="roads.detector_segments",
    title_zh="检测器路段映射",
    title_en="Detector to segment mapping",
    description=(
        "Which segment each detector station measures. A PeMS mainline station stands for one "
        "expressway segment of its own (`pems:<station>`), so its mapping is one to one."
    ),
    schema=pa.schema(
        [
            _field("station_id", pa.int32(), "Detector station id", nullable=False),
            _field("segment_id", pa.string(), "Segment the station measures", nullable=False),
            _field("method", pa.string(), "How the mapping was made: station_as_segment or declared"),
        ]
    ),
    primary_key=("station_id",),
    time_column=None,
    owner="市交通运输委 路网监测中心 (road network monitoring centre)",
    update_frequency="irregular",
    retention_days=None,
    level=Level.GENERAL_1,
    rules=(one_of("method", ("station_as_segment", "declared")),),
)

MAX_HORIZON_STEPS = 288
"""Most steps ahead a stored forecast may be (a day of 5-minute steps)."""

SEGMENT_FORECASTS = DatasetSpec(
    id="roads.segment_forecasts",
    title_zh="路段车速预测",
    title_en="Segment speed forecasts",
    description=(
        "Forecast mean speed (预测车速) of each segment for each step ahead, as a registered model issued "
        "it from the detector speeds the hub held at `issued_at`; `model_id` and `model_version` name the "
        "model of the forecast model registry that made it. Refreshed by the forecast job."
    ),
    schema=pa.schema(
        [
            _field("segment_id", pa.string(), "Segment the forecast is for", nullable=False),
            _field(
                "issued_at", UTC_TIMESTAMP, "When the forecast was issued: end of its history", nullable=False
            ),
            _field("target_time", UTC_TIMESTAMP, "Start of the interval forecast", nullable=False),
            _field(
                "horizon_steps", pa.int16(), "Steps ahead of issued_at, 1 = the next interval", nullable=False
            ),
            _field("step_minutes", pa.int16(), "Minutes per step (5 or 15)", nullable=False),
            _field("speed_kmh", pa.float64(), "Forecast mean speed in the interval, km/h", nullable=False),
            _field("model_id", pa.string(), "Registry id of the model, `<name>-v<version>`", nullable=False),
            _field("model_name", pa.string(), "Model name (historical_average, lightgbm, tgcn, ...)"),
            _field("model_version", pa.int32(), "Version of the model under its name"),
            _field("district_code", pa.string(), "District (行政区划代码) of the segment, if known"),
        ]
    ),
    primary_key=("segment_id", "issued_at", "target_time", "model_id"),
    time_column="issued_at",
    owner="市交通运输委 路网监测中心 (road network monitoring centre)",
    update_frequency="PT5M",
    retention_days=None,
    level=Level.GENERAL_2,
    district_column="district_code",
    rules=(
        in_range("speed_kmh", 0, 200),
        in_range("horizon_steps", 1, MAX_HORIZON_STEPS),
        in_range("step_minutes", 1, 1_440),
    ),
)
