"""End to end: simulated JT/T 808 terminals over loopback -> gateway -> bus -> lake writer (rules) -> lake.

The gateway runs in this process on a fresh hub in a temporary home; the writer (landing through
`hub.ingest`, live state, supervision rules) runs beside it on the memory bus, or with `--bus redis` in
its own process on a redis-server the script starts (no persistence) so that the two do not share one
interpreter lock; the terminals run in `--clients` other processes. Each
terminal registers (0x0100), authenticates (0x0102), then, once all are connected, reports (0x0200, 30 s
apart on a simulated clock) as fast as the platform acknowledges them (one outstanding report per
terminal) for `--seconds`. Then the writer drains the bus, and the lake is counted: landed must equal
acknowledged (zero loss). The open-files limit is raised as far as allowed; when it cannot hold the
terminals, fewer are connected and the count says so. Prints one JSON line.

    .venv/bin/python benchmarks/gateway_e2e.py --terminals 10000 --seconds 20 --bus redis
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, cast

from dthub.domains import DOMAINS
from dthub.domains.vehicles import eventloop, registry
from dthub.domains.vehicles.gateway import Gateway, GatewayConfig
from dthub.domains.vehicles.jt808 import (
    Authenticate,
    FrameSplitter,
    Header,
    LocationReport,
    Message,
    PlatformResponse,
    Register,
    RegisterResponse,
    decode,
    encode,
)
from dthub.domains.vehicles.jt808.framing import unwrap
from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.simulator import ACC_ON, POSITIONED, fleet
from dthub.domains.vehicles.writer import Writer
from dthub.hub.bus import connect_bus
from dthub.hub.core import Hub
from dthub.hub.settings import Settings

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
SPARE_FILES = 512
"""File descriptors kept for the hub, the lake and the interpreter."""


def raise_open_files(wanted: int) -> int:
    """Raise the soft open-files limit towards `wanted` (as far as the hard limit allows); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_s() -> float:
    """CPU seconds this process used so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Terminal(asyncio.Protocol):
    """One terminal's connection, an `asyncio.Protocol`: `ask` (register, authenticate) sends a message
    and waits for the answer; `report` then sends its 0x0200 frames one at a time, the next as soon as
    the platform acknowledged the one before (0x8001, result 0, answering 0x0200), until `until`."""

    def __init__(self, vehicle: Vehicle) -> None:
        self.vehicle = vehicle
        self.splitter = FrameSplitter()
        self.serial = 0
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[bytes] | None = None
        self.frames: list[bytes] = []
        self.index = 0
        self.acknowledged = 0
        self.until = 0.0
        self.done: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("gateway closed the connection"))
        if self.done is not None and not self.done.done():
            self.done.set_result(self.acknowledged)

    def data_received(self, data: bytes) -> None:
        whole = (  # the usual read: one whole frame, nothing held before it
            self.done is not None
            and not self.splitter.pending_bytes
            and len(data) > 2
            and data[0] == 0x7E
            and data.find(0x7E, 1) == len(data) - 1
        )
        for piece in [data] if whole else self.splitter.feed(data):
            if not isinstance(piece, bytes):
                continue
            if self.done is None:
                if self.answer is not None and not self.answer.done():
                    self.answer.set_result(piece)
                continue
            content, _ = unwrap(piece)  # the XOR checked; an 0x8001 answering 0x0200 with result 0?
            if content[:2] == ACK_ID and content[-3:] == REPORT_ACKED:
                self.acknowledged += 1
            self._next()

    async def ask(self, message: Message, timeout_s: float = 60.0) -> Message:
        """Send, and wait for the answer."""
        assert self.transport is not None
        self.serial = (self.serial + 1) & 0xFFFF
        header = Header(message_id=message.MESSAGE_ID, phone=self.vehicle.phone, serial=self.serial)
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(encode(header, message))
        return decode(await asyncio.wait_for(self.answer, timeout_s)).message

    def prepare(self, index: int, count: int) -> None:
        """Encode the first `count` reports (60 km/h east, 30 s apart), so that reporting only sends."""
        self.frames = [self._report(index, n) for n in range(count)]
        self.index = index

    def _report(self, index: int, n: int) -> bytes:
        lat, lon = 39.0 + (index % 2000) * 1e-4, round(117.0 + n * 0.0058, 6)
        fix = LocationReport(alarm=0, status=ACC_ON | POSITIONED, latitude=round(lat, 6), longitude=lon,
                             altitude_m=5, speed_kmh=60.0, direction=90,
                             time=T0 + timedelta(seconds=30 * n))  # fmt: skip
        serial = (self.serial + 1 + n) & 0xFFFF
        return encode(Header(message_id=0x0200, phone=self.vehicle.phone, serial=serial), fix)

    def report(self, until: float) -> asyncio.Future[int]:
        """Report until `until` (monotonic); the future gives the reports acknowledged."""
        self.until, self.done = until, asyncio.get_running_loop().create_future()
        self._next()
        return self.done

    def _next(self) -> None:
        assert self.done is not None
        assert self.transport is not None
        if self.done.done():
            return
        if time.monotonic() >= self.until or self.transport.is_closing():
            self.done.set_result(self.acknowledged)
            return
        n = self.acknowledged  # a report not acknowledged goes again
        frame = self.frames[n] if n < len(self.frames) else self._report(self.index, n)
        self.transport.write(frame)


ACK_ID = (0x8001).to_bytes(2, "big")
REPORT_ACKED = (0x0200).to_bytes(2, "big") + b"\x00"
"""The end of an 0x8001 body answering 0x0200 with result 0 (success)."""


async def connect(host: str, port: int, vehicle: Vehicle, gate: asyncio.Semaphore) -> Terminal | None:
    async with gate:
        try:
            _, terminal = await asyncio.get_running_loop().create_connection(
                lambda: Terminal(vehicle), host, port
            )
            register = Register(province_id=12, city_id=100, manufacturer_id="DTHUB", model="SIM-808",
                                terminal_id=vehicle.terminal_id, plate_colour=vehicle.plate_colour,
                                plate=vehicle.plate)  # fmt: skip
            answer = await terminal.ask(register)
            if not isinstance(answer, RegisterResponse) or answer.auth_code is None:
                return None
            answer = await terminal.ask(Authenticate(answer.auth_code))
            ok = isinstance(answer, PlatformResponse) and answer.result == 0
            return terminal if ok else None
        except (OSError, TimeoutError):
            return None


async def _client(
    host: str, port: int, indices: list[int], ready: Any, go: Event, seconds: float, rate: float
) -> tuple[int, float]:
    vehicles = {t.index: t.vehicle for t in fleet(max(indices) + 1)}
    gate = asyncio.Semaphore(100)
    links = await asyncio.gather(*(connect(host, port, vehicles[i], gate) for i in indices))
    connected = [(i, link) for i, link in zip(indices, links, strict=True) if link is not None]
    for i, link in connected:  # reports each terminal is expected to send, and some more
        link.prepare(i, int(seconds * rate / max(len(indices), 1) * 1.5) + 8)
    ready.put(len(connected))
    await asyncio.to_thread(go.wait)
    until, started_cpu = time.monotonic() + seconds, cpu_s()
    counts = await asyncio.wait_for(
        asyncio.gather(*(link.report(until) for _, link in connected)), seconds + 120
    )
    for _, link in connected:
        assert link.transport is not None
        link.transport.close()
    return sum(counts), cpu_s() - started_cpu


def client(
    host: str, port: int, indices: list[int], ready: Any, done: Any, go: Event, seconds: float, rate: float
) -> None:
    raise_open_files(len(indices) + SPARE_FILES)
    done.put(eventloop.run(_client(host, port, indices, ready, go, seconds, rate)))


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on a free loopback port, without persistence, for the run."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("--bus redis needs redis-server on PATH (scripts/install-services.sh)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="gateway-e2e-redis-") as folder:
        command = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                   "--dir", folder]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait()


def write_lake(home: Path, bus_url: str, batch: int, stop: Event, done: Any) -> None:
    """The writer in its own process: consume until `stop` is set and the stream is drained."""

    async def run() -> dict[str, float]:
        hub = Hub.open(Settings(home=home), DOMAINS)
        bus = connect_bus(bus_url)
        try:
            writer = Writer(hub, bus, registry.load(hub.store), block_ms=50, batch_size=batch)
            stopping = asyncio.Event()

            async def watch() -> None:
                await asyncio.to_thread(stop.wait)
                stopping.set()

            watcher = asyncio.create_task(watch())
            started_cpu = cpu_s()
            await writer.run(stopping)
            await watcher
            return {
                "batches": writer.stats.batches,
                "landed": writer.stats.landed,
                "cpu_s": cpu_s() - started_cpu,
            }
        finally:
            await bus.close()
            hub.close()

    done.put(eventloop.run(run()))


async def bench(args: argparse.Namespace, home: Path, bus_url: str) -> dict[str, Any]:
    limit = raise_open_files(args.terminals + SPARE_FILES)
    terminals = max(1, min(args.terminals, limit - SPARE_FILES))
    settings = Settings(home=home)
    hub = Hub.open(settings, DOMAINS)
    context = mp.get_context("spawn")
    try:
        registry.save(hub.store, [t.vehicle for t in fleet(terminals)])
        known = registry.load(hub.store)
        bus = connect_bus(bus_url)
        gateway = Gateway(bus, known, GatewayConfig(max_connections=terminals + 10))
        stop = asyncio.Event()
        writer_done, writer_stop = context.Queue(), context.Event()
        if bus_url.startswith("memory:"):
            in_process = Writer(hub, bus, known, block_ms=50, batch_size=args.batch)
            writing = asyncio.create_task(in_process.run(stop))
            writer: Writer | None = in_process
        else:
            writer = None
            lake_writer = context.Process(
                target=write_lake, args=(home, bus_url, args.batch, writer_stop, writer_done)
            )
            lake_writer.start()
        port = await gateway.start("127.0.0.1", 0)
        ready, done, go = context.Queue(), context.Queue(), context.Event()
        shares = [list(range(terminals))[n :: args.clients] for n in range(args.clients)]
        rss_before = rss_bytes()
        processes = [
            context.Process(
                target=client,
                args=(
                    "127.0.0.1",
                    port,
                    share,
                    ready,
                    done,
                    go,
                    args.seconds,
                    args.expect * len(share) / terminals,
                ),
            )
            for share in shares
        ]
        for process in processes:
            process.start()
        connected = 0
        for _ in processes:
            connected += await asyncio.to_thread(ready.get)
        rss_connected = rss_bytes()
        acked_before = gateway.stats.acknowledged
        go.set()
        gateway_cpu = cpu_s()
        started = time.monotonic()
        acknowledged, clients_cpu = 0, 0.0
        for _ in processes:
            count, client_cpu = await asyncio.to_thread(done.get)
            acknowledged += count
            clients_cpu += client_cpu
        reporting_s = time.monotonic() - started
        for process in processes:
            await asyncio.to_thread(process.join)
        await gateway.close()
        stop.set()
        writer_stop.set()
        if writer is not None:
            await writing
            written = {"batches": writer.stats.batches, "landed": writer.stats.landed, "cpu_s": 0.0}
        else:
            written = await asyncio.to_thread(writer_done.get)
            await asyncio.to_thread(lake_writer.join)
        drained_s = time.monotonic() - started
        gateway_cpu = cpu_s() - gateway_cpu
        await bus.close()
        con = hub.connect()
        landed = int(hub.table("vehicles.location_reports", con).count().to_pyarrow().as_py())
        con.disconnect()
    finally:
        hub.close()
    return {
        "benchmark": "gateway_e2e",
        "terminals_asked": args.terminals,
        "terminals_connected": connected,
        "open_files_limit": limit,
        "seconds": round(reporting_s, 1),
        "reports_acknowledged": acknowledged,
        "gateway_acknowledged": gateway.stats.acknowledged - acked_before,
        "reports_landed": landed,
        "lost": acknowledged - landed,
        "cpu_us_per_report": {
            "terminals": round(clients_cpu / max(acknowledged, 1) * 1e6),
            "gateway" + ("" if writer is None else "+writer"): round(
                gateway_cpu / max(acknowledged, 1) * 1e6
            ),
            **({"writer": round(written["cpu_s"] / max(landed, 1) * 1e6)} if writer is None else {}),
        },
        "acknowledged_per_s": round(acknowledged / reporting_s),
        "landed_per_s": round(landed / drained_s),
        "drain_s": round(drained_s - reporting_s, 1),
        "gateway_rss_per_connection_kb": round((rss_connected - rss_before) / max(connected, 1) / 1024, 1),
        "gateway_shed": dict(gateway.stats.shed),
        "gateway_bus_messages": gateway.stats.bus_messages,
        "writer_batches": written["batches"],
        "writer": "in process" if writer is not None else "own process",
        "bus": args.bus,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=1, help="Processes running the terminals.")
    parser.add_argument("--batch", type=int, default=200, help="Writer batch size, bus messages.")
    parser.add_argument(
        "--expect",
        type=float,
        default=20_000.0,
        help="Reports/s to encode before the clock starts (x1.5; more are encoded as they are sent).",
    )
    parser.add_argument(
        "--bus",
        default="memory://",
        help="memory:// (writer in this process), redis (a redis-server started for the run; writer in "
        "its own process) or a redis:// URL.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gateway-e2e-") as tmp:
        if args.bus == "redis":
            with redis_server() as url:
                print(json.dumps(eventloop.run(bench(args, Path(tmp) / "hub", url))))
        else:
            print(json.dumps(eventloop.run(bench(args, Path(tmp) / "hub", args.bus))))


if __name__ == "__main__":
    main()
