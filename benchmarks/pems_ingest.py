"""Ingest throughput of PeMS station 5-minute text on the embedded default (SQLite + DuckDB + Parquet).

The 13 real files are replicated (benchmarks/pems_replicas.py) to at least `--rows` rows in district-sized
day files; then every file is ingested end to end (read, checksum, parse, validate, de-duplicate, write
Parquet, commit manifest and metrics) into a fresh hub. Prints one JSON line; the stage split of one file
says what bounds the rate.

    .venv/bin/python benchmarks/pems_ingest.py --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from dthub.domains import DOMAINS
from dthub.hub import lake
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file, new_rows, validate
from dthub.hub.settings import Settings
from pems_replicas import write_replicas


def stage_split(hub: Hub, path: Path) -> dict[str, float]:
    """Seconds of each stage for one file, outside the pipeline (nothing committed)."""
    adapter = hub.registry.adapter("pems.station_5min")
    spec = hub.registry.dataset(adapter.dataset)
    times: dict[str, float] = {}
    start = time.perf_counter()
    data = path.read_bytes()
    times["read_s"] = time.perf_counter() - start
    start = time.perf_counter()
    parsed = adapter.parse(data)
    times["parse_s"] = time.perf_counter() - start
    start = time.perf_counter()
    rows, _ = validate(spec, parsed.rows)
    times["validate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    fresh = new_rows(hub, spec, rows)
    times["dedupe_s"] = time.perf_counter() - start
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        lake.write_partitions(Path(scratch), spec, "stage", fresh, max_rows_per_file=1_000_000)
    times["write_s"] = time.perf_counter() - start
    return {key: round(value, 3) for key, value in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows to ingest, at least")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = parser.parse_args()
    settings = Settings()
    work = Path(tempfile.mkdtemp(prefix="dthub-bench-", dir=args.work))
    try:
        files = write_replicas(
            settings.realdata / "traffic" / "pems_raw_scalation", work / "feed", target_rows=args.rows
        )
        hub = Hub.open(Settings(home=work / "hub"), DOMAINS)
        adapter = hub.registry.adapter("pems.station_5min")
        stage_split(hub, files[0])  # warm-up: first use of time zones, DuckDB, Parquet
        split = stage_split(hub, files[0])
        source_bytes = sum(path.stat().st_size for path in files)
        start = time.perf_counter()
        results = [ingest_file(hub, adapter, path) for path in files]
        seconds = time.perf_counter() - start
        landed = sum(r.landed for r in results)
        read = sum(r.read for r in results)
        assert read == landed >= args.rows, (read, landed)
        print(
            json.dumps(
                {
                    "benchmark": "pems_ingest",
                    "rows": landed,
                    "files": len(files),
                    "source_mb": round(source_bytes / 1e6, 1),
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(landed / seconds),
                    "mb_per_s": round(source_bytes / 1e6 / seconds, 1),
                    "one_file_stages": split | {"rows": results[0].read},
                    "cores": os.cpu_count(),
                    "command": "python benchmarks/pems_ingest.py --rows " + str(args.rows),
                }
            )
        )
        hub.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
