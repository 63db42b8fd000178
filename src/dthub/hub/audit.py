"""Audit log (审计日志): append-only entries in the operational store, each chained to the last with SM3.

An entry is (seq, at, actor, action, target, detail) plus `prev_hash`, the hash of the entry before it
(`GENESIS`, 64 zeros, for seq 1), and its own `hash`:

    hash = hex(SM3(bytes.fromhex(prev_hash) ‖ canonical))
    canonical = UTF-8 of json.dumps({"action", "actor", "at", "detail", "seq", "target"}, sort_keys=True,
                                    separators=(",", ":"), ensure_ascii=False, allow_nan=False)

with `at` written `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC and `detail` a JSON object (keys sorted at every
level, as `sort_keys` does). `append` stores the detail as it round-trips through JSON, so what is
hashed is what is read back. Seqs run 1, 2, 3, ... without gaps, which is what makes a deletion visible.

`verify` walks the chain in seq order and names the first entry that is off: see `judge`. A chain proves
history only up to a trusted head: someone who can write the table can recompute every hash after the
entry they change, and can drop or forge the last entries. Publish or SM2-sign `head(store)` now and then
(an anchor) and pass it to `verify` to catch that.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, cast

from sqlalchemy import Connection, Table, insert, select, text

from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.crypto import sm3
from dthub.hub.store import Store
from dthub.hub.tables import utcnow

GENESIS = "0" * 64
POSTGRES_LOCK_KEY = 0x6474_6875_6261_7564
"""`pg_advisory_xact_lock` key that serialises appends ("dthubaud")."""
MAX_RENUMBER = 64
"""How far `verify` looks for the seq an entry was hashed with, to tell renumbering from other edits."""
LOOKBACK = 4096
"""How many earlier hashes `verify` remembers, to see an entry that claims an earlier predecessor."""
TABLE = cast(Table, AuditLogRow.__table__)


class Action(StrEnum):
    LOGIN = "login"
    READ = "read"
    EXPORT = "export"
    GRANT = "grant"
    REVOKE = "revoke"
    CONFIG = "config"
    DECRYPT = "decrypt"
    ROTATE_KEY = "rotate_key"


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    seq: int
    at: datetime  # UTC
    actor: str
    action: str
    target: str
    detail: Any
    """A JSON object as appended; whatever JSON the table holds when read back."""
    prev_hash: str
    hash: str


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """A (seq, hash) kept outside the store, e.g. SM2-signed and sent to the supervisor."""

    seq: int
    hash: str


@dataclass(frozen=True, kw_only=True)
class Finding:
    """The first entry that is off: `kind` changed, deleted or inserted; `seq` names it."""

    kind: Literal["changed", "deleted", "inserted"]
    seq: int
    detail: str


@dataclass(frozen=True, kw_only=True)
class VerifyResult:
    checked: int
    """Entries read; all of them when the chain is sound."""
    head: Anchor | None
    """The last entry read."""
    finding: Finding | None

    @property
    def ok(self) -> bool:
        return self.finding is None


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical(entry: AuditEntry) -> bytes:
    """The bytes hashed for an entry, after the previous hash (see the module docstring)."""
    at = entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = {"action": entry.action, "actor": entry.actor, "at": at, "detail": entry.detail}
    return _json({**fields, "seq": entry.seq, "target": entry.target}).encode()


def entry_hash(entry: AuditEntry) -> str:
    """What `entry.hash` must be; empty when `prev_hash` is not 64 hex digits (so it never matches)."""
    try:
        previous = bytes.fromhex(entry.prev_hash)
    except ValueError:
        return ""
    if len(previous) != 32:
        return ""
    return sm3(previous + canonical(entry)).hex()


def append(
    store: Store, actor: str, action: Action | str, target: str, detail: Mapping[str, Any] | None = None
) -> AuditEntry:
    """Add one entry at the end of the chain, under a lock so that concurrent appends queue up."""
    kind, body = Action(action).value, json.loads(_json(dict(detail or {})))
    with store.engine.connect() as connection:
        _lock(connection)
        last = connection.execute(select(TABLE.c.seq, TABLE.c.hash).order_by(TABLE.c.seq.desc()).limit(1))
        row = last.first()
        entry = AuditEntry(
            seq=row.seq + 1 if row else 1,
            at=utcnow(),
            actor=actor,
            action=kind,
            target=target,
            detail=body,
            prev_hash=row.hash if row else GENESIS,
            hash="",
        )
        entry = dataclasses.replace(entry, hash=entry_hash(entry))
        connection.execute(insert(TABLE).values(**dataclasses.asdict(entry)))
        connection.commit()
    return entry


def _lock(connection: Connection) -> None:
    """Take the append lock for the transaction: SQLite's write lock, or a PostgreSQL advisory lock."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY})
    else:
        raise NotImplementedError(f"audit appends need SQLite or PostgreSQL, not {dialect!r}")


def head(store: Store) -> Anchor | None:
    """The last entry's (seq, hash), to keep outside the store as an anchor."""
    with store.engine.connect() as connection:
        last = select(TABLE.c.seq, TABLE.c.hash).order_by(TABLE.c.seq.desc()).limit(1)
        row = connection.execute(last).first()
    return Anchor(seq=row.seq, hash=row.hash) if row else None


def verify(store: Store, *, anchor: Anchor | None = None) -> VerifyResult:
    """Walk the whole chain in seq order; see `check_chain`."""
    with store.engine.connect() as connection:
        rows = connection.execution_options(yield_per=1000).execute(select(TABLE).order_by(TABLE.c.seq))
        return check_chain((AuditEntry(**row._asdict()) for row in rows), anchor=anchor)


def check_chain(entries: Iterable[AuditEntry], *, anchor: Anchor | None = None) -> VerifyResult:
    """The first entry that is off, judged by `judge`, then the anchor if given."""
    checked, previous, at_anchor = 0, None, None
    earlier: dict[str, int] = {}
    order: deque[str] = deque()
    for entry, following in _with_next(entries):
        checked += 1
        if (finding := judge(previous, entry, following, earlier)) is not None:
            return VerifyResult(checked=checked, head=_anchor(previous), finding=finding)
        if previous is not None:
            earlier[previous.hash] = previous.seq
            order.append(previous.hash)
            if len(order) > LOOKBACK:
                earlier.pop(order.popleft(), None)
        if anchor is not None and entry.seq == anchor.seq:
            at_anchor = entry
        previous = entry
    finding = None
    if anchor is not None and at_anchor is None:
        first = previous.seq + 1 if previous else 1
        finding = Finding(
            kind="deleted", seq=first, detail=f"entries {first}..{anchor.seq} of the anchor are gone"
        )
    elif anchor is not None and at_anchor is not None and at_anchor.hash != anchor.hash:
        detail = "the hash differs from the anchor's: the chain was rewritten at or before this entry"
        finding = Finding(kind="changed", seq=anchor.seq, detail=detail)
    return VerifyResult(checked=checked, head=_anchor(previous), finding=finding)


def judge(
    previous: AuditEntry | None, entry: AuditEntry, following: AuditEntry | None, earlier: Mapping[str, int]
) -> Finding | None:
    """None when `entry` follows `previous` soundly; otherwise what happened, and to which entry.

    With p the entry before and n the entry after, an entry is *sound* when its hash matches its content,
    *links* when its prev_hash is p's hash, and *in order* when its seq is p's + 1 (1 for the first):
    1. seq below 1: inserted (seqs start at 1).
    2. hash matches the content under another seq s (renumbered): s > seq, the entries between were
       deleted and the rest renumbered down (deleted, seq); s < seq, entries were slipped in at s and the
       rest renumbered up (inserted, s).
    3. not sound otherwise: inserted if it links yet is out of order, or if n skips it (n's prev_hash is
       its own prev_hash); else changed.
    4. sound, links, out of order: inserted (it links to p but its seq skips numbers).
    5. sound, does not link, seq past p's + 1: deleted, from p's seq + 1 (it names a hash that is gone).
    6. sound, does not link, in order: inserted if its prev_hash is the hash of an entry before p (it
       claims an earlier place); else p was changed and re-hashed, since this entry names p's old hash
       (for the first entry, which has no p: changed).
    """
    expected = previous.seq + 1 if previous else 1
    links = entry.prev_hash == (previous.hash if previous else GENESIS)
    sound = entry.hash == entry_hash(entry)
    if sound and links and entry.seq == expected:
        return None
    if entry.seq < 1:
        return Finding(kind="inserted", seq=entry.seq, detail="seqs start at 1")
    if not sound:
        hashed_as = _hashed_seq(entry)
        if hashed_as is not None and hashed_as > entry.seq:
            missing = f"{entry.seq}..{hashed_as - 1}"
            return Finding(
                kind="deleted", seq=entry.seq, detail=f"{missing} deleted; entry {hashed_as} renumbered"
            )
        if hashed_as is not None:
            inserted = f"{hashed_as}..{entry.seq - 1}"
            return Finding(
                kind="inserted", seq=hashed_as, detail=f"{inserted} inserted; later entries renumbered"
            )
        if links and entry.seq != expected:
            return Finding(kind="inserted", seq=entry.seq, detail=f"links to {expected - 1} but skips seqs")
        if following is not None and following.prev_hash == entry.prev_hash:
            return Finding(kind="inserted", seq=entry.seq, detail=f"entry {following.seq} links over it")
        return Finding(kind="changed", seq=entry.seq, detail="its hash does not match its content")
    if links:
        return Finding(kind="inserted", seq=entry.seq, detail=f"links to {expected - 1} but skips seqs")
    if entry.seq > expected:
        detail = f"{expected}..{entry.seq - 1} missing; entry {entry.seq} names a hash that is gone"
        return Finding(kind="deleted", seq=expected, detail=detail)
    if entry.prev_hash in earlier:
        detail = f"it claims to follow entry {earlier[entry.prev_hash]}, as another entry does"
        return Finding(kind="inserted", seq=entry.seq, detail=detail)
    if previous is None:
        return Finding(kind="changed", seq=entry.seq, detail="the first entry does not follow GENESIS")
    detail = f"entry {entry.seq} names another hash for it: rewritten and re-hashed"
    return Finding(kind="changed", seq=previous.seq, detail=detail)


def _hashed_seq(entry: AuditEntry) -> int | None:
    """The seq other than its own under which the entry's hash matches, if any (it was renumbered)."""
    for shift in range(1, MAX_RENUMBER + 1):
        for seq in (entry.seq + shift, entry.seq - shift):
            if seq >= 1 and entry_hash(dataclasses.replace(entry, seq=seq)) == entry.hash:
                return seq
    return None


def _with_next(entries: Iterable[AuditEntry]) -> Iterator[tuple[AuditEntry, AuditEntry | None]]:
    iterator = iter(entries)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _anchor(entry: AuditEntry | None) -> Anchor | None:
    return Anchor(seq=entry.seq, hash=entry.hash) if entry else None
