"""Fleet simulator (模拟车队): terminals that speak real JT/T 808 over TCP, with injected misbehaviour.

Clearly synthetic: every vehicle belongs to "模拟运输公司 (simulated)" and is flagged `simulated` in the
registry. Each terminal registers (0x0100), authenticates (0x0102) with the code it got, sends a heartbeat,
then reports (0x0200) along a straight east-bound route near Tianjin (39.0-39.2 N, 117.1-117.3 E). Report
times run on a simulated clock, `report_every_s` apart, while reports go out `pace_s` apart in real time.

Misbehaviour, by vehicle index (`plan`): 0 speeds (130 km/h for fixes 3-5), 1 sends a frame with a bad
check byte after fix 2, 2 disconnects after fix 3 and reconnects, 3 drifts (fix 4 jumps 0.5° north).
A terminal retransmits a report until the platform acknowledges it, and records the acknowledged ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dthub.domains.vehicles.jt808 import (
    Authenticate,
    FrameSplitter,
    Header,
    Heartbeat,
    LocationReport,
    Message,
    PlatformResponse,
    Register,
    RegisterResponse,
    decode,
    encode,
)
from dthub.domains.vehicles.jt808.framing import escape, unescape
from dthub.domains.vehicles.registry import Vehicle

ENTERPRISE = "模拟运输公司 (simulated)"
START_LON, START_LAT = 117.12, 39.05
CRUISE_KMH = 60.0
SPEEDING_KMH = 130.0
POSITIONED = 1 << 1
ACC_ON = 1 << 0


@dataclass(frozen=True, kw_only=True)
class Terminal:
    """One simulated vehicle and what it will do wrong."""

    index: int
    vehicle: Vehicle
    speeding: bool = False
    malformed: bool = False
    disconnect: bool = False
    drift: bool = False


def fleet(vehicles: int) -> list[Terminal]:
    """`vehicles` coaches with their registry entries; the first four misbehave (see module doc)."""
    terminals = []
    for index in range(vehicles):
        vehicle = Vehicle(
            phone=f"1390000{index:04d}",
            plate=f"津A{index:05d}",
            plate_colour=2,
            vehicle_class="coach",
            enterprise=ENTERPRISE,
            terminal_id=f"SIM{index:04d}",
            auth_code=f"auth{index:04d}",
            simulated=True,
        )
        terminals.append(
            Terminal(
                index=index,
                vehicle=vehicle,
                speeding=index == 0,
                malformed=index == 1,
                disconnect=index == 2,
                drift=index == 3,
            )
        )
    return terminals


def bad_checksum(frame: bytes) -> bytes:
    """`frame` with its check byte off by one (escaped again, so only the XOR is wrong)."""
    content = unescape(frame[1:-1])
    return b"\x7e" + escape(content[:-1] + bytes((content[-1] ^ 1,))) + b"\x7e"


def speed_at(terminal: Terminal, fix: int) -> float:
    return SPEEDING_KMH if terminal.speeding and 3 <= fix <= 5 else CRUISE_KMH


@dataclass
class Run:
    """What one terminal did: reports the platform acknowledged, and frames it sent deliberately bad."""

    acknowledged: list[LocationReport] = field(default_factory=list)
    malformed_sent: int = 0
    connections: int = 0


def route(terminal: Terminal, fixes: int, *, start: datetime, report_every_s: float) -> list[LocationReport]:
    """The terminal's reports: east along its own parallel, moving as fast as it reports (but drift)."""
    lat = START_LAT + 0.01 * (terminal.index % 15)
    lon = START_LON
    reports = []
    for fix in range(fixes):
        speed = speed_at(terminal, fix)
        lon += speed * report_every_s / 3600 / 86.5  # km per degree of longitude near 39° N
        jump = 0.5 if terminal.drift and fix == 4 else 0.0
        reports.append(
            LocationReport(
                alarm=0,
                status=ACC_ON | POSITIONED,
                latitude=round(lat + jump, 6),
                longitude=round(lon, 6),
                altitude_m=5,
                speed_kmh=speed,
                direction=90,
                time=start + timedelta(seconds=fix * report_every_s),
            )
        )
    return reports


class Link:
    """One TCP connection of a terminal: send a message, wait for its answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, phone: str) -> None:
        self.reader, self.writer, self.phone = reader, writer, phone
        self.splitter = FrameSplitter()
        self.serial = 0
        self.pending: list[bytes] = []

    def frame(self, message: Message) -> bytes:
        self.serial = (self.serial + 1) & 0xFFFF
        return encode(Header(message_id=message.MESSAGE_ID, phone=self.phone, serial=self.serial), message)

    async def ask(self, message: Message, timeout_s: float = 5.0) -> Message:
        self.writer.write(self.frame(message))
        await self.writer.drain()
        return await self.answer(timeout_s)

    async def answer(self, timeout_s: float = 5.0) -> Message:
        """The platform's next message to this terminal."""
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(4096), timeout_s)
            if not data:
                raise ConnectionError("gateway closed the connection")
            self.pending += [piece for piece in self.splitter.feed(data) if isinstance(piece, bytes)]
        return decode(self.pending.pop(0)).message

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def connect(host: str, port: int, terminal: Terminal, run: Run) -> Link:
    reader, writer = await asyncio.open_connection(host, port)
    run.connections += 1
    vehicle = terminal.vehicle
    link = Link(reader, writer, vehicle.phone)
    answer = await link.ask(
        Register(
            province_id=12,
            city_id=100,
            manufacturer_id="DTHUB",
            model="SIM-808",
            terminal_id=vehicle.terminal_id,
            plate_colour=vehicle.plate_colour,
            plate=vehicle.plate,
        )
    )
    if not isinstance(answer, RegisterResponse) or answer.auth_code is None:
        raise ConnectionError(f"{vehicle.plate}: registration refused: {answer}")
    answer = await link.ask(Authenticate(answer.auth_code))
    if not isinstance(answer, PlatformResponse) or answer.result != 0:
        raise ConnectionError(f"{vehicle.plate}: authentication refused: {answer}")
    await link.ask(Heartbeat())
    return link


_connect = connect
"""The old name of `connect`, kept for callers that still use it."""


async def drive(
    host: str,
    port: int,
    terminal: Terminal,
    *,
    fixes: int,
    start: datetime,
    report_every_s: float = 30.0,
    pace_s: float = 0.05,
) -> Run:
    """Run one terminal: connect, report `fixes` fixes, misbehave as planned, close."""
    run = Run()
    link = await connect(host, port, terminal, run)
    try:
        for fix, report in enumerate(route(terminal, fixes, start=start, report_every_s=report_every_s)):
            while True:
                answer = await link.ask(report)
                if isinstance(answer, PlatformResponse) and answer.result == 0:
                    run.acknowledged.append(report)
                    break
                await asyncio.sleep(pace_s)
            if terminal.malformed and fix == 2:
                link.writer.write(bad_checksum(link.frame(report)))
                run.malformed_sent += 1
            if terminal.disconnect and fix == 3:
                await link.close()
                link = await connect(host, port, terminal, run)
            await asyncio.sleep(pace_s)
    finally:
        await link.close()
    return run


async def simulate(
    host: str,
    port: int,
    terminals: list[Terminal],
    *,
    fixes: int,
    start: datetime,
    report_every_s: float = 30.0,
    pace_s: float = 0.05,
) -> list[Run]:
    """Run every terminal at once; return what each did, in order."""
    return list(
        await asyncio.gather(
            *(
                drive(host, port, t, fixes=fixes, start=start, report_every_s=report_every_s, pace_s=pace_s)
                for t in terminals
            )
        )
    )


def expected_alarms(terminals: list[Terminal]) -> set[tuple[str, str]]:
    """(plate, rule) of the alarms the misbehaviour must raise, by day: overspeed and drift.

    Drift raises twice: the jump away and the jump back."""
    expected = set()
    for terminal in terminals:
        if terminal.speeding:
            expected.add((terminal.vehicle.plate, "overspeed"))
        if terminal.drift:
            expected.add((terminal.vehicle.plate, "drift"))
    return expected
