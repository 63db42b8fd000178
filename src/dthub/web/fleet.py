"""What the console shows of the fleet (车辆监管): live positions, tracks, alarm counts, all through
`hub.access` exactly as the vehicles API reads them.

Every read names the person: `access.authorise` decides (and audits) what they get of
`vehicles.location_reports` and `vehicles.alarms`; a company sees its own vehicles only; plates, phones and
positions come back masked or coarsened below their level; a track is read through `hub.query`, so its
times are truncated too for a reader who gets coarse positions. A search may match a plate only when the
reader sees plates plain (a search over a masked value would let them test guesses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import func, select

from dthub.console import SHANGHAI
from dthub.domains.vehicles.api import ONLINE_WINDOW
from dthub.domains.vehicles.datasets import ALARMS, LOCATION_REPORTS
from dthub.domains.vehicles.tables import AlarmRow, LiveStateRow, VehicleRow
from dthub.hub import access, query
from dthub.hub.access import Decision
from dthub.hub.core import Hub
from dthub.hub.identity import Consumer

TRACK_POINTS = 5_000
"""Most fixes of one track the page plays back."""
MAP_ALARMS = 200
"""Most open alarms drawn on a map."""


@dataclass(frozen=True, kw_only=True)
class Live:
    """Live positions as the reader may see them, or why not (`refused` is an access reason)."""

    refused: str | None
    features: list[dict[str, Any]]
    plates_plain: bool = False
    positions_plain: bool = False

    @property
    def online(self) -> int:
        return sum(1 for f in self.features if f["properties"]["online"])

    def geojson(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": self.features}


def plates_in_scope(decision: Decision) -> tuple[str, ...] | None:
    """The plates a company reader is limited to; None when unscoped."""
    scope = decision.scope
    return None if scope.unscoped or scope.vehicle_column is None else scope.vehicles


def live(hub: Hub, me: Consumer, *, search: str = "", now: datetime | None = None) -> Live:
    """The last fix of every terminal the reader sees, as GeoJSON features (properties: plate, enterprise,
    speed, time, online), matched against `search` (plate or enterprise)."""
    decision = access.authorise(hub, me, LOCATION_REPORTS)
    if not decision.allowed:
        return Live(refused=decision.reason, features=[])
    scoped = plates_in_scope(decision)
    with hub.store.session() as session:
        query_rows = select(LiveStateRow, VehicleRow.enterprise).outerjoin(
            VehicleRow, VehicleRow.phone == LiveStateRow.phone
        )
        rows = [
            (row, enterprise) for row, enterprise in session.execute(query_rows.order_by(LiveStateRow.phone))
        ]
    if scoped is not None:
        rows = [(row, enterprise) for row, enterprise in rows if row.plate in scoped]
    plates_plain = decision.plain("plate")
    needle = search.strip().lower()
    if needle:
        rows = [
            (row, enterprise)
            for row, enterprise in rows
            if needle in (enterprise or "").lower() or (plates_plain and needle in (row.plate or "").lower())
        ]
    table = pa.table(
        {
            "phone": pa.array([r.phone for r, _ in rows], pa.string()),
            "plate": pa.array([r.plate for r, _ in rows], pa.string()),
            "enterprise": pa.array([e for _, e in rows], pa.string()),
            "lon": pa.array([r.lon for r, _ in rows], pa.float64()),
            "lat": pa.array([r.lat for r, _ in rows], pa.float64()),
        }
    )
    shown = access.apply(decision, LOCATION_REPORTS, table).to_pylist()
    moment = now or datetime.now(UTC)
    features = []
    for (row, _), view in zip(rows, shown, strict=True):
        lon, lat = view.get("lon"), view.get("lat")
        features.append(
            {
                "type": "Feature",
                "geometry": None
                if lon is None or lat is None
                else {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "plate": view.get("plate"),
                    "enterprise": view.get("enterprise"),
                    "speed_kmh": row.speed_kmh,
                    "direction": row.direction,
                    "reported_at": _utc(row.reported_at).isoformat(),
                    "online": moment - _utc(row.received_at) <= ONLINE_WINDOW,
                    "in_service": row.in_service,
                },
            }
        )
    return Live(
        refused=None,
        features=features,
        plates_plain=plates_plain,
        positions_plain=decision.plain("lon") and decision.plain("lat"),
    )


@dataclass(frozen=True, kw_only=True)
class Track:
    """One vehicle's fixes of one local day, oldest first, as the reader may see them."""

    plate: str
    day: date
    refused: str | None
    points: list[dict[str, Any]]
    coarse: bool = False


def track(hub: Hub, me: Consumer, plate: str, day: date) -> Track:
    """The fixes of `plate` on the local `day` (Asia/Shanghai), through `hub.query` (audited, masked,
    coarse in space and time below the location level). Refused when the reader may not filter on plates."""
    decision = access.authorise(hub, me, LOCATION_REPORTS)
    if not decision.allowed:
        return Track(plate=plate, day=day, refused=decision.reason, points=[])
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).astimezone(UTC)
    asked = query.RowQuery(
        fields=("reported_at", "lon", "lat", "speed_kmh"),
        filters=(query.Filter(column="plate", op="eq", values=(plate,)),),
        since=start,
        until=start + timedelta(days=1),
        sort=(("reported_at", False),),
        limit=TRACK_POINTS,
    )
    try:
        rows = query.read_page(hub, me, LOCATION_REPORTS, decision, asked, fmt="json").to_pylist()
    except query.QueryError as exc:
        return Track(plate=plate, day=day, refused=exc.reason, points=[])
    points = [
        {
            "at": _utc(row["reported_at"]).isoformat(),
            "lon": row["lon"],
            "lat": row["lat"],
            "speed_kmh": row["speed_kmh"],
        }
        for row in rows
        if row["lon"] is not None and row["lat"] is not None
    ]
    return Track(
        plate=plate,
        day=day,
        refused=None,
        points=points,
        coarse=access.coarsens_time(decision, LOCATION_REPORTS),
    )


def latest_day(hub: Hub) -> date | None:
    """The local day of the latest fix any terminal sent (where the KPIs and tracks default to)."""
    with hub.store.session() as session:
        latest = session.scalar(select(func.max(LiveStateRow.reported_at)))
    return None if latest is None else _utc(latest).astimezone(SHANGHAI).date()


@dataclass(frozen=True, kw_only=True)
class AlarmFigures:
    refused: str | None
    today: int = 0
    open: int = 0
    features: tuple[dict[str, Any], ...] = ()


def alarm_figures(hub: Hub, me: Consumer, *, since: datetime) -> AlarmFigures:
    """Alarms raised since `since` and alarms still open (new or acknowledged) of the vehicles the reader
    sees, and the open ones as map points (the last fix of their evidence, when the reader sees evidence)."""
    decision = access.authorise(hub, me, ALARMS)
    if not decision.allowed:
        return AlarmFigures(refused=decision.reason)
    scoped = plates_in_scope(decision)
    with hub.store.session() as session:
        base = select(AlarmRow)
        if scoped is not None:
            base = base.where(AlarmRow.plate.in_(scoped))
        today = session.scalar(
            select(func.count()).select_from(base.where(AlarmRow.raised_at >= since).subquery())
        )
        open_query = base.where(AlarmRow.status != "handled").order_by(AlarmRow.started_at.desc())
        open_rows = list(session.scalars(open_query))
    evidence = decision.fields.get("evidence") is not access.Treatment.WITHHELD
    features = []
    if evidence:
        for row in open_rows[:MAP_ALARMS]:
            fix = row.evidence[-1] if row.evidence else None
            if fix and fix.get("lon") is not None and fix.get("lat") is not None:
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [fix["lon"], fix["lat"]]},
                        "properties": {"rule": row.rule, "severity": row.severity, "status": row.status},
                    }
                )
    return AlarmFigures(refused=None, today=int(today or 0), open=len(open_rows), features=tuple(features))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
