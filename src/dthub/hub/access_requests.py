"""Access requests (数据申请): requested with a purpose and an expiry, approved or rejected by a data steward
with a note, then provisioned as a grant that expires; a grant can be revoked. Each step is a row of
`access_requests` / `grants` and an audit entry (`grant`, or `revoke`).

A dataset's stewards (数据管理员) are the data stewards whose scopes hold it: `--scope 'vehicles.*'` makes
the steward of the vehicle datasets, who decides, provisions and revokes only those; an admin decides any.
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase

from sqlalchemy import select
from sqlalchemy.orm import Session

from dthub.hub import audit
from dthub.hub.audit import Action
from dthub.hub.core import Hub
from dthub.hub.domain import UnknownName
from dthub.hub.errors import Refusal
from dthub.hub.identity import Consumer, Role
from dthub.hub.identity_tables import AccessRequestRow, GrantRow
from dthub.hub.tables import utcnow

STEWARDS = frozenset({Role.ADMIN, Role.DATA_STEWARD})


class AccessError(Refusal):
    """A step the hub refuses; `reason` is a stable key, `status` the HTTP status it maps to."""

    status = 409


class NotFound(AccessError):
    status = 404


class Forbidden(AccessError):
    status = 403


class Invalid(AccessError):
    status = 422


def request(
    hub: Hub, consumer: Consumer, dataset_id: str, *, purpose: str, expires_at: datetime
) -> AccessRequestRow:
    """File a request; the dataset must be within the consumer's scopes."""
    try:
        hub.registry.dataset(dataset_id)
    except UnknownName as exc:
        raise NotFound("dataset.not_found", str(exc)) from None
    if not any(fnmatchcase(dataset_id, pattern) for pattern in consumer.scopes):
        raise Forbidden("access.out_of_scope", f"{dataset_id} is outside the scopes {list(consumer.scopes)}")
    if not purpose.strip():
        raise Invalid("request.no_purpose", "say what the data is for")
    if expires_at.tzinfo is None or expires_at <= utcnow():
        raise Invalid("request.bad_expiry", f"expiry {expires_at.isoformat()} is not a future UTC time")
    with hub.store.session() as session:
        row = AccessRequestRow(
            consumer=consumer.actor,
            dataset_id=dataset_id,
            purpose=purpose.strip(),
            requested_expires_at=expires_at,
            status="pending",
        )
        session.add(row)
        session.flush()
    _record(hub, consumer.actor, Action.GRANT, row, "request", purpose=row.purpose)
    return row


def decide(hub: Hub, request_id: int, steward: Consumer, *, approve: bool, note: str) -> AccessRequestRow:
    """Approve or reject a pending request, as the dataset's steward or an admin, with a note."""
    _must_steward(steward)
    if not note.strip():
        raise Invalid("request.no_note", "say why")
    with hub.store.session() as session:
        row = _get(session, request_id)
        _must_steward(steward, row.dataset_id)
        if row.status != "pending":
            raise AccessError("request.not_pending", f"request {request_id} is {row.status}")
        if row.consumer == steward.actor:
            raise Forbidden("request.own", "a steward does not decide their own request")
        row.status = "approved" if approve else "rejected"
        row.decided_by, row.decided_at, row.note = steward.actor, utcnow(), note.strip()
    _record(hub, steward.actor, Action.GRANT, row, row.status, note=row.note)
    return row


def provision(hub: Hub, request_id: int, by: Consumer) -> GrantRow:
    """Turn an approved request into a grant that expires when the request asked."""
    _must_steward(by)
    with hub.store.session() as session:
        row = _get(session, request_id)
        _must_steward(by, row.dataset_id)
        if row.status != "approved":
            raise AccessError("request.not_approved", f"request {request_id} is {row.status}")
        grant = GrantRow(
            request_id=row.id,
            consumer=row.consumer,
            dataset_id=row.dataset_id,
            granted_by=by.actor,
            expires_at=row.requested_expires_at,
        )
        session.add(grant)
        session.flush()
        row.status, row.grant_id = "provisioned", grant.id
    _record(hub, by.actor, Action.GRANT, row, "provisioned", grant=grant.id)
    return grant


def revoke(hub: Hub, grant_id: int, by: Consumer) -> GrantRow:
    _must_steward(by)
    with hub.store.session() as session:
        grant = session.get(GrantRow, grant_id)
        if grant is None:
            raise NotFound("grant.not_found", f"no grant {grant_id}")
        _must_steward(by, grant.dataset_id)
        if grant.revoked_at is None:
            grant.revoked_at = utcnow()
    detail = {"step": "revoke", "grant": grant_id, "consumer": grant.consumer}
    audit.append(hub.store, by.actor, Action.REVOKE, grant.dataset_id, detail)
    return grant


def requests(hub: Hub, *, consumer: str | None = None, status: str | None = None) -> list[AccessRequestRow]:
    """Requests, newest first; of one consumer, in one status."""
    query = select(AccessRequestRow).order_by(AccessRequestRow.id.desc())
    if consumer is not None:
        query = query.where(AccessRequestRow.consumer == consumer)
    if status is not None:
        query = query.where(AccessRequestRow.status == status)
    with hub.store.session() as session:
        return list(session.scalars(query))


def grants(hub: Hub, *, consumer: str | None = None) -> list[GrantRow]:
    query = select(GrantRow).order_by(GrantRow.id.desc())
    if consumer is not None:
        query = query.where(GrantRow.consumer == consumer)
    with hub.store.session() as session:
        return list(session.scalars(query))


def stewards(consumer: Consumer, dataset_id: str) -> bool:
    """Whether `consumer` decides requests for `dataset_id`: an admin, or a data steward scoped to it."""
    if consumer.role is Role.ADMIN:
        return True
    return consumer.role is Role.DATA_STEWARD and any(
        fnmatchcase(dataset_id, pattern) for pattern in consumer.scopes
    )


def _must_steward(consumer: Consumer, dataset_id: str | None = None) -> None:
    if consumer.role not in STEWARDS:
        raise Forbidden("access.not_steward", f"{consumer.actor} is not a data steward or an admin")
    if dataset_id is not None and not stewards(consumer, dataset_id):
        raise Forbidden(
            "access.not_its_steward",
            f"{consumer.actor} stewards {list(consumer.scopes)}, not {dataset_id}",
        )


def _get(session: Session, request_id: int) -> AccessRequestRow:
    row = session.get(AccessRequestRow, request_id)
    if row is None:
        raise NotFound("request.not_found", f"no access request {request_id}")
    return row


def _record(hub: Hub, actor: str, action: Action, row: AccessRequestRow, step: str, **extra: object) -> None:
    detail = {"step": step, "request": row.id, "consumer": row.consumer, **extra}
    detail["expires_at"] = row.requested_expires_at.isoformat()
    audit.append(hub.store, actor, action, row.dataset_id, detail)
