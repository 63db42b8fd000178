"""HTTP routes of one code for all modes (一码通乘), mounted with the MaaS planner at `/api/v1/maas`:
taps in, a rider's charges of a day out.

Thin: both go through `hub.access` on `maas.taps` (a grant or admin, clearance; every decision audited),
taps land through `hub.ingest` (bad ones quarantined, repeats counted as duplicates), and charges read the
rider's taps through `hub.query` (audited), then `riders.day_charges` prices them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, Field, field_validator

from dthub.domains.transit import riders
from dthub.domains.transit.fares import fare_systems
from dthub.domains.transit.riders import TAPS, Tap, TapLines
from dthub.hub import access, query
from dthub.hub.access import Decision
from dthub.hub.core import Hub
from dthub.hub.identity import Consumer
from dthub.hub.ingest import ingest_bytes
from dthub.hub.web import INVALID_PARAMETERS, UNAUTHORISED, ApiProblem, ConsumerDep, HubDep, Model, answers

riders_router = APIRouter()


def maas_routes(*routers: APIRouter) -> APIRouter:
    """One router of the MaaS domain: the planner's and these."""
    combined = APIRouter()
    for each in routers:
        combined.include_router(each)
    return combined


MOBILE = r"^1[3-9][0-9]{9}$"
FORBIDDEN = (
    "No live grant on `maas.taps`, or a clearance below its level (`error` is the access reason), or, for "
    "charges, a clearance below the rider id's level (`maas.rider_masked`)."
)
PAGE_ROWS = 1000
YEARS = (2000, 2100)
"""Taps and days outside these years are refused (422), not computed with."""


class TapIn(Model):
    """One read of a rider's code on a bus, a metro gate or a shared bike."""

    tap_id: str = Field(min_length=1, max_length=128, description="Id the reader gave the tap; unique.")
    rider_id: str = Field(pattern=MOBILE, description="Rider account: the registered mobile number.")
    tapped_at: AwareDatetime = Field(
        strict=False, description="When the code was read, ISO 8601 with a time zone."
    )
    direction: str = Field(pattern="^(in|out)$", description="`in` boarding/entry/unlock, `out` leaving.")
    mode: str = Field(pattern="^(" + "|".join(riders.MODES) + ")$", description="OpenTripPlanner mode.")
    operator: str = Field(min_length=1, max_length=128, description="Operator; a feed name for transit.")
    route_id: str | None = Field(default=None, max_length=256, description="`<feed>:<route_id>`, if known.")
    stop_id: str | None = Field(default=None, max_length=256, description="Stop, station or bike dock.")
    distance_m: float | None = Field(
        default=None, ge=0, le=1_000_000, description="On a tap-out: fare distance from the entry, m."
    )
    simulated: bool = Field(default=False, description="True for made-up taps (tests, demos).")

    @field_validator("tapped_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not YEARS[0] <= value.year <= YEARS[1]:
            raise ValueError(f"a tap between {YEARS[0]} and {YEARS[1]}, got {value.isoformat()}")
        return value


class TapsIn(Model):
    taps: list[TapIn] = Field(min_length=1, max_length=5000)
    fare_system: str = Field(
        default="beijing", pattern=r"^[a-z0-9_]+$", description="Fare system of accounts opened now."
    )


class TapsOut(Model):
    batch_id: str
    read: int
    landed: int
    quarantined: int
    duplicate: int = Field(description="Taps already landed (same `tap_id`).")
    accounts_opened: int


class RideCharge(Model):
    tap_ids: list[str] = Field(description="The tap-in, and the tap-out that closed the ride, if any.")
    mode: str
    operator: str
    boarded_at: datetime
    alighted_at: datetime | None
    from_stop: str | None
    to_stop: str | None
    distance_m: float | None
    product: str | None = Field(description="Fare product; null when none prices this mode and operator.")
    fare_cents: int = Field(description="The product's fare, cents (分).")
    transfer_discount_cents: int = Field(description="联程优惠 taken off.")
    transfer: str | None
    cap_discount_cents: int = Field(description="Waived by the daily cap.")
    cents: int = Field(description="Charged.")
    incomplete: bool = Field(description="Charged the product's incomplete fare: no tap-out or distance.")


class ChargesOut(Model):
    rider_id: str
    day: date
    fare_system: str
    currency: str
    daily_cap_cents: int | None
    total_cents: int
    rides: list[RideCharge]
    unmatched_taps: list[str] = Field(description="Tap-outs that closed no ride.")
    simulated: bool = Field(description="True when any tap of the day is simulated.")


def _authorise(hub: Hub, consumer: Consumer) -> Decision:
    decision = access.authorise(hub, consumer, TAPS)
    if not decision.allowed:
        raise ApiProblem(403, decision.reason, f"{consumer.actor} may not use {TAPS.id}")
    return decision


@riders_router.post(
    "/taps",
    summary="Record taps",
    response_model=TapsOut,
    responses=answers(
        "The taps' ingest batch: read, landed, quarantined (bad taps, with reasons, in the quarantine) and "
        "duplicates (taps already landed); accounts opened for riders seen for the first time.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
        not_found="No fare system of that name; `error` is `fares.not_found`.",
    ),
)
def post_taps(hub: HubDep, consumer: ConsumerDep, body: TapsIn) -> TapsOut:
    """Taps of riders' one code from any mode, landed in `maas.taps` through the hub's ingest."""
    _authorise(hub, consumer)
    if body.fare_system not in fare_systems():
        raise ApiProblem(404, "fares.not_found", f"no fare system {body.fare_system!r}")
    taps = [Tap(**tap.model_dump()) for tap in body.taps]
    data = ("\n".join(tap.line() for tap in taps) + "\n").encode()
    source = f"api:{consumer.actor}:{datetime.now(UTC).isoformat()}"
    result = ingest_bytes(hub, TapLines(), data, source=source)
    opened = riders.open_accounts(hub.store, taps, fare_system=body.fare_system)
    return TapsOut(
        batch_id=result.batch_id,
        read=result.read,
        landed=result.landed,
        quarantined=result.quarantined,
        duplicate=result.duplicate,
        accounts_opened=opened,
    )


@riders_router.get(
    "/riders/{rider_id}/charges",
    summary="A rider's charges of a day",
    response_model=ChargesOut,
    responses=answers(
        "Every ride boarded that local day with its fare, transfer discount, cap discount and charge.",
        not_found="No account for this rider; `error` is `rider.not_found`.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
    ),
)
def get_charges(
    hub: HubDep,
    consumer: ConsumerDep,
    rider_id: Annotated[str, Path(pattern=MOBILE, description="Registered mobile number.")],
    day: Annotated[date, Query(description="Local day of the fare system, YYYY-MM-DD.")],
) -> ChargesOut:
    """What one code for all modes charges a rider for a day: taps paired into rides, fares, 联程优惠 within
    their windows, and the daily cap."""
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ApiProblem(422, "request.invalid", f"query.day: between {YEARS[0]} and {YEARS[1]}, got {day}")
    decision = _authorise(hub, consumer)
    if not decision.plain("rider_id"):
        raise ApiProblem(403, "maas.rider_masked", f"{consumer.actor} sees rider ids masked only")
    found = riders.account(hub.store, rider_id)
    if found is None:
        raise ApiProblem(404, "rider.not_found", f"no account for rider {rider_id[:3]}****{rider_id[-4:]}")
    system = fare_systems()[found.fare_system]
    since, until = riders.day_window(system, day)
    rows: list[dict[str, object]] = []
    while True:
        asked = query.RowQuery(
            filters=(query.Filter(column="rider_id", op="eq", values=(rider_id,)),),
            since=since,
            until=until,
            limit=PAGE_ROWS,
            offset=len(rows),
        )
        page = query.read_page(hub, consumer, TAPS, decision, asked, fmt="json").to_pylist()
        rows += page
        if len(page) < PAGE_ROWS:
            break
    taps = riders.taps_from_rows(rows)
    charged = riders.day_charges(system, taps, day)
    return ChargesOut(
        rider_id=rider_id,
        day=day,
        fare_system=system.name,
        currency=system.currency,
        daily_cap_cents=system.daily_cap_cents,
        total_cents=charged.total_cents,
        rides=[
            RideCharge(
                tap_ids=[ride.tap_in.tap_id] + ([ride.tap_out.tap_id] if ride.tap_out else []),
                mode=ride.tap_in.mode,
                operator=ride.tap_in.operator,
                boarded_at=ride.tap_in.tapped_at,
                alighted_at=ride.tap_out.tapped_at if ride.tap_out else None,
                from_stop=ride.tap_in.stop_id,
                to_stop=ride.tap_out.stop_id if ride.tap_out else None,
                distance_m=ride.tap_out.distance_m if ride.tap_out else None,
                product=charge.product,
                fare_cents=charge.fare_cents,
                transfer_discount_cents=charge.transfer_discount_cents,
                transfer=charge.transfer,
                cap_discount_cents=charge.cap_discount_cents,
                cents=charge.cents,
                incomplete=charge.incomplete,
            )
            for ride, charge in charged.rides
        ],
        unmatched_taps=[tap.tap_id for tap in charged.unmatched],
        simulated=any(tap.simulated for tap in taps),
    )
