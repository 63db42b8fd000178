"""Half-open and slow connections are shed by the gateway's idle and write timeouts without starving the
others."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from dthub.domains.vehicles import registry
from dthub.domains.vehicles.gateway import STREAM, Gateway, GatewayConfig, _Terminal
from dthub.domains.vehicles.jt808 import Header, Heartbeat, Message, PlatformResponse, encode
from dthub.domains.vehicles.simulator import Run, connect, fleet, route, simulate
from dthub.domains.vehicles.writer import Writer
from dthub.hub.bus import connect_bus
from dthub.hub.bus.base import Message as BusMessage
from dthub.hub.bus.memory import MemoryBus
from dthub.hub.core import Hub

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
IDLE_S = 0.5


async def closed_after(reader: asyncio.StreamReader, started: float) -> float:
    """Seconds from `started` until the gateway closed the connection (EOF or reset)."""
    try:
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    return time.monotonic() - started


async def drip(writer: asyncio.StreamWriter, data: bytes, every_s: float) -> None:
    """Send `data` one byte at a time, until done or the gateway hangs up."""
    try:
        for byte in data * 10:
            writer.write(bytes((byte,)))
            await writer.drain()
            await asyncio.sleep(every_s)
    except ConnectionError:
        pass


async def scenario(hub: Hub) -> tuple[tuple[float, float], int, int, Gateway]:
    terminals = fleet(1)
    registry.save(hub.store, [t.vehicle for t in terminals])
    known = registry.load(hub.store)
    bus = connect_bus("memory://")
    gateway = Gateway(bus, known, GatewayConfig(idle_timeout_s=IDLE_S))
    writer = Writer(hub, bus, known, block_ms=50)
    port = await gateway.start("127.0.0.1", 0)
    stop = asyncio.Event()
    writing = asyncio.create_task(writer.run(stop))
    started = time.monotonic()
    silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)
    slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
    frame = encode(Header(message_id=Heartbeat.MESSAGE_ID, phone="13900000099", serial=1), Heartbeat())
    dripping = asyncio.create_task(drip(slow_writer, frame, 0.05))
    try:
        runs = await simulate("127.0.0.1", port, terminals, fixes=6, start=T0, pace_s=0.01)
        shed = await asyncio.gather(closed_after(silent_reader, started), closed_after(slow_reader, started))
        await dripping
    finally:
        silent_writer.close()
        slow_writer.close()
        await gateway.close()
        stop.set()
        await writing
        await bus.close()
    return shed, len(runs[0].acknowledged), writer.stats.landed, gateway


def test_silent_and_dripping_connections_are_shed_while_a_terminal_lands_its_reports(hub: Hub) -> None:
    shed, acknowledged, landed, gateway = asyncio.run(scenario(hub))
    assert (acknowledged, landed) == (6, 6)
    assert gateway.stats.shed == {"idle": 2}
    assert all(IDLE_S <= seconds < IDLE_S + 0.5 for seconds in shed), shed


class _StuckTransport(asyncio.Transport):
    """A transport whose peer takes nothing: the gateway sees `pause_writing` and never `resume_writing`."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = self.reading = False

    def is_reading(self) -> bool:
        return self.reading

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        self.aborted = True


async def _stuck(timeout_s: float, *, resumed: bool) -> tuple[_StuckTransport, Gateway]:
    gateway = Gateway(connect_bus("memory://"), {}, GatewayConfig(write_timeout_s=timeout_s))
    transport = _StuckTransport()
    terminal = _Terminal(gateway)
    terminal.connection_made(transport)
    transport.reading = True
    terminal.pause_writing()
    assert not transport.reading  # nothing more is read while replies wait
    if resumed:
        terminal.resume_writing()
    await asyncio.sleep(timeout_s * 3)
    return transport, gateway


def test_a_terminal_that_takes_no_replies_is_shed_after_the_write_timeout() -> None:
    transport, gateway = asyncio.run(_stuck(0.05, resumed=False))
    assert transport.aborted
    assert gateway.stats.shed == {"slow": 1}


def test_a_terminal_that_takes_its_replies_in_time_is_read_again() -> None:
    transport, gateway = asyncio.run(_stuck(0.05, resumed=True))
    assert (transport.aborted, transport.reading, gateway.stats.shed) == (False, True, {})


class _HeldBus(MemoryBus):
    """A memory bus whose publishes of reports wait until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def publish(self, stream: str, message: BusMessage) -> str:
        await self.release.wait()
        return await super().publish(stream, message)


async def _held() -> tuple[bool, Message, int]:
    (terminal,) = fleet(1)
    bus = _HeldBus()
    gateway = Gateway(bus, {terminal.vehicle.phone: terminal.vehicle})
    port = await gateway.start("127.0.0.1", 0)
    try:
        link = await connect("127.0.0.1", port, terminal, Run())
        (report,) = route(terminal, 1, start=T0, report_every_s=30)
        link.writer.write(link.frame(report))
        try:
            await link.answer(timeout_s=0.3)
            answered_early = True
        except TimeoutError:
            answered_early = False
        bus.release.set()
        answer = await link.answer()
        await link.close()
        await bus.ensure_group(STREAM, "check")  # a new group sees the whole stream
        held = await bus.read(STREAM, "check", "checker", count=10, block_ms=0)
        return answered_early, answer, len(held)
    finally:
        await gateway.close()


def test_a_report_is_acknowledged_only_once_the_bus_holds_it() -> None:
    answered_early, answer, on_bus = asyncio.run(_held())
    assert not answered_early
    assert isinstance(answer, PlatformResponse)
    assert (answer.reply_id, answer.result, on_bus) == (0x0200, 0, 1)


async def _pipelined() -> tuple[bool, list[Message], bytes, int]:
    """A report, then (while its publish waits) a heartbeat and the end of the stream."""
    (terminal,) = fleet(1)
    bus = _HeldBus()
    gateway = Gateway(bus, {terminal.vehicle.phone: terminal.vehicle})
    port = await gateway.start("127.0.0.1", 0)
    try:
        link = await connect("127.0.0.1", port, terminal, Run())
        (report,) = route(terminal, 1, start=T0, report_every_s=30)
        link.writer.write(link.frame(report))
        await asyncio.sleep(0.1)  # the report is in, its publish waits
        link.writer.write(link.frame(Heartbeat()))
        link.writer.write_eof()
        try:
            await link.answer(timeout_s=0.3)
            answered_early = True
        except TimeoutError:
            answered_early = False
        bus.release.set()
        answers = [await link.answer(), await link.answer()]
        rest = await asyncio.wait_for(link.reader.read(), 5)  # the gateway closes after the last reply
        await link.close()
        return answered_early, answers, rest, gateway.stats.acknowledged
    finally:
        await gateway.close()


def test_bytes_that_come_while_a_report_waits_for_the_bus_are_answered_after_it_in_order() -> None:
    answered_early, answers, rest, acknowledged = asyncio.run(_pipelined())
    assert not answered_early
    assert [(a.reply_id, a.result) for a in answers if isinstance(a, PlatformResponse)] == [
        (0x0200, 0),
        (0x0002, 0),
    ]
    assert (rest, acknowledged) == (b"", 1)


def test_a_connection_is_not_read_while_max_unpublished_frames_wait_for_the_bus() -> None:
    async def check() -> list[bool]:
        gateway = Gateway(connect_bus("memory://"), {}, GatewayConfig(max_unpublished=2))
        transport = _StuckTransport()
        transport.reading = True
        terminal = _Terminal(gateway)
        terminal.connection_made(transport)
        gateway._publisher.waiting = 2  # two frames wait for the bus: full
        terminal.resume()
        paused = [transport.reading, terminal in gateway._blocked]
        gateway._publisher.waiting = 0
        gateway._room()  # a publish made room
        return [*paused, transport.reading]

    assert asyncio.run(check()) == [False, True, True]
