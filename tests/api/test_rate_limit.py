"""Per-consumer rate limits: beyond its burst a consumer gets 429 with Retry-After; others are unaffected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dthub.api import create_app
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.identity import Role
from dthub.hub.ratelimit import RateLimiter, retry_after_header
from dthub.hub.settings import Settings

PASSWORD = "correct horse battery"
ROWS = "/api/v1/datasets/roads.detector_stations/rows"


def test_bucket_grants_its_burst_then_refills_at_its_rate() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)

    assert [limiter.take("a", now=0.0) for _ in range(2)] == [None, None]
    assert limiter.take("a", now=0.0) == pytest.approx(1.0)
    assert limiter.take("a", now=0.5) == pytest.approx(0.5)
    assert limiter.take("a", now=1.5) is None
    assert limiter.take("b", now=1.5) is None


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2, 59.9)] == ["1", "1", "2", "60"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(home=tmp_path / "hub", rate_limit_per_minute=1, rate_limit_burst=2)
    app = create_app(settings)
    for name in ("root", "other"):
        identity.add_person(app.state.hub.store, name, name=name, password=PASSWORD, role=Role.ADMIN,
                            clearance=Level.CORE, by="test")  # fmt: skip
    with TestClient(app) as test_client:
        yield test_client


def bearer(client: TestClient, username: str) -> dict[str, str]:
    token = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {token['token']}"}


def test_third_request_within_a_minute_is_refused_with_retry_after(client: TestClient) -> None:
    root, other = bearer(client, "root"), bearer(client, "other")

    answered = [client.get(ROWS, headers=root) for _ in range(3)]

    assert [r.status_code for r in answered] == [200, 200, 429]
    assert answered[2].json()["error"] == "rate.limited"
    assert 1 <= int(answered[2].headers["Retry-After"]) <= 60
    assert client.get(ROWS, headers=other).status_code == 200
