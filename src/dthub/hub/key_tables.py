"""Tables of field encryption and PII tagging: wrapped data keys, and PII tags suggested on ingest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dthub.hub.tables import Base, utcnow


class DataKeyRow(Base):
    """The SM4 data key of one dataset's encrypted fields, wrapped by the master key (`hub.keys`)."""

    __tablename__ = "data_keys"

    dataset_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    """Public id of the data key, named in every field token it sealed."""
    wrapped: Mapped[str] = mapped_column(Text)
    """`hub.crypto.wrap_data_key` token; the key's secret is never stored plain."""
    master_key_id: Mapped[str] = mapped_column(String(255))
    """Id of the master key that wrapped it (`DTHUB_MASTER_KEY_ID` at the time)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column()


class PiiSuggestionRow(Base):
    """A PII tag the hub suggests for an undeclared column, for a data steward to confirm or reject."""

    __tablename__ = "pii_suggestions"
    __table_args__ = (UniqueConstraint("dataset_id", "column", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(String(128))
    column: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    """A `hub.pii.PiiKind`."""
    share: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    hinted: Mapped[bool] = mapped_column(Boolean)
    sampled: Mapped[int] = mapped_column(Integer)
    """Values sampled when last suggested."""
    batch_id: Mapped[str] = mapped_column(String(32))
    """The batch whose rows were last sampled."""
    suggested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")
    """open, confirmed or rejected."""
    decided_by: Mapped[str | None] = mapped_column(String(256))
    decided_at: Mapped[datetime | None] = mapped_column()
