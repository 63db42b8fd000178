"""The JT/T 808 gateway (接入网关): an asyncio TCP server between terminals and the bus.

Per connection a `FrameSplitter` cuts the byte stream into frames. Registration (0x0100) is answered
with 0x8100 from the registry (result and auth code), authentication (0x0102), heartbeat (0x0002),
deregistration (0x0003) and every other uplink with the platform general response 0x8001 (a 0x0001
terminal response is not answered). A location report (0x0200, 0x0704) is acknowledged with result 0 only
after `bus.publish` returned, i.e. once the bus holds it: a gateway that dies loses no acknowledged report.

Bad bytes never poison a connection: each refusal of the splitter or the codec is counted by reason and
published as a `refused` message, which the writer quarantines; the frames after it are read as usual.
Connections are shed when idle (no complete frame for `idle_timeout_s`: dead, half-open or dripping one
byte at a time), when a reply cannot be written within `write_timeout_s` (a reader too slow), or when
`max_connections` are open. Backpressure: a connection's frames are handled in order and its next read
waits until they are published, so a slow bus slows the terminals (TCP flow control), not memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dthub.domains.vehicles.jt808 import (
    Authenticate,
    BatchLocationReport,
    Deregister,
    FrameError,
    FrameSplitter,
    Header,
    Heartbeat,
    LocationReport,
    Message,
    PlatformResponse,
    Register,
    RegisterResponse,
    RegisterResult,
    Result,
    TerminalResponse,
    decode,
    encode,
)
from dthub.domains.vehicles.registry import Vehicle
from dthub.hub.bus import Bus

STREAM = "vehicles.jt808"
"""Bus stream of the frames the gateway accepted or refused."""


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    """Limits of the gateway."""

    idle_timeout_s: float = 180.0
    """A connection with no complete frame for this long is closed (3 × the usual 60 s heartbeat)."""
    write_timeout_s: float = 10.0
    """A reply the terminal does not take within this long closes the connection."""
    max_connections: int = 20_000
    read_bytes: int = 65_536
    """Most bytes read from a connection at once."""
    stream: str = STREAM


@dataclass
class GatewayStats:
    """Counters of a running gateway."""

    connections: int = 0
    open: int = 0
    frames: int = 0
    published: int = 0
    acknowledged: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    shed: Counter[str] = field(default_factory=Counter)
    """Connections closed by the gateway: idle, slow, over_capacity."""


@dataclass
class _Session:
    phone: str | None = None
    authenticated: bool = False
    serial: int = 0

    def next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial


def _now() -> datetime:
    return datetime.now(UTC)


class Gateway:
    """Serve terminals: `await gateway.start(host, port)`, then `await gateway.close()`."""

    def __init__(
        self, bus: Bus, vehicles: Mapping[str, Vehicle], config: GatewayConfig | None = None
    ) -> None:
        self.bus, self.vehicles = bus, vehicles
        self.config = config or GatewayConfig()
        self.stats = GatewayStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; return the port (a free one when `port` is 0)."""
        self._server = await asyncio.start_server(self._connection, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        self.stats.open += 1
        try:
            if self.stats.open > self.config.max_connections:
                self.stats.shed["over_capacity"] += 1
                return
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.stats.open -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        splitter = FrameSplitter()
        session = _Session()
        last_frame = time.monotonic()
        while True:
            left = self.config.idle_timeout_s - (time.monotonic() - last_frame)
            try:
                data = await asyncio.wait_for(reader.read(self.config.read_bytes), max(left, 0.0))
            except TimeoutError:
                self.stats.shed["idle"] += 1
                return
            pieces = splitter.feed(data) if data else splitter.close()
            for piece in pieces:
                if isinstance(piece, FrameError):
                    await self._refuse(piece, session)
                    continue
                last_frame = time.monotonic()
                reply = await self._frame(piece, session)
                if reply is not None:
                    writer.write(reply)
            if not data:
                return
            if writer.transport.get_write_buffer_size():
                try:
                    await asyncio.wait_for(writer.drain(), self.config.write_timeout_s)
                except TimeoutError:
                    self.stats.shed["slow"] += 1
                    return

    async def _refuse(self, error: FrameError, session: _Session) -> None:
        self.stats.refused[error.reason] += 1
        line = {
            "kind": "refused",
            "reason": error.reason,
            "detail": error.detail,
            "raw": error.raw.hex(),
            "phone": session.phone,
            "received_at": _now().isoformat(),
        }
        await self.bus.publish(self.config.stream, {"line": json.dumps(line, ensure_ascii=False)})

    async def _frame(self, frame: bytes, session: _Session) -> bytes | None:
        self.stats.frames += 1
        try:
            packet = decode(frame)
        except FrameError as error:
            await self._refuse(error, session)
            return None
        header, message = packet.header, packet.message
        if isinstance(message, TerminalResponse):
            return None
        if isinstance(message, Register):
            return self._reply(header, session, self._register(header, message, session))
        result = Result.SUCCESS
        if isinstance(message, Authenticate):
            vehicle = self.vehicles.get(header.phone)
            session.phone = header.phone
            session.authenticated = vehicle is not None and message.auth_code == vehicle.auth_code
            result = Result.SUCCESS if session.authenticated else Result.FAILURE
        elif isinstance(message, LocationReport | BatchLocationReport):
            if not session.authenticated or header.phone != session.phone:
                result = Result.FAILURE
            else:
                await self._publish(frame, header.phone)
                self.stats.acknowledged += 1
        elif isinstance(message, Deregister):
            session.authenticated = False
        elif not isinstance(message, Heartbeat):
            result = Result.UNSUPPORTED
        return self._reply(header, session, PlatformResponse(header.serial, header.message_id, result))

    def _register(self, header: Header, message: Register, session: _Session) -> RegisterResponse:
        vehicle = self.vehicles.get(header.phone)
        session.phone = header.phone
        if vehicle is None:
            return RegisterResponse(header.serial, RegisterResult.TERMINAL_UNKNOWN)
        if message.plate != vehicle.plate or message.plate_colour != vehicle.plate_colour:
            return RegisterResponse(header.serial, RegisterResult.VEHICLE_UNKNOWN)
        return RegisterResponse(header.serial, RegisterResult.SUCCESS, vehicle.auth_code)

    def _reply(self, asked: Header, session: _Session, message: Message) -> bytes:
        header = Header(
            message_id=message.MESSAGE_ID,
            phone=asked.phone,
            serial=session.next_serial(),
            version=asked.version,
            protocol_version=asked.protocol_version,
        )
        return encode(header, message)

    async def _publish(self, frame: bytes, phone: str) -> None:
        vehicle = self.vehicles.get(phone)
        line = {
            "kind": "frame",
            "frame": frame.hex(),
            "received_at": _now().isoformat(),
            "plate": vehicle.plate if vehicle else None,
            "plate_colour": vehicle.plate_colour if vehicle else None,
            "vehicle_class": vehicle.vehicle_class if vehicle else None,
            "enterprise": vehicle.enterprise if vehicle else None,
        }
        await self.bus.publish(self.config.stream, {"line": json.dumps(line, ensure_ascii=False)})
        self.stats.published += 1
