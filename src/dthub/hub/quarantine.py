"""Quarantine (隔离区): refused records, kept with reason and raw text, to inspect, fix and replay.

A steward lists and reads records, replays one (as it is, or with corrected raw text) through the same
adapter and validation as the original ingest, or discards it with a note. Every replay is a batch with
lineage back to the record (`replay_of`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from dthub.hub.core import Hub
from dthub.hub.ingest import BatchResult, commit_batch, open_batch, prepare_landing
from dthub.hub.tables import QuarantineRow


class NotOpen(Exception):
    """The record was already replayed or discarded."""

    def __init__(self, record_id: int, status: str) -> None:
        super().__init__(f"quarantine record {record_id} is {status}, not open")
        self.record_id, self.status = record_id, status


class NothingToReplay(ValueError):
    """The text given for a replay holds no record (blank, or a header only)."""

    def __init__(self, record_id: int) -> None:
        super().__init__(f"the text given to replay quarantine record {record_id} holds no record")
        self.record_id = record_id


class NoSuchRecord(LookupError):
    def __init__(self, record_id: int) -> None:
        super().__init__(f"no quarantine record {record_id}")
        self.record_id = record_id


@dataclass(frozen=True, kw_only=True)
class Page:
    records: list[QuarantineRow]
    total: int


def list_records(
    hub: Hub,
    *,
    dataset: str | None = None,
    reason: str | None = None,
    status: str | None = "open",
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Quarantined records, newest first, filtered by dataset, reason and status."""
    query = select(QuarantineRow)
    if dataset is not None:
        query = query.where(QuarantineRow.dataset_id == dataset)
    if reason is not None:
        query = query.where(QuarantineRow.reason == reason)
    if status is not None:
        query = query.where(QuarantineRow.status == status)
    with hub.store.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        records = session.scalars(query.order_by(QuarantineRow.id.desc()).limit(limit).offset(offset)).all()
    return Page(records=list(records), total=total)


def reasons(hub: Hub, *, status: str | None = "open") -> dict[tuple[str, str], int]:
    """Counts by (dataset, reason)."""
    query = select(QuarantineRow.dataset_id, QuarantineRow.reason, func.count(QuarantineRow.id))
    if status is not None:
        query = query.where(QuarantineRow.status == status)
    query = query.group_by(QuarantineRow.dataset_id, QuarantineRow.reason)
    with hub.store.session() as session:
        return {(dataset, reason): count for dataset, reason, count in session.execute(query)}


def get(hub: Hub, record_id: int) -> QuarantineRow:
    with hub.store.session() as session:
        record = session.get(QuarantineRow, record_id)
    if record is None:
        raise NoSuchRecord(record_id)
    return record


def replay(hub: Hub, record_id: int, *, raw: str | None = None) -> BatchResult:
    """Replay a record (with `raw` replacing its text if given) through its adapter and validation."""
    with hub.writer():
        record = get(hub, record_id)
        if record.status != "open":
            raise NotOpen(record_id, record.status)
        text = record.raw if raw is None else raw
        adapter = hub.registry.adapter(record.adapter)
        spec = hub.registry.dataset(record.dataset_id)
        started = time.perf_counter()
        parsed = adapter.parse_raw(text)
        if parsed.rows.num_rows + len(parsed.rejected) == 0:
            raise NothingToReplay(record_id)
        source = f"quarantine:{record.id}"
        checksum = hashlib.sha256(text.encode()).hexdigest()
        with open_batch(hub, adapter, source, checksum, replay_of=record.id) as batch_id:
            landing = prepare_landing(hub, spec, batch_id, parsed, lambda at: [text] * len(at))
            return commit_batch(hub, adapter, batch_id, source, landing, started, replaying=record)


def discard(hub: Hub, record_id: int, *, note: str) -> QuarantineRow:
    """Close a record that should never land, with the steward's reason."""
    with hub.store.session() as session:
        record = session.get(QuarantineRow, record_id)
        if record is None:
            raise NoSuchRecord(record_id)
        if record.status != "open":
            raise NotOpen(record_id, record.status)
        record.status = "discarded"
        record.note = note
        record.resolved_at = datetime.now(UTC)
    return record
