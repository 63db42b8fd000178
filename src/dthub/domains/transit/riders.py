"""One code for all modes (一码通乘): rider accounts, their taps on any mode, and what each day costs them.

A rider's account (`maas_riders`) is keyed by the mobile number it was registered with (注册手机号) and
names the fare system (`transit.fares`) that charges it; it opens with the rider's first tap. Taps land
through the hub's ingest path in the dataset `maas.taps` (JSON lines, `TapLines`), so that a bad tap is
quarantined with its reason and a tap sent twice lands once; the rider id is personal information of kind
`mobile`, pseudonymised (a keyed token per reader) for a reader whose clearance is below its level.

Charging is pure (`rides_from_taps`, `day_charges`): a rider's taps in time order pair into rides (a
tap-in opens a ride, the next tap-out of the same mode and operator closes it; a tap-in that meets another
tap-in first stays open: a flat product does not care, others charge `incomplete_cents`; a tap-out with no
open ride is reported unmatched), then `fares.charge_rides` applies fares, transfer discounts and the cap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

import pyarrow as pa
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from dthub.domains.transit.fares import Charge, FareSystem, Ride, charge_rides
from dthub.hub.adapter import LOCATION, LineText, Parsed, Rejected
from dthub.hub.classification import Level
from dthub.hub.dataset import DatasetSpec, one_of
from dthub.hub.pii import PiiKind
from dthub.hub.store import Store
from dthub.hub.tables import Base, utcnow

MODES = ("BUS", "TROLLEYBUS", "SUBWAY", "MONORAIL", "TRAM", "RAIL", "FERRY", "BICYCLE")
"""Modes a tap may come from (OpenTripPlanner's names; `BICYCLE` for a shared bike)."""
DIRECTIONS = ("in", "out")
MARGIN = timedelta(hours=6)
"""Taps read around a day: rides of the evening before may start a transfer chain, and a ride of the
day may tap out after midnight."""


class RiderRow(Base):
    """A rider account of one code for all modes (一码通乘账户)."""

    __tablename__ = "maas_riders"

    rider_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    """The mobile number the account was registered with (personal information)."""
    fare_system: Mapped[str] = mapped_column(String(64))
    """Name of the fare system that charges the account (`transit/fare_tables/<name>.toml`)."""
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_tap_at: Mapped[datetime] = mapped_column()


def _field(name: str, type_: pa.DataType, description: str, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"description": description})


TAPS = DatasetSpec(
    id="maas.taps",
    title_zh="一码通乘 刷码记录",
    title_en="One-code taps",
    description="Taps of riders' one code on buses, metro gates and shared bikes, in and out.",
    schema=pa.schema(
        [
            _field("tap_id", pa.string(), "Id the reader gave the tap, unique per operator", nullable=False),
            _field("rider_id", pa.string(), "Rider account: registered mobile number", nullable=False),
            _field("tapped_at", pa.timestamp("us", tz="UTC"), "When the code was read, UTC", nullable=False),
            _field("direction", pa.string(), "`in` (boarding, gate entry, unlock) or `out`", nullable=False),
            _field("mode", pa.string(), "BUS, SUBWAY, BICYCLE, ... (OpenTripPlanner modes)", nullable=False),
            _field("operator", pa.string(), "Operator (feed name for transit)", nullable=False),
            _field("route_id", pa.string(), "`<feed>:<route_id>` where the reader knows it"),
            _field("stop_id", pa.string(), "Stop, station or bike dock of the reader"),
            _field("distance_m", pa.float64(), "On a tap-out: fare distance from the entry, metres"),
            _field("simulated", pa.bool_(), "True for taps made up for tests and demos", nullable=False),
        ]
    ),
    primary_key=("tap_id",),
    time_column="tapped_at",
    owner="市交通运输委 出行服务处 (MaaS operator)",
    update_frequency="PT1M",
    retention_days=365,
    level=Level.GENERAL_2,
    pii_fields=("rider_id",),
    pii_kinds={"rider_id": PiiKind.MOBILE},
    pseudonymised_fields=("rider_id",),
    rules=(one_of("direction", DIRECTIONS), one_of("mode", MODES)),
)


@dataclass(frozen=True, kw_only=True)
class Tap:
    """One read of a rider's code."""

    tap_id: str
    rider_id: str
    tapped_at: datetime
    direction: str
    mode: str
    operator: str
    route_id: str | None = None
    stop_id: str | None = None
    distance_m: float | None = None
    simulated: bool = False

    def line(self) -> str:
        """The tap as one JSON line of `TapLines`."""
        return json.dumps({**vars(self), "tapped_at": self.tapped_at.astimezone(UTC).isoformat()})


class TapLines(LineText):
    """Taps as JSON lines (one object per line, the fields of `Tap`) -> `maas.taps`."""

    name: ClassVar[str] = "maas.tap_lines"
    dataset: ClassVar[str] = TAPS.id

    def parse(self, data: bytes) -> Parsed:
        rows: list[dict[str, Any]] = []
        locations: list[int] = []
        rejected: list[Rejected] = []
        skipped = 0
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # the end of the last line, not a record
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line.strip():
                skipped += 1
                continue
            try:
                rows.append(_row(json.loads(line)))
                locations.append(number)
            except (ValueError, KeyError, TypeError) as error:
                rejected.append(
                    Rejected(reason="maas.bad_tap", detail=repr(error), location=number, raw=line)
                )
        columns = {f.name: pa.array([r[f.name] for r in rows], f.type) for f in TAPS.schema}
        table = pa.table({**columns, LOCATION: pa.array(locations, pa.int64())})
        return Parsed(rows=table, rejected=tuple(rejected), skipped=skipped)


def _row(message: dict[str, Any]) -> dict[str, Any]:
    """A tap object as a row; raises on a missing or ill-typed field."""
    tapped_at = datetime.fromisoformat(message["tapped_at"])
    if tapped_at.tzinfo is None:
        raise ValueError(f"tapped_at {message['tapped_at']!r} has no time zone")
    row: dict[str, Any] = {"tapped_at": tapped_at.astimezone(UTC)}
    for name in ("tap_id", "rider_id", "direction", "mode", "operator"):
        if not isinstance(message[name], str) or not message[name]:
            raise ValueError(f"{name} must be a non-empty string, got {message[name]!r}")
        row[name] = message[name]
    for name in ("route_id", "stop_id"):
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        row[name] = value
    distance = message.get("distance_m")
    if distance is not None and (isinstance(distance, bool) or not isinstance(distance, int | float)):
        raise ValueError(f"distance_m must be a number, got {distance!r}")
    if distance is not None and distance < 0:
        raise ValueError(f"distance_m must not be negative, got {distance!r}")
    row["distance_m"] = None if distance is None else float(distance)
    row["simulated"] = bool(message.get("simulated", False))
    return row


@dataclass(frozen=True, kw_only=True)
class TapRide:
    """A ride made of a tap-in and, where there is one, the tap-out that closed it."""

    tap_in: Tap
    tap_out: Tap | None


def rides_from_taps(taps: Sequence[Tap]) -> tuple[list[TapRide], list[Tap]]:
    """One rider's taps, in time order, paired into rides; and the tap-outs that closed no ride."""
    rides: list[TapRide] = []
    unmatched: list[Tap] = []
    open_tap: Tap | None = None
    for tap in sorted(taps, key=lambda t: (t.tapped_at, t.direction != "in", t.tap_id)):
        if tap.direction == "in":
            if open_tap is not None:
                rides.append(TapRide(tap_in=open_tap, tap_out=None))
            open_tap = tap
        elif open_tap is not None and (open_tap.mode, open_tap.operator) == (tap.mode, tap.operator):
            rides.append(TapRide(tap_in=open_tap, tap_out=tap))
            open_tap = None
        else:
            unmatched.append(tap)
    if open_tap is not None:
        rides.append(TapRide(tap_in=open_tap, tap_out=None))
    return rides, unmatched


def _ride(system: FareSystem, ride: TapRide) -> Ride:
    start = ride.tap_in.tapped_at
    end = ride.tap_out.tapped_at if ride.tap_out else None
    return Ride(
        mode=ride.tap_in.mode,
        operator=ride.tap_in.operator,
        start_s=int(start.timestamp()),
        end_s=int(end.timestamp()) if end else None,
        distance_m=ride.tap_out.distance_m if ride.tap_out else None,
        day=start.astimezone(system.zone).date(),
    )


@dataclass(frozen=True, kw_only=True)
class DayCharges:
    """What a rider is charged for the rides boarded on one local day."""

    day: date
    rides: list[tuple[TapRide, Charge]]
    unmatched: list[Tap]

    @property
    def total_cents(self) -> int:
        return sum(charge.cents for _, charge in self.rides)


def day_charges(system: FareSystem, taps: Sequence[Tap], day: date) -> DayCharges:
    """The charges of the rides boarded on local `day`, from a rider's taps around it (rides before it
    count for transfer windows, not for the day's cap)."""
    rides, unmatched = rides_from_taps(taps)
    charges = charge_rides(system, [_ride(system, r) for r in rides])
    kept = [(ride, charge) for ride, charge in zip(rides, charges, strict=True) if _day(system, ride) == day]
    lost = [tap for tap in unmatched if tap.tapped_at.astimezone(system.zone).date() == day]
    return DayCharges(day=day, rides=kept, unmatched=lost)


def _day(system: FareSystem, ride: TapRide) -> date:
    return ride.tap_in.tapped_at.astimezone(system.zone).date()


def day_window(system: FareSystem, day: date) -> tuple[datetime, datetime]:
    """UTC window of taps to read for a local day: the day with `MARGIN` on both sides."""
    start = datetime.combine(day, time(), tzinfo=system.zone)
    return (start - MARGIN).astimezone(UTC), (start + timedelta(days=1) + MARGIN).astimezone(UTC)


def open_accounts(store: Store, taps: Sequence[Tap], *, fare_system: str) -> int:
    """Open an account for each rider seen for the first time, and note every rider's last tap; returns
    how many accounts were opened."""
    last: dict[str, datetime] = {}
    for tap in taps:
        last[tap.rider_id] = max(tap.tapped_at, last.get(tap.rider_id, tap.tapped_at))
    opened = 0
    with store.session() as session:
        known = {
            row.rider_id: row
            for row in session.scalars(select(RiderRow).where(RiderRow.rider_id.in_(sorted(last))))
        }
        for rider_id, at in sorted(last.items()):
            row = known.get(rider_id)
            if row is None:
                session.add(RiderRow(rider_id=rider_id, fare_system=fare_system, last_tap_at=at))
                opened += 1
            elif at > row.last_tap_at:
                row.last_tap_at = at
    return opened


def account(store: Store, rider_id: str) -> RiderRow | None:
    with store.session() as session:
        return session.get(RiderRow, rider_id)


def taps_from_rows(rows: Sequence[dict[str, Any]]) -> list[Tap]:
    """Taps from lake rows (as `hub.query` reads them)."""
    return [Tap(**{**row, "tapped_at": _utc(row["tapped_at"])}) for row in rows]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
