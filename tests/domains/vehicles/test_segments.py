"""Overspeed against the posted limit of the road segment a fix is on (real OSM Futian network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from shapely import wkt  # type: ignore[import-untyped]

from dthub.domains.roads.ingest.osm import OsmGraphml
from dthub.domains.roads.network import RoadClassDefaults
from dthub.domains.vehicles.rules import Fix, RuleConfig, overspeed
from dthub.domains.vehicles.segments import SegmentLimits
from dthub.domains.vehicles.writer import Writer
from dthub.hub.bus import connect_bus
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file
from fixtures.hub import REALDATA, need_realdata

FUTIAN = REALDATA / "osm" / "shenzhen_transbigdata" / "shenzhen_futian_G.graphml"
STREET = "osm:352965797-2042400943-0"
"""新洲七街, posted 30 km/h in OSM (maxspeed), a secondary/branch road."""
DAY = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shenzhen
NIGHT = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)  # 23:00


@pytest.fixture(scope="module")
def futian() -> SegmentLimits:
    rows = OsmGraphml(defaults=RoadClassDefaults()).parse(need_realdata(FUTIAN).read_bytes()).rows
    return SegmentLimits.from_table(rows)


def on_street(
    speeds: list[float], start: datetime, *, lon: float | None = None, lat: float | None = None
) -> list[Fix]:
    """A taxi on 新洲七街 (40 % along it), one fix a minute, or at (lon, lat) if given."""
    line = wkt.loads("LINESTRING (114.0387881 22.5254015, 114.0376569 22.525275, 114.0364797 22.5259103)")
    point = line.interpolate(0.4, normalized=True)
    return [
        Fix(phone="13900000001", plate="粤B12345", vehicle_class="taxi", at=start + timedelta(minutes=n),
            lon=lon if lon is not None else point.x, lat=lat if lat is not None else point.y, speed_kmh=speed)
        for n, speed in enumerate(speeds)
    ]  # fmt: skip


def test_only_posted_limits_are_kept_and_a_fix_on_the_street_gets_its_limit(futian: SegmentLimits) -> None:
    assert len(futian) == 28  # of 2,225 segments, 28 carry an OSM maxspeed
    limit, segment = futian(on_street([0], DAY)[0]) or (None, None)
    assert limit == 30.0
    assert segment in (STREET, "osm:2042400943-352965797-0")  # either direction of the street
    assert futian(on_street([0], DAY, lon=114.5, lat=22.9)[0]) is None  # no road near: class limit


def test_50_on_a_30_street_is_overspeed_though_under_the_taxi_limit(futian: SegmentLimits) -> None:
    config = RuleConfig()
    fixes = on_street([20, 50, 55, 20], DAY)
    (alarm,) = overspeed(fixes, config=config, speed_limit=futian)
    assert (alarm.started_at, alarm.ended_at, alarm.severity) == (fixes[1].at, fixes[2].at, "high")
    assert alarm.detail.startswith("max 55 km/h over the limit 30 km/h of segment osm:")
    assert overspeed(fixes, config=config) == []  # the taxi class limit (80) alone: no alarm
    away = on_street([20, 50, 55, 20], DAY, lon=114.5, lat=22.9)
    assert overspeed(away, config=config, speed_limit=futian) == []


def test_at_night_the_segment_limit_is_80_percent(futian: SegmentLimits) -> None:
    config = RuleConfig()
    (alarm,) = overspeed(on_street([20, 25, 20], NIGHT), config=config, speed_limit=futian)
    assert alarm.detail.startswith("max 25 km/h over the limit 24 km/h of segment osm:")
    assert overspeed(on_street([20, 25, 20], DAY), config=config, speed_limit=futian) == []


def test_segment_limits_read_from_the_lake(hub: Hub) -> None:
    assert len(SegmentLimits.read(hub)) == 0  # no segments landed: class limits only
    ingest_file(hub, OsmGraphml(defaults=RoadClassDefaults()), need_realdata(FUTIAN))
    limits = SegmentLimits.read(hub)
    assert len(limits) == 28
    assert (limits(on_street([0], DAY)[0]) or (None,))[0] == 30.0
    writer = Writer.from_settings(hub, connect_bus("memory://"), {})
    assert isinstance(writer.speed_limit, SegmentLimits)
    assert len(writer.speed_limit) == 28
    assert writer.offline_every_s == hub.settings.vehicles_offline_every_s
