"""The lake writer: consumes the gateway's stream, lands reports, keeps live state, runs the rules.

One cycle: read a batch from the bus (consumer group `lake-writer`), land it through `hub.ingest` with the
`jt808.gateway_frames` adapter (refused frames go to quarantine, redelivered reports are dropped by the
dataset key), then acknowledge it. The frames are decoded once: the rows the adapter made for landing
are the rows the rest reads. After landing, the last fix of each terminal is upserted into
`vehicle_live` in one statement, and each terminal's `TrackRules` (its rule state) is fed only the new
fixes; new alarms go to the workflow table and land in `vehicles.alarms`.

A fix older than the last one its terminal fed (a blind-zone backfill, 补报) rebuilds that terminal's rule
state from the fixes of the last `track_hours`, kept in memory for this. Every `offline_every_s` the
writer looks for terminals silent while in service (在线离线) and raises or grows their offline alarm,
without waiting for the next fix; a writer that starts takes each terminal's last fix from the live state,
so a terminal silent since before a restart is found too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from shapely.geometry import LineString  # type: ignore[import-untyped]
from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from dthub.domains.vehicles import alarms as workflow
from dthub.domains.vehicles.gateway import STREAM
from dthub.domains.vehicles.ingest.bus_jt808 import AlarmRecords, GatewayFrames
from dthub.domains.vehicles.jt808._build import fast_constructor
from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.rules import Alarm, Fix, Geofence, RuleConfig, SpeedLimit, TrackRules, latest
from dthub.domains.vehicles.tables import LiveStateRow
from dthub.hub.bus import Bus, Delivery
from dthub.hub.core import Hub
from dthub.hub.ingest import BatchResult, ingest_bytes

GROUP = "lake-writer"
_new_fix = fast_constructor(Fix)
IN_SERVICE_MASK = 1 << 4
"""Status bit 4: out of service (停运)."""


@dataclass
class WriterStats:
    batches: int = 0
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicate: int = 0
    alarms: int = 0
    rebuilt: int = 0
    """Terminals whose rule state was rebuilt for a fix older than their last one."""
    sweeps: int = 0
    results: list[BatchResult] = field(default_factory=list)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class Writer:
    """Consume `stream` into the lake; `await writer.step()` once, or `await writer.run(stop)`."""

    def __init__(
        self,
        hub: Hub,
        bus: Bus,
        vehicles: dict[str, Vehicle],
        *,
        rules: RuleConfig | None = None,
        areas: Sequence[Geofence] = (),
        routes: Mapping[str, LineString] | None = None,
        speed_limit: SpeedLimit | None = None,
        stream: str = STREAM,
        consumer: str = "writer-1",
        batch_size: int = 2_000,
        block_ms: int = 200,
        track_hours: float = 25.0,
        offline_every_s: float = 60.0,
        clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self.hub, self.bus, self.vehicles = hub, bus, vehicles
        self.rules = rules or RuleConfig()
        self.areas = tuple(areas)
        self.routes = dict(routes or {})
        """Assigned route (lon/lat LineString) of each fixed-route vehicle, by terminal phone."""
        self.speed_limit = speed_limit
        self.stream, self.consumer = stream, consumer
        self.batch_size, self.block_ms = batch_size, block_ms
        self.track = timedelta(hours=track_hours)
        self.tracks: dict[str, deque[Fix]] = {}
        self.states: dict[str, TrackRules] = {}
        self.offline_every_s, self.clock = offline_every_s, clock
        self.stats = WriterStats()
        self._started = False
        self._last_sweep = time.monotonic()

    @classmethod
    def from_settings(
        cls,
        hub: Hub,
        bus: Bus,
        vehicles: dict[str, Vehicle],
        *,
        speed_limit: SpeedLimit | None = None,
        **options: Any,
    ) -> Writer:
        """A writer with the rules, geofences and routes of the hub's settings (`config.supervision`),
        the posted limits of the road segments in the lake (unless `speed_limit` is given), sweeping
        every `DTHUB_VEHICLES_OFFLINE_EVERY_S`."""
        from dthub.domains.vehicles.config import supervision
        from dthub.domains.vehicles.segments import SegmentLimits

        found = supervision(hub.settings, vehicles)
        if speed_limit is None and len(segments := SegmentLimits.read(hub)):
            speed_limit = segments
        options.setdefault("offline_every_s", hub.settings.vehicles_offline_every_s)
        return cls(hub, bus, vehicles, rules=found.rules, areas=found.areas, routes=found.routes,
                   speed_limit=speed_limit, **options)  # fmt: skip

    async def step(self) -> int:
        """One cycle; return the messages handled (0 when the stream had none)."""
        if not self._started:
            await self.bus.ensure_group(self.stream, GROUP)
            await asyncio.to_thread(self._resume)
            self._started = True
            deliveries = await self.bus.claim_stale(
                self.stream, GROUP, self.consumer, min_idle_ms=0, count=self.batch_size
            )
        else:
            deliveries = []
        if not deliveries:
            deliveries = await self.bus.read(
                self.stream, GROUP, self.consumer, count=self.batch_size, block_ms=self.block_ms
            )
        if not deliveries:
            return 0
        await asyncio.to_thread(self._land, deliveries)
        await self.bus.ack(self.stream, GROUP, *(d.id for d in deliveries))
        return len(deliveries)

    async def run(self, stop: asyncio.Event) -> None:
        """Cycle until `stop` is set and the stream is drained; sweep for silent terminals every
        `offline_every_s` meanwhile."""
        while True:
            handled = await self.step()
            if time.monotonic() - self._last_sweep >= self.offline_every_s:
                await asyncio.to_thread(self.sweep)
            if handled == 0 and stop.is_set():
                return

    def sweep(self) -> list[Alarm]:
        """Raise or grow the offline alarm of every terminal silent in service for over `offline_s` at
        the clock's now; return those alarms."""
        self._last_sweep = time.monotonic()
        self.stats.sweeps += 1
        now = self.clock()
        found = [a for state in self.states.values() if (a := state.silence(now)) is not None]
        self._store_alarms(found)
        return found

    def _resume(self) -> None:
        """Start each terminal's rule state from its live state (its last fix landed before this writer
        started), so that the offline sweep also sees terminals silent since before a restart."""
        with self.hub.store.session() as session:
            rows = list(session.scalars(select(LiveStateRow)))
        for row in rows:
            if row.phone in self.states:
                continue
            vehicle = self.vehicles.get(row.phone)
            kind = vehicle.vehicle_class if vehicle else None
            last = Fix(phone=row.phone, plate=row.plate, vehicle_class=kind, at=row.reported_at,
                       received_at=row.received_at, lon=row.lon, lat=row.lat, speed_kmh=row.speed_kmh,
                       direction=row.direction,
                       status_word=0 if row.in_service else IN_SERVICE_MASK)  # fmt: skip
            state = self.states[row.phone] = self._state(row.phone)
            state.feed([last])
            self.tracks[row.phone] = deque([last])

    def _land(self, deliveries: list[Delivery]) -> None:
        data = b"\n".join(d.message["line"] for d in deliveries) + b"\n"
        source = f"bus:{self.stream}:{deliveries[0].id}..{deliveries[-1].id}"
        adapter = GatewayFrames()
        result = ingest_bytes(self.hub, adapter, data, source=source)
        stats = self.stats
        stats.batches += 1
        stats.read += result.read
        stats.landed += result.landed
        stats.quarantined += result.quarantined
        stats.duplicate += result.duplicate
        stats.results.append(result)
        if adapter.columns is None:  # a batch committed before (same bytes): not parsed by the ingest
            adapter.parse(data)
        assert adapter.columns is not None
        fresh = self._fixes(adapter.columns)
        self._live(fresh)
        self._alarms(fresh)

    def _fixes(self, columns: dict[str, list[Any]]) -> dict[str, list[Fix]]:
        """The batch's fixes by terminal, oldest first."""
        by_phone: dict[str, list[Fix]] = {}
        names = ("phone", "plate", "vehicle_class", "reported_at", "received_at", "lon", "lat", "speed_kmh",
                 "alarm_word", "status_word", "direction")  # fmt: skip
        for phone, plate, vclass, at, received, lon, lat, speed, alarm, status, direction in zip(
            *(columns[n] for n in names), strict=True
        ):
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # quarantined by the ingest; not a fix
                continue
            fix = _new_fix(
                phone, plate, vclass, at, lon, lat, speed, alarm or 0, status or 0, received, direction
            )
            by_phone.setdefault(phone, []).append(fix)
        for fixes in by_phone.values():
            fixes.sort(key=lambda f: f.at)
        return by_phone

    def _live(self, fresh: dict[str, list[Fix]]) -> None:
        """Upsert the last fix of each terminal in one statement; an older fix never replaces a newer.
        Once per terminal per batch, in the batch's transaction order: after each batch the live state
        is exactly the last fix landed. On SQLite the rows go to the driver as tuples (no per-row
        SQLAlchemy bind processing: ~10 µs a row), timestamps formatted as `UtcDateTime` stores them."""
        if not fresh:
            return
        lasts = [(phone, fixes[-1]) for phone, fixes in fresh.items()]
        dialect = self.hub.store.engine.dialect.name
        if dialect == "sqlite":
            rows = [
                (phone, last.plate, sqlite_time(last.at), sqlite_time(last.received_at or last.at), last.lon,
                 last.lat, last.speed_kmh, last.direction or 0, not last.status_word & IN_SERVICE_MASK)
                for phone, last in lasts
            ]  # fmt: skip
            with self.hub.store.session() as session:
                session.connection().exec_driver_sql(_LIVE_SQLITE, rows)
            return
        records = [
            {"phone": phone, "plate": last.plate, "reported_at": last.at,
             "received_at": last.received_at or last.at, "lon": last.lon, "lat": last.lat,
             "speed_kmh": last.speed_kmh, "direction": last.direction or 0,
             "in_service": not last.status_word & IN_SERVICE_MASK}
            for phone, last in lasts
        ]  # fmt: skip
        table = cast(Table, LiveStateRow.__table__)
        statement = pg_insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["phone"],
            set_={c: statement.excluded[c] for c in _LIVE_COLUMNS[1:]},
            where=table.c.reported_at <= statement.excluded.reported_at,
        )
        with self.hub.store.session() as session:  # Core executemany: no ORM bookkeeping per row
            session.connection().execute(statement, records)

    def _alarms(self, fresh: dict[str, list[Fix]]) -> None:
        found: list[Alarm] = []
        for phone in sorted(fresh):
            fixes = fresh[phone]
            state = self.states.get(phone)
            track = self.tracks.setdefault(phone, deque())
            if state is None:
                state = self.states[phone] = self._state(phone)
            if state.last is not None and fixes[0].at <= state.last.at and not _redelivered(track, fixes):
                merged = {f.at: f for f in (*track, *fixes)}
                track.clear()
                track.extend(sorted(merged.values(), key=lambda f: f.at))
                state = self.states[phone] = self._state(phone)
                self.stats.rebuilt += 1
                found += state.feed(track)
            else:
                found += state.feed(fixes)
                track.extend(f for f in fixes if f.at > track[-1].at) if track else track.extend(fixes)
            cutoff = track[-1].at - self.track
            while track[0].at < cutoff:
                track.popleft()
        self._store_alarms(latest(found))

    def _state(self, phone: str) -> TrackRules:
        return TrackRules(
            config=self.rules, areas=self.areas, route=self.routes.get(phone), speed_limit=self.speed_limit
        )

    def _store_alarms(self, found: list[Alarm]) -> None:
        if not found:
            return
        new = workflow.upsert(self.hub.store, found, self.vehicles)
        if not new:
            return
        self.stats.alarms += len(new)
        lines = [json.dumps(workflow.record(a, self.vehicles.get(a.phone)), ensure_ascii=False) for a in new]
        ingest_bytes(self.hub, AlarmRecords(), ("\n".join(lines) + "\n").encode(), source="vehicles.rules")


_LIVE_COLUMNS = (
    "phone", "plate", "reported_at", "received_at", "lon", "lat", "speed_kmh", "direction", "in_service"
)  # fmt: skip
_LIVE_SQLITE = (
    f"INSERT INTO {LiveStateRow.__tablename__} ({', '.join(_LIVE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_LIVE_COLUMNS))}) ON CONFLICT (phone) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _LIVE_COLUMNS[1:])
    + f" WHERE {LiveStateRow.__tablename__}.reported_at <= excluded.reported_at"
)


def sqlite_time(at: datetime) -> str:
    """`at` as `UtcDateTime` stores it on SQLite (SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff`, in UTC), so
    that rows written past SQLAlchemy compare and read back like the others."""
    if at.tzinfo is not UTC:
        if at.tzinfo is None:
            raise ValueError(f"naive datetime {at!r}: the hub stores UTC-aware timestamps only")
        at = at.astimezone(UTC)
    return at.isoformat(" ", "microseconds")[:26]


def _redelivered(track: deque[Fix], fixes: list[Fix]) -> bool:
    """Every fix not later than the track's last is already in the track (a redelivery), so feeding
    the batch skips them and nothing needs rebuilding."""
    if not track:
        return False
    last = track[-1].at
    known = {f.at for f in track}
    return all(f.at in known for f in fixes if f.at <= last)
