"""The demo fleet on the wire: one simulated JT/T 808 terminal per vehicle, over real TCP to the gateway.

Each terminal registers, authenticates and reports a fix every `report_every_s` (real time = simulated
time), as its `Driver` moves; while silent it hangs up and calls again when the silence ends; when the
gateway drops it, it calls again after a pause. Connections are spread over the first `ramp_s` seconds.

Run beside the server as its own process (`python -m dthub.demo.terminals --port 7808 --vehicles 2000`),
so that the terminals and the platform do not share one event loop. It may start before the gateway: it
waits for the port to accept connections, then calls. It stops on SIGINT or SIGTERM, or when the process
that started it is gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dthub.demo.city import build_network
from dthub.demo.fleet import Driver, assigned_routes, registry
from dthub.domains.vehicles.jt808 import PlatformResponse
from dthub.domains.vehicles.simulator import Run, Terminal, _connect

RETRY_S = 5.0


@dataclass
class FleetCounts:
    """What the fleet did so far."""

    connected: int = 0
    acknowledged: int = 0
    failures: int = 0


async def drive(
    host: str,
    port: int,
    index: int,
    driver: Driver,
    stop: asyncio.Event,
    counts: FleetCounts,
    *,
    report_every_s: float,
    first_delay_s: float,
) -> None:
    """Run one terminal until `stop` is set."""
    terminal = Terminal(index=index, vehicle=driver.vehicle)
    if await _wait(stop, first_delay_s):
        return
    while not stop.is_set():
        try:
            link = await _connect(host, port, terminal, Run())
        except (OSError, ConnectionError, TimeoutError):
            counts.failures += 1
            if await _wait(stop, RETRY_S):
                return
            continue
        counts.connected += 1
        try:
            while not stop.is_set():
                report = driver.fix(datetime.now(UTC))
                if report is None:
                    break
                answer = await link.ask(report)
                if isinstance(answer, PlatformResponse) and answer.result == 0:
                    counts.acknowledged += 1
                if await _wait(stop, report_every_s):
                    break
        except (OSError, ConnectionError, TimeoutError):
            counts.failures += 1
            if await _wait(stop, RETRY_S):
                return
        finally:
            counts.connected -= 1
            await link.close()
        while driver.silent and not stop.is_set():  # hung up: call again when the silence ends
            if await _wait(stop, report_every_s):
                return
            driver.fix(datetime.now(UTC))


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop`; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def wait_for_gateway(host: str, port: int, stop: asyncio.Event, *, every_s: float = 0.25) -> bool:
    """Wait until the gateway accepts a connection (one probe at a time); False when stopped first."""
    while not stop.is_set():
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            if await _wait(stop, every_s):
                return False
            continue
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        return True
    return False


async def run_fleet(
    host: str,
    port: int,
    *,
    vehicles: int,
    seed: int,
    report_every_s: float,
    stop: asyncio.Event,
    ramp_s: float = 20.0,
) -> FleetCounts:
    """Drive the first `vehicles` of the demo registry, once the gateway listens, until `stop` is set."""
    network = build_network()
    counts = FleetCounts()
    fleet = registry(vehicles, seed=seed)
    routes = assigned_routes(fleet, network)
    if not await wait_for_gateway(host, port, stop):
        return counts
    start = datetime.now(UTC)
    tasks = [
        asyncio.create_task(
            drive(
                host,
                port,
                index,
                Driver(vehicle, network, seed=seed, start=start, route=routes.get(vehicle.phone)),
                stop,
                counts,
                report_every_s=report_every_s,
                first_delay_s=ramp_s * index / max(1, len(fleet)),
            )
        )
        for index, vehicle in enumerate(fleet)
    ]
    await asyncio.gather(*tasks, return_exceptions=True)
    return counts


async def _watch_parent(parent: int, stop: asyncio.Event, every_s: float = 2.0) -> None:
    """Stop when the process that started the fleet is gone (it was killed without stopping us)."""
    while not await _wait(stop, every_s):
        if os.getppid() != parent:
            stop.set()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="模拟车队 The demo fleet (simulated JT/T 808 terminals).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vehicles", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--report-every-s", type=float, default=30.0)
    parser.add_argument("--ramp-s", type=float, default=20.0)
    args = parser.parse_args(argv)

    parent = os.getppid()

    async def fleet() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        orphaned = asyncio.create_task(_watch_parent(parent, stop))
        await run_fleet(args.host, args.port, vehicles=args.vehicles, seed=args.seed,
                        report_every_s=args.report_every_s, stop=stop, ramp_s=args.ramp_s)  # fmt: skip
        orphaned.cancel()

    asyncio.run(fleet())
    return 0


if __name__ == "__main__":
    sys.exit(main())
