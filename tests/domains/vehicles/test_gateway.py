"""Simulated terminals over loopback -> gateway -> bus -> writer -> lake, on the memory bus and on Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from dthub.domains.vehicles import registry
from dthub.domains.vehicles.alarms import list_alarms
from dthub.domains.vehicles.gateway import Gateway
from dthub.domains.vehicles.simulator import Run, expected_alarms, fleet, simulate
from dthub.domains.vehicles.writer import Writer
from dthub.hub import quarantine
from dthub.hub.bus import connect_bus
from dthub.hub.core import Hub

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
"""10:00 in Tianjin: day limits apply."""
FIXES = 8


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_db_url")
    return url


async def _run_fleet(hub: Hub, bus_url: str, vehicles: int) -> tuple[list[Run], Writer, Gateway]:
    terminals = fleet(vehicles)
    registry.save(hub.store, [t.vehicle for t in terminals])
    known = registry.load(hub.store)
    bus = connect_bus(bus_url)
    gateway = Gateway(bus, known)
    writer = Writer(hub, bus, known, block_ms=50)
    port = await gateway.start("127.0.0.1", 0)
    stop = asyncio.Event()
    writing = asyncio.create_task(writer.run(stop))
    try:
        runs = await simulate("127.0.0.1", port, terminals, fixes=FIXES, start=T0, pace_s=0.01)
    finally:
        await gateway.close()
        stop.set()
        await writing
        await bus.close()
    return runs, writer, gateway


def test_every_acknowledged_report_lands_once_and_misbehaviour_is_caught(hub: Hub, bus_url: str) -> None:
    runs, _writer, gateway = asyncio.run(_run_fleet(hub, bus_url, 5))

    landed = hub.table("vehicles.location_reports", con := hub.connect()).to_pyarrow().to_pylist()
    acknowledged = sorted(
        (t.vehicle.phone, r.time) for t, run in zip(fleet(5), runs, strict=True) for r in run.acknowledged
    )
    assert sorted((r["phone"], r["reported_at"].replace(tzinfo=UTC)) for r in landed) == acknowledged
    assert len(acknowledged) == 5 * FIXES
    con.disconnect()
    refused = quarantine.list_records(hub, dataset="vehicles.location_reports").records
    assert [(r.reason, r.raw.count('"kind": "refused"')) for r in refused] == [("jt808.bad_checksum", 1)]
    assert gateway.stats.refused == {"jt808.bad_checksum": 1}
    assert runs[2].connections == 2
    raised = {(a.plate, a.rule) for a in list_alarms(hub.store)}
    assert raised == expected_alarms(fleet(5))
    (overspeed,) = list_alarms(hub.store, rule="overspeed")
    assert (overspeed.started_at, overspeed.ended_at, len(overspeed.evidence)) == (
        datetime(2025, 6, 2, 2, 1, 30, tzinfo=UTC),
        datetime(2025, 6, 2, 2, 2, 30, tzinfo=UTC),
        3,
    )
