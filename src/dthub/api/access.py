"""Routes of the access layer (共享层): login, who am I, access requests and their steps, grants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dthub.hub import access_requests, identity
from dthub.hub.access_requests import AccessError
from dthub.hub.classification import Level
from dthub.hub.identity import IdentityError, Role
from dthub.hub.identity_tables import AccessRequestRow, GrantRow
from dthub.hub.web import (
    INVALID_PARAMETERS,
    MAX_ROW_ID,
    UNAUTHORISED,
    ApiProblem,
    ConsumerDep,
    HubDep,
    Model,
    answers,
)

T = TypeVar("T")

auth = APIRouter(prefix="/api/v1/auth", tags=["access"])
router = APIRouter(prefix="/api/v1/access", tags=["access"])

NOT_STEWARD = (
    "You are not a data steward or an admin (`access.not_steward`), not this dataset's steward"
    " (`access.not_its_steward`), or the request is your own (`request.own`)."
)
CONFLICT = "The request is not in the status this step needs; `error` is `request.not_pending` or similar."


class Body(BaseModel):
    """Base of request bodies: closed, JSON-typed (times as ISO 8601 strings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginIn(Body):
    username: str = Field(description="Login name of a person.", examples=["li.lei"])
    password: str = Field(description="The person's password.")


class SessionOut(Model):
    token: str = Field(
        description="Bearer token (`dths_...`), shown once; send `Authorization: Bearer <token>`."
    )
    expires_at: AwareDatetime = Field(description="When the token stops working (UTC).")


class Me(Model):
    """The consumer the credentials name."""

    actor: str = Field(description="`person:<id>` or `application:<id>`.", examples=["person:li.lei"])
    role: Role | None = Field(description="A person's role; null for an application.")
    clearance: Level = Field(description="Highest GB/T 43697 level the consumer sees plain.")
    scopes: list[str] = Field(description="Patterns of dataset ids the consumer may request.")
    organisation: str | None = Field(description="Organisation id, if any.")
    organisation_kind: str | None = Field(description="`agency`, `company` or `district`.")


class RequestIn(Body):
    dataset_id: str = Field(description="Dataset to read.", examples=["roads.detector_observations"])
    purpose: str = Field(min_length=1, description="What the data is for.")
    expires_at: AwareDatetime = Field(description="When the access should end (UTC).")


class NoteIn(Body):
    note: str = Field(min_length=1, description="Why the steward decides so.")


class AccessRequest(Model):
    """A request to read a dataset and where it stands."""

    id: int = Field(description="Request id.")
    consumer: str = Field(description="Who asks: `person:<id>` or `application:<id>`.")
    dataset_id: str = Field(description="Dataset asked for.")
    purpose: str = Field(description="What the data is for.")
    requested_expires_at: AwareDatetime = Field(description="Asked-for end of access (UTC).")
    status: str = Field(description="`pending`, `approved`, `rejected` or `provisioned`.")
    requested_at: AwareDatetime = Field(description="When it was filed (UTC).")
    decided_by: str | None = Field(description="Steward who approved or rejected it.")
    decided_at: AwareDatetime | None = Field(description="When (UTC).")
    note: str | None = Field(description="The steward's note.")
    grant_id: int | None = Field(description="Grant provisioned from it.")


class Grant(Model):
    """Permission to read one dataset until it expires or is revoked."""

    id: int = Field(description="Grant id.")
    request_id: int = Field(description="Request it was provisioned from.")
    consumer: str = Field(description="Who may read.")
    dataset_id: str = Field(description="What.")
    granted_by: str = Field(description="Who provisioned it.")
    granted_at: AwareDatetime = Field(description="When (UTC).")
    expires_at: AwareDatetime = Field(description="Until when (UTC).")
    revoked_at: AwareDatetime | None = Field(description="When it was revoked, if it was.")


@auth.post(
    "/login",
    summary="Log in",
    response_model=SessionOut,
    responses=answers(
        "A session token for the person.",
        unauthorised="Unknown person or wrong password; `error` is `login.failed`.",
        invalid=INVALID_PARAMETERS,
    ),
)
def login(hub: HubDep, body: LoginIn) -> SessionOut:
    """Check a person's password (argon2id) and open a session of 8 hours; the attempt is audited."""
    try:
        issued = identity.login(hub.store, body.username, body.password)
    except IdentityError as exc:
        raise ApiProblem(401, exc.reason, exc.detail) from None
    return SessionOut(token=issued.text, expires_at=issued.expires_at)


@router.get(
    "/me",
    summary="Say who the credentials name",
    response_model=Me,
    responses=answers("The consumer, its clearance and scopes.", unauthorised=UNAUTHORISED),
)
def me(consumer: ConsumerDep) -> Me:
    """The person or application of the `X-API-Key` or bearer token."""
    org = consumer.organisation
    return Me(
        actor=consumer.actor,
        role=consumer.role,
        clearance=consumer.clearance,
        scopes=list(consumer.scopes),
        organisation=org.id if org else None,
        organisation_kind=org.kind if org else None,
    )


@router.post(
    "/requests",
    summary="Request access to a dataset",
    response_model=AccessRequest,
    responses=answers(
        "The request, pending a steward's decision.",
        unauthorised=UNAUTHORISED,
        forbidden="The dataset is outside your scopes; `error` is `access.out_of_scope`.",
        not_found="No domain declares this dataset; `error` is `dataset.not_found`.",
        invalid=INVALID_PARAMETERS,
    ),
)
def file_request(hub: HubDep, consumer: ConsumerDep, body: RequestIn) -> AccessRequest:
    """Ask to read a dataset, saying why and until when; recorded and audited."""
    return _request(
        _run(
            lambda: access_requests.request(
                hub, consumer, body.dataset_id, purpose=body.purpose, expires_at=body.expires_at
            )
        )
    )


@router.get(
    "/requests",
    summary="List access requests",
    response_model=list[AccessRequest],
    responses=answers(
        "Your requests, and those for the datasets you steward, newest first.", unauthorised=UNAUTHORISED
    ),
)
def list_requests(hub: HubDep, consumer: ConsumerDep) -> list[AccessRequest]:
    """An admin sees every request, a steward those for the datasets in their scopes, anyone their own."""
    mine = None if consumer.role in access_requests.STEWARDS else consumer.actor
    return [
        _request(row)
        for row in access_requests.requests(hub, consumer=mine)
        if row.consumer == consumer.actor or access_requests.stewards(consumer, row.dataset_id)
    ]


RequestId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Access request id.")]
GrantId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Grant id.")]


def step_answers(ok: str) -> dict[int | str, dict[str, Any]]:
    """What a workflow step answers: the row, or 401, 403 (not a steward), 404, 409 or 422."""
    return answers(
        ok,
        unauthorised=UNAUTHORISED,
        forbidden=NOT_STEWARD,
        not_found="No such request; `error` is `request.not_found`.",
        conflict=CONFLICT,
        invalid=INVALID_PARAMETERS,
    )


@router.post(
    "/requests/{request_id}/approve",
    summary="Approve an access request",
    response_model=AccessRequest,
    responses=step_answers("The request, approved."),
)
def approve(hub: HubDep, consumer: ConsumerDep, request_id: RequestId, body: NoteIn) -> AccessRequest:
    """The dataset's steward (or an admin) approves a pending request with a note; audited."""
    return _request(
        _run(lambda: access_requests.decide(hub, request_id, consumer, approve=True, note=body.note))
    )


@router.post(
    "/requests/{request_id}/reject",
    summary="Reject an access request",
    response_model=AccessRequest,
    responses=step_answers("The request, rejected."),
)
def reject(hub: HubDep, consumer: ConsumerDep, request_id: RequestId, body: NoteIn) -> AccessRequest:
    """The dataset's steward (or an admin) rejects a pending request with a note; audited."""
    return _request(
        _run(lambda: access_requests.decide(hub, request_id, consumer, approve=False, note=body.note))
    )


@router.post(
    "/requests/{request_id}/provision",
    summary="Provision an approved request",
    response_model=Grant,
    responses=step_answers("The grant, expiring when the request asked."),
)
def provision(hub: HubDep, consumer: ConsumerDep, request_id: RequestId) -> Grant:
    """Turn an approved request into a grant; audited."""
    return _grant(_run(lambda: access_requests.provision(hub, request_id, consumer)))


@router.get(
    "/grants",
    summary="List grants",
    response_model=list[Grant],
    responses=answers(
        "Your grants, and those on the datasets you steward, newest first.", unauthorised=UNAUTHORISED
    ),
)
def list_grants(hub: HubDep, consumer: ConsumerDep) -> list[Grant]:
    """An admin sees every grant, a steward those on the datasets in their scopes, anyone their own."""
    mine = None if consumer.role in access_requests.STEWARDS else consumer.actor
    return [
        _grant(row)
        for row in access_requests.grants(hub, consumer=mine)
        if row.consumer == consumer.actor or access_requests.stewards(consumer, row.dataset_id)
    ]


@router.post(
    "/grants/{grant_id}/revoke",
    summary="Revoke a grant",
    response_model=Grant,
    responses=answers(
        "The grant, revoked from now on.",
        unauthorised=UNAUTHORISED,
        forbidden=NOT_STEWARD,
        not_found="No such grant; `error` is `grant.not_found`.",
        invalid=INVALID_PARAMETERS,
    ),
)
def revoke(
    hub: HubDep,
    consumer: ConsumerDep,
    grant_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Grant id.")],
) -> Grant:
    """A data steward ends a grant before it expires; audited."""
    return _grant(_run(lambda: access_requests.revoke(hub, grant_id, consumer)))


def _run(step: Callable[[], T]) -> T:
    try:
        return step()
    except AccessError as exc:
        raise ApiProblem(exc.status, exc.reason, exc.detail) from None


def _request(row: AccessRequestRow) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        consumer=row.consumer,
        dataset_id=row.dataset_id,
        purpose=row.purpose,
        requested_expires_at=row.requested_expires_at,
        status=row.status,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
        grant_id=row.grant_id,
    )


def _grant(row: GrantRow) -> Grant:
    return Grant(
        id=row.id,
        request_id=row.request_id,
        consumer=row.consumer,
        dataset_id=row.dataset_id,
        granted_by=row.granted_by,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )
