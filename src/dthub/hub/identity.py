"""Who reads (身份): organisations, people with passwords, applications with API keys, and login sessions.

A consumer is a person or an application; each has a clearance (a GB/T 43697 `Level`), dataset scopes
(patterns over dataset ids it may ask for, `roads.*`) and, through its organisation, a row scope (a company's
vehicles, a district's code or box; see `hub.access`).

Passwords are stored as argon2id hashes. API keys and session tokens are `<kind>_<prefix>_<secret>`: a
128-bit secret from `secrets`, shown once; the store keeps the prefix (for lookup) and the SM3 digest of the
whole text. Keys expire, can be revoked, and rotated (a new key, the old one revoked). Logins, failed
logins, key issues, rotations and revocations go to the audit log.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dthub.hub import audit
from dthub.hub.audit import Action
from dthub.hub.classification import Level
from dthub.hub.crypto import sm3
from dthub.hub.errors import Refusal
from dthub.hub.identity_tables import ApplicationRow, OrganisationRow, PersonRow, SecretRow
from dthub.hub.store import Store
from dthub.hub.tables import utcnow

OrganisationKind = Literal["agency", "company", "district"]
ConsumerKind = Literal["person", "application"]
SecretKind = Literal["api_key", "session"]

API_KEY_DAYS = 365
"""Default lifetime of an API key."""
SESSION_HOURS = 8
"""Lifetime of a login session token."""
PREFIX_BYTES, SECRET_BYTES = 6, 16
_TAGS: dict[SecretKind, str] = {"api_key": "dthk", "session": "dths"}
_HASHER = PasswordHasher()


class Role(StrEnum):
    """What a person does in the hub; only admins read without a grant, stewards decide requests."""

    ADMIN = "admin"
    DATA_STEWARD = "data_steward"
    ANALYST = "analyst"
    OPERATOR = "operator"
    AUDITOR = "auditor"


class IdentityError(Refusal):
    """A refusal of the identity layer; `reason` is a stable key."""


@dataclass(frozen=True, kw_only=True)
class Organisation:
    id: str
    name: str
    kind: OrganisationKind
    district_code: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    """(min_lon, min_lat, max_lon, max_lat), WGS-84."""
    vehicles: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Consumer:
    """Whoever reads: a person (with a role) or an application (role None)."""

    kind: ConsumerKind
    id: str
    clearance: Level
    scopes: tuple[str, ...] = ("*",)
    """fnmatch patterns over dataset ids the consumer may request."""
    role: Role | None = None
    organisation: Organisation | None = None

    @property
    def actor(self) -> str:
        """`person:<id>` or `application:<id>`, as the audit log and grants name it."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, kw_only=True)
class IssuedSecret:
    """A key or token just issued: `text` is shown once and never stored."""

    text: str
    prefix: str
    expires_at: datetime


# Organisations, people, applications


def add_organisation(store: Store, organisation: Organisation, *, by: str) -> None:
    if organisation.kind == "district" and organisation.district_code is None and organisation.bbox is None:
        raise IdentityError("organisation.no_area", f"district {organisation.id} needs a code or a bbox")
    with store.session() as session:
        if session.get(OrganisationRow, organisation.id) is not None:
            raise IdentityError("organisation.exists", f"organisation {organisation.id!r} exists")
        session.add(
            OrganisationRow(
                id=organisation.id,
                name=organisation.name,
                kind=organisation.kind,
                district_code=organisation.district_code,
                bbox=list(organisation.bbox) if organisation.bbox else None,
                vehicles=list(organisation.vehicles),
            )
        )
    audit.append(store, by, Action.CONFIG, f"organisation:{organisation.id}", {"step": "organisation.add"})


def add_person(
    store: Store,
    person_id: str,
    *,
    name: str,
    password: str,
    role: Role,
    clearance: Level,
    organisation_id: str | None = None,
    scopes: Sequence[str] = ("*",),
    by: str,
) -> Consumer:
    if len(password) < 8:
        raise IdentityError("password.too_short", "a password has 8 characters or more")
    with store.session() as session:
        _check_new(session.get(PersonRow, person_id), "person", person_id, organisation_id, session)
        session.add(
            PersonRow(
                id=person_id,
                name=name,
                organisation_id=organisation_id,
                role=role.value,
                clearance=clearance.value,
                scopes=list(scopes),
                password_hash=_HASHER.hash(password),
            )
        )
    detail = {"step": "person.add", "role": role.value, "clearance": clearance.value}
    audit.append(store, by, Action.CONFIG, f"person:{person_id}", detail)
    return consumer(store, "person", person_id)


def add_application(
    store: Store,
    application_id: str,
    *,
    name: str,
    clearance: Level,
    organisation_id: str | None = None,
    scopes: Sequence[str] = ("*",),
    by: str,
) -> Consumer:
    with store.session() as session:
        existing = session.get(ApplicationRow, application_id)
        _check_new(existing, "application", application_id, organisation_id, session)
        session.add(
            ApplicationRow(
                id=application_id,
                name=name,
                organisation_id=organisation_id,
                clearance=clearance.value,
                scopes=list(scopes),
            )
        )
    detail = {"step": "application.add", "clearance": clearance.value}
    audit.append(store, by, Action.CONFIG, f"application:{application_id}", detail)
    return consumer(store, "application", application_id)


def _check_new(existing: object, kind: str, name: str, organisation_id: str | None, session: Session) -> None:
    if existing is not None:
        raise IdentityError(f"{kind}.exists", f"{kind} {name!r} exists")
    if organisation_id is not None and session.get(OrganisationRow, organisation_id) is None:
        raise IdentityError("organisation.not_found", f"no organisation {organisation_id!r}")


def consumer(store: Store, kind: ConsumerKind, consumer_id: str) -> Consumer:
    """The consumer as stored; `IdentityError` `consumer.not_found` when there is none."""
    with store.session() as session:
        row: PersonRow | ApplicationRow | None = (
            session.get(PersonRow, consumer_id)
            if kind == "person"
            else session.get(ApplicationRow, consumer_id)
        )
        if row is None or (isinstance(row, PersonRow) and not row.active):
            raise IdentityError("consumer.not_found", f"no {kind} {consumer_id!r}")
        org = session.get(OrganisationRow, row.organisation_id) if row.organisation_id else None
        return Consumer(
            kind=kind,
            id=row.id,
            clearance=Level(row.clearance),
            scopes=tuple(row.scopes),
            role=Role(row.role) if isinstance(row, PersonRow) else None,
            organisation=_organisation(org) if org else None,
        )


def consumer_by_actor(store: Store, actor: str) -> Consumer:
    """The consumer an actor string (`person:li`, `application:bus-app`) names."""
    kind, _, consumer_id = actor.partition(":")
    if kind not in ("person", "application") or not consumer_id:
        raise IdentityError("consumer.not_found", f"{actor!r} is not person:<id> or application:<id>")
    return consumer(store, "person" if kind == "person" else "application", consumer_id)


def _organisation(row: OrganisationRow) -> Organisation:
    kind: OrganisationKind = "agency"
    if row.kind in ("company", "district"):
        kind = "company" if row.kind == "company" else "district"
    bbox = tuple(float(v) for v in row.bbox) if row.bbox else None
    return Organisation(
        id=row.id,
        name=row.name,
        kind=kind,
        district_code=row.district_code,
        bbox=(bbox[0], bbox[1], bbox[2], bbox[3]) if bbox else None,
        vehicles=tuple(str(v) for v in row.vehicles),
    )


# Passwords and sessions


def login(store: Store, person_id: str, password: str, *, hours: int = SESSION_HOURS) -> IssuedSecret:
    """A session token for a right password; `login.failed` otherwise (the same for an unknown person)."""
    with store.session() as session:
        row = session.get(PersonRow, person_id)
        stored = row.password_hash if row is not None and row.active else None
    try:
        ok = stored is not None and _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    audit.append(store, f"person:{person_id}", Action.LOGIN, "auth", {"ok": ok})
    if not ok:
        raise IdentityError("login.failed", "unknown person or wrong password")
    return _issue(store, "session", "person", person_id, timedelta(hours=hours))


# API keys


def issue_key(store: Store, application_id: str, *, days: int = API_KEY_DAYS, by: str) -> IssuedSecret:
    consumer(store, "application", application_id)
    issued = _issue(store, "api_key", "application", application_id, timedelta(days=days))
    detail = {"step": "key.issue", "prefix": issued.prefix, "expires_at": issued.expires_at.isoformat()}
    audit.append(store, by, Action.CONFIG, f"application:{application_id}", detail)
    return issued


def revoke_key(store: Store, prefix: str, *, by: str) -> None:
    with store.session() as session:
        row = session.get(SecretRow, prefix)
        if row is None or row.kind != "api_key":
            raise IdentityError("key.not_found", f"no API key with prefix {prefix!r}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        owner = row.owner_id
    audit.append(store, by, Action.REVOKE, f"application:{owner}", {"step": "key.revoke", "prefix": prefix})


def rotate_key(store: Store, prefix: str, *, days: int = API_KEY_DAYS, by: str) -> IssuedSecret:
    """A new key for the same application; the old one is revoked and points at the new one."""
    with store.session() as session:
        row = session.get(SecretRow, prefix)
        if row is None or row.kind != "api_key" or row.revoked_at is not None:
            raise IdentityError("key.not_found", f"no live API key with prefix {prefix!r}")
        owner = row.owner_id
    issued = _issue(store, "api_key", "application", owner, timedelta(days=days))
    with store.session() as session:
        session.execute(
            update(SecretRow)
            .where(SecretRow.prefix == prefix)
            .values(revoked_at=utcnow(), replaced_by=issued.prefix)
        )
    detail = {"step": "key.rotate", "old": prefix, "new": issued.prefix}
    audit.append(store, by, Action.ROTATE_KEY, f"application:{owner}", detail)
    return issued


def keys(store: Store, application_id: str) -> list[SecretRow]:
    query = select(SecretRow).where(
        SecretRow.kind == "api_key",
        SecretRow.owner_kind == "application",
        SecretRow.owner_id == application_id,
    )
    with store.session() as session:
        return list(session.scalars(query.order_by(SecretRow.created_at)))


def authenticate(store: Store, text: str, kind: SecretKind) -> Consumer | None:
    """The consumer a key or session token belongs to, or None when it is unknown, expired or revoked."""
    parts = text.split("_")
    if len(parts) != 3 or parts[0] != _TAGS[kind]:
        return None
    with store.session() as session:
        row = session.get(SecretRow, parts[1])
        if row is None or row.kind != kind or row.revoked_at is not None or row.expires_at <= utcnow():
            return None
        if not hmac.compare_digest(row.digest, _digest(text)):
            return None
        owner_kind, owner_id = row.owner_kind, row.owner_id
    try:
        return consumer(store, "person" if owner_kind == "person" else "application", owner_id)
    except IdentityError:
        return None


def _issue(
    store: Store, kind: SecretKind, owner_kind: ConsumerKind, owner_id: str, lifetime: timedelta
) -> IssuedSecret:
    prefix = secrets.token_hex(PREFIX_BYTES)
    text = f"{_TAGS[kind]}_{prefix}_{secrets.token_hex(SECRET_BYTES)}"
    expires_at = utcnow() + lifetime
    with store.session() as session:
        session.add(
            SecretRow(
                prefix=prefix,
                kind=kind,
                owner_kind=owner_kind,
                owner_id=owner_id,
                digest=_digest(text),
                expires_at=expires_at,
            )
        )
    return IssuedSecret(text=text, prefix=prefix, expires_at=expires_at)


def _digest(text: str) -> str:
    return sm3(text.encode()).hex()
