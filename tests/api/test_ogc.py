"""OGC API - Features over spatial datasets: landing, conformance, collections, governed items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dthub.api import create_app
from dthub.api.ogc import CONFORMANCE, parse_datetime
from dthub.domains import DOMAINS
from dthub.hub import access_requests, identity
from dthub.hub.classification import Level
from dthub.hub.identity import Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.query import QueryError
from dthub.hub.settings import Settings
from dthub.hub.tables import utcnow
from fixtures.tracks import PROBE, T0, TRACKS, TrackLines, track_lines

PASSWORD = "correct horse battery"
ITEMS = f"/ogc/collections/{TRACKS.id}/items"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=tmp_path / "hub"), domains=(*DOMAINS, PROBE))
    hub = app.state.hub
    ingest_bytes(hub, TrackLines(), track_lines(), source="tracks.jsonl")
    identity.add_person(hub.store, "root", name="root", password=PASSWORD, role=Role.ADMIN,
                        clearance=Level.CORE, by="test")  # fmt: skip
    analyst = identity.add_person(hub.store, "analyst", name="analyst", password=PASSWORD, role=Role.ANALYST,
                                  clearance=Level.GENERAL_2, by="test")  # fmt: skip
    root = identity.consumer(hub.store, "person", "root")
    request = access_requests.request(
        hub, analyst, TRACKS.id, purpose="gis", expires_at=utcnow() + timedelta(days=1)
    )
    access_requests.decide(hub, request.id, root, approve=True, note="ok")
    access_requests.provision(hub, request.id, root)
    with TestClient(app) as test_client:
        yield test_client


def bearer(client: TestClient, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['token']}"}


def test_landing_and_conformance_name_the_core_and_geojson_classes(client: TestClient) -> None:
    links = {link["rel"] for link in client.get("/ogc").json()["links"]}

    assert links == {"self", "service-desc", "conformance", "data"}
    assert client.get("/ogc/conformance").json() == {"conformsTo": list(CONFORMANCE)}


def test_only_datasets_with_points_are_collections(client: TestClient) -> None:
    ids = [c["id"] for c in client.get("/ogc/collections").json()["collections"]]

    assert TRACKS.id in ids
    assert "roads.detector_observations" not in ids
    assert client.get("/ogc/collections/roads.detector_observations").status_code == 404


def test_items_filter_by_bbox_and_datetime_with_a_next_link(client: TestClient) -> None:
    params = {"bbox": "117.1,39.0,117.3,39.2", "datetime": f"{T0.isoformat()}/..", "limit": 1}

    page = client.get(ITEMS, params=params, headers=bearer(client, "root"))

    assert page.status_code == 200
    assert page.headers["content-type"] == "application/geo+json"
    body = page.json()
    assert (body["type"], body["numberReturned"]) == ("FeatureCollection", 1)
    assert body["features"][0]["geometry"] == {"type": "Point", "coordinates": [117.200983, 39.084158]}
    [following] = [link["href"] for link in body["links"] if link["rel"] == "next"]
    rest = client.get(following, headers=bearer(client, "root")).json()
    assert [f["properties"]["plate"] for f in rest["features"]] == ["津B67890"]


def test_reader_below_the_location_level_gets_coarsened_points(client: TestClient) -> None:
    body = client.get(ITEMS, params={"limit": 10}, headers=bearer(client, "analyst")).json()

    points = [f["geometry"]["coordinates"] for f in body["features"] if f["geometry"]]
    assert points
    assert [117.200983, 39.084158] not in points
    assert all(p["plate"].count("*") >= 3 for p in (f["properties"] for f in body["features"]))


def test_items_need_credentials(client: TestClient) -> None:
    assert client.get(ITEMS).status_code == 401


@pytest.mark.parametrize(
    ("text", "since", "until"),
    [
        ("2026-03-01T00:00:00Z/..", T0, None),
        ("../2026-03-01T00:00:00Z", None, T0 + timedelta(microseconds=1)),
        ("2026-03-01T00:00:00Z", T0, T0 + timedelta(microseconds=1)),
    ],
)
def test_datetime_reads_instants_and_open_intervals(text: str, since: object, until: object) -> None:
    assert parse_datetime(text) == (since, until)


def test_interval_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(QueryError, match="ends before it starts"):
        parse_datetime("2026-03-02T00:00:00Z/2026-03-01T00:00:00Z")
