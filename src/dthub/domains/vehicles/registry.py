"""The vehicle registry (车辆档案) in the operational store, and its import from CSV.

CSV columns (header required): plate, plate_colour, vehicle_class, enterprise, terminal_id, phone, and
optionally auth_code (generated when empty) and simulated (true/false). A row whose phone is known
replaces it.
"""

from __future__ import annotations

import csv
import io
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from dthub.domains.vehicles.tables import VehicleRow
from dthub.hub.store import Store
from dthub.hub.tables import utcnow

COLUMNS = ("plate", "plate_colour", "vehicle_class", "enterprise", "terminal_id", "phone")
PLATE_COLOURS = frozenset({0, 1, 2, 3, 4, 5, 9})
"""JT/T 697.7-2014 plate colours: 0 not plated, 1 blue, 2 yellow, 3 black, 4 white, 5 green, 9 other."""


class RegistryError(ValueError):
    """A registry file the import refuses, naming the line and the value."""


@dataclass(frozen=True, kw_only=True)
class Vehicle:
    """A vehicle as the gateway and the writer know it."""

    phone: str
    plate: str
    plate_colour: int
    vehicle_class: str
    enterprise: str
    terminal_id: str
    auth_code: str
    simulated: bool = False


def normal_phone(phone: str) -> str:
    """A terminal phone as the codec's header gives it: leading zeros stripped."""
    return phone.strip().lstrip("0") or "0"


def parse_csv(text: str) -> list[Vehicle]:
    """The vehicles of a registry CSV; a missing column or a bad value raises `RegistryError`."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise RegistryError(f"registry CSV lacks columns: {', '.join(missing)}")
    vehicles = []
    for line, row in enumerate(reader, start=2):
        try:
            colour = int(row["plate_colour"])
        except ValueError:
            raise RegistryError(
                f"line {line}: plate_colour {row['plate_colour']!r} is not a number"
            ) from None
        if colour not in PLATE_COLOURS:
            raise RegistryError(f"line {line}: plate_colour {colour} is not a JT/T 697.7 colour")
        phone = row["phone"].strip()
        if not phone.isdigit() or len(phone) > 20:
            raise RegistryError(f"line {line}: phone {phone!r} is not up to 20 digits")
        vehicles.append(
            Vehicle(
                phone=normal_phone(phone),
                plate=row["plate"].strip(),
                plate_colour=colour,
                vehicle_class=row["vehicle_class"].strip(),
                enterprise=row["enterprise"].strip(),
                terminal_id=row["terminal_id"].strip(),
                auth_code=(row.get("auth_code") or "").strip() or secrets.token_hex(8),
                simulated=(row.get("simulated") or "").strip().lower() in ("1", "true", "yes"),
            )
        )
    return vehicles


def save(store: Store, vehicles: list[Vehicle]) -> int:
    """Insert or replace vehicles by phone; return how many."""
    with store.session() as session:
        for vehicle in vehicles:
            row = session.get(VehicleRow, vehicle.phone) or VehicleRow(phone=vehicle.phone)
            for name in ("plate", "plate_colour", "vehicle_class", "enterprise", "terminal_id", "auth_code"):
                setattr(row, name, getattr(vehicle, name))
            row.simulated = vehicle.simulated
            row.updated_at = utcnow()
            session.add(row)
    return len(vehicles)


def load(store: Store) -> dict[str, Vehicle]:
    """Every vehicle of the registry by terminal phone."""
    with store.session() as session:
        rows = session.scalars(select(VehicleRow)).all()
        return {
            row.phone: Vehicle(
                phone=row.phone,
                plate=row.plate,
                plate_colour=row.plate_colour,
                vehicle_class=row.vehicle_class,
                enterprise=row.enterprise,
                terminal_id=row.terminal_id,
                auth_code=row.auth_code,
                simulated=row.simulated,
            )
            for row in rows
        }
