"""Tables of the vehicles domain in the operational store: the registry, live state, and alarm workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dthub.hub.tables import Base, utcnow


class VehicleRow(Base):
    """A vehicle of the registry (车辆档案): its plate, class and enterprise, and its terminal."""

    __tablename__ = "vehicles"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    """Terminal phone number (终端手机号) as the header carries it, leading zeros stripped."""
    plate: Mapped[str] = mapped_column(String(32), index=True)
    plate_colour: Mapped[int] = mapped_column(SmallInteger)
    """JT/T 697.7: 0 not plated, 1 blue, 2 yellow, 3 black, 4 white, 5 green, 9 other."""
    vehicle_class: Mapped[str] = mapped_column(String(32))
    enterprise: Mapped[str] = mapped_column(String(256))
    terminal_id: Mapped[str] = mapped_column(String(32))
    auth_code: Mapped[str] = mapped_column(String(64))
    """鉴权码 the gateway hands out on registration and checks on authentication."""
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveStateRow(Base):
    """The last fix of each terminal, as the writer landed it (实时状态)."""

    __tablename__ = "vehicle_live"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    plate: Mapped[str | None] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column()
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float] = mapped_column(Float)
    direction: Mapped[int] = mapped_column(Integer)
    in_service: Mapped[bool] = mapped_column(Boolean)
    """Status bit 4 (停运) clear."""


class AlarmRow(Base):
    """A supervision alarm and its workflow: new -> acknowledged -> handled, with who and a note."""

    __tablename__ = "vehicle_alarms"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    plate: Mapped[str | None] = mapped_column(String(32))
    enterprise: Mapped[str | None] = mapped_column(String(256))
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime] = mapped_column()
    detail: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="new")
    """new | acknowledged | handled."""
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    handled_by: Mapped[str | None] = mapped_column(String(128))
    handled_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
