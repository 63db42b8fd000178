"""Fares (票价): fare products per mode and operator, transfer discounts (联程优惠), daily caps (日封顶).

Pure functions over `Ride`s. A ride is one paid use of a product: a transit leg of a planned itinerary
(consecutive legs of one gated product, such as a metro network, are one ride: transfers inside the
gates pay once, on the distance from entry to exit), or a rider's tap-in/tap-out pair (`transit.riders`).
The rules are data, one TOML file per fare system under `fare_tables/`, validated by `FareSystem`:

- a product matches rides by mode (OpenTripPlanner's: `SUBWAY`, `BUS`, `BICYCLE`, ...) and operator
  (fnmatch patterns over the feed name or a tap's operator); the first product that matches prices it:
  `flat` (one price), `distance` (bands of km, inclusive upper bounds, then `beyond_cents` for every
  `beyond_km` started beyond the last band, as Beijing's metro scale is published), or `duration` (every
  `block_s` started costs `block_cents`, as bikes are priced);
- a transfer discount applies to a ride that boards within `window_s` of the end of the ride before
  (`previous_end`) or of the start of the chain's first ride (`chain_start`), from one of `from_modes` to one
  of `to_modes`: `discount_cents` off, or `discount_percent` of the fare, never below zero. A ride that pays
  without a discount starts a chain; at most `max_per_chain` rides of a chain are discounted;
- a daily cap limits what one rider pays in one local day (`timezone`): the ride that crosses it pays the
  rest, later rides pay nothing.

Money is in integer cents (分, fen) end to end, so every charge is exact.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FARE_TABLES = Path(__file__).parent / "fare_tables"
"""The fare systems shipped with dthub, one `<name>.toml` each."""


class FareError(ValueError):
    """A fare table the hub refuses; `reason` is a stable key, the message names the file and the field."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Cents = Annotated[int, Field(ge=0)]


class Band(_Strict):
    """Up to and including `up_to_km`, the fare is `cents`."""

    up_to_km: Annotated[float, Field(gt=0)]
    cents: Cents


class Product(_Strict):
    """A fare product (票种): which rides it prices, and how."""

    id: str
    name: str
    modes: Annotated[list[str], Field(min_length=1)]
    operators: Annotated[list[str], Field(min_length=1)] = ["*"]
    """fnmatch patterns over the operator (a feed name in plans, the tap's operator in taps)."""
    kind: Literal["flat", "distance", "duration"]
    cents: Cents | None = None
    """`flat`: the price."""
    bands: list[Band] = []
    """`distance`: ascending bands of km, upper bounds inclusive."""
    beyond_km: Annotated[float, Field(gt=0)] | None = None
    beyond_cents: Cents | None = None
    block_s: Annotated[int, Field(gt=0)] | None = None
    """`duration`: every block started costs `block_cents`."""
    block_cents: Cents | None = None
    incomplete_cents: Cents | None = None
    """Charged for a tap-in that has no tap-out (or no distance) where the product needs one."""
    gated: bool = False
    """Consecutive legs of this product in a plan are one ride (a metro's transfers inside the gates,
    站内换乘); otherwise each leg is a ride (each bus boarding pays)."""

    @model_validator(mode="after")
    def _complete(self) -> Product:
        need = {
            "flat": ("cents",),
            "distance": ("bands",),
            "duration": ("block_s", "block_cents"),
        }[self.kind]
        missing = [name for name in need if getattr(self, name) in (None, [])]
        if missing:
            raise ValueError(f"product {self.id}: a {self.kind} product needs {', '.join(missing)}")
        limits = [band.up_to_km for band in self.bands]
        if limits != sorted(set(limits)):
            raise ValueError(f"product {self.id}: bands must ascend strictly, got {limits} km")
        if (self.beyond_km is None) != (self.beyond_cents is None):
            raise ValueError(f"product {self.id}: beyond_km and beyond_cents go together")
        return self

    def matches(self, mode: str, operator: str) -> bool:
        return mode in self.modes and any(fnmatch.fnmatchcase(operator, p) for p in self.operators)

    @property
    def needs_end(self) -> bool:
        """Whether the price depends on where or when the ride ends (a tap-out is needed)."""
        return self.kind != "flat"


class Transfer(_Strict):
    """A transfer discount (联程优惠)."""

    name: str
    from_modes: Annotated[list[str], Field(min_length=1)]
    to_modes: Annotated[list[str], Field(min_length=1)]
    window_s: Annotated[int, Field(gt=0)]
    """Inclusive: boarding exactly `window_s` after the reference time is still a transfer."""
    measured_from: Literal["previous_end", "chain_start"] = "previous_end"
    discount_cents: Cents | None = None
    discount_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    max_per_chain: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _one_discount(self) -> Transfer:
        if (self.discount_cents is None) == (self.discount_percent is None):
            raise ValueError(f"transfer {self.name!r}: give exactly one of discount_cents, discount_percent")
        return self

    def discount(self, fare_cents: int) -> int:
        if self.discount_cents is not None:
            return min(self.discount_cents, fare_cents)
        return fare_cents * (self.discount_percent or 0) // 100


class FareSystem(_Strict):
    """One fare system (a city's network): its products, transfer discounts and daily cap."""

    name: str
    title: str
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    """ISO 4217, e.g. CNY."""
    timezone: str
    """IANA zone; a rider's day (for the cap) is the local date of boarding."""
    daily_cap_cents: Cents | None = None
    products: Annotated[list[Product], Field(min_length=1)]
    transfers: list[Transfer] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def product(self, mode: str, operator: str) -> Product | None:
        return next((p for p in self.products if p.matches(mode, operator)), None)


def load_system(path: Path) -> FareSystem:
    """A fare table from its TOML file; `FareError` names the file and what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise FareError("fares.unreadable", f"{path}: {error}") from None
    try:
        return FareSystem.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors()
        )
        raise FareError("fares.invalid", f"{path}: {problems}") from None


@lru_cache(maxsize=8)
def fare_systems(folder: Path = FARE_TABLES) -> Mapping[str, FareSystem]:
    """Every `*.toml` fare table of `folder`, by name."""
    systems: dict[str, FareSystem] = {}
    for path in sorted(folder.glob("*.toml")):
        system = load_system(path)
        if system.name in systems:
            raise FareError("fares.duplicate", f"{path}: fare system {system.name!r} is declared twice")
        systems[system.name] = system
    return systems


@dataclass(frozen=True, kw_only=True)
class Ride:
    """One paid use of a product. Times are seconds on one clock (epoch seconds for taps, seconds of the
    service day in plans); `end_s` and `distance_m` are None when the ride was not closed (no tap-out)."""

    mode: str
    operator: str
    start_s: int
    end_s: int | None
    distance_m: float | None
    day: date
    """Local day of boarding: the daily cap counts per day."""


@dataclass(frozen=True, kw_only=True)
class Charge:
    """What one ride costs: the product's fare, less the transfer discount, less what the cap waives."""

    ride: int
    """Index of the ride in the sequence priced."""
    product: str | None
    """None: no product of the system prices this mode and operator (`cents` is 0, `priced` false)."""
    currency: str
    fare_cents: int
    transfer_discount_cents: int
    transfer: str | None
    """Name of the transfer discount applied."""
    cap_discount_cents: int
    cents: int
    incomplete: bool = False
    """Charged `incomplete_cents`: no tap-out, or no distance, where the product needs one."""

    @property
    def priced(self) -> bool:
        return self.product is not None


def product_fare(product: Product, ride: Ride) -> tuple[int, bool]:
    """(cents, incomplete) of one ride before discounts."""
    if product.kind == "flat":
        return product.cents or 0, False
    if product.kind == "distance":
        if ride.distance_m is None or ride.end_s is None:
            return product.incomplete_cents or 0, True
        return distance_fare(product, ride.distance_m), False
    if ride.end_s is None:
        return product.incomplete_cents or 0, True
    blocks = max(1, math.ceil(max(ride.end_s - ride.start_s, 0) / (product.block_s or 1)))
    return blocks * (product.block_cents or 0), False


def distance_fare(product: Product, distance_m: float) -> int:
    """The fare of a distance product for `distance_m`: the first band that holds it, or the last band
    plus `beyond_cents` per `beyond_km` started. Metres are compared, so 6,000 m is in the 6 km band."""
    metres = round(distance_m)
    for band in product.bands:
        if metres <= round(band.up_to_km * 1000):
            return band.cents
    last = product.bands[-1]
    if product.beyond_km is None or product.beyond_cents is None:
        return last.cents
    over = metres - round(last.up_to_km * 1000)
    return last.cents + math.ceil(over / round(product.beyond_km * 1000)) * product.beyond_cents


def charge_rides(system: FareSystem, rides: Sequence[Ride]) -> list[Charge]:
    """The charge of each ride of one rider (or one itinerary), taken in order of boarding: fares, then
    transfer discounts within their windows, then the daily cap."""
    order = sorted(range(len(rides)), key=lambda n: (rides[n].start_s, n))
    charges: dict[int, Charge] = {}
    spent: dict[date, int] = {}
    previous: Ride | None = None
    chain_start: Ride | None = None
    discounted_in_chain = 0
    for n in order:
        ride = rides[n]
        product = system.product(ride.mode, ride.operator)
        if product is None:
            charges[n] = _unpriced(system, n)
            continue
        fare, incomplete = product_fare(product, ride)
        rule = _transfer(system, previous, chain_start, ride)
        if rule is not None and discounted_in_chain < rule.max_per_chain and fare > 0:
            discount = rule.discount(fare)
            discounted_in_chain += 1
        else:
            rule, discount = None, 0
            chain_start, discounted_in_chain = ride, 0
        due = fare - discount
        cap = system.daily_cap_cents
        paid_today = spent.get(ride.day, 0)
        cents = due if cap is None else max(0, min(due, cap - paid_today))
        spent[ride.day] = paid_today + cents
        charges[n] = Charge(
            ride=n,
            product=product.id,
            currency=system.currency,
            fare_cents=fare,
            transfer_discount_cents=discount,
            transfer=rule.name if rule else None,
            cap_discount_cents=due - cents,
            cents=cents,
            incomplete=incomplete,
        )
        previous = ride
    return [charges[n] for n in range(len(rides))]


def _unpriced(system: FareSystem, ride: int) -> Charge:
    return Charge(
        ride=ride,
        product=None,
        currency=system.currency,
        fare_cents=0,
        transfer_discount_cents=0,
        transfer=None,
        cap_discount_cents=0,
        cents=0,
    )


def _transfer(
    system: FareSystem, previous: Ride | None, chain_start: Ride | None, ride: Ride
) -> Transfer | None:
    """The first transfer discount the ride qualifies for, after `previous` in a chain from `chain_start`."""
    if previous is None or chain_start is None:
        return None
    for rule in system.transfers:
        if previous.mode not in rule.from_modes or ride.mode not in rule.to_modes:
            continue
        if rule.measured_from == "chain_start":
            since = chain_start.start_s
        else:
            since = previous.end_s if previous.end_s is not None else previous.start_s
        if 0 <= ride.start_s - since <= rule.window_s:
            return rule
    return None


def money(cents: int, currency: str) -> dict[str, Any]:
    """An OpenTripPlanner `Money`: `{"cents": ..., "currency": {"currency", "currencyCode", ...}}`."""
    return {
        "cents": cents,
        "currency": {
            "currency": currency,
            "currencyCode": currency,
            "defaultFractionDigits": 2,
            "symbol": {"CNY": "¥", "USD": "$"}.get(currency, currency),
        },
    }


def _leg_metres(leg: Mapping[str, Any]) -> float:
    """Length of a leg along its geometry (stop to stop), metres, haversine."""
    points = leg.get("legGeometry", {}).get("coordinates", [])
    total = 0.0
    for (lon1, lat1), (lon2, lat2) in itertools.pairwise(points):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        h = (
            math.sin((p2 - p1) / 2) ** 2
            + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
        )
        total += 2 * 6_371_000.0 * math.asin(math.sqrt(min(h, 1.0)))
    return total


def _paid(leg: Mapping[str, Any]) -> bool:
    """A leg someone charges for: a transit leg, or a ride on a rented bike."""
    return bool(leg.get("transitLeg")) or leg.get("mode") == "BICYCLE"


def _operator(leg: Mapping[str, Any]) -> str:
    """The feed of a transit leg's route (`<feed>:<route_id>`), or a bike leg's `operator`."""
    return str(leg.get("routeId") or leg.get("operator") or "").split(":", 1)[0]


def itinerary_rides(
    system: FareSystem, legs: Sequence[Mapping[str, Any]], day: date
) -> list[tuple[Ride, list[int]]]:
    """The rides of an OTP-like itinerary's legs, each with the indices of its legs: consecutive transit
    legs of one gated product are one ride (walks between them inside the gates)."""
    rides: list[tuple[Ride, list[int]]] = []
    last_product: Product | None = None
    for index, leg in enumerate(legs):
        if not _paid(leg):
            continue
        operator = _operator(leg)
        product = system.product(str(leg["mode"]), operator)
        metres = _leg_metres(leg)
        if product is not None and product is last_product and product.gated and rides:
            ride, indices = rides[-1]
            merged = dataclasses.replace(
                ride, end_s=int(leg["endTime"]), distance_m=(ride.distance_m or 0) + metres
            )
            rides[-1] = (merged, [*indices, index])
            continue
        ride = Ride(
            mode=str(leg["mode"]),
            operator=operator,
            start_s=int(leg["startTime"]),
            end_s=int(leg["endTime"]),
            distance_m=metres,
            day=day,
        )
        rides.append((ride, [index]))
        last_product = product
    return rides


def choose_system(systems: Mapping[str, FareSystem], legs: Sequence[Mapping[str, Any]]) -> FareSystem | None:
    """The fare system that prices the most paid legs (the first such, by name); None if none does."""
    best, most = None, 0
    for name in sorted(systems):
        system = systems[name]
        priced = sum(1 for leg in legs if _paid(leg) and system.product(leg["mode"], _operator(leg)))
        if priced > most:
            best, most = system, priced
    return best


def itinerary_fare(
    legs: list[dict[str, Any]], day: date, systems: Mapping[str, FareSystem] | None = None
) -> dict[str, Any] | None:
    """The OTP-like `fare` of an itinerary (total in `fare.regular`, one `details.regular` entry per ride
    with its `legIndices`), and each transit leg's own `fare` set (the ride's price on its first leg, 0 on
    the legs that continue it). None when no fare system prices any of its legs (a walk)."""
    system = choose_system(systems if systems is not None else fare_systems(), legs)
    if system is None:
        return None
    rides = itinerary_rides(system, legs, day)
    charges = charge_rides(system, [ride for ride, _ in rides])
    details = []
    for (_, indices), charge in zip(rides, charges, strict=True):
        for n, index in enumerate(indices):
            legs[index]["fare"] = {
                "productId": charge.product,
                **money(0 if n else charge.cents, charge.currency),
            }
        details.append(
            {
                "fareId": charge.product,
                "price": money(charge.cents, charge.currency),
                "fareCents": charge.fare_cents,
                "transferDiscountCents": charge.transfer_discount_cents,
                "transfer": charge.transfer,
                "legIndices": indices,
                "priced": charge.priced,
            }
        )
    return {
        "system": system.name,
        "fare": {"regular": money(sum(c.cents for c in charges), system.currency)},
        "details": {"regular": details},
        "unpricedLegs": [
            i for (_, indices), c in zip(rides, charges, strict=True) if not c.priced for i in indices
        ],
    }
