"""The live demo (I/O edge): the API, the JT/T 808 gateway and the lake writer in one process, the simulated
fleet beside it, and the detector feed, until Ctrl-C.

- uvicorn serves the app (console and API) on `host:port`.
- The gateway listens on `host:gateway_port`; the writer lands what it publishes every `land_every_s`
  (so that the lake gets one file per few seconds, not one per report), runs the supervision rules (overspeed
  against the posted limit of the nearest segment, each bus against its route) and sweeps for terminals
  gone silent.
- The fleet runs as a child process (`dthub.demo.terminals`, started early by `start_fleet`), its
  terminals connecting over TCP.
- The detector feed lands each 5-minute interval of observations when it ends (real time), and the bike
  stations' status of the new interval.

Ctrl-C (or SIGTERM) stops uvicorn; then the fleet is stopped, the writer drains the bus, the gateway closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shapely.geometry import LineString  # type: ignore[import-untyped]

from dthub.demo.build import DemoCity, feed_folder, land_interval, realdata_view, refresh_bikes
from dthub.demo.detectors import INTERVAL, interval_start
from dthub.demo.fleet import assigned_routes, route_line
from dthub.domains.vehicles import registry as vehicle_registry
from dthub.domains.vehicles.gateway import Gateway
from dthub.domains.vehicles.writer import Writer
from dthub.hub.bus import connect_bus
from dthub.hub.core import Hub
from dthub.hub.domain import Domain
from dthub.hub.settings import Settings

FEED_DELAY_S = 5.0
"""Seconds after an interval ends before its observations land."""


@dataclass(frozen=True, kw_only=True)
class LiveConfig:
    """How the live demo runs."""

    host: str
    port: int
    gateway_port: int = 7808
    vehicles: int = 3_000
    report_every_s: float = 30.0
    ramp_s: float = 20.0
    land_every_s: float = 5.0


async def _feed_detectors(hub: Hub, city: DemoCity, stop: asyncio.Event) -> None:
    """Land each interval when it ends."""
    while not stop.is_set():
        now = datetime.now(UTC)
        next_start = interval_start(now) + INTERVAL
        wait = (next_start - now).total_seconds() + FEED_DELAY_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        if stop.is_set():
            return
        await asyncio.to_thread(land_interval, hub, city, next_start - INTERVAL)
        await asyncio.to_thread(refresh_bikes, hub, next_start)


async def _land(writer: Writer, stop: asyncio.Event, every_s: float) -> None:
    """Run the writer every `every_s` until stopped, then drain; sweep for silent terminals (offline
    alarms) every `writer.offline_every_s`."""
    last_sweep = time.monotonic()
    while True:
        handled = await writer.step()
        if time.monotonic() - last_sweep >= writer.offline_every_s:
            last_sweep = time.monotonic()
            await asyncio.to_thread(writer.sweep)
        if stop.is_set():
            if handled == 0:
                return
            continue
        if handled < writer.batch_size:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)


def gateway_port(config: LiveConfig) -> int:
    """The gateway port, a free one for 0 (chosen now, so the fleet can start early); `OSError` when the
    server's or the gateway's port is taken, before anything is built."""
    for port in (config.port, config.gateway_port):
        if port:
            _bind(config.host, port)
    return config.gateway_port or _bind(config.host, 0)


def _bind(host: str, port: int) -> int:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        bound: int = probe.getsockname()[1]
        return bound


def start_fleet(config: LiveConfig, port: int, seed: int) -> subprocess.Popen[bytes]:
    """Start the fleet process; its terminals call once the gateway on `port` listens. Starting it before
    the city is built lets its imports overlap the build."""
    ramp_s = min(config.ramp_s, config.report_every_s)
    return subprocess.Popen(
        [sys.executable, "-m", "dthub.demo.terminals",
         "--host", config.host, "--port", str(port), "--vehicles", str(config.vehicles),
         "--seed", str(seed), "--report-every-s", str(config.report_every_s), "--ramp-s", str(ramp_s)],
        start_new_session=True,  # Ctrl-C reaches the server, which stops the fleet in its turn
    )  # fmt: skip


def stop_fleet(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Interrupted:
    """Whether Ctrl-C came while a block ran."""

    noted: bool = False


@contextlib.contextmanager
def noting_ctrl_c() -> Iterator[Interrupted]:
    """Note a Ctrl-C (SIGINT) while the block runs: a library may turn the KeyboardInterrupt into an error
    of its own (DuckDB: "Query interrupted"), and the note tells that it was the user. Where SIGINT is not
    Python's default handler (ignored in a background job), it is left alone."""
    state = Interrupted()
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield state
        return

    def handler(_signum: int, _frame: object) -> None:
        state.noted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def _server(app: object, config: LiveConfig) -> Any:
    """uvicorn's server, leaving Ctrl-C to `serve` (uvicorn would raise it again once it stopped)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            yield

    return Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning"))  # type: ignore[arg-type]


async def serve(
    settings: Settings,
    domains: Sequence[Domain],
    city: DemoCity,
    config: LiveConfig,
    *,
    port: int,
    fleet: subprocess.Popen[bytes],
    announce: Callable[[int], None] = lambda _port: None,
) -> None:
    """Serve the demo until Ctrl-C or SIGTERM, the gateway on `port` for the `fleet` (`start_fleet`), then
    stop the fleet; `announce(port)` once everything listens. The planner plans on the feeds landed
    in the hub (the demo city's); GTFS-RT matching reads the real static feeds (`build.realdata_view`)."""
    from dthub.api import create_app

    view = realdata_view(settings.home, settings.realdata, feed_folder(settings.home))
    app = create_app(settings.model_copy(update={"realdata": view}), domains)
    hub: Hub = app.state.hub
    bus = connect_bus(settings.bus_url)
    known = vehicle_registry.load(hub.store)
    gateway = Gateway(bus, known)
    bound = await gateway.start(config.host, port)
    writer = Writer.from_settings(hub, bus, known, batch_size=5_000)  # posted limits of the segments
    for phone, route in assigned_routes(city.vehicles, city.network).items():
        writer.routes.setdefault(phone, LineString(route_line(city.network, route)))
    stop = asyncio.Event()
    server = _server(app, config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
    tasks = [
        asyncio.create_task(_land(writer, stop, config.land_every_s)),
        asyncio.create_task(_feed_detectors(hub, city, stop)),
    ]
    announce(bound)
    try:
        await server.serve()
    finally:
        await asyncio.to_thread(stop_fleet, fleet)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await gateway.close()
        await bus.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
