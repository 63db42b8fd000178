"""The gateway's Python work per report, without sockets: frames handed to its connections directly.

`--terminals` connections (fake transports that keep what is written) register and authenticate, then
each hands the gateway `--rounds` 0x0200 frames, one round after another, as `data_received` would; the
gateway answers, publishes to a memory bus and acknowledges each report once its bus message is
published. Counts CPU microseconds per report for that (splitting, decoding, answering, the bus line,
batching, futures), on `vehicles.eventloop.run` as the gateway process runs; sockets and the event
loop's I/O are what `gateway_e2e.py` adds. Prints one JSON line.

    .venv/bin/python benchmarks/jt808_gateway.py --terminals 2000 --rounds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dthub.domains.vehicles import eventloop
from dthub.domains.vehicles.gateway import Gateway, _Terminal
from dthub.domains.vehicles.jt808 import Authenticate, Header, LocationReport, Register, encode
from dthub.domains.vehicles.simulator import ACC_ON, POSITIONED, fleet
from dthub.hub.bus import connect_bus

T0 = datetime(2026, 11, 25, tzinfo=UTC)


class Transport:
    """Takes every write; reading can be paused and resumed."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.reading, self.closing = True, False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    abort = close


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    terminals = fleet(args.terminals)
    gateway = Gateway(connect_bus("memory://"), {t.vehicle.phone: t.vehicle for t in terminals})
    links = []
    for t in terminals:
        vehicle, link = t.vehicle, _Terminal(gateway)
        link.connection_made(Transport())  # type: ignore[arg-type]
        register = Register(province_id=12, city_id=100, manufacturer_id="DTHUB", model="SIM-808",
                            terminal_id=vehicle.terminal_id, plate_colour=vehicle.plate_colour,
                            plate=vehicle.plate)  # fmt: skip
        link.data_received(encode(Header(message_id=0x0100, phone=vehicle.phone, serial=1), register))
        link.data_received(
            encode(Header(message_id=0x0102, phone=vehicle.phone, serial=2), Authenticate(vehicle.auth_code))
        )
        links.append(link)
    rounds = [
        [
            encode(
                Header(message_id=0x0200, phone=t.vehicle.phone, serial=3 + n),
                LocationReport(
                    alarm=0,
                    status=ACC_ON | POSITIONED,
                    latitude=round(39.0 + t.index * 1e-5, 6),
                    longitude=round(117.0 + n * 0.0058, 6),
                    altitude_m=5,
                    speed_kmh=60.0,
                    direction=90,
                    time=T0 + timedelta(seconds=30 * n),
                ),
            )
            for t in terminals
        ]
        for n in range(args.rounds)
    ]
    await asyncio.sleep(0)
    started = time.process_time()
    for frames in rounds:
        for link, frame in zip(links, frames, strict=True):
            link.data_received(frame)
        while gateway._publisher.flushing is not None or gateway._publisher.lines:
            await asyncio.sleep(0)
        await asyncio.sleep(0)
    cpu_s = time.process_time() - started
    reports = args.terminals * args.rounds
    if gateway.stats.acknowledged != reports:
        raise SystemExit(f"acknowledged {gateway.stats.acknowledged} of {reports} reports")
    await gateway.close()
    return {
        "benchmark": "jt808_gateway",
        "terminals": args.terminals,
        "reports": reports,
        "bus_messages": gateway.stats.bus_messages,
        "cpu_us_per_report": round(cpu_s / reports * 1e6, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=10)
    print(json.dumps(eventloop.run(bench(parser.parse_args()))))


if __name__ == "__main__":
    main()
