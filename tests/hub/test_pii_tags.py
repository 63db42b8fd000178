"""PII tags suggested on ingest: an undeclared column of mobile numbers is suggested, and a steward's
confirmation is recorded and audited without changing the declaration."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from dthub.hub import pii_tags
from dthub.hub.access_requests import Forbidden
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.domain import Domain
from dthub.hub.identity import Consumer, Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.pii import PiiKind
from dthub.hub.settings import Settings
from fixtures.tracks import TRACKS, TrackLines, track_lines

UNDECLARED_PHONE = dataclasses.replace(
    TRACKS,
    pii_fields=("plate", "resident_id", "lon", "lat"),
    pii_kinds={k: v for k, v in TRACKS.pii_kinds.items() if k != "phone"},
)
DOMAIN = Domain(
    name="probe", title_zh="探针", title_en="Probe", datasets=(UNDECLARED_PHONE,), adapters=(TrackLines(),)
)
STEWARD = Consumer(kind="person", id="steward", clearance=Level.CORE, role=Role.DATA_STEWARD)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    settings = Settings(
        home=tmp_path / "hub", master_key=SecretStr(base64.b64encode(os.urandom(16)).decode())
    )
    opened = Hub.open(settings, (DOMAIN,))
    ingest_bytes(opened, TrackLines(), track_lines(), source="tracks.jsonl")
    yield opened
    opened.close()


def test_an_undeclared_column_of_mobile_numbers_is_suggested_once(hub: Hub) -> None:
    ingest_bytes(hub, TrackLines(), track_lines() + b"\n", source="again.jsonl")

    found = [
        (r.dataset_id, r.column, r.kind, r.share, r.sampled, r.status) for r in pii_tags.suggestions(hub)
    ]

    assert found == [(TRACKS.id, "phone", "mobile", 1.0, 3, "open")]


def test_a_confirmation_is_recorded_and_audited_and_the_declaration_stays(hub: Hub) -> None:
    row = pii_tags.decide(hub, UNDECLARED_PHONE, "phone", PiiKind.MOBILE, STEWARD, confirm=True)

    assert (row.status, row.decided_by) == ("confirmed", "person:steward")
    assert pii_tags.suggestions(hub) == []
    assert "phone" not in hub.registry.dataset(TRACKS.id).pii_fields
    with hub.store.session() as session:
        entry = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "config")).one()
    assert entry.detail == {
        "step": "pii_tag",
        "column": "phone",
        "kind": "mobile",
        "status": "confirmed",
        "declared": False,
    }


def test_only_a_steward_decides_a_pii_tag(hub: Hub) -> None:
    analyst = dataclasses.replace(STEWARD, id="analyst", role=Role.ANALYST)

    with pytest.raises(Forbidden, match=r"access\.not_steward"):
        pii_tags.decide(hub, UNDECLARED_PHONE, "phone", PiiKind.MOBILE, analyst, confirm=False)
