"""Planner API throughput: plans/s of `POST /api/v1/maas/plan` served by uvicorn with 2 workers, on a real
feed (default the NYC subway, Wed 2026-10-07), under load from this separate process.

The server runs as `uvicorn dthub.api:create_app --factory --workers 2` on a free port and a fresh hub in a
temporary home. Before it starts, the feeds are landed into that hub through the `gtfs.*` adapters (named
after their file: `nyc_mta/subway` lands as `subway`) and the planner's service identity is provisioned by an
admin, in a process of its own (so that its heap does not slow this load generator's threads down);
that takes `landing_s` (the process start included), not counted in plans/s. Each worker builds the day's
timetable on its first plan (reading the landed feeds as the planner), so the load starts after a warm-up in
which two parallel clients plan until every recent plan answered in under 2 s. Then the clients send random
plans (origin and destination at two random stops of the feed, departure 06:00-22:00, seeded) for
`--seconds`; every answer must be 200 with a fare.
Prints one JSON line.

    .venv/bin/python benchmarks/plan_throughput.py [--feed nyc_mta/subway ...] [--clients 8] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from dthub.domains import DOMAINS
from dthub.domains.transit.gtfs import feed_name_of, numbers, read_feed
from dthub.domains.transit.ingest.gtfs import ingest_feed
from dthub.domains.transit.landed import provision_planner
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.identity import Role
from dthub.hub.settings import Settings

DAY = "2026-10-07"
WORKERS = 2
WARM_S = 2.0
WARM_CLIENTS = 2
"""A plan answered faster than this counts as warm (the worker has its timetable)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def feed_path(name: str) -> Path:
    """`<DTHUB_REALDATA>/gtfs/<name>.zip`, or the folder."""
    folder = Settings().realdata.resolve() / "gtfs"
    path = folder / f"{name}.zip"
    return path if path.exists() else folder / name


def land(home: Path, feed_names: list[str]) -> list[str]:
    """Land the feeds into the hub at `home` and provision the planner; the names they landed as."""
    hub = Hub.open(Settings(home=home), DOMAINS)
    try:
        landed = []
        for name in feed_names:
            path = feed_path(name)
            ingest_feed(hub, path)
            landed.append(feed_name_of(path))
        admin = identity.add_person(hub.store, "bench-admin", name="bench admin", password="bench-admin-pw",
                                    role=Role.ADMIN, clearance=Level.CORE, by="benchmark")  # fmt: skip
        provision_planner(hub, admin)
        return landed
    finally:
        hub.close()


def stops(feed_names: list[str]) -> list[tuple[float, float]]:
    """(lat, lon) of every stop of the feeds."""
    places: list[tuple[float, float]] = []
    for name in feed_names:
        feed = read_feed(feed_path(name), name="bench")
        lat = numbers(feed.column("stops.txt", "stop_lat"))
        lon = numbers(feed.column("stops.txt", "stop_lon"))
        keep = np.isfinite(lat) & np.isfinite(lon)
        places += zip(lat[keep].tolist(), lon[keep].tolist(), strict=True)
    return places


def body(rng: random.Random, places: list[tuple[float, float]], feeds: list[str]) -> dict[str, Any]:
    (a_lat, a_lon), (b_lat, b_lon) = rng.sample(places, 2)
    second = rng.randrange(6 * 3600, 22 * 3600)
    return {
        "from_lat": a_lat,
        "from_lon": a_lon,
        "to_lat": b_lat,
        "to_lon": b_lon,
        "date": DAY,
        "time": f"{second // 3600:02d}:{second % 3600 // 60:02d}",
        "feeds": feeds,
    }


def client_loop(
    url: str,
    places: list[tuple[float, float]],
    feeds: list[str],
    seed: int,
    until: float,
    out: list[tuple[float, int, bool]],
) -> None:
    """Plan until `until` (monotonic); append (seconds, status, priced) per plan."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=120) as client:
        while time.monotonic() < until:
            started = time.perf_counter()
            answer = client.post("/api/v1/maas/plan", json=body(rng, places, feeds))
            elapsed = time.perf_counter() - started
            itineraries = answer.json()["plan"]["itineraries"] if answer.status_code == 200 else []
            rides = [i for i in itineraries if any(leg["transitLeg"] for leg in i["legs"])]
            priced = all(i.get("fare") is not None for i in rides)  # a walk alone has no fare
            out.append((elapsed, answer.status_code, priced))


def run_clients(
    url: str, places: list[tuple[float, float]], feeds: list[str], clients: int, seconds: float, seed: int
) -> tuple[list[tuple[float, int, bool]], float]:
    results: list[tuple[float, int, bool]] = []
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(url, places, feeds, seed + n, until, results))
        for n in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the processes whose parent is `pid` (the workers), from
    /proc: what plans cost the server whatever else the machine runs."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # ppid; then utime, stime are fields 11 and 12 after the name
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def wait_up(url: str, server: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("uvicorn did not answer /healthz in time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feed", action="append", help="Feed under gtfs/, repeatable; nyc_mta/subway")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    sources = args.feed or ["nyc_mta/subway"]
    places = stops(sources)
    with tempfile.TemporaryDirectory(prefix="dthub-plan-bench-") as home:
        env = {**os.environ, "DTHUB_HOME": home, "DTHUB_REALDATA": str(Settings().realdata.resolve())}
        landing_started = time.perf_counter()
        # in a process of its own: the landing's heap would slow this load generator down (its GC)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            feeds = pool.submit(land, Path(home), sources).result()  # migrates too, before the workers start
        landing_s = time.perf_counter() - landing_started
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "uvicorn", "dthub.api:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
        command += ["--log-level", "warning"]
        server = subprocess.Popen(command, env=env)
        try:
            wait_up(url, server)
            warm_started = time.perf_counter()
            recent: list[tuple[float, int, bool]] = []
            rounds = 0
            # two clients only: a worker builds the timetable once per concurrent first plan
            while rounds < 60 and (len(recent) < 4 or max(r[0] for r in recent) > WARM_S):
                recent, _ = run_clients(url, places, feeds, WARM_CLIENTS, 3.0, seed=1000 + rounds)
                rounds += 1
            warm_s = time.perf_counter() - warm_started
            cpu_before = server_cpu_s(server.pid)
            results, elapsed = run_clients(url, places, feeds, args.clients, args.seconds, seed=1)
            server_cpu = server_cpu_s(server.pid) - cpu_before
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = np.asarray([r[0] for r in results]) * 1000
    figures = {
        "benchmark": "plan_throughput",
        "command": "python benchmarks/plan_throughput.py " + " ".join(sys.argv[1:]),
        "endpoint": "POST /api/v1/maas/plan",
        "feeds": feeds,
        "landing_s": round(landing_s, 1),
        "day": DAY,
        "workers": WORKERS,
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "warmup_s": round(warm_s, 1),
        "plans": len(results),
        "errors": sum(1 for r in results if r[1] != 200),
        "unpriced": sum(1 for r in results if not r[2]),
        "plans_per_s": round(len(results) / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "server_cpu_ms_per_plan": round(server_cpu / len(results) * 1000, 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
