"""TPI job (`roads.congestion`: segment_speeds + tpi, network per 5 minutes) over one month × 2,000 segments
× 5-minute speeds, on DuckDB and, with `--spark`, on Spark local mode.

The data are synthetic (numpy, seeded): 2,000 detector stations, each its own segment (`station_as_segment`),
one row per station and 5-minute interval for 30 days (17.28 M rows), speeds with a morning and an evening
dip around each segment's free-flow speed. They are written directly as Parquet in the layouts of
`roads.detector_observations` (only the columns the job reads: station_id, observed_at, avg_speed_kmh; one
file per UTC day), `roads.segments` and `roads.detector_segments`, not ingested through the hub: the figure
is the job's, not ingestion's. Each engine runs the job once to warm up, then `RUNS` times; the median is
reported, and both engines' results are checked to be identical.

    .venv/bin/python benchmarks/tpi_month.py --spark
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dthub.domains.roads.congestion import CongestionThresholds, segment_speeds, tpi
from dthub.domains.roads.datasets import DETECTOR_OBSERVATIONS, DETECTOR_SEGMENTS, SEGMENTS
from dthub.hub import engine
from timing import timed

INTERVALS_PER_DAY = 288
START_S = 1_714_521_600  # 2024-05-01T00:00:00Z


def write_month(folder: Path, *, segments: int, days: int, seed: int = 5) -> list[Path]:
    """Synthetic observations (one Parquet file per day), segments and mapping; returns the day files."""
    rng = np.random.default_rng(seed)
    classes = rng.choice(["expressway", "arterial", "secondary_branch"], size=segments, p=[0.1, 0.3, 0.6])
    free = np.select([classes == "expressway", classes == "arterial"], [80.0, 60.0], 40.0)
    ids = np.arange(1, segments + 1, dtype=np.int32)
    segment_ids = pa.array([f"bench:{i}" for i in ids])
    pq.write_table(
        pa.table(
            {
                "segment_id": segment_ids,
                "road_class": pa.array(classes),
                "length_m": pa.array(rng.uniform(100, 2_000, segments).round(1)),
                "free_flow_speed_kmh": pa.array(free),
                "district_code": pa.array(rng.choice(["120101", "120102", "120103"], size=segments)),
                "corridor_id": pa.array([f"c{i % 50}" for i in ids]),
            }
        ),
        folder / "segments.parquet",
    )
    pq.write_table(
        pa.table({"station_id": pa.array(ids), "segment_id": segment_ids}), folder / "mapping.parquet"
    )
    minute = np.arange(INTERVALS_PER_DAY) * 5
    dip = 0.45 * np.exp(-(((minute - 480) / 60) ** 2)) + 0.4 * np.exp(-(((minute - 1080) / 75) ** 2))
    files = []
    for day in range(days):
        ratio = np.clip(1 - dip[None, :] + rng.normal(0, 0.08, (segments, INTERVALS_PER_DAY)), 0.05, 1.2)
        epoch_us = (START_S + day * 86_400 + minute * 60).astype(np.int64) * 1_000_000
        path = folder / f"observations-{day:02d}.parquet"
        pq.write_table(
            pa.table(
                {
                    "station_id": pa.array(np.repeat(ids, INTERVALS_PER_DAY)),
                    "observed_at": pa.array(np.tile(epoch_us, segments), pa.timestamp("us", tz="UTC")),
                    "avg_speed_kmh": pa.array((ratio * free[:, None]).ravel().round(2)),
                }
            ),
            path,
        )
        files.append(path)
    return files


def run_job(con: Any, folder: Path, files: list[Path]) -> pa.Table:
    observations = engine.read_files(con, DETECTOR_OBSERVATIONS, files)
    mapping = engine.read_files(con, DETECTOR_SEGMENTS, [folder / "mapping.parquet"])
    segments = engine.read_files(con, SEGMENTS, [folder / "segments.parquet"])
    job = tpi(
        segment_speeds(observations, mapping),
        segments,
        scope="network",
        interval_minutes=5,
        thresholds=CongestionThresholds(),
    )
    return engine.to_arrow(job)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--segments", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--spark", action="store_true", help="also time the job on Spark local mode")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="dthub-tpi-bench-"))
    try:
        files = write_month(folder, segments=args.segments, days=args.days)
        rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
        duckdb_s, result = timed(lambda: run_job(engine.connect("duckdb"), folder, files))
        spark_s = None
        if args.spark:
            con = engine.connect("spark", spark_master=f"local[{os.cpu_count()}]")
            spark_s, spark_result = timed(lambda: run_job(con, folder, files))
            con._session.stop()
            if not spark_result.sort_by("interval_start").equals(result.sort_by("interval_start")):
                raise RuntimeError("Spark and DuckDB differ")
        print(
            json.dumps(
                {
                    "benchmark": "tpi_month",
                    "rows": rows,
                    "segments": args.segments,
                    "days": args.days,
                    "intervals": result.num_rows,
                    "duckdb_s": round(duckdb_s, 3),
                    "spark_s": None if spark_s is None else round(spark_s, 3),
                    "cores": os.cpu_count(),
                    "command": shlex.join(["python", "benchmarks/tpi_month.py", *sys.argv[1:]]),
                }
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
