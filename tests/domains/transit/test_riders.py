"""One code for all modes (一码通乘): a simulated day of taps (bike, metro, bus) of three riders is posted
to `POST /api/v1/maas/taps`, lands through the hub's ingest, and every charge of
`GET /api/v1/maas/riders/{id}/charges` is checked: Beijing's distance scale, transfer windows at their
edges (90 min inclusive, one second later not), two discounted transfers a chain, the daily cap, a ride
chained across midnight, a tap-in without tap-out, and a tap-out that closed no ride."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from dthub.api import create_app
from dthub.domains.transit.riders import TapLines
from dthub.hub import access_requests, identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.settings import Settings
from dthub.hub.tables import QuarantineRow

BEIJING = timezone(timedelta(hours=8))
DAY = "2026-10-07"
PASSWORD = "correct horse battery"
COMMUTER, LONG_RIDER, NIGHT_OWL = "13800000001", "13900000002", "13700000003"


def tap(rider: str, n: int, at: str, direction: str, mode: str, km: float | None = None) -> dict[str, Any]:
    operator = {"SUBWAY": "beijing_subway", "BUS": "bj_bus", "BICYCLE": "meituan_bike"}[mode]
    day = "2026-10-06" if at.startswith("-") else DAY
    clock = at.lstrip("-")
    return {
        "tap_id": f"{rider}-{n:02d}",
        "rider_id": rider,
        "tapped_at": datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=BEIJING).isoformat(),
        "direction": direction,
        "mode": mode,
        "operator": operator,
        "stop_id": f"{operator}:{n}",
        "distance_m": None if km is None else km * 1000,
        "simulated": True,
    }


TAPS = [
    # the commuter: bike, then subway 5 min later, bus exactly 90 min after alighting, a second bus when
    # the chain already had its two discounts, subway home
    tap(COMMUTER, 1, "07:30:00", "in", "BICYCLE"),
    tap(COMMUTER, 2, "07:50:00", "out", "BICYCLE"),
    tap(COMMUTER, 3, "07:55:00", "in", "SUBWAY"),
    tap(COMMUTER, 4, "08:40:00", "out", "SUBWAY", 15.2),
    tap(COMMUTER, 5, "10:10:00", "in", "BUS"),
    tap(COMMUTER, 6, "10:30:00", "out", "BUS", 9),
    tap(COMMUTER, 7, "10:40:00", "in", "BUS"),
    tap(COMMUTER, 8, "10:55:00", "out", "BUS", 10.001),
    tap(COMMUTER, 9, "17:30:00", "in", "SUBWAY"),
    tap(COMMUTER, 10, "18:20:00", "out", "SUBWAY", 32),
    # the long rider: a bus one second past the window, long metro rides, then the daily cap
    tap(LONG_RIDER, 1, "08:00:00", "in", "SUBWAY"),
    tap(LONG_RIDER, 2, "08:30:00", "out", "SUBWAY", 6),
    tap(LONG_RIDER, 3, "10:00:01", "in", "BUS"),
    tap(LONG_RIDER, 4, "10:20:00", "out", "BUS", 4),
    tap(LONG_RIDER, 5, "11:00:00", "in", "SUBWAY"),
    tap(LONG_RIDER, 6, "12:30:00", "out", "SUBWAY", 52),
    tap(LONG_RIDER, 7, "14:00:00", "in", "SUBWAY"),
    tap(LONG_RIDER, 8, "15:30:00", "out", "SUBWAY", 72.001),
    tap(LONG_RIDER, 9, "16:00:00", "in", "BUS"),
    tap(LONG_RIDER, 10, "16:20:00", "out", "BUS", 12),
    tap(LONG_RIDER, 11, "18:00:00", "in", "SUBWAY"),
    tap(LONG_RIDER, 12, "18:30:00", "out", "SUBWAY", 5),
    # the night owl: a late metro ride the day before chains into a bus after midnight; a tap-in with no
    # tap-out; a stray tap-out
    tap(NIGHT_OWL, 1, "-23:30:00", "in", "SUBWAY"),
    tap(NIGHT_OWL, 2, "-23:50:00", "out", "SUBWAY", 8),
    tap(NIGHT_OWL, 3, "00:20:00", "in", "BUS"),
    tap(NIGHT_OWL, 4, "00:40:00", "out", "BUS", 3),
    tap(NIGHT_OWL, 5, "09:00:00", "in", "SUBWAY"),
    tap(NIGHT_OWL, 6, "11:00:00", "in", "BUS"),
    tap(NIGHT_OWL, 7, "11:20:00", "out", "BUS", 2),
    tap(NIGHT_OWL, 8, "12:00:00", "out", "BUS", 1),
]

TRANSFER = "联程优惠 bus/bike ↔ subway (⚠️ policy example)"
EXPECTED = {
    # rider: [(tap ids, fare, transfer discount, cap discount, charged)], total
    COMMUTER: (
        [
            ("01 02", 150, 0, 0, 150),  # 20 min of bike: one block
            ("03 04", 500, 100, 0, 400),  # 15.2 km: 12-22 km band; transfer 5 min after the bike
            ("05 06", 200, 100, 0, 100),  # boards exactly 90 min after alighting: still a transfer
            ("07 08", 300, 0, 0, 300),  # 10.001 km: one 5 km step beyond; chain had its two discounts
            ("09 10", 600, 0, 0, 600),  # 32 km: last band
        ],
        1550,
    ),
    LONG_RIDER: (
        [
            ("01 02", 300, 0, 0, 300),  # 6 km: first band, inclusive
            ("03 04", 200, 0, 0, 200),  # boards 90 min + 1 s after alighting: no transfer
            ("05 06", 700, 100, 0, 600),  # 52 km: 32 km band + one 20 km step; transfer
            ("07 08", 900, 100, 0, 800),  # 72.001 km: three steps; transfer at exactly 90 min
            ("09 10", 300, 0, 200, 100),  # chain spent; the cap of 20 CNY leaves 1 CNY
            ("11 12", 300, 0, 300, 0),  # capped
        ],
        2000,
    ),
    NIGHT_OWL: (
        [
            ("03 04", 200, 100, 0, 100),  # 30 min after yesterday's metro ride: chained across midnight
            ("05", 900, 0, 0, 900),  # tap-in, no tap-out: the incomplete fare
            ("06 07", 200, 0, 0, 200),  # 2 h after the incomplete ride's tap-in: no transfer
        ],
        1200,
    ),
}


def grant(hub: Hub, consumer: identity.Consumer, admin: identity.Consumer) -> None:
    expires = datetime.now(UTC) + timedelta(days=1)
    asked = access_requests.request(hub, consumer, "maas.taps", purpose="fare audit", expires_at=expires)
    access_requests.decide(hub, asked.id, admin, approve=True, note="ok")
    access_requests.provision(hub, asked.id, admin)


@pytest.fixture
def client(settings: Settings) -> Any:
    app = create_app(
        settings.model_copy(update={"pseudonym_key": SecretStr("a pseudonym secret of the hub")})
    )
    with TestClient(app) as client:
        yield client


def test_a_day_of_taps_is_charged_exactly(client: TestClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    identity.add_person(hub.store, "root", name="root", password=PASSWORD, role=Role.ADMIN,
                        clearance=Level.CORE, by="test")  # fmt: skip
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    posted = client.post("/api/v1/maas/taps", json={"taps": TAPS}, headers=headers)
    assert posted.status_code == 200, posted.text
    assert {k: v for k, v in posted.json().items() if k != "batch_id"} == {
        "read": 30, "landed": 30, "quarantined": 0, "duplicate": 0, "accounts_opened": 3
    }  # fmt: skip
    again = client.post("/api/v1/maas/taps", json={"taps": TAPS[:4]}, headers=headers).json()
    assert (again["landed"], again["duplicate"], again["accounts_opened"]) == (0, 4, 0)

    for rider, (rides, total) in EXPECTED.items():
        answer = client.get(f"/api/v1/maas/riders/{rider}/charges", params={"day": DAY}, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        got = [
            (" ".join(t.split("-")[1] for t in r["tap_ids"]), r["fare_cents"], r["transfer_discount_cents"],
             r["cap_discount_cents"], r["cents"])
            for r in body["rides"]
        ]  # fmt: skip
        assert got == rides, rider
        assert body["total_cents"] == total
        assert (body["currency"], body["fare_system"], body["simulated"]) == ("CNY", "beijing", True)
        assert {r["transfer"] for r in body["rides"] if r["transfer_discount_cents"]} <= {TRANSFER}
    night = client.get(f"/api/v1/maas/riders/{NIGHT_OWL}/charges", params={"day": DAY}, headers=headers)
    assert night.json()["unmatched_taps"] == [f"{NIGHT_OWL}-08"]
    assert [r["incomplete"] for r in night.json()["rides"]] == [False, True, False]
    unknown = client.get("/api/v1/maas/riders/13600000000/charges", params={"day": DAY}, headers=headers)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "rider.not_found")


def test_rider_ids_are_pseudonymised_for_a_reader_below_their_level(client: TestClient) -> None:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    admin = identity.add_person(hub.store, "root", name="root", password=PASSWORD, role=Role.ADMIN,
                                clearance=Level.CORE, by="test")  # fmt: skip
    analyst = identity.add_application(hub.store, "fares", name="fare analytics", clearance=Level.GENERAL_2,
                                       by="test")  # fmt: skip
    outsider = identity.add_application(hub.store, "other", name="no grant", clearance=Level.CORE, by="test")
    grant(hub, analyst, admin)
    keys = {c.id: identity.issue_key(hub.store, c.id, by="test").text for c in (analyst, outsider)}
    token = client.post("/api/v1/auth/login", json={"username": "root", "password": PASSWORD}).json()["token"]
    client.post("/api/v1/maas/taps", json={"taps": TAPS}, headers={"Authorization": f"Bearer {token}"})
    as_analyst = {"X-API-Key": keys["fares"]}

    charges = client.get(f"/api/v1/maas/riders/{COMMUTER}/charges", params={"day": DAY}, headers=as_analyst)
    assert (charges.status_code, charges.json()["error"]) == (403, "maas.rider_masked")
    taps = client.post("/api/v1/maas/taps", json={"taps": TAPS}, headers={"X-API-Key": keys["other"]})
    assert (taps.status_code, taps.json()["error"]) == (403, "access.no_grant")
    rows = client.get("/api/v1/datasets/maas.taps/rows", params={"limit": 100}, headers=as_analyst)
    assert rows.status_code == 200, rows.text
    riders = {row["rider_id"] for row in rows.json()["rows"]}
    assert len(riders) == 3
    assert all(r.startswith("pn:mobile:") for r in riders)


def test_bad_taps_are_quarantined_with_their_reason(hub: Hub) -> None:
    good = json.dumps(TAPS[0])
    bad_mode = json.dumps({**TAPS[1], "mode": "HORSE"})
    naive = json.dumps({**TAPS[2], "tapped_at": "2026-10-07T08:00:00"})
    data = "\n".join([good, bad_mode, naive, "not json"]).encode() + b"\n"
    result = ingest_bytes(hub, TapLines(), data, source="test")
    assert (result.read, result.landed, result.quarantined, result.duplicate) == (4, 1, 3, 0)
    with hub.store.session() as session:
        reasons = sorted(row.reason for row in session.scalars(select(QuarantineRow)))
    assert reasons == ["maas.bad_tap", "maas.bad_tap", "rule.mode_known"]
