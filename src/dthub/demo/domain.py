"""How the demo city shows in the catalog: its adapters, and 模拟 on every dataset it fills.

The demo lands simulated rows into the hub's own datasets (`roads.segments`, `vehicles.location_reports`,
...), beside any real data. `demo_domains` gives the domains the demo serves: each such dataset's title
and description say that it holds simulated demo data, and a `demo` domain declares the adapters of the
simulated detector feed, so that its quarantined records can be replayed like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from dthub.demo.detectors import SimDetectorObservations, SimDetectorSegments
from dthub.domains import DOMAINS
from dthub.hub.dataset import DatasetSpec
from dthub.hub.domain import Domain

FILLED = (
    "roads.segments",
    "roads.detector_observations",
    "roads.detector_segments",
    "vehicles.location_reports",
    "vehicles.alarms",
    "transit.stops",
    "transit.routes",
    "transit.trips",
    "transit.stop_times",
    "transit.calendar",
    "transit.bike_stations",
    "transit.bike_station_status",
)
"""Datasets the demo city fills with simulated rows."""

TITLE_ZH = "（含模拟数据）"
TITLE_EN = " (incl. simulated demo data)"
NOTE = (
    "演示城市：本数据集含模拟的天津演示数据（名称带“模拟”，路段编号 tjsim-，车辆属“（模拟）”企业）。"
    "Demo city: this dataset holds simulated Tianjin demo data (names marked 模拟, segment ids tjsim-, "
    "vehicles of '（模拟）' enterprises) beside any real data. "
)

DEMO = Domain(
    name="demo",
    title_zh="演示城市（模拟）",
    title_en="Demo city (simulated)",
    datasets=(),
    adapters=(SimDetectorObservations(), SimDetectorSegments()),
)


def labelled(spec: DatasetSpec) -> DatasetSpec:
    """The declaration with its title and description saying it holds simulated demo data."""
    if spec.title_zh.endswith(TITLE_ZH):
        return spec
    return replace(
        spec,
        title_zh=spec.title_zh + TITLE_ZH,
        title_en=spec.title_en + TITLE_EN,
        description=NOTE + spec.description,
    )


def demo_domains(filled: Iterable[str] = FILLED, domains: Sequence[Domain] = DOMAINS) -> tuple[Domain, ...]:
    """The hub's domains with the datasets in `filled` labelled, and the `demo` domain."""
    marked = set(filled)
    relabelled = tuple(
        replace(domain, datasets=tuple(labelled(s) if s.id in marked else s for s in domain.datasets))
        for domain in domains
    )
    return (*relabelled, DEMO)
