"""Road network monitoring (路网监测): detectors, their observations, and what is computed from them."""

from __future__ import annotations

from dthub.domains.roads.datasets import DETECTOR_OBSERVATIONS, DETECTOR_STATIONS
from dthub.domains.roads.ingest.pems import PemsStation5Min, PemsStations
from dthub.hub.domain import Domain

DOMAIN = Domain(
    name="roads",
    title_zh="路网监测",
    title_en="Road network monitoring",
    datasets=(DETECTOR_OBSERVATIONS, DETECTOR_STATIONS),
    adapters=(PemsStation5Min(), PemsStations()),
)
