"""The rows endpoint through the access policy: the authorisation matrix, and each refusal.

Matrix: every role x every clearance (organisations cycling agency, company, district) x every dataset
(the real `roads.*` ones and the test-only PII tracks): no field above clearance comes back plain, no row
outside scope comes back, every read is audited; with the operational store on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dthub.api import create_app
from dthub.domains import DOMAINS
from dthub.hub import access, access_requests, identity, query
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Consumer, Organisation, Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.settings import Settings
from dthub.hub.tables import utcnow
from fixtures.hub import PEMS_DIR
from fixtures.services import PostgresCluster
from fixtures.tracks import COMPANY_PLATES, HEPING, HEPING_BOX, PROBE, ROWS, TRACKS, TrackLines, track_lines

ROOT = "person:root"
ORGS = (
    Organisation(id="jtw", name="市交通运输委", kind="agency"),
    Organisation(id="bus-co", name="公交集团", kind="company", vehicles=COMPANY_PLATES),
    Organisation(id="heping", name="和平区", kind="district", district_code=HEPING, bbox=HEPING_BOX),
)
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Reader:
    consumer: Consumer
    headers: dict[str, str]


@contextmanager
def serve(home: Path, db_url: str | None = None) -> Iterator[tuple[TestClient, Hub]]:
    """An app over a hub holding the test tracks and, when present, one real PeMS day."""
    settings = Settings(home=home)
    if db_url is not None:
        settings = settings.model_copy(update={"db_url": db_url})
    domains = (*DOMAINS, PROBE)
    app = create_app(settings, domains=domains)
    hub: Hub = app.state.hub
    ingest_bytes(hub, TrackLines(), track_lines(), source="tracks.jsonl")
    pems = sorted(PEMS_DIR.glob("d04_text_station_5min_*.csv"))[:1]
    for name in ("pems.station_5min", "pems.stations") if pems else ():
        ingest_bytes(hub, hub.registry.adapter(name), pems[0].read_bytes(), source=str(pems[0]))
    for org in ORGS:
        identity.add_organisation(hub.store, org, by=ROOT)
    identity.add_person(hub.store, "root", name="root", password=PASSWORD, role=Role.ADMIN,
                        clearance=Level.CORE, by="cli")  # fmt: skip
    with TestClient(app) as client:
        yield client, hub


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Hub]]:
    with serve(tmp_path_factory.mktemp("rows") / "hub") as app:
        yield app


@pytest.fixture(scope="module")
def served_on_postgres(
    tmp_path_factory: pytest.TempPathFactory, postgres_cluster: PostgresCluster
) -> Iterator[tuple[TestClient, Hub]]:
    """The same, with the operational store (people, grants, audit log) on PostgreSQL."""
    with postgres_cluster.admin() as admin:
        admin.execute("CREATE DATABASE dthub_rows_matrix")
    with serve(tmp_path_factory.mktemp("rows-pg") / "hub", postgres_cluster.url("dthub_rows_matrix")) as app:
        yield app
    with postgres_cluster.admin() as admin:
        admin.execute("DROP DATABASE IF EXISTS dthub_rows_matrix WITH (FORCE)")


def readers(hub: Hub, client: TestClient) -> Iterator[Reader]:
    """One person per role and clearance, each granted every dataset by root."""
    root = identity.consumer(hub.store, "person", "root")
    for index, (role, clearance) in enumerate((r, c) for r in Role for c in Level):
        person_id = f"{role.value}-{clearance.value}"
        org = ORGS[index % len(ORGS)]
        consumer = identity.add_person(hub.store, person_id, name=person_id, password=PASSWORD, role=role,
                                       clearance=clearance, organisation_id=org.id, by=ROOT)  # fmt: skip
        for spec_id in hub.registry.datasets:
            if role is not Role.ADMIN:
                row = access_requests.request(hub, consumer, spec_id, purpose="matrix",
                                              expires_at=utcnow() + timedelta(days=1))  # fmt: skip
                access_requests.decide(hub, row.id, root, approve=True, note="ok")
                access_requests.provision(hub, row.id, root)
        token = client.post("/api/v1/auth/login", json={"username": person_id, "password": PASSWORD})
        yield Reader(consumer, {"Authorization": f"Bearer {token.json()['token']}"})


def in_scope(consumer: Consumer, spec_id: str, row: dict[str, Any]) -> bool:
    org = consumer.organisation
    if spec_id != TRACKS.id or org is None or org.kind == "agency":
        return True
    if org.kind == "company":
        return row["plate"] in org.vehicles
    west, south, east, north = HEPING_BOX
    boxed = row["lon"] is not None and west <= row["lon"] <= east and south <= row["lat"] <= north
    return row["district"] == HEPING or boxed


def reads_audited(hub: Hub, actor: str, spec_id: str) -> list[int]:
    query = select(AuditLogRow).where(AuditLogRow.actor == actor, AuditLogRow.target == spec_id)
    with hub.store.session() as session:
        return [e.detail["rows"] for e in session.scalars(query) if e.detail.get("step") == "rows"]


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_authorisation_matrix(store: str, request: pytest.FixtureRequest) -> None:
    client, hub = request.getfixturevalue("served" if store == "sqlite" else "served_on_postgres")
    originals = {name: {row[name] for row in ROWS} - {None} for name in TRACKS.pii_fields}
    checked = 0
    for reader in readers(hub, client):
        consumer = reader.consumer
        for spec_id, spec in hub.registry.datasets.items():
            response = client.get(f"/api/v1/datasets/{spec_id}/rows", params={"limit": 10_000},
                                  headers=reader.headers)  # fmt: skip
            if consumer.clearance.rank < spec.level.rank:
                assert response.status_code == 403, (consumer.actor, spec_id)
                assert response.json()["error"] == "access.clearance_below_level"
                assert reads_audited(hub, consumer.actor, spec_id) == []
                continue
            assert response.status_code == 200, (consumer.actor, spec_id, response.text)
            rows = response.json()["rows"]
            if spec_id == TRACKS.id:
                assert len(rows) == sum(in_scope(consumer, spec_id, row) for row in ROWS), consumer.actor
                for name in TRACKS.pii_fields:
                    above = access.field_level(spec, name).rank > consumer.clearance.rank
                    served_values = {row[name] for row in rows} - {None}
                    if above:
                        assert not served_values & originals[name], (consumer.actor, name)
                    else:
                        assert served_values <= originals[name]
            assert reads_audited(hub, consumer.actor, spec_id) == [len(rows)]
            checked += 1
    assert checked > 0


def test_company_application_with_a_key_sees_only_its_vehicles_masked(
    served: tuple[TestClient, Hub],
) -> None:
    client, hub = served
    root = identity.consumer(hub.store, "person", "root")
    app = identity.add_application(hub.store, "fleet", name="车队系统", clearance=Level.GENERAL_2,
                                   organisation_id="bus-co", by=ROOT)  # fmt: skip
    key = identity.issue_key(hub.store, "fleet", by=ROOT)
    row = access_requests.request(
        hub, app, TRACKS.id, purpose="fleet", expires_at=utcnow() + timedelta(days=1)
    )
    access_requests.decide(hub, row.id, root, approve=True, note="ok")
    access_requests.provision(hub, row.id, root)

    body = client.get(f"/api/v1/datasets/{TRACKS.id}/rows", headers={"X-API-Key": key.text}).json()

    assert [(r["plate"], r["phone"], r["resident_id"]) for r in body["rows"]] == [
        ("津A1***5", "180****1999", "1***************2X"),
        ("津AD****5", "139****5678", "1***************29"),
    ]
    assert {f["name"]: f["treatment"] for f in body["fields"]}["speed_kmh"] == "plain"


def test_refusals_401_403_404_422(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    identity.add_person(hub.store, "nobody", name="n", password=PASSWORD, role=Role.ANALYST,
                        clearance=Level.CORE, by=ROOT)  # fmt: skip
    token = client.post("/api/v1/auth/login", json={"username": "nobody", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    root = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
    as_root = {"Authorization": f"Bearer {root['token']}"}
    url = f"/api/v1/datasets/{TRACKS.id}/rows"

    assert client.get(url).json()["error"] == "auth.required"
    assert client.get(url, headers={"X-API-Key": "dthk_00_00"}).status_code == 401
    assert client.post("/api/v1/auth/login", json={"username": "root", "password": "x"}).status_code == 401
    assert client.get(url, headers=headers).json()["error"] == "access.no_grant"
    assert client.get("/api/v1/datasets/probe.nothing/rows", headers=as_root).status_code == 404
    for params in ({"filter": "plate:zz:1"}, {"sort": "nope"}, {"bbox": "1,2"}, {"cursor": "abc"},
                   {"format": "xml"}, {"limit": "20000"}, {"since": "2026-03-01T00:00:00"}):  # fmt: skip
        assert client.get(url, params=params, headers=as_root).status_code == 422, params


def test_filters_sort_cursor_and_formats(served: tuple[TestClient, Hub]) -> None:
    client, _ = served
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    url = f"/api/v1/datasets/{TRACKS.id}/rows"

    def plates(**params: Any) -> list[str]:
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [row["plate"] for row in response.json()["rows"]]

    assert plates(filter="speed_kmh:range:30..61.5", sort="-speed_kmh") == [
        "津AD12345",
        "津A12345",
        "京A11111",
    ]
    assert plates(filter="district:in:120101|120102") == ["津A12345", "津B67890"]
    assert plates(since="2026-03-01T08:05:00+08:00", until="2026-03-01T00:15:00Z") == [
        "津AD12345",
        "津B67890",
    ]
    assert plates(bbox=",".join(map(str, HEPING_BOX))) == ["津A12345", "津B67890"]
    first = client.get(url, params={"limit": 3, "fields": "plate"}, headers=headers).json()
    rest = client.get(
        url, params={"limit": 3, "fields": "plate", "cursor": first["next_cursor"]}, headers=headers
    )
    assert [r["plate"] for r in first["rows"] + rest.json()["rows"]] == sorted(r["plate"] for r in ROWS)
    assert rest.json()["next_cursor"] is None

    exported = client.get(
        url, params={"format": "csv", "fields": "plate,speed_kmh", "sort": "reported_at"}, headers=headers
    )
    assert list(csv.reader(io.StringIO(exported.text)))[:2] == [["plate", "speed_kmh"], ["津A12345", "42"]]
    parquet = client.get(url, params={"format": "parquet"}, headers=headers)
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == len(ROWS)
    geo = client.get(
        url, params={"format": "geojson", "limit": 1, "sort": "reported_at"}, headers=headers
    ).json()
    assert geo["features"][0]["geometry"] == {"type": "Point", "coordinates": [117.200983, 39.084158]}


def test_a_filter_on_a_masked_field_is_refused(served: tuple[TestClient, Hub]) -> None:
    client, hub = served
    root = identity.consumer(hub.store, "person", "root")
    person = identity.add_person(hub.store, "curious", name="c", password=PASSWORD, role=Role.ANALYST,
                                 clearance=Level.GENERAL_2, by=ROOT)  # fmt: skip
    row = access_requests.request(
        hub, person, TRACKS.id, purpose="x", expires_at=utcnow() + timedelta(days=1)
    )
    access_requests.decide(hub, row.id, root, approve=True, note="ok")
    access_requests.provision(hub, row.id, root)
    token = client.post("/api/v1/auth/login", json={"username": person.id, "password": PASSWORD}).json()
    response = client.get(f"/api/v1/datasets/{TRACKS.id}/rows", params={"filter": "plate:eq:津A12345"},
                          headers={"Authorization": f"Bearer {token['token']}"})  # fmt: skip

    assert (response.status_code, response.json()["error"]) == (422, "query.field_not_plain")


def test_a_parquet_export_across_chunks_streams_row_groups_and_equals_the_json_rows(
    served: tuple[TestClient, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = served
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['token']}"}
    url = f"/api/v1/datasets/{TRACKS.id}/rows"
    params = {"fields": "plate,phone,lon,speed_kmh", "sort": "reported_at"}
    monkeypatch.setattr(query, "EXPORT_CHUNK_ROWS", 1)

    with client.stream("GET", url, params={**params, "format": "parquet"}, headers=headers) as response:
        assert response.status_code == 200
        parts = list(response.iter_bytes())
    exported = pq.ParquetFile(io.BytesIO(b"".join(parts)))
    json_rows = client.get(url, params=params, headers=headers).json()["rows"]

    assert exported.metadata.num_row_groups == len(ROWS)
    assert exported.read().to_pylist() == json_rows
