"""The trip planner reads the hub (行程规划服务): its service identity, and GTFS feeds and GTFS-RT TripUpdates
read back from the landed `transit.*` datasets.

The planner is an application of the hub, `maas-planner` (服务身份), granted read on the datasets it plans
over through the ordinary workflow (a request for "trip planning", approved and provisioned by a steward:
`provision_planner`, `dthub access planner`). Every read is `hub.access`-checked (the decision is audited),
masked as the decision says and written to the audit log with its purpose, as `hub.query` does for the rows
route. Riders do not read the datasets: they get itineraries.

A feed landed by the `gtfs.*` adapters is rebuilt as a `gtfs.Feed` (ids without their `<feed>:` namespace,
values as the GTFS text they came from), so `build_timetable` plans on it as on the files: agency.txt
(`transit.agencies`), whose agency_timezone turns GTFS-RT absolute times into times of the service day (时区),
and transfers.txt (`transit.transfers`), whose minimum transfer times the timetable applies, with stops,
routes, trips, stop times and calendars. A feed landed without an agency row (before `transit.agencies`
existed) takes the hub's setting `DTHUB_TRANSIT_TIMEZONE` as its time zone.

TripUpdates belong to a feed when they landed with `source` equal to the feed's name; per trip, the rows of
the latest FeedMessage at or before the moment asked, and no older than `DTHUB_TRANSIT_REALTIME_MAX_AGE_S`.
A bike-share system is the GBFS landed in `transit.bike_stations` and `transit.bike_station_status` under its
`system`: its stations, and the polls of the 15 minutes before the moment asked (`gbfs.network_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select

from dthub.domains.transit.datasets import (
    AGENCIES,
    CALENDAR,
    CALENDAR_DATES,
    GTFS_DATASETS,
    ROUTES,
    STOP_TIMES,
    STOPS,
    TRANSFERS,
    TRIPS,
)
from dthub.domains.transit.gbfs import Station, StationStatus, StatusSnapshot
from dthub.domains.transit.gbfs_ingest import BIKE_STATION_STATUS, BIKE_STATIONS
from dthub.domains.transit.gtfs import WEEKDAYS, Feed
from dthub.domains.transit.realtime import StopTimeEvent, StopTimeUpdate, TripRef, TripUpdate
from dthub.domains.transit.realtime_ingest import STOP_TIME_UPDATES
from dthub.hub import access, access_requests, identity, query
from dthub.hub.access import Decision
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.errors import Refusal
from dthub.hub.identity import Consumer, IdentityError
from dthub.hub.identity_tables import GrantRow
from dthub.hub.tables import BatchRow, LakeFileRow, utcnow

PLANNER_ID = "maas-planner"
PLANNER_NAME = "出行规划服务 Trip planner (service identity)"
PURPOSE = "trip planning (行程规划)"
BIKE_DATASETS: tuple[DatasetSpec, ...] = (BIKE_STATIONS, BIKE_STATION_STATUS)
PLANNER_DATASETS: tuple[DatasetSpec, ...] = (*GTFS_DATASETS, STOP_TIME_UPDATES, *BIKE_DATASETS)
"""What the planner reads."""
BIKE_STATUS_MAX_AGE_S = 900
"""A station's status is unknown when its latest poll is older than this (`gbfs.network_at`)."""
GRANT_DAYS = 365
RENEW_WITHIN = timedelta(days=30)
"""`provision_planner` renews a grant that expires sooner than this."""
ALL_ROWS = 2**62
LAST_CHAR = "\U0010ffff"


class PlannerUnavailable(Refusal):
    """The planner cannot read the hub: its identity or a grant is missing (`planner.not_provisioned`)."""


# --- the service identity ---------------------------------------------------------------------------------


def planner_clearance() -> Level:
    """The level of the most sensitive dataset the planner reads: the clearance it needs."""
    return max((spec.level for spec in PLANNER_DATASETS), key=lambda level: level.rank)


def provision_planner(hub: Hub, steward: Consumer, *, days: int = GRANT_DAYS) -> list[GrantRow]:
    """Create the planner's application if missing, and grant it each dataset it reads for `days` where it
    holds no grant living `RENEW_WITHIN` more: requested for trip planning, approved and provisioned by
    `steward` (an admin, or the data steward of `transit.*`). Idempotent; returns the grants made. Someone
    else is refused (`access_requests.Forbidden`) before anything is made."""
    if steward.role not in access_requests.STEWARDS:
        raise access_requests.Forbidden(
            "access.not_steward", f"{steward.actor} is not a data steward or an admin"
        )
    for spec in PLANNER_DATASETS:
        if not access_requests.stewards(steward, spec.id):
            raise access_requests.Forbidden(
                "access.not_its_steward", f"{steward.actor} stewards {list(steward.scopes)}, not {spec.id}"
            )
    try:
        planner = identity.consumer(hub.store, "application", PLANNER_ID)
    except IdentityError:
        planner = identity.add_application(
            hub.store,
            PLANNER_ID,
            name=PLANNER_NAME,
            clearance=planner_clearance(),
            scopes=tuple(spec.id for spec in PLANNER_DATASETS),
            by=steward.actor,
        )
    made = []
    for spec in PLANNER_DATASETS:
        grant = access.active_grant(hub.store, planner.actor, spec.id)
        if grant is not None and _aware(grant.expires_at) > utcnow() + RENEW_WITHIN:
            continue
        asked = access_requests.request(
            hub, planner, spec.id, purpose=PURPOSE, expires_at=utcnow() + timedelta(days=days)
        )
        access_requests.decide(
            hub, asked.id, steward, approve=True, note="服务身份 the hub's own trip planner"
        )
        made.append(access_requests.provision(hub, asked.id, steward))
    return made


def _aware(moment: datetime) -> datetime:
    """Stores such as SQLite give naive UTC back."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def planner(hub: Hub) -> Consumer:
    """The planner's identity when it may read every dataset it needs (checked, not audited: nothing is
    read); `PlannerUnavailable` naming what is missing otherwise."""
    try:
        consumer = identity.consumer(hub.store, "application", PLANNER_ID)
    except IdentityError:
        raise PlannerUnavailable(
            "planner.not_provisioned",
            f"the hub has no application {PLANNER_ID!r}; an operator runs `dthub access planner --as "
            "person:<admin>`",
        ) from None
    ids = [spec.id for spec in PLANNER_DATASETS]
    live = (
        select(GrantRow.dataset_id)
        .where(
            GrantRow.consumer == consumer.actor,
            GrantRow.dataset_id.in_(ids),
            GrantRow.revoked_at.is_(None),
            GrantRow.expires_at > utcnow(),
        )
        .distinct()
    )
    with hub.store.session() as session:
        granted = set(session.scalars(live))
    for spec in PLANNER_DATASETS:
        decision = access.decide(consumer, spec, granted=spec.id in granted)
        if not decision.allowed:
            raise PlannerUnavailable(
                "planner.not_provisioned",
                f"{consumer.actor} may not read {spec.id} ({decision.reason}); an operator runs `dthub "
                "access planner --as person:<admin>`",
            )
    return consumer


# --- governed reads ---------------------------------------------------------------------------------------


def read_rows(
    hub: Hub,
    consumer: Consumer,
    spec: DatasetSpec,
    *,
    filters: Sequence[query.Filter] = (),
    fields: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    sort: tuple[tuple[str, bool], ...] = (),
    limit: int = ALL_ROWS,
) -> pa.Table:
    """The rows of `spec` the filters select (all, unless `limit`), as `consumer` may see it: access decided
    (audited), rows scoped, values decrypted then masked; the read is audited with its purpose, trip
    planning."""
    decision: Decision = access.authorise(hub, consumer, spec)
    if not decision.allowed:
        raise PlannerUnavailable(
            "planner.not_provisioned", f"{consumer.actor}: {decision.reason} on {spec.id}"
        )
    rows_query = query.RowQuery(
        fields=tuple(fields), filters=tuple(filters), since=since, until=until, sort=sort, limit=limit
    )
    return query.read_page(hub, consumer, spec, decision, rows_query, fmt="arrow", purpose=PURPOSE)


def landed_version(hub: Hub, specs: Sequence[DatasetSpec] = PLANNER_DATASETS) -> tuple[int, ...]:
    """Per dataset, the id of its newest visible lake file (0 when none): changes with every landing."""
    ids = [spec.id for spec in specs]
    newest = (
        select(LakeFileRow.dataset_id, func.max(LakeFileRow.id))
        .join(BatchRow, BatchRow.id == LakeFileRow.batch_id)
        .where(LakeFileRow.dataset_id.in_(ids), BatchRow.status == "committed")
        .group_by(LakeFileRow.dataset_id)
    )
    with hub.store.session() as session:
        found = {str(dataset): int(file) for dataset, file in session.execute(newest)}
    return tuple(found.get(dataset, 0) for dataset in ids)


def landed_feeds(hub: Hub, consumer: Consumer) -> list[str]:
    """Names of the GTFS feeds landed in `transit.routes` (every feed has routes), sorted."""
    rows = read_rows(hub, consumer, ROUTES, fields=("feed",))
    return sorted({str(name) for name in rows["feed"].to_pylist() if name is not None})


# --- a landed feed as GTFS ---------------------------------------------------------------------------------


def _in_feed(name: str) -> query.Filter:
    return query.Filter(column="feed", op="eq", values=(name,))


def _namespaced(column: str, name: str) -> query.Filter:
    """Ids `<name>:...`: the rows of one feed in a dataset without a `feed` column."""
    return query.Filter(column=column, op="range", values=(f"{name}:", f"{name}:{LAST_CHAR}"))


def _bare(values: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Ids without their `<name>:` namespace."""
    return pc.utf8_slice_codeunits(values, len(name) + 1)


def _text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(values, pa.string())


def _flag(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(values, "1", "0")


def _date(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.strftime(values, format="%Y%m%d")


def _time(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Seconds after midnight → GTFS `H:MM:SS` (hours may pass 24)."""
    hours = pc.divide(values, 3600)
    minutes = pc.divide(pc.subtract(values, pc.multiply(hours, 3600)), 60)
    secs = pc.subtract(values, pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)))

    def two(part: pa.ChunkedArray) -> pa.ChunkedArray:
        return pc.utf8_lpad(pc.cast(part, pa.string()), width=2, padding="0")

    return pc.binary_join_element_wise(pc.cast(hours, pa.string()), two(minutes), two(secs), ":")


ID, TEXT = "id", "text"
FILES: tuple[tuple[str, DatasetSpec, dict[str, tuple[str, str]]], ...] = (
    (
        "agency.txt",
        AGENCIES,
        {
            "agency_id": ("agency_id", ID),
            "agency_name": ("name", TEXT),
            "agency_url": ("url", TEXT),
            "agency_timezone": ("timezone", TEXT),
            "agency_lang": ("lang", TEXT),
            "agency_phone": ("phone", TEXT),
        },
    ),
    (
        "stops.txt",
        STOPS,
        {
            "stop_id": ("stop_id", ID),
            "stop_name": ("stop_name", TEXT),
            "stop_lat": ("stop_lat", TEXT),
            "stop_lon": ("stop_lon", TEXT),
            "parent_station": ("parent_station", ID),
            "location_type": ("location_type", TEXT),
        },
    ),
    (
        "routes.txt",
        ROUTES,
        {
            "route_id": ("route_id", ID),
            "route_short_name": ("route_short_name", TEXT),
            "route_long_name": ("route_long_name", TEXT),
            "route_type": ("route_type", TEXT),
            "agency_id": ("agency_id", TEXT),
        },
    ),
    (
        "trips.txt",
        TRIPS,
        {
            "trip_id": ("trip_id", ID),
            "route_id": ("route_id", ID),
            "service_id": ("service_id", ID),
            "trip_headsign": ("trip_headsign", TEXT),
            "direction_id": ("direction_id", TEXT),
            "shape_id": ("shape_id", ID),
        },
    ),
    (
        "stop_times.txt",
        STOP_TIMES,
        {
            "trip_id": ("trip_id", ID),
            "stop_sequence": ("stop_sequence", TEXT),
            "stop_id": ("stop_id", ID),
            "arrival_time": ("arrival_s", "time"),
            "departure_time": ("departure_s", "time"),
            "shape_dist_traveled": ("shape_dist_traveled", TEXT),
            "timepoint": ("timepoint", TEXT),
        },
    ),
    (
        "calendar.txt",
        CALENDAR,
        {
            "service_id": ("service_id", ID),
            **{day: (day, "flag") for day in WEEKDAYS},
            "start_date": ("start_date", "date"),
            "end_date": ("end_date", "date"),
        },
    ),
    (
        "calendar_dates.txt",
        CALENDAR_DATES,
        {
            "service_id": ("service_id", ID),
            "date": ("date", "date"),
            "exception_type": ("exception_type", TEXT),
        },
    ),
    (
        "transfers.txt",
        TRANSFERS,
        {
            "from_stop_id": ("from_stop_id", ID),
            "to_stop_id": ("to_stop_id", ID),
            "from_route_id": ("from_route_id", ID),
            "to_route_id": ("to_route_id", ID),
            "from_trip_id": ("from_trip_id", ID),
            "to_trip_id": ("to_trip_id", ID),
            "transfer_type": ("transfer_type", TEXT),
            "min_transfer_time": ("min_transfer_time", TEXT),
        },
    ),
)
"""Each GTFS file the timetable reads, the dataset it landed in, and its columns there."""


def gtfs_table(rows: pa.Table, columns: dict[str, tuple[str, str]], name: str) -> pa.Table:
    """Landed rows of one feed as the GTFS file they came from: text values, ids without the namespace;
    columns the reader does not see are left out."""
    out: dict[str, pa.ChunkedArray] = {}
    for gtfs_column, (column, kind) in columns.items():
        if column not in rows.column_names:
            continue
        values = rows[column]
        if kind == ID:
            out[gtfs_column] = _bare(values, name)
        elif kind == "time":
            out[gtfs_column] = _time(values)
        elif kind == "flag":
            out[gtfs_column] = _flag(values)
        elif kind == "date":
            out[gtfs_column] = _date(values)
        else:
            out[gtfs_column] = _text(values)
    return pa.table(out)


def landed_feed(hub: Hub, consumer: Consumer, name: str) -> Feed:
    """The GTFS feed `name` as landed, read as `consumer` (see the module docstring); without a landed
    agency, agency.txt holds only the hub's time zone (`DTHUB_TRANSIT_TIMEZONE`)."""
    tables: dict[str, pa.Table] = {}
    for file, spec, columns in FILES:
        in_feed = _in_feed(name) if "feed" in spec.schema.names else _namespaced("trip_id", name)
        rows = read_rows(hub, consumer, spec, filters=(in_feed,))
        if rows.num_rows or file in ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt"):
            tables[file] = gtfs_table(rows, columns, name)
    if "agency.txt" not in tables:
        tables["agency.txt"] = pa.table({"agency_timezone": pa.array([hub.settings.transit_timezone])})
    return Feed(name, tables)


# --- GTFS-RT TripUpdates -----------------------------------------------------------------------------------


def trip_updates(
    hub: Hub, consumer: Consumer, source: str, at: datetime, *, max_age_s: int
) -> list[TripUpdate]:
    """The TripUpdates landed under `source` that hold at `at`: per trip, those of the latest FeedMessage in
    (`at` - `max_age_s`, `at`]."""
    rows = read_rows(
        hub,
        consumer,
        STOP_TIME_UPDATES,
        filters=(query.Filter(column="source", op="eq", values=(source,)),),
        since=at - timedelta(seconds=max_age_s),
        until=at + timedelta(microseconds=1),
    )
    return updates_of(rows.to_pylist())


def _trip_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["trip_id"], row["route_id"], row["direction_id"], row["start_date"], row["start_time"])


def updates_of(rows: Sequence[dict[str, Any]]) -> list[TripUpdate]:
    """`transit.stop_time_updates` rows as TripUpdates: per trip, the rows of its latest FeedMessage, in
    update order."""
    latest: dict[tuple[Any, ...], datetime] = {}
    for row in rows:
        key = _trip_key(row)
        if key not in latest or row["feed_time"] > latest[key]:
            latest[key] = row["feed_time"]
    entities: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = _trip_key(row)
        if row["feed_time"] == latest[key]:
            entities.setdefault((key, row["entity_id"]), []).append(row)
    updates = []
    for (_, entity_id), parts in entities.items():
        parts.sort(key=lambda row: int(row["update_index"]))
        first = parts[0]
        updates.append(
            TripUpdate(
                entity_id=str(entity_id),
                trip=TripRef(
                    trip_id=first["trip_id"],
                    route_id=first["route_id"],
                    direction_id=first["direction_id"],
                    start_date=first["start_date"],
                    start_time=first["start_time"],
                    schedule_relationship=first["trip_relationship"] or "SCHEDULED",
                ),
                vehicle_id=first["vehicle_id"],
                timestamp=int(_utc(first["feed_time"]).timestamp()),
                delay=first["trip_delay_s"],
                updates=tuple(_stop_update(row) for row in parts if int(row["update_index"]) >= 0),
            )
        )
    return updates


def _utc(moment: datetime) -> datetime:
    """The lake gives naive UTC back."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def _event(row: dict[str, Any], prefix: str) -> StopTimeEvent | None:
    delay, moment = row[f"{prefix}_delay_s"], row[f"{prefix}_time"]
    if delay is None and moment is None:
        return None
    return StopTimeEvent(delay=delay, time=int(_utc(moment).timestamp()) if moment is not None else None)


def _stop_update(row: dict[str, Any]) -> StopTimeUpdate:
    return StopTimeUpdate(
        stop_sequence=row["stop_sequence"],
        stop_id=row["stop_id"],
        arrival=_event(row, "arrival"),
        departure=_event(row, "departure"),
        schedule_relationship=row["stop_relationship"] or "SCHEDULED",
    )


# --- GBFS bike share ----------------------------------------------------------------------------------------


def landed_systems(hub: Hub, consumer: Consumer) -> list[str]:
    """Names of the bike-share systems landed in `transit.bike_stations`, sorted."""
    rows = read_rows(hub, consumer, BIKE_STATIONS, fields=("system",))
    return sorted({str(name) for name in rows["system"].to_pylist() if name is not None})


def bike_stations(hub: Hub, consumer: Consumer, system: str) -> list[Station]:
    """The system's landed stations."""
    in_system = query.Filter(column="system", op="eq", values=(system,))
    return [
        Station(
            station_id=row["station_id"],
            name=row.get("name") or row["station_id"],
            lat=row["lat"],
            lon=row["lon"],
            capacity=row.get("capacity"),
            address=row.get("address"),
        )
        for row in read_rows(hub, consumer, BIKE_STATIONS, filters=(in_system,)).to_pylist()
    ]


def bike_status(
    hub: Hub, consumer: Consumer, system: str, at: datetime | None, *, max_age_s: int = BIKE_STATUS_MAX_AGE_S
) -> list[StatusSnapshot]:
    """The system's landed polls in the `max_age_s` before `at` (before its latest poll when None), oldest
    first: what `gbfs.network_at` needs."""
    in_system = query.Filter(column="system", op="eq", values=(system,))
    if at is None:
        newest = read_rows(hub, consumer, BIKE_STATION_STATUS, filters=(in_system,), fields=("polled_at",),
                           sort=(("polled_at", True),), limit=1)  # fmt: skip
        if newest.num_rows == 0:
            return []
        at = _utc(newest["polled_at"][0].as_py())
    rows = read_rows(
        hub,
        consumer,
        BIKE_STATION_STATUS,
        filters=(in_system,),
        since=at - timedelta(seconds=max_age_s),
        until=at + timedelta(microseconds=1),
    )
    polls: dict[int, list[StationStatus]] = {}
    for row in rows.to_pylist():
        reported = row["last_reported"]
        polls.setdefault(int(_utc(row["polled_at"]).timestamp()), []).append(
            StationStatus(
                station_id=row["station_id"],
                bikes=row["bikes_available"],
                docks=row["docks_available"] or 0,
                installed=row["is_installed"] is not False,
                renting=row["is_renting"] is not False,
                returning=row["is_returning"] is not False,
                last_reported=int(_utc(reported).timestamp()) if reported is not None else None,
            )
        )
    return [StatusSnapshot(last_updated=t, stations=tuple(polls[t])) for t in sorted(polls)]
