"""HTTP building blocks shared by the API and every domain's router: the hub of a request, the strict base
model, and the error body of every refusal.

They live in the hub so that a domain's `api.py` can use them without importing `dthub.api` (which imports
the domains).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from dthub.hub import identity
from dthub.hub.core import Hub
from dthub.hub.crypto import CryptoError
from dthub.hub.identity import Consumer
from dthub.hub.ratelimit import RateLimiter, retry_after_header


def current_hub(request: Request) -> Hub:
    """The hub the app serves (`app.state.hub`)."""
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(current_hub)]

_API_KEY = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An application's API key (`dthk_...`), shown once."
)
_BEARER = HTTPBearer(
    auto_error=False, description="A person's session token (`dths_...`) from `POST /api/v1/auth/login`."
)


def current_consumer(
    hub: HubDep,
    api_key: Annotated[str | None, Depends(_API_KEY)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Consumer:
    """The application of the `X-API-Key` header, or the person of the bearer token; 401 otherwise."""
    if api_key is None and bearer is None:
        raise ApiProblem(401, "auth.required", "send X-API-Key, or Authorization: Bearer <session token>")
    found = (
        identity.authenticate(hub.store, api_key, "api_key")
        if api_key is not None
        else identity.authenticate(hub.store, bearer.credentials, "session")
        if bearer is not None
        else None
    )
    if found is None:
        raise ApiProblem(401, "auth.invalid", "the key or token is unknown, expired or revoked")
    return found


ConsumerDep = Annotated[Consumer, Depends(current_consumer)]


class Model(BaseModel):
    """Base of every model of the API."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ApiError(Model):
    """The body of every refusal (4xx) of the API."""

    error: str = Field(
        description="Stable key of the refusal, e.g. `dataset.not_found` or `request.invalid`.",
        examples=["dataset.not_found"],
    )
    detail: str = Field(
        description="What was refused and why, for a person to read.",
        examples=["unknown dataset 'roads.nothing'; known: roads.detector_observations"],
    )


class ApiProblem(Exception):
    """Raised by a route to answer with `status_code` and an `ApiError` body."""

    def __init__(
        self, status_code: int, error: str, detail: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{error}: {detail}")
        self.status_code, self.error, self.detail = status_code, error, detail
        self.headers = headers or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, error={self.error!r})"


def answers(
    ok: str,
    *,
    not_found: str | None = None,
    invalid: str | None = None,
    unauthorised: str | None = None,
    forbidden: str | None = None,
    conflict: str | None = None,
    limited: str | None = None,
    unavailable: str | None = None,
    media_types: tuple[str, ...] = (),
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` of a route: what 200 returns, and when it answers 401, 403, 404, 409, 422, 429
    or 503 (with an `ApiError` body)."""
    documented: dict[int | str, dict[str, Any]] = {200: {"description": ok}}
    if media_types:  # besides JSON: what a `format` parameter can ask for
        documented[200]["content"] = {media_type: {} for media_type in media_types}
    refusals = (
        (401, unauthorised),
        (403, forbidden),
        (404, not_found),
        (409, conflict),
        (422, invalid),
        (429, limited),
        (503, unavailable),
    )
    for code, description in refusals:
        if description is not None:
            documented[code] = {"model": ApiError, "description": description}
    return documented


KEYS_UNAVAILABLE = (
    "The dataset's encrypted fields cannot be opened now: `DTHUB_MASTER_KEY` unset (`crypto.no_master_key`),"
    " not the key that wrapped its data key (`crypto.wrong_master_key`), or a stored value that does not"
    " authenticate (`crypto.bad_tag`). An operator's matter; nothing is served in plaintext or half."
)


@contextmanager
def keys_or_503() -> Iterator[None]:
    """A read that meets a key the hub cannot use answers 503 with the reason, not an unhandled 500."""
    try:
        yield
    except CryptoError as exc:
        raise ApiProblem(503, exc.reason, exc.detail) from None


MAX_ROW_ID = 2**63 - 1
"""Largest id of a row of the operational store (BIGINT); path ids above it are refused with 422."""
INVALID_PARAMETERS = "A parameter is malformed or out of range; `error` is `request.invalid`."
UNAUTHORISED = (
    "No credentials, or a key or token that is unknown, expired or revoked; `error` is `auth.required` "
    "or `auth.invalid`."
)


def limit_rate(request: Request, consumer: ConsumerDep) -> Consumer:
    """The authenticated consumer, if its bucket has a token; 429 with `Retry-After` otherwise."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait_s = limiter.take(consumer.actor, time.monotonic())
    if wait_s is not None:
        raise ApiProblem(
            429,
            "rate.limited",
            f"{consumer.actor} made more requests than its limit; retry in {wait_s:.1f} s",
            headers={"Retry-After": retry_after_header(wait_s)},
        )
    return consumer


LimitedConsumerDep = Annotated[Consumer, Depends(limit_rate)]
RATE_LIMITED = (
    "Too many requests for this key or person; wait `Retry-After` seconds. `error` is `rate.limited`."
)
