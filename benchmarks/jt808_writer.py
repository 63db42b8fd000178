"""The lake writer alone: gateway messages already on the bus -> landed, live state, rules, alarms.

`--terminals` simulated coaches each report `--rounds` fixes 30 s apart (one round after another, so each
terminal's track grows batch by batch, as in service); the frames are encoded and put on a memory bus in
messages of `--lines` JSON lines, as the gateway publishes them, before the clock starts. Then the writer
consumes them in batches of `--batch` messages, on the event loop (and garbage-collector settings) of the
writer process (`vehicles.eventloop.run`). Prints one JSON line: rows landed per second of wall
clock and CPU microseconds per row (the figure that does not depend on what else the machine runs).

    .venv/bin/python benchmarks/jt808_writer.py --terminals 2000 --rounds 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dthub.domains import DOMAINS
from dthub.domains.vehicles import eventloop, registry
from dthub.domains.vehicles.jt808 import Header, LocationReport, encode
from dthub.domains.vehicles.simulator import ACC_ON, POSITIONED, fleet
from dthub.domains.vehicles.writer import GROUP, Writer
from dthub.hub.bus import connect_bus
from dthub.hub.core import Hub
from dthub.hub.settings import Settings

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
STREAM = "vehicles.jt808"


async def bench(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    hub = Hub.open(Settings(home=home), DOMAINS)
    try:
        terminals = fleet(args.terminals)
        registry.save(hub.store, [t.vehicle for t in terminals])
        known = registry.load(hub.store)
        bus = connect_bus("memory://")
        lines: list[str] = []
        received = datetime.now(UTC).isoformat()
        for round_ in range(args.rounds):
            for terminal in terminals:
                vehicle = terminal.vehicle
                lat, lon = 39.0 + terminal.index * 1e-4, round(117.0 + round_ * 0.0058, 6)
                at = T0 + timedelta(seconds=30 * round_)
                fix = LocationReport(alarm=0, status=ACC_ON | POSITIONED, latitude=lat, longitude=lon,
                                     altitude_m=5, speed_kmh=60.0, direction=90, time=at)  # fmt: skip
                frame = encode(Header(message_id=0x0200, phone=vehicle.phone, serial=round_ + 1), fix)
                lines.append(json.dumps({"kind": "frame", "frame": frame.hex(), "received_at": received,
                                         "plate": vehicle.plate, "plate_colour": vehicle.plate_colour,
                                         "vehicle_class": vehicle.vehicle_class,
                                         "enterprise": vehicle.enterprise}, ensure_ascii=False))  # fmt: skip
                if len(lines) == args.lines:
                    await bus.publish(STREAM, {"line": "\n".join(lines)})
                    lines = []
        if lines:
            await bus.publish(STREAM, {"line": "\n".join(lines)})
        writer = Writer(hub, bus, known, block_ms=10, batch_size=args.batch)
        started, cpu = time.perf_counter(), time.process_time()
        while await writer.step():
            pass
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        assert await bus.pending(STREAM, GROUP) == 0
        await bus.close()
    finally:
        hub.close()
    rows = writer.stats.landed
    return {
        "benchmark": "jt808_writer",
        "terminals": args.terminals,
        "rounds": args.rounds,
        "rows_landed": rows,
        "batches": writer.stats.batches,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "cpu_us_per_row": round(cpu_s / max(rows, 1) * 1e6, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--lines", type=int, default=256, help="JSON lines per bus message (gateway batch).")
    parser.add_argument("--batch", type=int, default=40, help="Bus messages per writer batch.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jt808-writer-") as tmp:
        print(json.dumps(eventloop.run(bench(args, Path(tmp) / "hub"))))  # as the writer process runs


if __name__ == "__main__":
    main()
