"""GTFS ingest at city scale: the New York MTA subway and six bus feeds (8.0M stop times) landed through the
`gtfs.*` adapters (`transit.ingest.gtfs.ingest_feed`: read, validate, quarantine, write Parquet, commit)
into a fresh hub on the embedded default (SQLite + DuckDB). Prints one JSON line: rows landed (every
dataset), seconds, rows/s, stop times (of those rows) per second, the seconds of each dataset's batches
(the first batch of a feed, `transit.stops`, reads and validates the whole feed for all of them), peak RSS.

    .venv/bin/python benchmarks/transit_ingest.py [--feeds subway bus_bk ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from dthub.domains import DOMAINS
from dthub.domains.transit.ingest.gtfs import ingest_feed
from dthub.hub.core import Hub
from dthub.hub.settings import Settings

FEEDS = ("subway", "bus_bk", "bus_bx", "bus_m", "bus_qns", "bus_si", "bus_busco")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", nargs="+", default=list(FEEDS), choices=FEEDS, help="MTA feeds to land")
    args = parser.parse_args()
    folder = Settings().realdata.resolve() / "gtfs" / "nyc_mta"
    work = Path(tempfile.mkdtemp(prefix="dthub-bench-"))
    try:
        hub = Hub.open(Settings(home=work / "hub"), DOMAINS)
        start = time.perf_counter()
        results = [result for feed in args.feeds for result in ingest_feed(hub, folder / f"{feed}.zip")]
        seconds = time.perf_counter() - start
        hub.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by_dataset: dict[str, float] = {}
    for result in results:
        by_dataset[result.dataset] = by_dataset.get(result.dataset, 0.0) + result.seconds
    rows = sum(r.landed for r in results)
    stop_times = sum(r.landed for r in results if r.dataset == "transit.stop_times")
    figures = {
        "benchmark": "transit_ingest",
        "command": " ".join(
            [
                "python benchmarks/transit_ingest.py",
                *(["--feeds", *args.feeds] if args.feeds != list(FEEDS) else []),
            ]
        ),
        "feeds": args.feeds,
        "rows": rows,
        "quarantined": sum(r.quarantined for r in results),
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "stop_times": stop_times,
        "stop_times_per_s": round(stop_times / seconds),
        "dataset_s": {dataset: round(s, 1) for dataset, s in by_dataset.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
