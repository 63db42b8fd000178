"""The JT/T 808 gateway (接入网关): an asyncio TCP server between terminals and the bus.

Each connection is an `asyncio.Protocol` (no task, no stream buffers per connection) with a
`FrameSplitter` that cuts its byte stream into frames. Registration (0x0100) is answered with 0x8100
from the registry (result and auth code), authentication (0x0102), heartbeat (0x0002), deregistration
(0x0003) and every other uplink with the platform general response 0x8001 (a 0x0001 terminal response is
not answered). A location report (0x0200, 0x0704) is acknowledged with result 0 only after `bus.publish`
returned, i.e. once the bus holds it: a gateway that dies loses no acknowledged report.

Subpackaged uplinks (分包, header bit 13) are joined per connection by a `Reassembler`: each package is
answered with 0x8001 as it arrives, the last one only once the whole message is on the bus (published
with all its package frames). When the last package comes and some before it did not, the platform asks
for those again with 0x8003 (补传分包请求, original serial = package 1's); a message whose packages stop
coming for `package_timeout_s` is given up, counted and published as refused (`jt808.packages_dropped`),
so it lands in quarantine.

Publishing is batched: the frames every connection hands over while the event loop turns go to the bus
as one message of up to `publish_batch` JSON lines, and each connection acknowledges its reports when
the message holding them is published. Backpressure: bytes a connection sends while its replies wait
for the bus are kept (one read) and handled, in order, once those replies are written, and the gateway
stops reading that connection until then (a terminal with one report outstanding, the usual case, costs
no pause and resume); while the terminal does not take its replies, the connection is not read either
(TCP flow control slows the terminal, not memory); once `max_unpublished` frames wait for the bus,
connections are not read again until a publish makes room.

Bad bytes never poison a connection: each refusal of the splitter or the codec is counted by reason and
published as a `refused` message, which the writer quarantines; the frames after it are read as usual.
Connections are shed when idle (no complete frame for `idle_timeout_s`: dead, half-open or dripping one
byte at a time; one watchdog task checks every connection, no timer per read), when replies stay
unwritten for `write_timeout_s` (a reader too slow), or when `max_connections` are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

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
    Packet,
    PlatformResponse,
    Reassembler,
    Register,
    RegisterResponse,
    RegisterResult,
    Result,
    RetransmitRequest,
    TerminalResponse,
    Version,
    decode,
    encode,
)
from dthub.domains.vehicles.jt808.answers import PlatformAnswers
from dthub.domains.vehicles.jt808.splitter import MAX_FRAME_BYTES
from dthub.domains.vehicles.registry import Vehicle
from dthub.hub.bus import Bus

if TYPE_CHECKING:
    from dthub.hub.settings import Settings

STREAM = "vehicles.jt808"
"""Bus stream of the frames the gateway accepted or refused."""
REPORTS = (LocationReport.MESSAGE_ID, BatchLocationReport.MESSAGE_ID)


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    """Limits of the gateway (settings `DTHUB_VEHICLES_*`, see `from_settings`)."""

    idle_timeout_s: float = 180.0
    """A connection with no complete frame for this long is closed (3 × the usual 60 s heartbeat)."""
    write_timeout_s: float = 10.0
    """A reply the terminal does not take within this long closes the connection."""
    max_connections: int = 20_000
    max_frame_bytes: int = MAX_FRAME_BYTES
    """Longer runs without a flag are refused (`jt808.frame_too_long`) and skipped."""
    package_timeout_s: float = 60.0
    """⚠️ A subpackaged message with no new package for this long is given up (quarantined)."""
    max_package_bytes: int = 1 << 20
    """Most bytes of unfinished subpackaged messages held per connection; the oldest are given up."""
    publish_batch: int = 256
    """Most frames in one bus message."""
    max_unpublished: int = 50_000
    """Most frames waiting for the bus across all connections before connections wait (backpressure)."""
    stream: str = STREAM

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: float | int | str) -> GatewayConfig:
        """The limits from the hub's settings (`DTHUB_VEHICLES_*`), `overrides` taking precedence."""
        values: dict[str, float | int | str] = {
            "idle_timeout_s": settings.vehicles_idle_timeout_s,
            "write_timeout_s": settings.vehicles_write_timeout_s,
            "max_connections": settings.vehicles_max_connections,
            "max_frame_bytes": settings.vehicles_max_frame_bytes,
            "package_timeout_s": settings.vehicles_package_timeout_s,
            "publish_batch": settings.vehicles_publish_batch,
            "max_unpublished": settings.vehicles_max_unpublished,
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


@dataclass
class GatewayStats:
    """Counters of a running gateway."""

    connections: int = 0
    open: int = 0
    frames: int = 0
    published: int = 0
    """Frames (and whole subpackaged messages) put on the bus."""
    bus_messages: int = 0
    """Bus messages they went in (batches)."""
    acknowledged: int = 0
    reassembled: int = 0
    retransmissions_asked: int = 0
    """0x8003 sent: the last package of a message came, some before it did not."""
    refused: Counter[str] = field(default_factory=Counter)
    shed: Counter[str] = field(default_factory=Counter)
    """Connections closed by the gateway: idle, slow, over_capacity."""


@dataclass(eq=False)
class _Session:
    reassembler: Reassembler
    transport: asyncio.Transport
    phone: str | None = None
    authenticated: bool = False
    serial: int = 0
    last_frame: float = field(default_factory=time.monotonic)
    shed: bool = False
    answers: PlatformAnswers | None = None
    """0x8001 frames to this terminal, from a template (the gateway's most frequent reply)."""

    def next_serial(self) -> int:
        self.serial = (self.serial + 1) & 0xFFFF
        return self.serial


class _Publisher:
    """Gathers lines from every connection into bus messages of up to `batch` lines, one flush per turn of
    the event loop; `full` once `bound` lines wait, until a flush makes room (then `on_room` runs)."""

    def __init__(
        self,
        bus: Bus,
        stream: str,
        *,
        batch: int,
        bound: int,
        stats: GatewayStats,
        on_room: Callable[[], None],
    ) -> None:
        self.bus, self.stream, self.batch, self.bound, self.stats = bus, stream, batch, bound, stats
        self.on_room = on_room
        self.lines: list[str] = []
        self.waiting = 0
        self.done: asyncio.Future[None] | None = None
        self.flushing: asyncio.Task[None] | None = None
        self._ready: list[tuple[list[str], asyncio.Future[None]]] = []

    @property
    def full(self) -> bool:
        return self.waiting >= self.bound

    def put(self, line: str) -> asyncio.Future[None]:
        """Queue a line; the future is done once the bus holds it (or fails with the bus's error)."""
        if self.done is None:
            self.done = asyncio.get_running_loop().create_future()
        self.lines.append(line)
        self.waiting += 1
        done = self.done
        if len(self.lines) >= self.batch:
            self._cut()
        if self.flushing is None:
            self.flushing = asyncio.create_task(self._flush())
        return done

    def _cut(self) -> None:
        """Close the open batch: later lines go to a new one."""
        assert self.done is not None
        self._ready.append((self.lines, self.done))
        self.lines, self.done = [], None

    async def _flush(self) -> None:
        try:
            while True:
                await asyncio.sleep(0)  # let the other connections of this turn add their lines
                if self.lines:
                    self._cut()
                if not self._ready:
                    return
                batches, self._ready = self._ready, []
                for lines, done in batches:
                    try:
                        await self.bus.publish(self.stream, {"line": "\n".join(lines)})
                    except Exception as error:  # handed to every waiting connection
                        done.set_exception(error)
                    else:
                        self.stats.published += len(lines)
                        self.stats.bus_messages += 1
                        done.set_result(None)
                    finally:
                        self.waiting -= len(lines)
                if not self.full:
                    self.on_room()
        finally:
            self.flushing = None


class _Terminal(asyncio.Protocol):
    """One terminal's connection. Its frames are handled as they arrive; while replies wait for the bus,
    or the terminal does not take them, reading pauses (TCP flow control does the rest)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.splitter = FrameSplitter(max_frame_bytes=gateway.config.max_frame_bytes)
        self.session: _Session | None = None
        self.transport: asyncio.Transport | None = None
        self.waiting = False  # replies held until the bus has the reports
        self.held: list[bytes] = []
        """Bytes that came while replies waited for the bus, handled once they are written."""
        self.writing_paused = False
        self.closing = False
        self.slow: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are no asyncio subclasses
        gateway, config = self.gateway, self.gateway.config
        self.transport = transport
        gateway.stats.connections += 1
        gateway.stats.open += 1
        gateway._terminals.add(self)
        if gateway.stats.open > config.max_connections:
            gateway.stats.shed["over_capacity"] += 1
            transport.close()
            return
        reassembler = Reassembler(
            timeout_s=config.package_timeout_s, max_pending_bytes=config.max_package_bytes
        )
        self.session = _Session(reassembler, transport)
        gateway._sessions.add(self.session)

    def connection_lost(self, exc: Exception | None) -> None:
        gateway = self.gateway
        gateway.stats.open -= 1
        gateway._terminals.discard(self)
        if self.session is not None:
            gateway._sessions.discard(self.session)
        if self.slow is not None:
            self.slow.cancel()

    def data_received(self, data: bytes) -> None:
        if self.session is None or self.session.shed:
            return
        if self.waiting:  # replies wait for the bus: keep the bytes, in order, and stop reading
            self.held.append(data)
            self._pause()
            return
        self._handle(self.splitter.feed(data))

    def eof_received(self) -> bool:
        self.closing = True
        if not self.waiting:
            self._finish()
        return True  # closed by us once the last replies are written

    def _finish(self) -> None:
        """The end of the stream, once every reply before it is written: refuse the bytes left."""
        if self.session is not None and not self.session.shed:
            self._handle(self.splitter.close())
        if not self.waiting:
            assert self.transport is not None
            self.transport.close()

    def _handle(self, pieces: list[bytes | FrameError]) -> None:
        gateway, session = self.gateway, self.session
        assert session is not None
        replies: list[bytes] = []
        waits: list[asyncio.Future[None]] = []
        reports = 0
        for piece in pieces:
            if isinstance(piece, FrameError):
                gateway._refuse(piece, session)
                continue
            session.last_frame = time.monotonic()
            reply, published = gateway._frame(piece, session)
            if published is not None:
                reports += 1
                if not waits or waits[-1] is not published:
                    waits.append(published)
            if reply is not None:
                replies.append(reply)
        if not waits:
            self._write(replies)
            return
        self.waiting = True  # reading pauses only if more bytes come meanwhile (`data_received`)
        done = waits[0] if len(waits) == 1 else asyncio.gather(*waits)
        done.add_done_callback(lambda f: self._published(f, replies, reports))

    def _published(self, done: asyncio.Future[Any], replies: list[bytes], reports: int) -> None:
        """Acknowledge only what the bus holds; a bus that failed closes the connection unanswered.
        Then handle the bytes that came meanwhile, and the end of the stream if it came."""
        self.waiting = False
        assert self.transport is not None
        if done.cancelled() or done.exception() is not None:
            self.transport.abort()
            return
        self.gateway.stats.acknowledged += reports
        self._write(replies)
        gone = self.session is None or self.session.shed or self.transport.is_closing()
        if self.held and not gone:  # a connection lost or shed meanwhile is read no more
            held = b"".join(self.held)
            self.held.clear()
            self._handle(self.splitter.feed(held))
            if self.waiting:
                return
        if self.closing:
            self._finish()
        else:
            self.resume()

    def _write(self, replies: list[bytes]) -> None:
        if replies and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(replies))

    def _pause(self) -> None:
        if self.transport is not None and not self.transport.is_closing() and self.transport.is_reading():
            self.transport.pause_reading()

    def resume(self) -> None:
        """Read again, unless replies wait for the bus or the terminal, or the bus is full."""
        if self.waiting or self.writing_paused or self.closing or self.transport is None:
            return
        if self.gateway._publisher.full:
            self._pause()
            self.gateway._blocked.add(self)
            return
        if not self.transport.is_closing() and not self.transport.is_reading():
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        """The terminal does not take its replies: stop reading; shed it after `write_timeout_s`."""
        self.writing_paused = True
        self._pause()
        self.slow = asyncio.get_running_loop().call_later(self.gateway.config.write_timeout_s, self._too_slow)

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.slow is not None:
            self.slow.cancel()
            self.slow = None
        self.resume()

    def _too_slow(self) -> None:
        self.gateway.stats.shed["slow"] += 1
        assert self.transport is not None
        self.transport.abort()


class Gateway:
    """Serve terminals: `await gateway.start(host, port)`, then `await gateway.close()`."""

    def __init__(
        self, bus: Bus, vehicles: Mapping[str, Vehicle], config: GatewayConfig | None = None
    ) -> None:
        self.bus, self.vehicles = bus, vehicles
        self.config = config or GatewayConfig()
        self.stats = GatewayStats()
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._terminals: set[_Terminal] = set()
        self._blocked: set[_Terminal] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._vehicle_lines: dict[str, tuple[Vehicle | None, str]] = {}
        self._stamp_at, self._stamp = -1.0, ""
        self._publisher = _Publisher(
            bus, self.config.stream, batch=self.config.publish_batch, bound=self.config.max_unpublished,
            stats=self.stats, on_room=self._room,
        )  # fmt: skip

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; return the port (a free one when `port` is 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Terminal(self), host, port)
        self._watchdog = asyncio.create_task(self._watch())
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        for terminal in list(self._terminals):
            if terminal.transport is not None:
                terminal.transport.abort()
        if self._publisher.flushing is not None:
            await asyncio.gather(self._publisher.flushing, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0)  # let the aborted connections report their loss

    def _room(self) -> None:
        blocked, self._blocked = self._blocked, set()
        for terminal in blocked:
            terminal.resume()

    async def _watch(self) -> None:
        """Shed idle connections; give up subpackaged messages whose packages stopped coming."""
        every = min(1.0, self.config.idle_timeout_s / 5, self.config.package_timeout_s / 5)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for session in list(self._sessions):
                if not session.shed and now - session.last_frame > self.config.idle_timeout_s:
                    session.shed = True
                    self.stats.shed["idle"] += 1
                    session.transport.abort()
                elif session.reassembler.pending_bytes:
                    for dropped in session.reassembler.expire(now=now):
                        self._refuse(dropped, session)

    def _refuse(self, error: FrameError, session: _Session) -> None:
        self.stats.refused[error.reason] += 1
        line = {
            "kind": "refused",
            "reason": error.reason,
            "detail": error.detail,
            "raw": error.raw.hex(),
            "phone": session.phone,
            "received_at": self._received_at(),
        }
        self._publisher.put(json.dumps(line, ensure_ascii=False))

    def _frame(self, frame: bytes, session: _Session) -> tuple[bytes | None, asyncio.Future[None] | None]:
        """The reply to one frame, and the publication its acknowledgement waits for."""
        self.stats.frames += 1
        try:
            packet = decode(frame, checked=True)  # the connection's strict splitter checked the XOR
        except FrameError as error:
            self._refuse(error, session)
            return None, None
        header, message = packet.header, packet.message
        if header.package_total is not None:
            return self._package(frame, packet, session)
        if isinstance(message, TerminalResponse):
            return None, None
        if isinstance(message, Register):
            return self._reply(header, session, self._register(header, message, session)), None
        result, published = Result.SUCCESS, None
        if isinstance(message, Authenticate):
            vehicle = self.vehicles.get(header.phone)
            session.phone = header.phone
            session.authenticated = vehicle is not None and message.auth_code == vehicle.auth_code
            result = Result.SUCCESS if session.authenticated else Result.FAILURE
        elif isinstance(message, LocationReport | BatchLocationReport):
            if not session.authenticated or header.phone != session.phone:
                result = Result.FAILURE
            else:
                published = self._publish({"frame": frame.hex()}, header.phone)
        elif isinstance(message, Deregister):
            session.authenticated = False
        elif not isinstance(message, Heartbeat):
            result = Result.UNSUPPORTED
        return self._answer(header, session, result), published

    def _package(
        self, frame: bytes, packet: Packet, session: _Session
    ) -> tuple[bytes | None, asyncio.Future[None] | None]:
        """One package of a subpackaged message: answered as it comes; the last once the message is on
        the bus. Packages of reports need an authenticated terminal; others are joined and answered."""
        header = packet.header
        reply = PlatformResponse(header.serial, header.message_id, Result.SUCCESS)
        if header.message_id in REPORTS and (not session.authenticated or header.phone != session.phone):
            reply = PlatformResponse(header.serial, header.message_id, Result.FAILURE)
            return self._reply(header, session, reply), None
        joined = session.reassembler.add(packet, now=time.monotonic(), frame=frame)
        for dropped in joined.dropped:
            self._refuse(dropped, session)
        if joined.refused is not None:
            self._refuse(joined.refused, session)
            reply = PlatformResponse(header.serial, header.message_id, Result.MESSAGE_ERROR)
            return self._reply(header, session, reply), None
        published = None
        if joined.packet is None and header.package_seq == header.package_total:
            missing = session.reassembler.missing(header)
            if missing:  # the last came, some did not: answer it, and ask for the others again (0x8003)
                self.stats.retransmissions_asked += 1
                layout = Version.JT2019 if header.version is Version.JT2019 else Version.JT2013
                again = RetransmitRequest(Reassembler.first_serial(header), missing, layout)
                return self._reply(header, session, reply) + self._reply(header, session, again), None
        if joined.packet is not None:
            self.stats.reassembled += 1
            if isinstance(joined.packet.message, LocationReport | BatchLocationReport):
                published = self._publish({"frames": [f.hex() for f in joined.frames]}, header.phone)
            elif not isinstance(joined.packet.message, Heartbeat):
                reply = PlatformResponse(header.serial, header.message_id, Result.UNSUPPORTED)
        return self._reply(header, session, reply), published

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

    def _answer(self, asked: Header, session: _Session, result: Result) -> bytes:
        """The platform general response (0x8001) to `asked`, as `_reply` would build it, from the
        session's template (`PlatformAnswers`)."""
        answers = session.answers
        if answers is None or not answers.fits(asked):
            answers = session.answers = PlatformAnswers.to(asked)
        return answers.frame(session.next_serial(), asked.serial, asked.message_id, result)

    def _publish(self, frames: dict[str, object], phone: str) -> asyncio.Future[None]:
        """Put one line on the bus: `frames` (`frame` or `frames`), when, and the vehicle's registry
        fields. A single frame's line is formatted here from the vehicle's fields serialised once
        (`_vehicle_json`); the line is the JSON `json.dumps` would give."""
        frame = frames.get("frame")
        if isinstance(frame, str) and len(frames) == 1:
            line = (
                f'{{"kind": "frame", "frame": "{frame}", "received_at": "{self._received_at()}", '
                f"{self._vehicle_json(phone)}}}"
            )
            return self._publisher.put(line)
        vehicle = self.vehicles.get(phone)
        record = {
            "kind": "frame",
            **frames,
            "received_at": self._received_at(),
            "plate": vehicle.plate if vehicle else None,
            "plate_colour": vehicle.plate_colour if vehicle else None,
            "vehicle_class": vehicle.vehicle_class if vehicle else None,
            "enterprise": vehicle.enterprise if vehicle else None,
        }
        return self._publisher.put(json.dumps(record, ensure_ascii=False))

    def _vehicle_json(self, phone: str) -> str:
        """`"plate": ..., "plate_colour": ..., "vehicle_class": ..., "enterprise": ...` of the vehicle
        with `phone` (nulls when unknown), kept until the registry gives another vehicle for it."""
        vehicle = self.vehicles.get(phone)
        kept = self._vehicle_lines.get(phone)
        if kept is not None and kept[0] is vehicle:
            return kept[1]
        fields = {
            "plate": vehicle.plate if vehicle else None,
            "plate_colour": vehicle.plate_colour if vehicle else None,
            "vehicle_class": vehicle.vehicle_class if vehicle else None,
            "enterprise": vehicle.enterprise if vehicle else None,
        }
        text = json.dumps(fields, ensure_ascii=False)[1:-1]
        self._vehicle_lines[phone] = (vehicle, text)
        return text

    def _received_at(self) -> str:
        """Now in ISO 8601 (UTC), formatted at most once a millisecond: every frame handled in the same
        millisecond gets the same receipt time."""
        now = time.time()
        if not self._stamp_at <= now < self._stamp_at + 0.001:
            self._stamp_at, self._stamp = now, datetime.fromtimestamp(now, UTC).isoformat()
        return self._stamp
