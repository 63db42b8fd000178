"""The planner page's feeds are the landed ones, read as the planner's service identity: none before it is
provisioned, and a feed once it has landed, with its stops and a day it runs."""

from __future__ import annotations

from datetime import date

from dthub.domains.transit.landed import provision_planner
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.web import planner
from fixtures.planner import FEEDS, land_feeds


def test_the_page_lists_the_landed_feeds_once_the_planner_is_provisioned(hub: Hub) -> None:
    land_feeds(hub, {"metro": FEEDS["metro"]})
    assert planner.feeds(hub) == []  # landed, but the planner may not read it yet
    admin = identity.add_person(hub.store, "root", name="root", password="correct horse battery",
                                role=Role.ADMIN, clearance=Level.CORE, by="cli")  # fmt: skip
    provision_planner(hub, admin)
    assert planner.feeds(hub) == ["metro"]
    stops = planner.stops(hub, "metro")
    assert stops is not None
    assert len(stops["features"]) == 71  # every stop of Metro Transit's sample
    lon, lat = stops["features"][0]["geometry"]["coordinates"]
    assert -94 < lon < -93
    assert 44.8 < lat < 45.2  # Minneapolis
    assert planner.stops(hub, "nowhere") is None
    first, last = planner.service_range(hub, "metro") or (None, None)
    assert first is not None
    assert last is not None
    assert first <= date(2019, 5, 1) <= last
    assert planner.default_day(hub, "metro", date(2030, 1, 1)).weekday() in (1, 2, 3)
    land_feeds(hub, {"cairns": FEEDS["cairns"]})
    assert planner.feeds(hub) == ["cairns", "metro"]  # a new landing is listed at once
