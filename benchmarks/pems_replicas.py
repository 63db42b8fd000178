"""Replicate the real PeMS station 5-minute files into a district-sized synthetic feed for benchmarks.

Each real file (9 stations, one Tuesday) becomes several day files of `stations_per_file` stations: the 9
real stations repeated with station ids offset by multiples of 1,000,000, and the day shifted by whole
weeks so that every replica is a new day. Values are the real ones; only ids and dates change.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

REAL_STATIONS = 9
ROWS_PER_STATION_DAY = 288


def write_replicas(
    pems_dir: Path, out_dir: Path, *, target_rows: int, stations_per_file: int = 999
) -> list[Path]:
    """Write day files under `out_dir` until they hold at least `target_rows` rows; returns them."""
    real = sorted(pems_dir.glob("d04_text_station_5min_*.csv"))
    if not real:
        raise FileNotFoundError(f"no PeMS station 5-minute files in {pems_dir}")
    copies = math.ceil(stations_per_file / REAL_STATIONS)
    rows_per_file = copies * REAL_STATIONS * ROWS_PER_STATION_DAY
    n_files = math.ceil(target_rows / rows_per_file)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(n_files):
        source = real[index % len(real)]
        weeks = (index // len(real)) * 13  # the 13 real Tuesdays span 13 weeks
        header, body = source.read_bytes().split(b"\n", 1)
        day = datetime.strptime(source.stem[-10:], "%Y_%m_%d")
        written.append(_write_day(out_dir, header, body, day, weeks, copies))
    return written


def _write_day(out_dir: Path, header: bytes, body: bytes, day: datetime, weeks: int, copies: int) -> Path:
    new_day = day + timedelta(weeks=weeks)
    body = body.replace(day.strftime("%m/%d/%Y ").encode(), new_day.strftime("%m/%d/%Y ").encode())
    stations = sorted({line.split(b",", 2)[1] for line in body.splitlines() if line.strip()})
    parts = [header + b"\n"]
    for copy in range(copies):
        replica = body
        for station in stations:
            new_id = str(int(station) + copy * 1_000_000).encode()
            replica = replica.replace(b"," + station + b",", b"," + new_id + b",")
        parts.append(replica if replica.endswith(b"\n") else replica + b"\n")
    path = out_dir / f"d04_text_station_5min_{new_day:%Y_%m_%d}.csv"
    path.write_bytes(b"".join(parts))
    return path
