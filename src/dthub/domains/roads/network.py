"""Road classes (道路等级) of the network and what each source's tags mean in them, as tables.

Three classes, as GB/T 33171 speed bands group urban roads: 快速路 expressway, 主干路 arterial, 次干路及支路
secondary and branch roads. OSM `highway` values map to them through `OSM_HIGHWAY_CLASS`; a way tagged with
several values takes the highest class among them. Values not in the table (footways, paths, steps, service
roads, cycleways, tracks) are not roads that congestion is measured on.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class RoadClass(StrEnum):
    """Road class of a segment; the value is the stable key stored in `roads.segments.road_class`."""

    EXPRESSWAY = "expressway"
    """快速路"""
    ARTERIAL = "arterial"
    """主干路"""
    SECONDARY_BRANCH = "secondary_branch"
    """次干路及支路"""


ROAD_CLASS_ZH = {
    RoadClass.EXPRESSWAY: "快速路",
    RoadClass.ARTERIAL: "主干路",
    RoadClass.SECONDARY_BRANCH: "次干路及支路",
}

RANK = {RoadClass.EXPRESSWAY: 0, RoadClass.ARTERIAL: 1, RoadClass.SECONDARY_BRANCH: 2}
"""Order of importance: a way with several `highway` values takes the lowest rank."""

OSM_HIGHWAY_CLASS: dict[str, RoadClass] = {
    "motorway": RoadClass.EXPRESSWAY,
    "motorway_link": RoadClass.EXPRESSWAY,
    "trunk": RoadClass.EXPRESSWAY,
    "trunk_link": RoadClass.EXPRESSWAY,
    "primary": RoadClass.ARTERIAL,
    "primary_link": RoadClass.ARTERIAL,
    "secondary": RoadClass.SECONDARY_BRANCH,
    "secondary_link": RoadClass.SECONDARY_BRANCH,
    "tertiary": RoadClass.SECONDARY_BRANCH,
    "tertiary_link": RoadClass.SECONDARY_BRANCH,
    "unclassified": RoadClass.SECONDARY_BRANCH,
    "residential": RoadClass.SECONDARY_BRANCH,
    "living_street": RoadClass.SECONDARY_BRANCH,
}
"""OSM `highway` → road class. In Chinese OSM practice 城市快速路 are tagged motorway or trunk, 主干路
primary, 次干路 secondary, and 支路 tertiary or lower."""


class RoadClassDefaults(BaseModel):
    """Speed limits for segments whose source gives none, per road class (km/h).

    ⚠️ Configuration, not the standard: the defaults are the middle design speeds of CJJ 37-2012 (城市道路
    工程设计规范: 快速路 60-100, 主干路 40-60, 次干路 30-50, 支路 20-40), which a city replaces with its own
    posted limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expressway_kmh: float = Field(default=80.0, gt=0, description="Speed limit of an expressway (快速路).")
    arterial_kmh: float = Field(default=60.0, gt=0, description="Speed limit of an arterial (主干路).")
    secondary_branch_kmh: float = Field(
        default=40.0, gt=0, description="Speed limit of a secondary or branch road (次干路及支路)."
    )

    def speed_limit_kmh(self, road_class: RoadClass) -> float:
        return {
            RoadClass.EXPRESSWAY: self.expressway_kmh,
            RoadClass.ARTERIAL: self.arterial_kmh,
            RoadClass.SECONDARY_BRANCH: self.secondary_branch_kmh,
        }[road_class]


def osm_road_class(highway: str | None) -> RoadClass | None:
    """The class of an OSM `highway` value (`"primary"`, or a list as OSMnx writes it:
    `"['primary', 'trunk']"`): the highest class among the values, None when none is a road."""
    if not highway:
        return None
    values = [value.strip(" '\"") for value in highway.strip("[]").split(",")]
    classes = [OSM_HIGHWAY_CLASS[value] for value in values if value in OSM_HIGHWAY_CLASS]
    return min(classes, key=RANK.__getitem__) if classes else None
