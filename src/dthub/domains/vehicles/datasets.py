"""Catalog entries of the vehicles domain: JT/T 808 location reports and supervision alarms."""

from __future__ import annotations

import pyarrow as pa

from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec, in_range
from dthub.hub.pii import PiiKind

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
OWNER = "市交通运输委 运输监管处 (transport supervision office)"


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


LOCATION_REPORTS = DatasetSpec(
    id="vehicles.location_reports",
    title_zh="车辆定位数据",
    title_en="Vehicle location reports",
    description=(
        "Every 0x0200 location report (and each report of a 0x0704 batch) an operating vehicle's JT/T 808 "
        "terminal sent to the gateway and the platform acknowledged, with the vehicle as the registry "
        "knows it. Times are UTC (terminals send GMT+8); coordinates WGS-84 as the receiver gives them."
    ),
    schema=pa.schema(
        [
            _field(
                "phone", pa.string(), "Terminal phone number (终端手机号), the header's BCD", nullable=False
            ),
            _field("plate", pa.string(), "Plate number (车牌号) from the registry"),
            _field("plate_colour", pa.int8(), "Plate colour, JT/T 697.7: 1 blue, 2 yellow, 3 black, ..."),
            _field("vehicle_class", pa.string(), "Vehicle class: coach, bus, taxi, dangerous_goods, ..."),
            _field("enterprise", pa.string(), "Transport enterprise (运输企业) operating the vehicle"),
            _field(
                "reported_at", UTC_TIMESTAMP, "Time of the fix, as the terminal reports it", nullable=False
            ),
            _field("received_at", UTC_TIMESTAMP, "Time the gateway received the frame"),
            _field("lon", pa.float64(), "Longitude, degrees WGS-84 (west negative)"),
            _field("lat", pa.float64(), "Latitude, degrees WGS-84 (south negative)"),
            _field("altitude_m", pa.int32(), "Altitude, m"),
            _field("speed_kmh", pa.float64(), "Speed, km/h"),
            _field("direction", pa.int16(), "Heading, degrees 0-359, north 0, clockwise"),
            _field("alarm_word", pa.int64(), "Alarm flags DWORD as sent (报警标志)"),
            _field("status_word", pa.int64(), "Status DWORD as sent (状态)"),
            _field("serial", pa.int32(), "Message serial number of the frame", nullable=False),
        ]
    ),
    primary_key=("phone", "reported_at", "serial"),
    time_column="reported_at",
    owner=OWNER,
    update_frequency="PT30S",
    retention_days=183,
    # 一般数据 3 级: a supervisor or a company at general-3 reads its vehicles with plates plain and the
    # track coarsened (locations and the terminal's phone are general-4 in PII_LEVELS); precise tracks
    # need general-4
    level=Level.GENERAL_3,
    pii_fields=("phone", "plate", "lon", "lat"),
    pii_kinds={
        "phone": PiiKind.MOBILE,
        "plate": PiiKind.PLATE,
        "lon": PiiKind.LOCATION,
        "lat": PiiKind.LOCATION,
    },
    vehicle_column="plate",
    point_columns=("lon", "lat"),
    rules=(in_range("lon", -180, 180), in_range("lat", -90, 90), in_range("speed_kmh", 0, 6553.5)),
)

ALARMS = DatasetSpec(
    id="vehicles.alarms",
    title_zh="车辆监管报警",
    title_en="Vehicle supervision alarms",
    description=(
        "Violations the platform's supervision rules found in the location reports (overspeed, fatigue, "
        "coaches moving 02:00-05:00, GPS drift, geofence entry/exit, offline while in service, dangerous "
        "goods moving while offline, route deviation) and alarms the terminal reported, "
        "each with its evidence: the fixes, as JSON. The record as first raised; its workflow (new, "
        "acknowledged, handled) is kept in the operational store."
    ),
    schema=pa.schema(
        [
            _field("alarm_id", pa.string(), "Stable id: rule, terminal phone and start time", nullable=False),
            _field("rule", pa.string(), "Rule key, e.g. overspeed, fatigue.continuous, drift"),
            _field("severity", pa.string(), "low, medium or high"),
            _field("phone", pa.string(), "Terminal phone number"),
            _field("plate", pa.string(), "Plate number"),
            _field("vehicle_class", pa.string(), "Vehicle class"),
            _field("enterprise", pa.string(), "Transport enterprise"),
            _field("started_at", UTC_TIMESTAMP, "First fix of the violation", nullable=False),
            _field("ended_at", UTC_TIMESTAMP, "Last fix of the violation known when it was raised"),
            _field("detail", pa.string(), "What was found, with the value and the limit"),
            _field("evidence", pa.string(), "The fixes, a JSON array of {at, lon, lat, speed_kmh}"),
        ]
    ),
    primary_key=("alarm_id",),
    time_column="started_at",
    owner=OWNER,
    update_frequency="irregular",
    retention_days=1096,
    # as the reports; the evidence (the fixes, with no masking kind) is withheld below important
    level=Level.GENERAL_3,
    pii_fields=("phone", "plate", "evidence"),
    pii_kinds={"phone": PiiKind.MOBILE, "plate": PiiKind.PLATE},
    vehicle_column="plate",
)
