"""Tables of the access layer (共享层): organisations, people, applications and their keys, login sessions,
access requests and the grants they provision (`hub.identity`, `hub.access_requests`).

Secrets are never stored: passwords as argon2id hashes, API keys and session tokens as SM3 digests, looked
up by their public prefix.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dthub.hub.tables import Base, utcnow


class OrganisationRow(Base):
    """An agency, a transport company or a district; companies and districts scope the rows they see."""

    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))
    """agency | company | district."""
    district_code: Mapped[str | None] = mapped_column(String(16))
    bbox: Mapped[list[Any] | None] = mapped_column()
    """[min_lon, min_lat, max_lon, max_lat], WGS-84; a district's area."""
    vehicles: Mapped[list[Any]] = mapped_column()
    """A company's plates or vehicle ids."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonRow(Base):
    """A person who logs in with a password; `role` is an `hub.identity.Role`."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The login name."""
    name: Mapped[str] = mapped_column(String(256))
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    role: Mapped[str] = mapped_column(String(16))
    clearance: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[Any]] = mapped_column()
    password_hash: Mapped[str] = mapped_column(Text)
    """argon2id, PHC string."""
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplicationRow(Base):
    """A system that reads with API keys."""

    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    organisation_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"))
    clearance: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SecretRow(Base):
    """An API key of an application or a login session of a person: `<kind>_<prefix>_<secret>`."""

    __tablename__ = "secrets"
    __table_args__ = (Index(None, "owner_kind", "owner_id"),)

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """api_key | session."""
    owner_kind: Mapped[str] = mapped_column(String(16))
    """application | person."""
    owner_id: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    """SM3 of the whole secret text, hex."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    replaced_by: Mapped[str | None] = mapped_column(String(16))
    """Prefix of the key that replaced it on rotation."""


class AccessRequestRow(Base):
    """A request to read a dataset: pending -> approved | rejected -> provisioned (a grant)."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(96), index=True)
    """`person:<id>` or `application:<id>`."""
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    purpose: Mapped[str] = mapped_column(Text)
    requested_expires_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(96))
    decided_at: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    grant_id: Mapped[int | None] = mapped_column()


class GrantRow(Base):
    """Permission for one consumer to read one dataset until `expires_at`, unless revoked."""

    __tablename__ = "grants"
    __table_args__ = (Index(None, "consumer", "dataset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"))
    consumer: Mapped[str] = mapped_column(String(96))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    granted_by: Mapped[str] = mapped_column(String(96))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
