"""The audit chain verifies when untouched, and names the first entry changed, deleted or inserted by SQL."""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text

from dthub.hub import audit
from dthub.hub.audit import AuditEntry, Finding
from dthub.hub.core import Hub
from dthub.hub.crypto import sm3
from dthub.hub.store import Store

N = 12


def chain(store: Store, n: int = N) -> list[AuditEntry]:
    return [
        audit.append(store, f"agency-{i % 3}", "read", f"roads.dataset_{i}", {"rows": i, "fields": ["plate"]})
        for i in range(1, n + 1)
    ]


def sql(store: Store, statement: str, **params: object) -> None:
    with store.engine.begin() as connection:
        connection.execute(text(statement), params)


def renumber(store: Store, *, after: int, by: int) -> None:
    """Move every entry after `after` by `by`, one row at a time so that the primary key never collides."""
    with store.engine.begin() as connection:
        seqs = connection.scalars(select(audit.TABLE.c.seq).where(audit.TABLE.c.seq > after)).all()
        for seq in sorted(seqs, reverse=by > 0):
            connection.execute(
                text("UPDATE audit_log SET seq = :new WHERE seq = :old"), {"new": seq + by, "old": seq}
            )


def forged(seq: int, prev_hash: str, *, hash: str | None = None) -> AuditEntry:
    """A plausible entry: a grant by someone, hashed the documented way unless `hash` is given."""
    entry = AuditEntry(
        seq=seq,
        at=datetime(2026, 5, 1, 3, 0, tzinfo=UTC),
        actor="mallory",
        action="grant",
        target="roads.vehicles",
        detail={"clearance": "core"},
        prev_hash=prev_hash,
        hash="",
    )
    return dataclasses.replace(entry, hash=hash if hash is not None else audit.entry_hash(entry))


def forge(store: Store, entry: AuditEntry) -> None:
    with store.engine.begin() as connection:
        connection.execute(insert(audit.TABLE).values(**dataclasses.asdict(entry)))


def finding(store: Store, anchor: audit.Anchor | None = None) -> tuple[str, int] | None:
    found = audit.verify(store, anchor=anchor).finding
    return (found.kind, found.seq) if found else None


def test_untouched_chain_of_1000_entries_verifies(any_hub: Hub) -> None:
    entries = chain(any_hub.store, 1000)
    result = audit.verify(any_hub.store)
    assert (result.ok, result.checked, result.head) == (
        True,
        1000,
        audit.Anchor(seq=1000, hash=entries[-1].hash),
    )


def test_appended_entry_reads_back_as_it_was_hashed(any_hub: Hub) -> None:
    entry = audit.append(
        any_hub.store, "张三", audit.Action.EXPORT, "roads.车辆", {"rows": (1, 2.5), "注": {"b": 1}}
    )
    with any_hub.store.engine.connect() as connection:
        row = connection.execute(select(audit.TABLE)).one()
    assert AuditEntry(**row._asdict()) == entry
    assert entry.detail == {"rows": [1, 2.5], "注": {"b": 1}}
    assert (entry.seq, entry.prev_hash, entry.hash) == (1, audit.GENESIS, audit.entry_hash(entry))


def test_changed_detail_is_named(any_hub: Hub) -> None:
    chain(any_hub.store)
    sql(any_hub.store, """UPDATE audit_log SET detail = '{"rows": 0, "fields": []}' WHERE seq = 7""")
    assert finding(any_hub.store) == ("changed", 7)


def test_changed_and_rehashed_entry_is_named_through_its_successor(any_hub: Hub) -> None:
    entries = chain(any_hub.store)
    rewritten = dataclasses.replace(entries[6], actor="someone else", hash="")
    update = "UPDATE audit_log SET actor = :actor, hash = :hash WHERE seq = 7"
    sql(any_hub.store, update, actor=rewritten.actor, hash=audit.entry_hash(rewritten))
    assert finding(any_hub.store) == ("changed", 7)


@pytest.mark.parametrize("seq", [1, 7])
def test_deleted_entry_is_named(any_hub: Hub, seq: int) -> None:
    chain(any_hub.store)
    sql(any_hub.store, "DELETE FROM audit_log WHERE seq = :seq", seq=seq)
    assert finding(any_hub.store) == ("deleted", seq)


def test_deleted_entries_with_the_rest_renumbered_are_named(any_hub: Hub) -> None:
    chain(any_hub.store)
    sql(any_hub.store, "DELETE FROM audit_log WHERE seq IN (7, 8)")
    renumber(any_hub.store, after=8, by=-2)
    assert finding(any_hub.store) == ("deleted", 7)


@pytest.mark.parametrize("hash", [None, "9" * 64], ids=["correct_hash", "plausible_wrong_hash"])
def test_forged_entry_slipped_in_with_the_rest_renumbered_is_named(any_hub: Hub, hash: str | None) -> None:
    entries = chain(any_hub.store)
    renumber(any_hub.store, after=6, by=1)
    forge(any_hub.store, forged(7, entries[5].hash, hash=hash))
    assert finding(any_hub.store) == ("inserted", 7)


def test_forged_entry_past_the_end_is_named(any_hub: Hub) -> None:
    entries = chain(any_hub.store)
    forge(any_hub.store, forged(N + 3, entries[-1].hash))
    assert finding(any_hub.store) == ("inserted", N + 3)


def test_forged_entry_claiming_the_last_entrys_place_is_named(any_hub: Hub) -> None:
    entries = chain(any_hub.store)
    forge(any_hub.store, forged(N + 1, entries[-1].prev_hash))
    assert finding(any_hub.store) == ("inserted", N + 1)


def test_forged_entry_before_the_first_is_named(any_hub: Hub) -> None:
    chain(any_hub.store)
    forge(any_hub.store, forged(0, audit.GENESIS))
    assert finding(any_hub.store) == ("inserted", 0)


def test_truncation_and_rewrites_show_only_against_an_anchor(any_hub: Hub) -> None:
    chain(any_hub.store)
    anchor = audit.head(any_hub.store)
    assert anchor is not None
    sql(any_hub.store, "DELETE FROM audit_log WHERE seq > :seq", seq=N - 2)
    assert (finding(any_hub.store), finding(any_hub.store, anchor)) == (None, ("deleted", N - 1))

    chain(any_hub.store, 2)  # the log goes on at N - 1 with other entries: a rewrite of the tail
    assert (finding(any_hub.store), finding(any_hub.store, anchor)) == (None, ("changed", N))


def test_concurrent_appends_form_one_chain(any_hub: Hub) -> None:
    def agency(name: str) -> list[int]:
        return [audit.append(any_hub.store, name, "read", "roads.vehicles", {"i": i}).seq for i in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = [seq for done in pool.map(agency, [f"agency-{i}" for i in range(8)]) for seq in done]

    assert sorted(seqs) == list(range(1, 201))
    result = audit.verify(any_hub.store)
    assert (result.ok, result.checked) == (True, 200)


def test_unknown_action_and_non_json_detail_are_refused(hub: Hub) -> None:
    with pytest.raises(ValueError, match="'peek'"):
        audit.append(hub.store, "alice", "peek", "roads.vehicles")
    with pytest.raises(ValueError, match="JSON"):
        audit.append(hub.store, "alice", "read", "roads.vehicles", {"speed": math.nan})
    assert audit.verify(hub.store) == audit.VerifyResult(checked=0, head=None, finding=None)


def test_canonical_serialisation_is_exactly_as_documented() -> None:
    entry = AuditEntry(
        seq=3,
        at=datetime(2026, 5, 1, 3, 0, 0, 12, tzinfo=UTC),
        actor="李雷",
        action="export",
        target="roads.vehicles",
        detail={"z": 1.5, "a": ["津A12345"]},
        prev_hash="ab" * 32,
        hash="",
    )
    assert (
        audit.canonical(entry)
        == (
            '{"action":"export","actor":"李雷","at":"2026-05-01T03:00:00.000012Z",'
            '"detail":{"a":["津A12345"],"z":1.5},"seq":3,"target":"roads.vehicles"}'
        ).encode()
    )
    assert audit.entry_hash(entry) == sm3(bytes.fromhex("ab" * 32) + audit.canonical(entry)).hex()


def test_judge_reads_a_forged_last_entry_with_a_wrong_hash_as_changed() -> None:
    """The documented limit: with no entry after it, a wrong hash cannot tell forged from changed."""
    first = forged(1, audit.GENESIS)
    assert audit.judge(first, forged(2, first.hash, hash="0" * 64), None, {}) == Finding(
        kind="changed", seq=2, detail="its hash does not match its content"
    )
