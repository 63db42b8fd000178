"""Daily mean speed per station (`roads.speed.daily_mean_speed`) over the lake: Ibis on DuckDB against pandas.

The 13 real PeMS files are replicated (benchmarks/pems_replicas.py) to at least `--rows` rows and ingested
into a hub (kept with `--home`, which a later run reuses); the replicas are removed once landed. Then the
same daily means are computed from the manifest's Parquet files by Ibis on DuckDB, by pandas
(`pd.read_parquet` of the needed columns, then groupby) and, with `--spark`, by Ibis on Spark local mode;
each is timed as the median of 3 runs after one warm-up, and the results are checked to agree before the
figures are printed as one JSON line.

    .venv/bin/python benchmarks/daily_speed_query.py --rows 10000000 --spark
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dthub.domains import DOMAINS
from dthub.domains.roads.speed import DECIMALS, daily_mean_speed
from dthub.hub import engine
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file
from dthub.hub.settings import Settings
from pems_replicas import write_replicas
from timing import timed

DATASET = "roads.detector_observations"
COLUMNS = ["station_id", "observed_at", "avg_speed_kmh"]


def lake_rows(hub: Hub) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in hub.files(DATASET))


def fill_lake(hub: Hub, pems_dir: Path, target_rows: int) -> None:
    """Ingest replicas of the real files until the lake holds `target_rows` observations (a lake that
    already does is left alone; replicas landed before are skipped as duplicates)."""
    if lake_rows(hub) >= target_rows:
        return
    adapter = hub.registry.adapter("pems.station_5min")
    with tempfile.TemporaryDirectory(prefix="dthub-replicas-") as feed:
        for path in write_replicas(pems_dir, Path(feed), target_rows=target_rows):
            ingest_file(hub, adapter, path)
            path.unlink()


def ibis_daily(con: Any, hub: Hub, files: Sequence[Path]) -> pa.Table:
    observations = engine.read_files(con, hub.registry.dataset(DATASET), files)
    return engine.to_arrow(daily_mean_speed(observations))


def pandas_daily(files: Sequence[Path]) -> pa.Table:
    """The same computation in pandas: per station and UTC day, mean speed and intervals with one."""
    frame = pd.read_parquet([str(path) for path in files], columns=COLUMNS)
    day = frame["observed_at"].dt.floor("D").rename("day")
    daily = (
        frame.groupby([frame["station_id"], day])["avg_speed_kmh"]
        .agg(mean_speed_kmh="mean", intervals="count")
        .reset_index()
    )
    daily["mean_speed_kmh"] = daily["mean_speed_kmh"].round(DECIMALS)
    daily["day"] = daily["day"].dt.date
    return pa.Table.from_pandas(daily, preserve_index=False)


def check_same(ibis_result: pa.Table, pandas_result: pa.Table) -> None:
    """Same stations, days and interval counts, and means equal to the last decimal (one unit apart at
    most: the engines add in different orders, which can tip a rounding)."""
    if ibis_result.num_rows != pandas_result.num_rows or ibis_result.num_rows == 0:
        raise RuntimeError(
            f"DuckDB gave {ibis_result.num_rows} station-days, pandas {pandas_result.num_rows}"
        )
    for column in ("station_id", "day", "intervals"):
        ours, theirs = ibis_result[column].to_pylist(), pandas_result[column].to_pylist()
        if ours != theirs:
            raise RuntimeError(f"DuckDB and pandas differ in {column}")
    ours_mean = ibis_result["mean_speed_kmh"].to_numpy(zero_copy_only=False).astype(float)
    theirs_mean = pandas_result["mean_speed_kmh"].to_numpy(zero_copy_only=False).astype(float)
    close = np.isclose(ours_mean, theirs_mean, rtol=0, atol=1.01 * 10**-DECIMALS, equal_nan=True)
    if not close.all():
        raise RuntimeError(
            f"DuckDB and pandas differ in mean_speed_kmh on {int((~close).sum())} station-days"
        )


def machine() -> dict[str, Any]:
    cpu = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line
        ]
        cpu = names[0] if names else None
    return {"cores": os.cpu_count(), "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="observations in the lake, at least")
    parser.add_argument("--home", type=Path, default=None, help="hub to build or reuse (default: a temp dir)")
    parser.add_argument("--spark", action="store_true", help="also time Ibis on Spark local mode")
    args = parser.parse_args()
    settings = Settings()
    scratch = Path(tempfile.mkdtemp(prefix="dthub-bench-")) if args.home is None else None
    home: Path = args.home if scratch is None else scratch / "hub"
    try:
        hub = Hub.open(Settings(home=home), DOMAINS)
        fill_lake(hub, settings.realdata / "traffic" / "pems_raw_scalation", args.rows)
        files = hub.files(DATASET)
        rows = lake_rows(hub)
        duckdb_con = engine.connect("duckdb")
        duckdb_s, duckdb_result = timed(lambda: ibis_daily(duckdb_con, hub, files))
        pandas_s, pandas_result = timed(lambda: pandas_daily(files))
        check_same(duckdb_result, pandas_result)
        spark_s = None
        if args.spark:
            spark_con = engine.connect("spark", spark_master=f"local[{os.cpu_count()}]")
            warehouse = str(spark_con._session.conf.get("spark.sql.warehouse.dir")).removeprefix("file:")
            spark_s, spark_result = timed(lambda: ibis_daily(spark_con, hub, files))
            spark_con._session.stop()
            shutil.rmtree(warehouse, ignore_errors=True)
            if not spark_result.equals(duckdb_result):
                raise RuntimeError("Spark and DuckDB differ")
        hub.close()
        print(
            json.dumps(
                {
                    "benchmark": "daily_speed_query",
                    "rows": rows,
                    "files": len(files),
                    "station_days": duckdb_result.num_rows,
                    "duckdb_s": round(duckdb_s, 3),
                    "pandas_s": round(pandas_s, 3),
                    "ratio": round(pandas_s / duckdb_s, 2),
                    "spark_s": None if spark_s is None else round(spark_s, 3),
                    "machine": machine(),
                    "command": shlex.join(["python", "benchmarks/daily_speed_query.py", *sys.argv[1:]]),
                }
            )
        )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
