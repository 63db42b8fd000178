"""Keyed pseudonyms for join keys: a token per value and consumer, stable across reads, plain when cleared."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from dthub.hub import access, query
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.domain import Domain
from dthub.hub.identity import Consumer, Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.masking import consumer_key, pseudonym
from dthub.hub.settings import Settings
from fixtures.tracks import ROWS, TRACKS, TrackLines, track_lines

JOINABLE = dataclasses.replace(TRACKS, pseudonymised_fields=("plate", "phone"))
SECRET = "hub secret of the pseudonyms"
ALICE = Consumer(kind="application", id="alice", clearance=Level.GENERAL_2, role=Role.ANALYST)
BOB = Consumer(kind="application", id="bob", clearance=Level.GENERAL_2, role=Role.ANALYST)
CLEARED = Consumer(kind="person", id="cleared", clearance=Level.GENERAL_4, role=Role.ANALYST)
SORTED = query.RowQuery(sort=(("reported_at", False),))


def open_hub(home: Path, secret: str | None) -> Hub:
    domain = Domain(
        name="probe", title_zh="探针", title_en="Probe", datasets=(JOINABLE,), adapters=(TrackLines(),)
    )
    settings = Settings(home=home, pseudonym_key=SecretStr(secret) if secret else None)
    hub = Hub.open(settings, (domain,))
    ingest_bytes(hub, TrackLines(), track_lines(), source="tracks.jsonl")
    return hub


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    opened = open_hub(tmp_path / "hub", SECRET)
    yield opened
    opened.close()


def read(hub: Hub, consumer: Consumer, *columns: str) -> list[tuple[object, ...]]:
    decision = access.decide(consumer, JOINABLE, granted=True)
    rows = query.read_page(hub, consumer, JOINABLE, decision, SORTED, fmt="json").to_pylist()
    return [tuple(row[c] for c in columns) for row in rows]


def test_same_value_and_consumer_give_the_same_token_across_reads(hub: Hub) -> None:
    first, second = read(hub, ALICE, "plate", "phone"), read(hub, ALICE, "plate", "phone")
    key = consumer_key(SECRET.encode(), ALICE.actor)

    assert first == second
    assert first == [(pseudonym("plate", row["plate"], key=key), pseudonym("mobile", row["phone"], key=key))
                     for row in ROWS]  # fmt: skip
    assert str(first[0][0]).startswith("pn:plate:")
    assert read(hub, ALICE, "resident_id")[0] == ("1***************2X",)  # not a join key: stars


def test_different_consumers_get_different_tokens(hub: Hub) -> None:
    alice, bob = read(hub, ALICE, "plate", "phone"), read(hub, BOB, "plate", "phone")

    for (a_plate, a_phone), (b_plate, b_phone) in zip(alice, bob, strict=True):
        assert a_plate != b_plate
        assert a_phone is None or a_phone != b_phone


def test_cleared_readers_get_plaintext(hub: Hub) -> None:
    assert read(hub, CLEARED, "plate", "phone") == [(row["plate"], row["phone"]) for row in ROWS]


def test_without_a_hub_secret_pseudonymised_fields_are_starred(tmp_path: Path) -> None:
    hub = open_hub(tmp_path / "hub", None)
    try:
        assert read(hub, ALICE, "plate", "phone")[0] == ("津A1***5", "180****1999")
    finally:
        hub.close()


def test_a_pseudonymised_field_must_be_pii() -> None:
    with pytest.raises(ValueError, match="'speed_kmh' is not a PII field"):
        dataclasses.replace(TRACKS, pseudonymised_fields=("speed_kmh",))


def test_a_short_hub_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shorter than 16 bytes"):
        Settings(home=tmp_path, pseudonym_key=SecretStr("short"))
