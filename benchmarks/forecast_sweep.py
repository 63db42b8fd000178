"""Search of the graph model's variants (issue 5) on the VALIDATION part only: each variant x dataset is
fitted on the clean convention's training part (first 70 %) and scored at step h on its validation windows
(70-80 %); one JSON line per run with the validation scores (what a choice may rest on), the test scores of
that same fit (for the record only: never used to choose), epochs and training seconds.

Meant for a GPU (`--device cuda`, runs in parallel processes) but runs on a CPU as well:

    .venv/bin/python benchmarks/forecast_sweep.py --device cpu --datasets sz_taxi --variants gru,in48
    PYTHONPATH=src python3 benchmarks/forecast_sweep.py --light --realdata DIR --device cuda --jobs 20

`--light` imports only the forecasting modules (a machine with PyTorch and NumPy but not the hub's web and
storage stack: the package `__init__` files that pull those in are bypassed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parent.parent / "src"

NEURAL: dict[str, dict[str, object]] = {
    "sz_taxi": {"input_steps": 24, "loss": "mae"},
    "los_loop": {"input_steps": 12, "loss": "mse"},
}
"""Per-dataset settings of every neural run, as in benchmarks/forecast_accuracy.py."""
COMMON: dict[str, object] = {
    "hidden": 48,
    "learning_rate": 0.003,
    "batch_size": 64,
    "max_epochs": 60,
    "patience": 10,
}
_IN32: dict[str, object] = {"spatial": "inputs", "hidden": 32, "input_steps": 12}
_SHARED32: dict[str, object] = {**_IN32, "node_adaptive": False}
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    # first sweep: every dataset
    "gru": ("gru", {}),
    "in48": ("agcrn", {"spatial": "inputs"}),
    "in48_shared": ("agcrn", {"spatial": "inputs", "node_adaptive": False}),
    "in32": ("agcrn", _IN32),
    "in32_seed11": ("agcrn", {**_IN32, "seed": 11}),
    "in32_shared": ("agcrn", _SHARED32),
    "in32_nohighway": ("agcrn", {**_IN32, "node_highway": False}),
    "in32_noroad": ("agcrn", {**_IN32, "road_graph": False}),
    "in32_noadaptive": ("agcrn", {**_IN32, "adaptive_graph": False}),
    "cell32": ("agcrn", {"spatial": "cell", "hidden": 32, "input_steps": 12}),
    # second sweep: Los-loop (MAE loss, longer training, shared weights)
    "in32_shared_mae": ("agcrn", {**_SHARED32, "loss": "mae"}),
    "in48_shared_mae": ("agcrn", {"spatial": "inputs", "node_adaptive": False, "loss": "mae"}),
    "in32_mae": ("agcrn", {**_IN32, "loss": "mae"}),
    "in32_mae_e4": ("agcrn", {**_IN32, "loss": "mae", "embed_dim": 4}),
    "in32_shared_mae_e100": ("agcrn", {**_SHARED32, "loss": "mae", "max_epochs": 100}),
    "in32_shared_mae_e100_s11": ("agcrn", {**_SHARED32, "loss": "mae", "max_epochs": 100, "seed": 11}),
    "in32_shared_e100": ("agcrn", {**_SHARED32, "max_epochs": 100}),
    "in48_shared_e100": ("agcrn", {"spatial": "inputs", "node_adaptive": False, "max_epochs": 100}),
    "in32_shared_nohighway_mae": ("agcrn", {**_SHARED32, "node_highway": False, "loss": "mae"}),
    "in32_shared_mae_wd": ("agcrn", {**_SHARED32, "loss": "mae", "weight_decay": 1e-4}),
    # second sweep: SZ-taxi (seed noise, cheaper settings)
    "in32_seed3": ("agcrn", {**_IN32, "seed": 3}),
    "in32_nohighway_seed11": ("agcrn", {**_IN32, "node_highway": False, "seed": 11}),
    "in32_e4": ("agcrn", {**_IN32, "embed_dim": 4}),
    "in24": ("agcrn", {**_IN32, "hidden": 24}),
    "in32_steps8": ("agcrn", {**_IN32, "input_steps": 8}),
    "in32_b128": ("agcrn", {**_IN32, "batch_size": 128, "learning_rate": 0.005}),
    "in32_e100": ("agcrn", {**_IN32, "max_epochs": 100}),
    # the earlier Los-loop configuration (two seeds of in32_nohighway, squared error), validated on a CPU
    "in32_nohighway_m2": ("agcrn", {**_IN32, "node_highway": False, "members": 2}),
    # third sweep: Los-loop, Huber loss between the squared error (RMSE) and the absolute one (MAE)
    "in32_nohighway_huber2": ("agcrn", {**_IN32, "node_highway": False, "loss": "huber", "huber_kmh": 2.0}),
    "in32_nohighway_huber5": ("agcrn", {**_IN32, "node_highway": False, "loss": "huber", "huber_kmh": 5.0}),
    "in32_nohighway_huber10": ("agcrn", {**_IN32, "node_highway": False, "loss": "huber", "huber_kmh": 10.0}),
    "in32_nohighway_huber2_s11": (
        "agcrn",
        {**_IN32, "node_highway": False, "loss": "huber", "huber_kmh": 2.0, "seed": 11},
    ),
    "in32_nohighway_huber5_s11": (
        "agcrn",
        {**_IN32, "node_highway": False, "loss": "huber", "huber_kmh": 5.0, "seed": 11},
    ),
    "in32_nohighway_mae": ("agcrn", {**_IN32, "node_highway": False, "loss": "mae"}),
    "in32_nohighway_mae_s11": ("agcrn", {**_IN32, "node_highway": False, "loss": "mae", "seed": 11}),
    "in48_nohighway_huber5": (
        "agcrn",
        {"spatial": "inputs", "input_steps": 12, "node_highway": False, "loss": "huber", "huber_kmh": 5.0},
    ),
    "gru_huber5": ("gru", {"loss": "huber", "huber_kmh": 5.0}),
    # fourth sweep: Los-loop, Huber thresholds near the squared error, seeds, two members
    **{
        f"in32_nohighway_huber{kmh}" + (f"_s{seed}" if seed != 7 else "") + (f"_m{m}" if m > 1 else ""): (
            "agcrn",
            {
                **_IN32,
                "node_highway": False,
                "loss": "huber",
                "huber_kmh": float(kmh),
                "seed": seed,
                "members": m,
            },
        )
        for kmh, seed, m in (
            (10, 11, 1),
            (10, 3, 1),
            (10, 7, 2),
            (15, 7, 1),
            (15, 11, 1),
            (15, 3, 1),
            (20, 7, 1),
            (20, 11, 1),
            (7, 7, 1),
            (12, 7, 1),
            (12, 11, 1),
            (15, 7, 2),
        )
    },
}
"""Variant name -> (model, parameters over COMMON and the dataset's settings)."""


def _light_imports() -> None:
    """Register the packages above the forecasting modules without running their `__init__` (which import
    the hub's web and storage stack)."""
    for name in (
        "dthub",
        "dthub.hub",
        "dthub.domains",
        "dthub.domains.roads",
        "dthub.domains.roads.forecast",
    ):
        module = types.ModuleType(name)
        module.__path__ = [str(SRC.joinpath(*name.split(".")))]
        sys.modules[name] = module


def run_one(dataset: str, variant: str, device: str, realdata: Path, max_seconds: float) -> dict[str, Any]:
    """Fit one variant on the training part; score validation and test windows at step h."""
    import numpy as np

    from dthub.domains.roads.forecast import base, graph_gru, neural  # noqa: F401  (registers the models)
    from dthub.domains.roads.forecast.data import BENCHMARK_PANELS
    from dthub.domains.roads.forecast.evaluate import (
        REPORT_MINUTES,
        forecast_windows,
        horizon_steps,
        score_at_step,
        targets,
    )
    from dthub.domains.roads.forecast.windows import clean_split, window_ends

    panel = BENCHMARK_PANELS[dataset](realdata)
    name, overrides = VARIANTS[variant]
    params = {**COMMON, **NEURAL[dataset], **overrides, "device": device, "max_seconds": max_seconds}
    model = base.make_model(name, **params)
    split = clean_split(panel.n_steps)
    steps = horizon_steps(panel)
    horizons = max(steps)
    wall = time.perf_counter()
    model.fit(panel.rows(0, split.train_end), horizons)
    train_s = time.perf_counter() - wall
    input_steps = int(params["input_steps"])  # type: ignore[call-overload]
    out: dict[str, Any] = {"dataset": dataset, "variant": variant, "model": name, "params": params}
    for part, (first, stop) in {
        "validation": (split.train_end, split.val_end),
        "test": (split.val_end, panel.n_steps),
    }.items():
        ends = window_ends(first, stop, input_steps, horizons)
        forecast, _ = forecast_windows(model, panel, ends, horizons)
        truth = targets(panel, ends, horizons)
        scores = {
            str(m): score_at_step(truth[:, h - 1], forecast[:, h - 1])
            for m, h in zip(REPORT_MINUTES, steps, strict=True)
        }
        out[part] = scores
        out[f"{part}_mae_mean"] = round(float(np.mean([s["mae"] for s in scores.values()])), 4)
        out[f"{part}_rmse_mean"] = round(float(np.mean([s["rmse"] for s in scores.values()])), 4)
    history = getattr(model, "history", [])
    out["epochs"] = len(history)
    out["best_epoch"] = 1 + int(np.argmin([e["holdout"] for e in history])) if history else 0
    out["train_s"] = round(train_s, 1)
    out["s_per_epoch"] = round(train_s / max(1, len(history)), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="sz_taxi,los_loop")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--realdata", type=Path, default=None, help="DTHUB_REALDATA (default: the setting)")
    parser.add_argument("--runs", default=None, help="dataset:variant pairs (comma-separated) instead")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="training time limit of one run")
    parser.add_argument("--light", action="store_true", help="import only the forecasting modules")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # dataset:variant, in a child
    args = parser.parse_args()
    if args.light:
        _light_imports()
    realdata = args.realdata
    if realdata is None:
        from dthub.hub.settings import Settings

        realdata = Settings().realdata
    if args.one:
        dataset, variant = args.one.split(":")
        print(json.dumps(run_one(dataset, variant, args.device, realdata, args.max_seconds)), flush=True)
        return
    runs = [(d, v) for v in args.variants.split(",") for d in args.datasets.split(",")]
    if args.runs:
        runs = [(pair.split(":")[0], pair.split(":")[1]) for pair in args.runs.split(",")]
    base_argv = [sys.executable, __file__, "--device", args.device, "--realdata", str(realdata)]
    base_argv += ["--max-seconds", str(args.max_seconds)] + (["--light"] if args.light else [])

    def child(run: tuple[str, str]) -> None:
        done = subprocess.run([*base_argv, "--one", f"{run[0]}:{run[1]}"], capture_output=True, text=True)
        line = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
        if line:
            print(line[0], flush=True)
        else:
            error = done.stderr.strip()[-400:]
            print(json.dumps({"dataset": run[0], "variant": run[1], "error": error}), flush=True)

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(child, runs))


if __name__ == "__main__":
    main()
