"""Encryption at rest of the test tracks' phone and resident ID: no plaintext in the lake, plain only for
readers cleared to see the field, masks for the others, every decryption audited, and master key rotation."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from dthub.api import create_app
from dthub.hub import access, identity, keys, query
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.crypto import AuthenticationFailed, MasterKey, WrongKey
from dthub.hub.domain import Domain
from dthub.hub.identity import Consumer, Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.settings import Settings
from fixtures.tracks import ROWS, TRACKS, TrackLines, track_lines

ENCRYPTED = dataclasses.replace(TRACKS, encrypted_fields=("phone", "resident_id"))
DOMAIN = Domain(
    name="probe", title_zh="探针", title_en="Probe", datasets=(ENCRYPTED,), adapters=(TrackLines(),)
)
MASTER = base64.b64encode(os.urandom(16)).decode()
PLAINTEXTS = [row[c] for row in ROWS for c in ("phone", "resident_id") if row[c] is not None]
CLEARED = Consumer(kind="person", id="cleared", clearance=Level.IMPORTANT, role=Role.ANALYST)
BELOW = Consumer(kind="person", id="below", clearance=Level.GENERAL_2, role=Role.ANALYST)


def open_hub(home: Path, master: str | None = MASTER, master_id: str = "master-1") -> Hub:
    return Hub.open(
        Settings(home=home, master_key=SecretStr(master) if master else None, master_key_id=master_id),
        (DOMAIN,),
    )


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    opened = open_hub(tmp_path / "hub")
    ingest_bytes(opened, TrackLines(), track_lines(), source="tracks.jsonl")
    yield opened
    opened.close()


def read(hub: Hub, consumer: Consumer) -> list[tuple[str, str | None, str | None]]:
    decision = access.decide(consumer, ENCRYPTED, granted=True)
    rows = query.read_page(hub, consumer, ENCRYPTED, decision, query.RowQuery(), fmt="json")
    return [(r["plate"], r["phone"], r["resident_id"]) for r in rows.to_pylist()]


def test_the_lake_holds_no_plaintext_of_an_encrypted_field(hub: Hub) -> None:
    files = hub.files(ENCRYPTED.id)
    stored = [
        v for path in files for c in ("phone", "resident_id") for v in pq.read_table(path)[c].to_pylist()
    ]

    assert files
    assert len([v for v in stored if v is not None]) == len(PLAINTEXTS)
    assert not set(stored) & set(PLAINTEXTS)
    assert not any(text.encode() in path.read_bytes() for path in files for text in PLAINTEXTS)


def test_a_cleared_reader_gets_plaintext_and_a_reader_below_gets_masks(hub: Hub) -> None:
    assert read(hub, CLEARED) == [
        ("京A11111", None, None),
        ("津A12345", "18012341999", "11010519491231002X"),
        ("津AD12345", "13912345678", "110105194912310029"),
        ("津B67890", "13600001111", None),
    ]
    assert read(hub, BELOW) == [
        ("京A1***1", None, None),
        ("津A1***5", "180****1999", "1***************2X"),
        ("津AD****5", "139****5678", "1***************29"),
        ("津B6***0", "136****1111", None),
    ]


def test_every_decryption_is_audited_with_counts_not_values(hub: Hub) -> None:
    read(hub, BELOW)

    with hub.store.session() as session:
        entry = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "decrypt")).one()
    assert (entry.actor, entry.target) == ("person:below", ENCRYPTED.id)
    assert entry.detail == {
        "step": "decrypt",
        "values": {"phone": 3, "resident_id": 2},
        "plain": [],
        "masked": ["phone", "resident_id"],
    }


def test_ingest_without_a_master_key_refuses_and_writes_nothing(tmp_path: Path) -> None:
    bare = open_hub(tmp_path / "hub", master=None)
    with pytest.raises(keys.MissingMasterKey, match="DTHUB_MASTER_KEY"):
        ingest_bytes(bare, TrackLines(), track_lines(), source="tracks.jsonl")
    bare.close()

    assert list((tmp_path / "hub").rglob("*.parquet")) == []


def test_a_wrong_master_key_fails_clearly(hub: Hub) -> None:
    other = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(AuthenticationFailed, match="wrong_master_key"):
        read(open_hub(hub.settings.home, master=other), CLEARED)
    with pytest.raises(WrongKey, match="wrapped by 'master-1', got 'master-9'"):
        read(open_hub(hub.settings.home, master=other, master_id="master-9"), CLEARED)


def test_rotation_keeps_the_data_readable_with_the_new_key_and_not_the_old(hub: Hub) -> None:
    before = read(hub, CLEARED)
    secret = os.urandom(16)
    old = keys.master_key(hub.settings)

    assert keys.rotate(hub, old, MasterKey("master-2", secret), by="cli") == 1
    assert read(open_hub(hub.settings.home, base64.b64encode(secret).decode(), "master-2"), CLEARED) == before
    with pytest.raises(WrongKey):
        read(hub, CLEARED)


def test_a_filter_on_an_encrypted_field_is_refused(hub: Hub) -> None:
    decision = access.decide(CLEARED, ENCRYPTED, granted=True)
    asked = query.RowQuery(filters=(query.Filter(column="phone", op="eq", values=("18012341999",)),))

    with pytest.raises(query.QueryError, match=r"query\.field_encrypted"):
        query.check(ENCRYPTED, decision, asked)


@pytest.mark.parametrize(
    ("encrypted", "message"),
    [(("plate",), "in the primary key"), (("district",), "not a PII field"), (("lon",), "not a string")],
)
def test_an_encrypted_field_must_be_a_pii_string_outside_the_key(
    encrypted: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TRACKS, encrypted_fields=encrypted)


@pytest.mark.parametrize(
    ("master", "reason"), [(None, "crypto.no_master_key"), ("other", "crypto.wrong_master_key")]
)
@pytest.mark.parametrize("fmt", ["json", "csv", "geojson"])
def test_the_api_answers_503_with_the_reason_when_the_master_key_is_missing_or_wrong(
    hub: Hub, master: str | None, reason: str, fmt: str
) -> None:
    landed = hub.settings.home
    hub.close()
    settings = Settings(
        home=landed,
        master_key=SecretStr(base64.b64encode(os.urandom(16)).decode()) if master else None,
        master_key_id="master-1",
    )
    app = create_app(settings, domains=(DOMAIN,))
    served: Hub = app.state.hub
    identity.add_person(served.store, "root", name="root", password="correct horse battery", role=Role.ADMIN,
                        clearance=Level.CORE, by="cli")  # fmt: skip
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/login", json={"username": "root", "password": "correct horse battery"}
        )
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        answer = client.get(f"/api/v1/datasets/{ENCRYPTED.id}/rows", params={"format": fmt}, headers=headers)
        items = client.get(f"/ogc/collections/{ENCRYPTED.id}/items", headers=headers)

    assert (answer.status_code, answer.json()["error"]) == (503, reason)
    assert (items.status_code, items.json()["error"]) == (503, reason)
    assert not any(plain in answer.text for plain in PLAINTEXTS)
