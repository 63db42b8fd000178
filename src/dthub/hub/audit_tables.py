"""The audit log table (审计日志): append-only, each entry chained to the one before by SM3 (`hub.audit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dthub.hub.tables import Base


class AuditLogRow(Base):
    """One audit entry. Rows are only ever inserted by `hub.audit.append`; `verify` finds any other change."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """1, 2, 3, ... without gaps: a gap is a deleted entry."""
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(32))
    """An `hub.audit.Action`: login, read, export, grant, revoke, config, decrypt, rotate_key."""
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    """`hash` of the entry before, hex; 64 zeros for the first entry."""
    hash: Mapped[str] = mapped_column(String(64))
    """SM3(prev_hash bytes ‖ canonical JSON of the entry), hex; see `hub.audit.entry_hash`."""
