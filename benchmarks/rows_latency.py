"""p50 / p99 latency of a filtered 1,000-row page of `GET /api/v1/datasets/{id}/rows` under loopback load.

A hub in a temporary home lands the real PeMS day(s) under `DTHUB_REALDATA` (`--days`, default 1), an
application is granted `roads.detector_observations` and issued an API key, and the API is served by uvicorn
(`--workers`, default 1) on a free 127.0.0.1 port. A SEPARATE process (this script with `--drive`) then
sends an open-loop load with httpx/asyncio at each `--rates` req/s for `--seconds` s each (so at most
rate x seconds requests per step, loopback only), each asking `limit=1000` rows filtered on a station_id
range. Latency is measured from the scheduled send time, so a server that falls behind is charged for the
queueing. Rate limits are raised for the run. One JSON line is printed with the command: p50/p99 per rate
and the highest rate whose p99 is under 100 ms.

    .venv/bin/python benchmarks/rows_latency.py --rates 20,50,100,200 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from dthub.domains import DOMAINS
from dthub.hub import access_requests, identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Organisation, Role
from dthub.hub.ingest import ingest_bytes
from dthub.hub.settings import Settings
from dthub.hub.tables import utcnow

DATASET = "roads.detector_observations"
PAGE = {"limit": "1000", "filter": "station_id:range:400000..420000", "sort": "observed_at"}
P99_TARGET_MS = 100.0
REQUEST_TIMEOUT_S = 5.0
"""A request slower than this counts as an error; a step ends at most this long after its last send."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(home: Path, days: int) -> tuple[str, int]:
    """Land `days` PeMS days, grant an application, issue its key; returns the key and rows landed."""
    hub = Hub.open(Settings(home=home), DOMAINS)
    try:
        files = sorted(
            (hub.settings.realdata / "traffic" / "pems_raw_scalation").glob("d04_text_station_5min_*")
        )
        if not files:
            raise SystemExit(f"no PeMS day under {hub.settings.realdata}")
        rows = 0
        for path in files[:days]:
            rows += ingest_bytes(hub, hub.registry.adapter("pems.station_5min"), path.read_bytes(),
                                 source=str(path)).landed  # fmt: skip
        by = "person:bench"
        identity.add_organisation(
            hub.store, Organisation(id="jtw", name="市交通运输委", kind="agency"), by=by
        )
        identity.add_person(hub.store, "steward", name="steward", password="bench password 1",
                            role=Role.ADMIN, clearance=Level.CORE, by="cli")  # fmt: skip
        steward = identity.consumer(hub.store, "person", "steward")
        app = identity.add_application(hub.store, "loadgen", name="load generator", clearance=Level.GENERAL_2,
                                       organisation_id="jtw", by=by)  # fmt: skip
        asked = access_requests.request(hub, app, DATASET, purpose="latency benchmark",
                                        expires_at=utcnow() + timedelta(days=1))  # fmt: skip
        access_requests.decide(hub, asked.id, steward, approve=True, note="benchmark")
        access_requests.provision(hub, asked.id, steward)
        return identity.issue_key(hub.store, "loadgen", by=by).text, rows
    finally:
        hub.close()


async def drive_rate(base: str, key: str, rate: int, seconds: float) -> dict[str, Any]:
    """Open-loop: request i is due at i/rate s; its latency runs from when it was due to its last byte."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(
        base_url=base, headers={"X-API-Key": key}, limits=limits, timeout=30
    ) as client:
        start = time.perf_counter()

        async def one(index: int) -> None:
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                response = await client.get(f"/api/v1/datasets/{DATASET}/rows", params=PAGE)
                body = response.json()
                if response.status_code != 200 or len(body["rows"]) != 1000:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append((time.perf_counter() - due) * 1000)

        tasks = [asyncio.ensure_future(one(i)) for i in range(total)]
        _, late = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT_S)
        for task in late:
            task.cancel()
        if late:
            errors["unfinished"] = len(late)
        elapsed = time.perf_counter() - start
    ms = np.array(latencies) if latencies else np.array([float("nan")])
    return {
        "rate": rate,
        "requests": total,
        "achieved_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "errors": errors,
    }


def drive(base: str, key: str, rates: list[int], seconds: float) -> list[dict[str, Any]]:
    asyncio.run(drive_rate(base, key, 5, 2))  # warm up
    steps = []
    for rate in rates:
        steps.append(asyncio.run(drive_rate(base, key, rate, seconds)))
        if steps[-1]["errors"]:
            break  # saturated: higher rates only queue more
    return steps


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="5,10,20,50,100,200", help="req/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each rate (at most 60)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--drive", nargs=2, metavar=("BASE_URL", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    seconds = min(args.seconds, 60.0)
    if args.drive:
        print(json.dumps(drive(args.drive[0], args.drive[1], rates, seconds)))
        return {}
    with tempfile.TemporaryDirectory() as home:
        key, landed = prepare(Path(home), args.days)
        port = free_port()
        env = {**os.environ, "DTHUB_HOME": home, "DTHUB_RATE_LIMIT_PER_MINUTE": "100000000",
               "DTHUB_RATE_LIMIT_BURST": "1000000"}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "dthub.api:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(args.workers), "--log-level", "warning",
             "--no-access-log"],
            env=env,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            loadgen = subprocess.run(
                [sys.executable, __file__, "--rates", args.rates, "--seconds", str(seconds),
                 "--drive", base, key],
                check=True, capture_output=True, text=True,
                timeout=60 + len(rates) * (seconds + REQUEST_TIMEOUT_S + 10),
            )  # fmt: skip
            steps = json.loads(loadgen.stdout.strip().splitlines()[-1])
        finally:
            server.terminate()
            server.wait(timeout=30)
    sustained = [s["rate"] for s in steps if s["p99_ms"] < P99_TARGET_MS and not s["errors"]]
    result = {
        "command": shlex.join([".venv/bin/python", "benchmarks/rows_latency.py", *sys.argv[1:]]),
        "dataset": DATASET,
        "rows_landed": landed,
        "page": PAGE,
        "workers": args.workers,
        "steps": steps,
        "max_rate_p99_under_100ms": max(sustained) if sustained else None,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
