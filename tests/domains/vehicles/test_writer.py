"""The writer's periodic offline sweep, subpackaged uplinks over real TCP, and live state upserts."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from dthub.domains.vehicles import registry
from dthub.domains.vehicles.alarms import list_alarms
from dthub.domains.vehicles.gateway import Gateway, GatewayConfig
from dthub.domains.vehicles.jt808 import (
    BatchLocationReport,
    Header,
    LocationReport,
    PlatformResponse,
    RetransmitRequest,
    encode,
    encode_packages,
)
from dthub.domains.vehicles.simulator import Run, connect, fleet, route, simulate
from dthub.domains.vehicles.tables import LiveStateRow
from dthub.domains.vehicles.writer import Writer
from dthub.hub import quarantine
from dthub.hub.bus import connect_bus
from dthub.hub.core import Hub

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)


async def _sweeping(hub: Hub, silence: timedelta) -> tuple[Writer, list[str]]:
    """One terminal reports 3 fixes, then falls silent; the writer's clock says `silence` has passed."""
    terminals = fleet(1)
    registry.save(hub.store, [t.vehicle for t in terminals])
    known = registry.load(hub.store)
    bus = connect_bus("memory://")
    gateway = Gateway(bus, known)
    skipped = [timedelta(0)]  # the fake clock jumps `silence` ahead once the terminal fell silent
    writer = Writer(hub, bus, known, block_ms=20, offline_every_s=0.05,
                    clock=lambda: datetime.now(UTC) + skipped[0])  # fmt: skip
    port = await gateway.start("127.0.0.1", 0)
    stop = asyncio.Event()
    writing = asyncio.create_task(writer.run(stop))
    try:
        await simulate("127.0.0.1", port, terminals, fixes=3, start=T0, pace_s=0.01)
        while writer.stats.landed < 3:  # acknowledged means on the bus; wait until the writer has them
            await asyncio.sleep(0.02)
        skipped[0], sweeps = silence, writer.stats.sweeps
        for _ in range(200):  # the sweep runs by itself, without another fix arriving
            if writer.stats.sweeps >= sweeps + 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await gateway.close()
        stop.set()
        await writing
        await bus.close()
    return writer, [f"{a.rule}:{a.started_at:%H%M%S}:{len(a.evidence)}" for a in list_alarms(hub.store)]


def test_a_vehicle_silent_in_service_is_raised_offline_by_the_sweep(hub: Hub) -> None:
    writer, raised = asyncio.run(_sweeping(hub, timedelta(minutes=25)))
    assert writer.stats.sweeps >= 2
    assert raised == ["offline:020100:1"]  # from its last fix (02:01:00), evidence: that fix
    (alarm,) = list_alarms(hub.store, rule="offline")
    assert alarm.ended_at > datetime.now(UTC) + timedelta(minutes=24)
    assert alarm.detail.startswith("no report for 25 min while in service")


def test_a_vehicle_silent_for_less_than_the_limit_is_not_offline(hub: Hub) -> None:
    writer, raised = asyncio.run(_sweeping(hub, timedelta(minutes=5)))
    assert writer.stats.sweeps >= 2
    assert raised == []
    with hub.store.session() as session:
        (live,) = session.query(LiveStateRow).all()
    assert (live.reported_at, live.in_service) == (T0 + timedelta(minutes=1), True)


async def _packages(hub: Hub, *, mode: str) -> tuple[list[tuple[int, ...]], Writer, Gateway]:
    """A terminal sends 40 blind-zone fixes as one 0x0704 in 100-byte packages, then one ordinary 0x0200.
    `mode`: "whole"; "dropped" (package 2 never sent); "resent" (package 2 sent once the platform asks
    for it). Return each answer: (serial, id, result) of a 0x8001, (serial, *packages) of a 0x8003."""
    (terminal,) = fleet(1)
    registry.save(hub.store, [terminal.vehicle])
    known = registry.load(hub.store)
    bus = connect_bus("memory://")
    gateway = Gateway(bus, known, GatewayConfig(package_timeout_s=0.3))
    writer = Writer(hub, bus, known, block_ms=20)
    port = await gateway.start("127.0.0.1", 0)
    stop = asyncio.Event()
    writing = asyncio.create_task(writer.run(stop))
    answers: list[tuple[int, ...]] = []

    async def answered(frame: bytes) -> None:
        link.writer.write(frame)
        answer = await link.answer()
        assert isinstance(answer, PlatformResponse)
        answers.append((answer.reply_serial, answer.reply_id, answer.result))

    try:
        link = await connect("127.0.0.1", port, terminal, Run())
        reports = route(terminal, 41, start=T0, report_every_s=30)
        header = Header(message_id=BatchLocationReport.MESSAGE_ID, phone=terminal.vehicle.phone, serial=100)
        packages = encode_packages(header, BatchLocationReport(1, tuple(reports[:40])), package_size=100)
        for frame in [packages[0], *packages[2:]] if mode != "whole" else packages:
            await answered(frame)
        if mode != "whole":
            again = await link.answer()  # the last came, package 2 did not: asked again
            assert isinstance(again, RetransmitRequest)
            answers.append((again.reply_serial, *again.packages))
        if mode == "resent":
            await answered(packages[1])
        await asyncio.sleep(0.8)  # past the package timeout: an unfinished message is given up
        answer = await link.ask(reports[40])
        assert isinstance(answer, PlatformResponse)
        answers.append((answer.reply_serial, answer.reply_id, answer.result))
        await link.close()
        while writer.stats.read < (2 if mode == "dropped" else 41):
            await asyncio.sleep(0.02)
    finally:
        await gateway.close()
        stop.set()
        await writing
        await bus.close()
    return answers, writer, gateway


def test_a_subpackaged_batch_is_answered_package_by_package_reassembled_and_landed(hub: Hub) -> None:
    answers, writer, gateway = asyncio.run(_packages(hub, mode="whole"))
    count = len(answers) - 1
    assert count > 5  # 40 reports of 28 bytes + heads: 12 packages of 100 bytes
    assert answers == [(100 + n, 0x0704, 0) for n in range(count)] + [(answers[-1][0], 0x0200, 0)]
    assert (gateway.stats.reassembled, writer.stats.landed, writer.stats.quarantined) == (1, 41, 0)
    landed = hub.table("vehicles.location_reports", con := hub.connect()).order_by("reported_at")
    times = [row["reported_at"] for row in landed.select("reported_at").to_pyarrow().to_pylist()]
    con.disconnect()
    assert times == [(T0 + timedelta(seconds=30 * n)).replace(tzinfo=None) for n in range(41)]


def test_a_missing_package_is_asked_for_again_and_the_message_lands_once_resent(hub: Hub) -> None:
    answers, writer, gateway = asyncio.run(_packages(hub, mode="resent"))
    count = len(answers) - 3  # the packages but package 2, then the 0x8003, package 2, the 0x0200
    assert count > 5
    assert answers[:count] == [(100, 0x0704, 0)] + [(102 + n, 0x0704, 0) for n in range(count - 1)]
    assert answers[count] == (100, 2)  # 0x8003: original serial (package 1's), package 2 again
    assert answers[count + 1] == (101, 0x0704, 0)  # package 2, answered once the whole batch is on the bus
    assert (gateway.stats.retransmissions_asked, gateway.stats.reassembled, gateway.stats.refused) == (
        1,
        1,
        {},
    )
    assert (writer.stats.landed, writer.stats.quarantined) == (41, 0)


def test_a_missing_package_never_resent_times_out_into_quarantine(hub: Hub) -> None:
    answers, writer, gateway = asyncio.run(_packages(hub, mode="dropped"))
    assert [answer[-1] for answer in answers if len(answer) == 3] == [0] * (len(answers) - 1)
    assert (100, 2) in answers  # asked for package 2 again, which never came
    assert gateway.stats.refused == {"jt808.packages_dropped": 1}
    assert (writer.stats.landed, writer.stats.quarantined) == (1, 1)  # the 0x0200 after it still lands
    (record,) = quarantine.list_records(hub, dataset="vehicles.location_reports").records
    assert record.reason == "jt808.packages_dropped"
    assert "packages [1, 3, 4" in record.detail


def _line(phone: str, serial: int, at: datetime, lon: float) -> str:
    report = LocationReport(alarm=0, status=3, latitude=39.1, longitude=lon, altitude_m=0, speed_kmh=60.0,
                            direction=90, time=at)  # fmt: skip
    frame = encode(Header(message_id=LocationReport.MESSAGE_ID, phone=phone, serial=serial), report)
    return json.dumps({"kind": "frame", "frame": frame.hex(), "received_at": datetime.now(UTC).isoformat(),
                       "plate": None, "plate_colour": None, "vehicle_class": "dangerous_goods",
                       "enterprise": None})  # fmt: skip


async def _backfill(hub: Hub) -> Writer:
    """Batch 1: terminal A at 10:02 and 10:03. Batch 2: A's blind-zone backfill from 09:10 (older, and
    50 min before 10:02: offline, moved 8 km while offline) and terminal B at 10:05."""
    bus = connect_bus("memory://")
    writer = Writer(hub, bus, {}, block_ms=10)
    a, b = "13900000001", "13900000002"
    first = [_line(a, 1, T0 + timedelta(minutes=2), 117.2), _line(a, 2, T0 + timedelta(minutes=3), 117.21)]
    await bus.publish(writer.stream, {"line": "\n".join(first)})
    assert await writer.step() == 1
    second = [_line(a, 3, T0 - timedelta(minutes=50), 117.1), _line(b, 1, T0 + timedelta(minutes=5), 117.3)]
    await bus.publish(writer.stream, {"line": "\n".join(second)})
    assert await writer.step() == 1
    await bus.close()
    return writer


def test_live_state_keeps_the_newest_fix_and_a_backfill_rebuilds_the_rules(any_hub: Hub) -> None:
    writer = asyncio.run(_backfill(any_hub))
    with any_hub.store.session() as session:
        live = {row.phone: (row.reported_at, row.lon) for row in session.query(LiveStateRow).all()}
    assert live == {
        "13900000001": (T0 + timedelta(minutes=3), 117.21),  # the older backfill did not replace it
        "13900000002": (T0 + timedelta(minutes=5), 117.3),
    }
    assert writer.stats.rebuilt == 1
    raised = {(a.rule, a.started_at) for a in list_alarms(any_hub.store)}
    assert raised == {  # what the whole track 09:10, 10:02, 10:03 raises, found after the backfill
        ("offline", T0 - timedelta(minutes=50)),
        ("offline_movement", T0 - timedelta(minutes=50)),
    }


def test_a_writer_started_later_sweeps_a_vehicle_silent_since_before_it_started(hub: Hub) -> None:
    asyncio.run(_sweeping(hub, timedelta(minutes=5)))  # the first writer: 3 fixes, not yet offline

    async def restarted() -> list[str]:
        bus = connect_bus("memory://")
        later = Writer(hub, bus, registry.load(hub.store), block_ms=10,
                       clock=lambda: datetime.now(UTC) + timedelta(minutes=30))  # fmt: skip
        await later.step()  # nothing on its bus: it starts from the live state
        found = later.sweep()
        await bus.close()
        return [f"{a.rule}:{a.started_at:%H%M%S}" for a in found]

    assert asyncio.run(restarted()) == ["offline:020100"]
    assert [a.rule for a in list_alarms(hub.store)] == ["offline"]


def test_live_state_times_are_stored_as_sqlalchemy_stores_them() -> None:
    """The writer's SQLite fast path formats timestamps itself: they must be what `UtcDateTime` binds,
    or `reported_at` comparisons and reads of rows written either way would disagree."""
    from datetime import timezone

    from sqlalchemy.dialects import sqlite

    from dthub.domains.vehicles.writer import sqlite_time
    from dthub.hub.tables import UtcDateTime

    column = UtcDateTime()
    dialect = sqlite.dialect()
    bind = column.impl_instance.dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    for at in (
        T0,
        T0 + timedelta(microseconds=7),
        datetime(2026, 1, 1, 8, 0, 1, tzinfo=timezone(timedelta(hours=8))),
    ):
        assert sqlite_time(at) == bind(column.process_bind_param(at, dialect))
    assert (
        sqlite_time(datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))))
        == "2026-01-01 00:00:00.000000"
    )
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 1, 1))
