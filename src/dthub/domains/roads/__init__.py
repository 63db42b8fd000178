"""Road network monitoring (路网监测): the network, detectors, their observations, and congestion."""

from __future__ import annotations

from dthub.domains.roads.api import router
from dthub.domains.roads.datasets import (
    DETECTOR_OBSERVATIONS,
    DETECTOR_SEGMENTS,
    DETECTOR_STATIONS,
    SEGMENT_FORECASTS,
    SEGMENTS,
)
from dthub.domains.roads.forecast.records import ForecastRecords
from dthub.domains.roads.ingest.geojson import GeojsonSegments
from dthub.domains.roads.ingest.osm import OsmGraphml
from dthub.domains.roads.ingest.pems import PemsStation5Min, PemsStations
from dthub.domains.roads.ingest.pems_segments import PemsDetectorSegments, PemsStationSegments
from dthub.hub.domain import Domain

DOMAIN = Domain(
    name="roads",
    title_zh="路网监测",
    title_en="Road network monitoring",
    datasets=(DETECTOR_OBSERVATIONS, DETECTOR_STATIONS, SEGMENTS, DETECTOR_SEGMENTS, SEGMENT_FORECASTS),
    adapters=(
        PemsStation5Min(),
        PemsStations(),
        PemsStationSegments(),
        PemsDetectorSegments(),
        OsmGraphml(),
        GeojsonSegments(),
        ForecastRecords(),
    ),
    router=router,
)
