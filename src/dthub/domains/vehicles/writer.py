"""The lake writer: consumes the gateway's stream, lands reports, keeps live state, runs the rules.

One cycle: read a batch from the bus (consumer group `lake-writer`), land it through `hub.ingest` with the
`jt808.gateway_frames` adapter (refused frames go to quarantine, redelivered reports are dropped by the
dataset key), then acknowledge it. After landing, the last fix of each terminal is written to
`vehicle_live`, and the supervision rules run over each terminal's recent fixes (kept in memory, the last
`track_hours`); new alarms go to the workflow table and land in `vehicles.alarms`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from shapely.geometry import LineString  # type: ignore[import-untyped]

from dthub.domains.vehicles import alarms as workflow
from dthub.domains.vehicles.gateway import STREAM
from dthub.domains.vehicles.ingest.bus_jt808 import AlarmRecords, GatewayFrames
from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.rules import Fix, Geofence, RuleConfig, evaluate
from dthub.domains.vehicles.tables import LiveStateRow
from dthub.hub.bus import Bus, Delivery
from dthub.hub.core import Hub
from dthub.hub.ingest import BatchResult, ingest_bytes
from dthub.hub.tables import utcnow

GROUP = "lake-writer"
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
    results: list[BatchResult] = field(default_factory=list)


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
        stream: str = STREAM,
        consumer: str = "writer-1",
        batch_size: int = 2_000,
        block_ms: int = 200,
        track_hours: float = 25.0,
    ) -> None:
        self.hub, self.bus, self.vehicles = hub, bus, vehicles
        self.rules = rules or RuleConfig()
        self.areas = tuple(areas)
        self.routes = dict(routes or {})
        """Assigned route (lon/lat LineString) of each fixed-route vehicle, by terminal phone."""
        self.stream, self.consumer = stream, consumer
        self.batch_size, self.block_ms = batch_size, block_ms
        self.track = timedelta(hours=track_hours)
        self.tracks: dict[str, list[Fix]] = {}
        self.stats = WriterStats()
        self._started = False

    async def step(self) -> int:
        """One cycle; return the messages handled (0 when the stream had none)."""
        if not self._started:
            await self.bus.ensure_group(self.stream, GROUP)
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
        """Cycle until `stop` is set and the stream is drained."""
        while True:
            handled = await self.step()
            if handled == 0 and stop.is_set():
                return

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
        rows = adapter.parse(data).rows.to_pylist()
        changed = self._track(rows)
        self._live(changed)
        self._alarms(changed)

    def _track(self, rows: list[dict[str, object]]) -> set[str]:
        changed: set[str] = set()
        for row in rows:
            if row["reported_at"] is None:
                continue
            fix = Fix(
                phone=str(row["phone"]),
                plate=row["plate"],  # type: ignore[arg-type]
                vehicle_class=row["vehicle_class"],  # type: ignore[arg-type]
                at=row["reported_at"],  # type: ignore[arg-type]
                lon=row["lon"],  # type: ignore[arg-type]
                lat=row["lat"],  # type: ignore[arg-type]
                speed_kmh=row["speed_kmh"],  # type: ignore[arg-type]
                alarm_word=row["alarm_word"],  # type: ignore[arg-type]
                status_word=row["status_word"],  # type: ignore[arg-type]
            )
            self.tracks.setdefault(fix.phone, []).append(fix)
            changed.add(fix.phone)
        for phone in changed:
            fixes = sorted({f.at: f for f in self.tracks[phone]}.values(), key=lambda f: f.at)
            cutoff = fixes[-1].at - self.track
            self.tracks[phone] = [f for f in fixes if f.at >= cutoff]
        return changed

    def _live(self, phones: set[str]) -> None:
        with self.hub.store.session() as session:
            for phone in phones:
                last = self.tracks[phone][-1]
                row = session.get(LiveStateRow, phone) or LiveStateRow(phone=phone)
                if row.reported_at is not None and row.reported_at > last.at:
                    continue
                row.plate, row.reported_at, row.received_at = last.plate, last.at, utcnow()
                row.lon, row.lat, row.speed_kmh, row.direction = last.lon, last.lat, last.speed_kmh, 0
                row.in_service = not last.status_word & IN_SERVICE_MASK
                session.add(row)

    def _alarms(self, phones: set[str]) -> None:
        found = [
            a
            for phone in sorted(phones)
            for a in evaluate(
                self.tracks[phone], config=self.rules, areas=self.areas, route=self.routes.get(phone)
            )
        ]
        new = workflow.upsert(self.hub.store, found, self.vehicles)
        if not new:
            return
        self.stats.alarms += len(new)
        lines = [json.dumps(workflow.record(a, self.vehicles.get(a.phone)), ensure_ascii=False) for a in new]
        ingest_bytes(self.hub, AlarmRecords(), ("\n".join(lines) + "\n").encode(), source="vehicles.rules")
