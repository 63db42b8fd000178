"""Tables of the operational store (运营库): catalog, ingest batches, lake manifest, quarantine.

The lake manifest (`lake_files`) is the only way to know which Parquet files are visible: a batch's files
become visible in the same transaction that marks the batch committed, so a crash never exposes half a batch.
Schema changes go through Alembic migrations under `hub/migrations/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back time-zone aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the hub stores UTC-aware timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class DatasetRow(Base):
    """A dataset of the catalog, as its domain declared it (see `hub.dataset.DatasetSpec`)."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    domain: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(256))
    title_en: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text)
    arrow_schema: Mapped[list[Any]] = mapped_column()
    primary_key: Mapped[list[Any]] = mapped_column()
    time_column: Mapped[str | None] = mapped_column(String(128))
    partitioning: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(256))
    update_frequency: Mapped[str] = mapped_column(String(32))
    retention_days: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(16))
    pii_fields: Mapped[list[Any]] = mapped_column()
    rules: Mapped[list[Any]] = mapped_column()
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)


class BatchRow(Base):
    """One run of ingest over one source into one dataset; its lineage and metrics."""

    __tablename__ = "batches"
    __table_args__ = (Index(None, "dataset_id", "source_checksum", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    adapter: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    source_checksum: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the source bytes, hex."""
    status: Mapped[str] = mapped_column(String(16))
    """running | committed | aborted | skipped (the same source was already committed)."""
    code_version: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    rows_read: Mapped[int] = mapped_column(default=0)
    rows_landed: Mapped[int] = mapped_column(default=0)
    rows_quarantined: Mapped[int] = mapped_column(default=0)
    rows_duplicate: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0)
    replay_of: Mapped[int | None] = mapped_column(Integer)
    """Quarantine record this batch replays, if any."""


class LakeFileRow(Base):
    """One Parquet file of the lake, visible to readers once its batch committed."""

    __tablename__ = "lake_files"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    partition: Mapped[str] = mapped_column(String(64))
    """`date=YYYY-MM-DD`, or empty for an unpartitioned dataset."""
    path: Mapped[str] = mapped_column(Text)
    """Relative to the lake root."""
    rows: Mapped[int] = mapped_column()
    size_bytes: Mapped[int] = mapped_column()
    min_time: Mapped[datetime | None] = mapped_column()
    max_time: Mapped[datetime | None] = mapped_column()


class QuarantineRow(Base):
    """A record the hub refused, kept with its reason and raw text until a steward replays or discards it."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    adapter: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    location: Mapped[int | None] = mapped_column(Integer)
    location_unit: Mapped[str] = mapped_column(String(16))
    """`line` (1-based, header included) or `offset` (bytes)."""
    reason: Mapped[str] = mapped_column(String(128), index=True)
    """Stable key, e.g. `pems.wrong_column_count`, `rule.avg_speed_in_range`."""
    detail: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    """open | replayed | discarded."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by_batch: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
