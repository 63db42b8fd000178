"""Forecast inference for all segments (`roads.forecast`): milliseconds per model for one refresh, 12 steps of
5 minutes ahead, over 2,000 segments and over the real Futian network of Shenzhen (2,225 segments).

The speeds are synthetic (numpy, seeded; labelled `simulated` in the output): each segment has a free-flow
speed of its class and a morning and an evening dip, with noise and 2 % gaps. The Futian network's segments
and road graph are real: `osm/shenzhen_transbigdata/shenzhen_futian_G.graphml` through the `osm.graphml`
adapter, the graph from segments that meet end to start (`forecast.panel.adjacency_from_geometry`). Each
model is fitted once on `--train-days` days, then `predict` of one issue (the last `--context-days` days of
history, 12 steps ahead) runs once to warm up and `RUNS` times; the median is reported, with the fit seconds
for the record. That figure is the model's alone.

With `--refresh`, the whole scheduled refresh is measured as well (`forecast.job.refresh_model`: read the
last `context` of detector speeds from the lake with the health rules, predict, land the forecasts through
ingest) on a hub in a temporary folder holding two days of synthetic PeMS-format observations of
`--segments` stations (ids 900000+, simulated), with a historical-average model trained on the first day;
each timed run issues a new 5-minute issue.

    .venv/bin/python benchmarks/forecast_inference.py --refresh
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from dthub.domains.roads.forecast import MODELS, SpeedPanel, make_model
from dthub.domains.roads.forecast.base import ForecastError
from dthub.domains.roads.forecast.panel import adjacency_from_geometry
from dthub.domains.roads.ingest.osm import OsmGraphml
from dthub.hub.settings import Settings
from timing import RUNS, timed

STEP = timedelta(minutes=5)
HORIZONS = 12
START = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday
FUTIAN = Path("osm/shenzhen_transbigdata/shenzhen_futian_G.graphml")
RUNS_REFRESH = RUNS
"""Timed refreshes after the warm-up (each a new issue)."""
PEMS_HEADER = (
    "Timestamp,Station,District,Freeway #,Direction of Travel,Lane Type,Station Length,Samples,% Observed,"
    "Total Flow,Avg Occupancy,Avg Speed"
    + "".join(
        f",Lane {n} Samples,Lane {n} Flow,Lane {n} Avg Occ,Lane {n} Avg Speed,Lane {n} Observed"
        for n in range(1, 9)
    )
)
FREE_FLOW = {"expressway": 80.0, "arterial": 60.0, "secondary_branch": 40.0}


def synthetic_speeds(free_flow: np.ndarray, days: int, seed: int = 5) -> np.ndarray:
    """(days × 288, N) km/h: free flow with a morning (08:00) and an evening (18:00) dip, noise, 2 % gaps."""
    rng = np.random.default_rng(seed)
    steps = days * 288
    hour = (np.arange(steps) % 288) / 12.0
    dip = 0.45 * np.exp(-(((hour - 8.0) / 1.2) ** 2)) + 0.4 * np.exp(-(((hour - 18.0) / 1.5) ** 2))
    depth = rng.uniform(0.5, 1.2, size=free_flow.size)
    speeds = free_flow[None, :] * (1 - dip[:, None] * depth[None, :])
    speeds += rng.normal(0, 3.0, size=speeds.shape)
    speeds = np.clip(speeds, 3.0, None)
    speeds[rng.random(speeds.shape) < 0.02] = np.nan
    return speeds


Network = tuple[np.ndarray, tuple[str, ...], np.ndarray | None]
"""Free-flow speeds, node ids and road graph."""


def networks(realdata: Path, segments: int) -> dict[str, Network]:
    """Free-flow speeds, node ids and graph of each network measured."""
    rng = np.random.default_rng(11)
    classes = rng.choice(list(FREE_FLOW), size=segments, p=[0.1, 0.3, 0.6])
    found: dict[str, Network] = {
        f"synthetic_{segments}": (
            np.array([FREE_FLOW[c] for c in classes]),
            tuple(f"bench:{i}" for i in range(segments)),
            None,
        )
    }
    path = realdata / FUTIAN
    if path.is_file():
        rows = OsmGraphml().parse(path.read_bytes()).rows.to_pylist()
        found[f"futian_{len(rows)}"] = (
            np.array([row["free_flow_speed_kmh"] for row in rows], dtype=np.float64),
            tuple(row["segment_id"] for row in rows),
            adjacency_from_geometry([row["geometry_wkt"] for row in rows]),
        )
    return found


def measure(name: str, params: dict[str, Any], train: SpeedPanel, history: SpeedPanel) -> dict[str, Any]:
    model = make_model(name, **params)
    started = time.perf_counter()
    model.fit(train, HORIZONS)
    fit_s = time.perf_counter() - started
    seconds, forecast = timed(lambda: model.predict(history, HORIZONS))
    return {
        "predict_ms": round(seconds * 1000, 2),
        "fit_s": round(fit_s, 2),
        "forecast_shape": list(forecast.shape),
        "finite_share": round(float(np.isfinite(forecast).mean()), 4),
    }


def pems_lines(stations: int, days: int, seed: int = 3) -> bytes:
    """Synthetic PeMS station 5-minute text (header + one line per station and interval), all mainline."""
    rng = np.random.default_rng(seed)
    free_mph = rng.uniform(55, 70, size=stations)
    speeds = synthetic_speeds(free_mph, days, seed)
    flows = rng.integers(20, 400, size=speeds.shape)
    lines = [PEMS_HEADER]
    for step in range(days * 288):
        at = (START + step * STEP).strftime("%m/%d/%Y %H:%M:%S")
        for station in range(stations):
            speed = speeds[step, station]
            shown = "" if np.isnan(speed) else f"{speed:.1f}"
            occupancy = f"{0.02 + flows[step, station] / 8000:.4f}"
            lines.append(f"{at},{900_000 + station},4,101,N,ML,.5,40,100,{flows[step, station]},{occupancy},"
                         f"{shown}" + ",,,,,0" * 8)  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def measure_refresh(stations: int) -> dict[str, Any]:
    """Seconds of one scheduled refresh of every segment, through the lake and ingest (see the docstring)."""
    from dthub.domains import DOMAINS
    from dthub.domains.roads.forecast import job
    from dthub.hub.core import Hub
    from dthub.hub.ingest import ingest_bytes

    with tempfile.TemporaryDirectory(prefix="dthub-forecast-bench-") as folder:
        hub = Hub.open(Settings(home=Path(folder) / "hub"), DOMAINS)
        try:
            data = pems_lines(stations, days=2)
            started = time.perf_counter()
            for adapter in ("pems.station_5min", "pems.station_segments", "pems.detector_segments"):
                ingest_bytes(hub, hub.registry.adapter(adapter), data, source=f"simulated:{adapter}")
            ingest_s = time.perf_counter() - started
            request = job.TrainRequest(model="historical_average", params={"period": "day"}, start=START,
                                       end=START + timedelta(days=1), horizons=HORIZONS)  # fmt: skip
            model = job.train(hub, request, by="benchmark")
            end = START + timedelta(days=2)
            issues = iter(end - k * STEP for k in range(RUNS_REFRESH, -1, -1))
            seconds, done = timed(lambda: job.refresh_model(hub, model, next(issues)))
        finally:
            hub.close()
    if done.batch is None or done.batch.landed != stations * HORIZONS:
        raise SystemExit(f"the refresh did not land one forecast per segment and step: {done}")
    return {
        "refresh_ms": round(seconds * 1000, 1),
        "forecasts_landed": done.batch.landed,
        "context_steps": model.context_steps,
        "ingest_s": round(ingest_s, 1),
        "observation_rows": stations * 2 * 288,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--segments", type=int, default=2_000)
    parser.add_argument("--train-days", type=int, default=7)
    parser.add_argument("--context-days", type=int, default=1)
    parser.add_argument("--models", default=",".join(sorted(MODELS)), help="Comma-separated model names.")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        help="model.key=value (JSON value), e.g. lightgbm.max_rounds=200",
    )
    parser.add_argument("--refresh", action="store_true", help="Also time a whole refresh through the hub.")
    args = parser.parse_args()
    params: dict[str, dict[str, Any]] = {}
    for item in args.param:
        target, _, value = item.partition("=")
        model, _, key = target.partition(".")
        params.setdefault(model, {})[key] = json.loads(value)
    realdata = Settings().realdata
    results: dict[str, Any] = {}
    for network, (free_flow, nodes, graph) in networks(realdata, args.segments).items():
        days = args.train_days + args.context_days
        speeds = synthetic_speeds(free_flow, days)
        split = args.train_days * 288
        train = SpeedPanel(values=speeds[:split], step=STEP, start=START, nodes=nodes, adjacency=graph)
        history = SpeedPanel(
            values=speeds[split:], step=STEP, start=START + split * STEP, nodes=nodes, adjacency=graph
        )
        edges = int((graph > 0).sum() // 2) if graph is not None else None
        per_model: dict[str, Any] = {}
        for name in args.models.split(","):
            try:
                per_model[name] = measure(name, params.get(name, {}), train, history)
            except ForecastError as error:
                per_model[name] = {"unavailable": str(error)}
        results[network] = {"segments": len(nodes), "graph_edges": edges, "models": per_model}
    refresh = measure_refresh(args.segments) if args.refresh else None
    print(
        json.dumps(
            {
                "benchmark": "forecast_inference",
                "data": "simulated speeds; Futian segments and graph real (OSM)",
                "horizons": HORIZONS,
                "step_minutes": 5,
                "train_days": args.train_days,
                "context_days": args.context_days,
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "networks": results,
                "refresh": refresh,
            }
        )
    )


if __name__ == "__main__":
    main()
