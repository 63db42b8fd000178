"""HTTP routes of the vehicles domain, mounted at `/api/v1/vehicles`: live positions, tracks, alarms, daily
KPIs.

Thin: every read goes through `hub.access` (a grant on the dataset, clearance, masking, a company's own
vehicles only); precise positions and plates are personal information. A track is read through the
sharing layer itself (`hub.query`): a reader cleared for locations gets it precise, any other gets the
coordinates on the 1 km grid and the times truncated to 15 min (time windows widened to whole cells), as
every other read of the dataset; the read is audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Path, Query
from pydantic import Field
from sqlalchemy import select

from dthub.domains.vehicles import alarms as workflow
from dthub.domains.vehicles import kpis, registry
from dthub.domains.vehicles.config import supervision
from dthub.domains.vehicles.datasets import ALARMS, LOCATION_REPORTS
from dthub.domains.vehicles.tables import AlarmRow, LiveStateRow, VehicleRow
from dthub.hub import access, query
from dthub.hub.access import Decision
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.identity import Consumer
from dthub.hub.query import Filter, QueryError, RowQuery
from dthub.hub.web import INVALID_PARAMETERS, UNAUTHORISED, ApiProblem, ConsumerDep, HubDep, Model, answers

router = APIRouter()
ONLINE_WINDOW = timedelta(seconds=180)
"""A terminal heard from within this window is online."""
FORBIDDEN = "No live grant on the dataset, or a clearance below its level; `error` is the access reason."


class LivePosition(Model):
    phone: str | None = Field(description="Terminal phone; masked or absent below its level.")
    plate: str | None = Field(description="Plate; masked below its level.")
    reported_at: datetime = Field(
        description="Time of the last fix, UTC; truncated to 15 min below its level."
    )
    lon: float | None = Field(description="Longitude, WGS-84; snapped to a 1 km grid below its level.")
    lat: float | None = Field(description="Latitude, WGS-84; snapped to a 1 km grid below its level.")
    speed_kmh: float
    online: bool = Field(description="Heard from within the last 180 s.")
    in_service: bool = Field(description="Status bit 4 (停运) clear.")


class AlarmOut(Model):
    id: str
    rule: str
    severity: str
    plate: str | None
    enterprise: str | None
    started_at: datetime
    ended_at: datetime
    detail: str
    evidence: list[dict[str, Any]] | None = Field(description="The fixes; absent below the dataset's level.")
    status: str = Field(description="new, acknowledged or handled.")
    acknowledged_by: str | None
    handled_by: str | None
    note: str | None


class HandleBody(Model):
    note: str = Field(min_length=1, description="What was done.")


def _authorise(hub: Hub, consumer: Consumer, spec: DatasetSpec) -> Decision:
    decision = access.authorise(hub, consumer, spec)
    if not decision.allowed:
        raise ApiProblem(403, decision.reason, f"{consumer.actor} may not read {spec.id}")
    return decision


def _plates(decision: Decision) -> tuple[str, ...] | None:
    scope = decision.scope
    return None if scope.unscoped or scope.vehicle_column is None else scope.vehicles


@router.get(
    "/live",
    summary="Live positions",
    response_model=list[LivePosition],
    responses=answers(
        "The last fix of each terminal, masked as the reader's clearance requires.",
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
    ),
)
def get_live(hub: HubDep, consumer: ConsumerDep) -> list[LivePosition]:
    """The last fix of every terminal (a company: of its vehicles), online when heard from recently."""
    spec = hub.registry.dataset(LOCATION_REPORTS.id)
    decision = _authorise(hub, consumer, spec)
    plates = _plates(decision)
    with hub.store.session() as session:
        rows = list(session.scalars(select(LiveStateRow).order_by(LiveStateRow.phone)))
    if plates is not None:
        rows = [row for row in rows if row.plate in plates]
    table = pa.table(
        {
            "phone": pa.array([r.phone for r in rows], pa.string()),
            "plate": pa.array([r.plate for r in rows], pa.string()),
            "lon": pa.array([r.lon for r in rows], pa.float64()),
            "lat": pa.array([r.lat for r in rows], pa.float64()),
            "reported_at": pa.array([r.reported_at for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )
    shown = access.apply(decision, spec, table).to_pylist()
    now = datetime.now(UTC)
    return [
        LivePosition(
            phone=view.get("phone"),
            plate=view.get("plate"),
            reported_at=view["reported_at"],
            lon=view.get("lon"),
            lat=view.get("lat"),
            speed_kmh=row.speed_kmh,
            online=now - row.received_at <= ONLINE_WINDOW,
            in_service=row.in_service,
        )
        for row, view in zip(rows, shown, strict=True)
    ]


class TrackPoint(Model):
    reported_at: datetime = Field(description="Time of the fix, UTC; truncated to 15 min unless precise.")
    lon: float | None = Field(description="Longitude, WGS-84; on a 1 km grid unless precise.")
    lat: float | None = Field(description="Latitude, WGS-84; on a 1 km grid unless precise.")
    speed_kmh: float | None
    direction: int | None = Field(description="Heading, degrees, north 0, clockwise.")


class TrackOut(Model):
    plate: str
    precise: bool = Field(
        description="Coordinates and times as reported (a reader cleared for locations); false: coarsened "
        "by the sharing layer (1 km grid, 15 min)."
    )
    points: list[TrackPoint] = Field(description="Fixes oldest first.")


TRACK_FIELDS = ("reported_at", "lon", "lat", "speed_kmh", "direction")
MAX_TRACK_POINTS = 10_000


@router.get(
    "/tracks/{plate}",
    summary="A vehicle's track",
    response_model=TrackOut,
    responses=answers(
        "The fixes of the vehicle in the window, oldest first: precise for a reader cleared for locations, "
        "else coarsened (1 km, 15 min) by the sharing layer.",
        not_found="No such plate in the registry, or not your company's; `error` is `vehicle.not_found`.",
        invalid=INVALID_PARAMETERS + " `error` `query.field_not_plain`: the plate is masked for you.",
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
    ),
)
def get_track(
    hub: HubDep,
    consumer: ConsumerDep,
    plate: Annotated[str, Path(min_length=1, max_length=32, description="Plate number, e.g. 津A00001.")],
    since: Annotated[datetime | None, Query(description="From (inclusive), ISO 8601 with offset.")] = None,
    until: Annotated[datetime | None, Query(description="Until (exclusive), ISO 8601 with offset.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TRACK_POINTS)] = 1000,
) -> TrackOut:
    """轨迹 A vehicle's fixes (a company: of its own vehicles), through the sharing layer."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ApiProblem(422, "request.invalid", f"query.{name}: want a time with an offset, got {value}")
    spec = hub.registry.dataset(LOCATION_REPORTS.id)  # as this hub declares it (its level)
    decision = _authorise(hub, consumer, spec)
    plates = _plates(decision)
    with hub.store.session() as session:
        known = session.scalars(select(VehicleRow.plate).where(VehicleRow.plate == plate)).first()
    if known is None or (plates is not None and plate not in plates):  # unknown and not yours: alike
        raise ApiProblem(404, "vehicle.not_found", f"no vehicle {plate!r} in your view of the registry")
    vehicle = Filter(column="plate", op="eq", values=(plate,))
    asked = RowQuery(fields=TRACK_FIELDS, filters=(vehicle,), since=since, until=until,
                     sort=(("reported_at", False),), limit=limit)  # fmt: skip
    try:
        query.check(spec, decision, asked)
    except QueryError as exc:
        raise ApiProblem(422, exc.reason, exc.detail) from None
    rows = query.read_page(hub, consumer, spec, decision, asked, fmt="json").to_pylist()
    precise = not access.coarsens_time(decision, spec)
    return TrackOut(plate=plate, precise=precise, points=[TrackPoint(**row) for row in rows])


def _alarm_out(row: AlarmRow, decision: Decision) -> AlarmOut:
    table = pa.table({"plate": pa.array([row.plate], pa.string()), "evidence": pa.array([""], pa.string())})
    view = access.apply(decision, ALARMS, table).to_pylist()[0]
    return AlarmOut(
        id=row.id,
        rule=row.rule,
        severity=row.severity,
        plate=view.get("plate"),
        enterprise=row.enterprise,
        started_at=row.started_at,
        ended_at=row.ended_at,
        detail=row.detail,
        evidence=row.evidence if "evidence" in view else None,
        status=row.status,
        acknowledged_by=row.acknowledged_by,
        handled_by=row.handled_by,
        note=row.note,
    )


@router.get(
    "/alarms",
    summary="Supervision alarms",
    response_model=list[AlarmOut],
    responses=answers(
        "Alarms, newest first.", invalid=INVALID_PARAMETERS, unauthorised=UNAUTHORISED, forbidden=FORBIDDEN
    ),
)
def get_alarms(
    hub: HubDep,
    consumer: ConsumerDep,
    status: Annotated[str | None, Query(pattern="^(new|acknowledged|handled)$")] = None,
    rule: Annotated[str | None, Query(description="A rule key, e.g. overspeed.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlarmOut]:
    """Alarms the supervision rules raised (a company: of its vehicles), with their workflow state."""
    decision = _authorise(hub, consumer, ALARMS)
    rows = workflow.list_alarms(hub.store, status=status, rule=rule, plates=_plates(decision), limit=limit)
    return [_alarm_out(row, decision) for row in rows]


AlarmId = Annotated[str, Path(description="Alarm id, `<rule>:<phone>:<start>`.")]


def _step(hub: Hub, consumer: Consumer, alarm_id: str, note: str | None) -> AlarmOut:
    decision = _authorise(hub, consumer, ALARMS)
    try:
        if note is None:
            row = workflow.acknowledge(hub.store, alarm_id, by=consumer.actor)
        else:
            row = workflow.handle(hub.store, alarm_id, by=consumer.actor, note=note)
    except workflow.AlarmNotFound as exc:
        raise ApiProblem(404, "alarm.not_found", str(exc)) from None
    except workflow.WrongStatus as exc:
        raise ApiProblem(409, "alarm.wrong_status", str(exc)) from None
    return _alarm_out(row, decision)


@router.post(
    "/alarms/{alarm_id}/acknowledge",
    summary="Acknowledge an alarm",
    response_model=AlarmOut,
    responses=answers(
        "The alarm, now acknowledged.",
        not_found="No such alarm; `error` is `alarm.not_found`.",
        conflict="The alarm is not new; `error` is `alarm.wrong_status`.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
    ),
)
def acknowledge_alarm(hub: HubDep, consumer: ConsumerDep, alarm_id: AlarmId) -> AlarmOut:
    """new -> acknowledged, recording who."""
    return _step(hub, consumer, alarm_id, None)


@router.post(
    "/alarms/{alarm_id}/handle",
    summary="Handle an alarm",
    response_model=AlarmOut,
    responses=answers(
        "The alarm, now handled.",
        not_found="No such alarm; `error` is `alarm.not_found`.",
        conflict="The alarm is already handled; `error` is `alarm.wrong_status`.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
    ),
)
def handle_alarm(hub: HubDep, consumer: ConsumerDep, alarm_id: AlarmId, body: HandleBody) -> AlarmOut:
    """new or acknowledged -> handled, with a note of what was done and who did it."""
    return _step(hub, consumer, alarm_id, body.note)


class KpisOut(Model):
    """One enterprise's KPIs for one local day (definitions: `docs/api.md`, 车辆监管考核指标)."""

    enterprise: str
    day: date = Field(description="Local (Asia/Shanghai) day.")
    vehicles: int = Field(description="Vehicles of the enterprise in the registry.")
    online: int = Field(description="Of them, vehicles with at least one fix that day.")
    online_rate: float | None = Field(description="online / vehicles (上线率).")
    fixes: int
    driving_fixes: int = Field(description="Fixes received while driving.")
    expected_fixes: int = Field(description="Fixes expected at the 30 s interval over the time driven.")
    track_completeness: float | None = Field(description="driving / expected fixes, at most 1 (轨迹完整率).")
    qualified_fixes: int = Field(description="Fixes with valid coordinates, time and speed.")
    data_qualified_rate: float | None = Field(description="qualified_fixes / fixes (数据合格率).")
    drift_fixes: int = Field(description="Fixes whose implied speed from the last good fix exceeds 160 km/h.")
    drift_rate: float | None = Field(description="drift_fixes / fixes (漂移率).")
    violations: int = Field(description="Alarms started that day, less device alarms and geofence notices.")
    violations_per_100: float | None = Field(description="violations × 100 / vehicles.")


"""Days the KPIs can be asked for (a local day's bounds in UTC must exist)."""


@router.get(
    "/kpis",
    summary="Daily KPIs per enterprise",
    response_model=list[KpisOut],
    responses=answers(
        "One record per enterprise of the registry (a company: its own), by enterprise name.",
        invalid=INVALID_PARAMETERS,
        unauthorised=UNAUTHORISED,
        forbidden=FORBIDDEN,
    ),
)
def get_kpis(
    hub: HubDep,
    consumer: ConsumerDep,
    day: Annotated[date, Query(description="Local (Asia/Shanghai) day, YYYY-MM-DD.")],
) -> list[KpisOut]:
    """Online rate, track completeness, data-qualified rate, drift rate and violations per 100 vehicles."""
    if not kpis.FIRST_DAY <= day <= kpis.LAST_DAY:
        raise ApiProblem(
            422, "request.invalid", f"query.day: want {kpis.FIRST_DAY} to {kpis.LAST_DAY}, got {day}"
        )
    plates = _plates(_authorise(hub, consumer, LOCATION_REPORTS))
    vehicles = registry.load(hub.store)
    if plates is not None:
        vehicles = {phone: v for phone, v in vehicles.items() if v.plate in plates}
    configured = supervision(hub.settings, vehicles)
    found = kpis.read_day(hub, day, vehicles=vehicles, rules=configured.rules, config=configured.kpis)
    return [KpisOut(**vars(k)) for k in found]
