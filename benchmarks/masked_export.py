"""Rows/s of a masked, encrypted-field CSV export through `hub.query.stream`, for a reader below clearance.

`--rows` synthetic track rows (numpy, seeded; phone and resident ID encrypted at rest with SM4-GCM) are
landed through the real ingest path, then exported as CSV for a reader whose clearance is the dataset's
level: every phone and resident ID is decrypted, then star-masked, the points snapped to 1 km and the times
truncated to 15 minutes. Only the export is timed; one JSON line is printed with the command.

    .venv/bin/python benchmarks/masked_export.py --rows 1000000
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import io
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
from pydantic import SecretStr

from dthub.hub import access, query
from dthub.hub.adapter import LOCATION, Parsed
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.domain import Domain
from dthub.hub.identity import Consumer, Role
from dthub.hub.ingest import Landing, commit_batch, open_batch, prepare_landing
from dthub.hub.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from fixtures.tracks import T0, TRACKS, TrackLines

SPEC = dataclasses.replace(TRACKS, encrypted_fields=("phone", "resident_id"))
BATCH_ROWS = 500_000
READER = Consumer(kind="person", id="bench", clearance=Level.GENERAL_2, role=Role.ANALYST)


def synthetic(start: int, count: int, rng: np.random.Generator) -> pa.Table:
    index = np.arange(start, start + count)
    plates = np.char.add("津A", np.char.zfill((index % 100_000).astype(str), 5))
    return pa.table(
        {
            "plate": pa.array(plates),
            "reported_at": pa.array(T0.timestamp() * 1e6 + index // 100_000 * 5e6, pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "phone": pa.array(np.char.add("1380", np.char.zfill((index % 10_000_000).astype(str), 7))),
            "resident_id": pa.array(np.full(count, "11010519491231002X")),
            "district": pa.array(np.full(count, "120101")),
            "lon": pa.array(117.0 + rng.random(count) * 0.5),
            "lat": pa.array(39.0 + rng.random(count) * 0.3),
            "speed_kmh": pa.array(rng.random(count) * 80),
            LOCATION: pa.array(index + 1, pa.int64()),
        }
    )


def land(hub: Hub, rows: int) -> float:
    """Land `rows` synthetic rows in batches; returns the seconds taken (encryption included)."""
    adapter, rng, started = TrackLines(), np.random.default_rng(7), time.perf_counter()
    with hub.writer():
        for start in range(0, rows, BATCH_ROWS):
            parsed = Parsed(rows=synthetic(start, min(BATCH_ROWS, rows - start), rng))
            with open_batch(hub, adapter, f"synthetic-{start}", f"synthetic-{rows}-{start}") as batch_id:
                landing: Landing = prepare_landing(hub, SPEC, batch_id, parsed, lambda at: [])
                commit_batch(hub, adapter, batch_id, "synthetic", landing, time.perf_counter())
    return time.perf_counter() - started


def export(hub: Hub, rows: int) -> tuple[float, int]:
    """Seconds and bytes of the CSV export of every row for `READER`."""
    decision = access.decide(READER, SPEC, granted=True)
    asked = query.RowQuery(limit=rows)
    query.check(SPEC, decision, asked)
    started, size = time.perf_counter(), 0
    for chunk in query.stream(hub, READER, SPEC, decision, asked, fmt="csv"):
        sink = io.BytesIO()
        pcsv.write_csv(chunk, sink)
        size += sink.tell()
    return time.perf_counter() - started, size


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        key = base64.b64encode(os.urandom(16)).decode()
        domain = Domain(
            name="probe", title_zh="探针", title_en="Probe", datasets=(SPEC,), adapters=(TrackLines(),)
        )
        hub = Hub.open(Settings(home=Path(home), master_key=SecretStr(key)), (domain,))
        try:
            land_s = land(hub, args.rows)
            export_s, size = export(hub, args.rows)
        finally:
            hub.close()
    result = {
        "command": shlex.join([".venv/bin/python", "benchmarks/masked_export.py", *sys.argv[1:]]),
        "rows": args.rows,
        "land_s": round(land_s, 1),
        "export_s": round(export_s, 1),
        "export_rows_per_s": round(args.rows / export_s),
        "csv_mb": round(size / 1e6, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
