"""`POST /api/v1/transit/plan` and its MaaS alias on the real NYC subway feed landed in the hub, read by the
planner's service identity (access-checked, audited for trip planning)."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dthub.api import create_app
from dthub.domains.transit import api as transit_api
from dthub.domains.transit.landed import PLANNER_DATASETS, PLANNER_ID, PURPOSE, provision_planner
from dthub.hub import access_requests, identity
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.settings import Settings
from fixtures.planner import FEEDS, PlannerHub, land_feeds, planner_app

__all__ = ["planner_app"]

TIMES_SQUARE = (40.7557, -73.9870)
BARCLAYS_CENTER = (40.6840, -73.9776)
CAIRNS_CENTRAL = (-16.9235, 145.7710)
CAIRNS_EDGE_HILL = (-16.9000, 145.7480)


def body(**changes: Any) -> dict[str, Any]:
    return {
        "from_lat": TIMES_SQUARE[0],
        "from_lon": TIMES_SQUARE[1],
        "to_lat": BARCLAYS_CENTER[0],
        "to_lon": BARCLAYS_CENTER[1],
        "date": "2026-10-07",
        "time": "08:30",
        "feeds": ["subway"],
        **changes,
    }


@pytest.mark.parametrize("path", ["/api/v1/transit/plan", "/api/v1/maas/plan"])
def test_plan_from_times_square_to_barclays_center_rides_the_subway(
    planner_app: PlannerHub, path: str
) -> None:
    answer = TestClient(planner_app.app).post(path, json=body())
    assert answer.status_code == 200, answer.text
    plan = answer.json()["plan"]
    itineraries = plan["itineraries"]
    assert itineraries
    fastest = itineraries[-1]
    assert 8 * 3600 + 30 * 60 <= fastest["startTime"] < fastest["endTime"] < 10 * 3600
    assert {leg["mode"] for leg in fastest["legs"]} >= {"WALK", "SUBWAY"}
    times = [(leg["startTime"], leg["endTime"]) for leg in fastest["legs"]]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(times))
    rides = [leg for leg in fastest["legs"] if leg["transitLeg"]]
    # no TripUpdates landed for the subway: the schedule, said so on every ride
    assert all(
        (leg["realTime"], leg["departureDelay"], leg["arrivalDelay"]) == (False, 0, 0) for leg in rides
    )
    assert all(leg["tripId"].startswith("subway:") for leg in rides)
    assert (plan["realtime"]["updated"], plan["realtime"]["cancelled"]) == (0, 0)


def test_the_planner_reads_as_its_service_identity_and_the_reads_are_audited(planner_app: PlannerHub) -> None:
    answer = TestClient(planner_app.app).post("/api/v1/maas/plan", json=body(time="09:10"))
    assert answer.status_code == 200, answer.text
    with planner_app.hub.store.session() as session:
        reads = session.scalars(
            select(AuditLogRow).where(
                AuditLogRow.actor == f"application:{PLANNER_ID}", AuditLogRow.target == "transit.stop_times"
            )
        ).all()
    decisions = [r.detail for r in reads if r.detail["step"] == "decision"]
    rows = [r.detail for r in reads if r.detail["step"] == "rows"]
    assert decisions
    assert all(d["allowed"] and d["reason"] == "access.grant" for d in decisions)
    subway = [r for r in rows if r["filters"] == ["trip_id:range:subway:|subway:\U0010ffff"]]
    assert subway
    assert subway[0]["purpose"] == PURPOSE
    assert subway[0]["rows"] == 565_093  # every stop time of the landed feed


def test_unknown_feed_is_404_listing_the_landed_ones_and_bad_input_is_422(planner_app: PlannerHub) -> None:
    client = TestClient(planner_app.app)
    missing = client.post("/api/v1/transit/plan", json=body(feeds=["nyc_mta/bus_bk"]))
    bad_time = client.post("/api/v1/transit/plan", json=body(time="25h"))
    bad_name = client.post("/api/v1/transit/plan", json=body(feeds=["../etc"]))
    bad_moment = client.post("/api/v1/transit/plan", json=body(realtime_at="yesterday"))
    assert (missing.status_code, missing.json()["error"]) == (404, "feed.not_found")
    assert missing.json()["detail"].endswith(f"landed: {', '.join(sorted(FEEDS))}")
    for bad in (bad_time, bad_name, bad_moment):
        assert (bad.status_code, bad.json()["error"]) == (422, "request.invalid")


def plan_in_cairns(client: TestClient) -> Any:
    return client.post(
        "/api/v1/maas/plan",
        json=body(from_lat=CAIRNS_CENTRAL[0], from_lon=CAIRNS_CENTRAL[1], to_lat=CAIRNS_EDGE_HILL[0],
                  to_lon=CAIRNS_EDGE_HILL[1], date="2014-06-04", time="08:00", feeds=["cairns"],
                  walk_radius_m=800),
    )  # fmt: skip


def test_without_its_identity_or_a_grant_the_planner_is_503_and_a_new_landing_is_planned_on(
    settings: Settings,
) -> None:
    app = create_app(settings)
    hub: Hub = app.state.hub
    client = TestClient(app)
    try:
        unprovisioned = plan_in_cairns(client)
        assert (unprovisioned.status_code, unprovisioned.json()["error"]) == (503, "planner.not_provisioned")
        admin = identity.add_person(hub.store, "root", name="root", password="correct horse battery",
                                    role=Role.ADMIN, clearance=Level.CORE, by="cli")  # fmt: skip
        assert len(provision_planner(hub, admin)) == len(PLANNER_DATASETS)
        assert provision_planner(hub, admin) == []  # idempotent
        before = plan_in_cairns(client)
        assert (before.status_code, before.json()["error"]) == (404, "feed.not_found")
        land_feeds(hub, {"cairns": FEEDS["cairns"]})
        landed = plan_in_cairns(client)
        assert landed.status_code == 200, landed.text
        assert any(leg["mode"] == "BUS" for i in landed.json()["plan"]["itineraries"] for leg in i["legs"])
        grant = next(g for g in access_requests.grants(hub, consumer=f"application:{PLANNER_ID}")
                     if g.dataset_id == "transit.stop_times")  # fmt: skip
        access_requests.revoke(hub, grant.id, admin)
        time.sleep(transit_api.STATE_TTL_S)  # grants are looked up again after that
        revoked = plan_in_cairns(client)
        assert (revoked.status_code, revoked.json()["error"]) == (503, "planner.not_provisioned")
        assert "transit.stop_times" in revoked.json()["detail"]
        assert [g.dataset_id for g in provision_planner(hub, admin)] == ["transit.stop_times"]
        assert plan_in_cairns(client).status_code == 200
    finally:
        hub.close()


def test_the_plan_route_documents_its_refusals(planner_app: PlannerHub) -> None:
    schema = TestClient(planner_app.app).get("/openapi.json").json()
    for path in ("/api/v1/transit/plan", "/api/v1/maas/plan"):
        documented = schema["paths"][path]["post"]["responses"]
        assert {"200", "404", "422", "503"} <= set(documented)
        assert "planner.not_provisioned" in documented["503"]["description"]


def test_requests_arriving_during_a_timetable_build_wait_for_that_one_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    builds: list[tuple[Any, ...]] = []

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        builds.append(args)
        time.sleep(0.3)
        return SimpleNamespace(trip_ids=())

    monkeypatch.setattr(transit_api, "build_timetable", slow_build)
    monkeypatch.setattr(transit_api, "landed_feed", lambda hub, consumer, name: name)
    transit_api._built_timetable.cache_clear()
    key = (("concurrent_feed",), date(2026, 10, 7), 401.0, 1.3, (1, 2, 3, 4, 5, 6))
    hub, planner = object(), object()
    with ThreadPoolExecutor(max_workers=4) as pool:
        networks = list(pool.map(lambda _: transit_api._timetable(hub, planner, key), range(4)))  # type: ignore[arg-type]
    transit_api._built_timetable.cache_clear()

    assert len(builds) == 1
    assert all(n is networks[0] for n in networks)
