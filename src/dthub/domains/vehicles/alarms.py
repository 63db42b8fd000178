"""The alarm workflow (报警处置) in the operational store: new -> acknowledged -> handled, who, a note."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.rules import Alarm, Fix
from dthub.domains.vehicles.tables import AlarmRow
from dthub.hub.store import Store
from dthub.hub.tables import utcnow

STATUSES = ("new", "acknowledged", "handled")


class AlarmNotFound(LookupError):
    def __init__(self, alarm_id: str) -> None:
        super().__init__(f"no alarm {alarm_id!r}")
        self.alarm_id = alarm_id


class WrongStatus(ValueError):
    """A step the alarm's status does not allow (handling a handled alarm, acknowledging twice)."""

    def __init__(self, alarm_id: str, status: str, step: str) -> None:
        super().__init__(f"alarm {alarm_id!r} is {status}; cannot {step} it")
        self.alarm_id, self.status, self.step = alarm_id, status, step


def evidence(fixes: Sequence[Fix]) -> list[dict[str, Any]]:
    return [
        {
            "at": f.at.isoformat(),
            "lon": f.lon,
            "lat": f.lat,
            "speed_kmh": f.speed_kmh,
            "alarm_word": f.alarm_word,
        }
        for f in fixes
    ]


def record(alarm: Alarm, vehicle: Vehicle | None) -> dict[str, Any]:
    """An alarm as a `vehicles.alarms` row (times ISO 8601)."""
    return {
        "alarm_id": alarm.id,
        "rule": alarm.rule,
        "severity": alarm.severity,
        "phone": alarm.phone,
        "plate": alarm.plate,
        "vehicle_class": vehicle.vehicle_class if vehicle else None,
        "enterprise": vehicle.enterprise if vehicle else None,
        "started_at": alarm.started_at.isoformat(),
        "ended_at": alarm.ended_at.isoformat(),
        "detail": alarm.detail,
        "evidence": evidence(alarm.evidence),
    }


def upsert(store: Store, alarms: Sequence[Alarm], vehicles: dict[str, Vehicle]) -> list[Alarm]:
    """Insert alarms not stored yet; extend the end and evidence of stored ones. Return the new ones."""
    new = []
    with store.session() as session:
        ids = list({alarm.id for alarm in alarms})
        stored = {
            row.id: row
            for start in range(0, len(ids), 500)
            for row in session.scalars(select(AlarmRow).where(AlarmRow.id.in_(ids[start : start + 500])))
        }
        for alarm in alarms:
            row = stored.get(alarm.id)
            if row is None:
                vehicle = vehicles.get(alarm.phone)
                stored[alarm.id] = row = AlarmRow(
                    id=alarm.id,
                    rule=alarm.rule,
                    severity=alarm.severity,
                    phone=alarm.phone,
                    plate=alarm.plate,
                    enterprise=vehicle.enterprise if vehicle else None,
                    started_at=alarm.started_at,
                    ended_at=alarm.ended_at,
                    detail=alarm.detail,
                    evidence=evidence(alarm.evidence),
                    status="new",
                )
                session.add(row)
                new.append(alarm)
            elif row.ended_at != alarm.ended_at:
                row.ended_at, row.detail, row.evidence = (
                    alarm.ended_at,
                    alarm.detail,
                    evidence(alarm.evidence),
                )
    return new


def list_alarms(
    store: Store,
    *,
    status: str | None = None,
    rule: str | None = None,
    plates: Sequence[str] | None = None,
    limit: int = 100,
) -> list[AlarmRow]:
    """Alarms, newest first; `plates` limits them to some vehicles (a company's)."""
    query = select(AlarmRow).order_by(AlarmRow.started_at.desc(), AlarmRow.id).limit(limit)
    if status is not None:
        query = query.where(AlarmRow.status == status)
    if rule is not None:
        query = query.where(AlarmRow.rule == rule)
    if plates is not None:
        query = query.where(AlarmRow.plate.in_(list(plates)))
    with store.session() as session:
        return list(session.scalars(query))


def acknowledge(store: Store, alarm_id: str, *, by: str) -> AlarmRow:
    """new -> acknowledged."""
    with store.session() as session:
        row = session.get(AlarmRow, alarm_id)
        if row is None:
            raise AlarmNotFound(alarm_id)
        if row.status != "new":
            raise WrongStatus(alarm_id, row.status, "acknowledge")
        row.status, row.acknowledged_by, row.acknowledged_at = "acknowledged", by, utcnow()
        return row


def handle(store: Store, alarm_id: str, *, by: str, note: str) -> AlarmRow:
    """new or acknowledged -> handled, with a note of what was done."""
    with store.session() as session:
        row = session.get(AlarmRow, alarm_id)
        if row is None:
            raise AlarmNotFound(alarm_id)
        if row.status == "handled":
            raise WrongStatus(alarm_id, row.status, "handle")
        row.status, row.handled_by, row.handled_at, row.note = "handled", by, utcnow(), note
        return row
