"""The evaluation harness (评估): a model fitted on the earlier rows, scored on sliding windows of the later.

Two conventions, never to be compared with each other (`../shared/reference/forecasting.md`):

- `evaluate_tgcn`: the T-GCN paper's code exactly, so that figures compare with its Table 1: 80 / 20 split,
  windows of `input_steps` (4 on SZ-taxi, 12 on Los-loop) + h inside the test part with the code's last window
  dropped, the error pooled over steps 1..h, zeros not masked, plus Accuracy, R2 and explained variance. A
  model that scales speeds is given the maximum of the whole series (`scale_kmh`), as the code does. What
  differs on purpose: we select nothing on the test part (the published figures were).
- `evaluate_clean`: 70 / 10 / 20 train / validation / test in time order, the candidate parameters chosen on
  the validation windows only, then the model refitted on train + validation and scored on the test part
  (the same rows as the T-GCN test part) at step h, zeros masked, MAPE over targets of at least 1 km/h.

The model sees every row before a window's end (its "now"), never one after: `forecast_windows` hands it the
panel cut at the end; models that look back further than `input_steps` (a season, a lag set) see only past
rows, so nothing leaks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from dthub.domains.roads.forecast import metrics
from dthub.domains.roads.forecast.base import Forecaster, SpeedPanel, make_model
from dthub.domains.roads.forecast.windows import Split, clean_split, tgcn_split, window_ends

REPORT_MINUTES = (15, 30, 45, 60)
"""Horizons reported, minutes ahead."""
TGCN_INPUT_STEPS = {"sz_taxi": 4, "los_loop": 12}
"""Input length of the T-GCN code per dataset (steps)."""
MAPE_MIN_KMH = 1.0
"""MAPE counts only targets of at least this speed (the clean convention)."""
CONTEXT = timedelta(days=8)
"""History handed to `predict` at each window: enough for a weekly season."""

Scores = dict[str, dict[str, float]]
"""Minutes ahead ("15") -> metric name -> value."""


def horizon_steps(panel: SpeedPanel, minutes: Sequence[int] = REPORT_MINUTES) -> list[int]:
    """Steps ahead of each reported horizon (15 min on a 5-minute panel = 3 steps)."""
    return [panel.steps_per(timedelta(minutes=m)) for m in minutes]


def forecast_windows(
    model: Forecaster, panel: SpeedPanel, ends: np.ndarray, horizons: int
) -> tuple[np.ndarray, float]:
    """(forecasts (W, horizons, N), mean milliseconds of one `predict` for all nodes): at each window end
    the model is given the rows up to and including the end (at most `CONTEXT` of them)."""
    context = panel.steps_per(CONTEXT)
    out = np.empty((len(ends), horizons, panel.n_nodes))
    started = time.perf_counter()
    for w, end in enumerate(ends):
        history = panel.rows(max(0, int(end) + 1 - context), int(end) + 1)
        out[w] = model.predict(history, horizons)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    return out, elapsed_ms / max(1, len(ends))


def targets(panel: SpeedPanel, ends: np.ndarray, horizons: int) -> np.ndarray:
    """The true speeds (W, horizons, N) after each window end."""
    offsets = np.arange(1, horizons + 1)
    return np.asarray(panel.values[ends[:, None] + offsets[None, :]])


def score_pooled(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The T-GCN metrics over every cell of `y` (nothing masked)."""
    return {
        "rmse": metrics.rmse(y, p),
        "mae": metrics.mae(y, p),
        "accuracy": metrics.accuracy(y, p),
        "r2": metrics.r2(y, p),
        "var": metrics.explained_variance(y, p),
    }


def score_at_step(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The clean metrics: zeros masked, MAPE over targets of at least `MAPE_MIN_KMH`."""
    return {
        "mae": metrics.mae(y, p, metrics.nonzero(y)),
        "rmse": metrics.rmse(y, p, metrics.nonzero(y)),
        "mape": metrics.mape(y, p, metrics.at_least(y, MAPE_MIN_KMH)),
    }


def _with_scale(name: str, params: Mapping[str, object], scale_kmh: float | None) -> Forecaster:
    model = make_model(name, **params)
    if scale_kmh is not None and "scale_kmh" in model.params():
        model = make_model(name, **{**params, "scale_kmh": scale_kmh})
    return model


def _fit(model: Forecaster, panel: SpeedPanel, horizons: int) -> dict[str, float]:
    """Fit and time it: wall seconds and CPU seconds of this process (load from other work inflates the
    first, not the second)."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(panel, horizons)
    return {
        "train_s": round(time.perf_counter() - wall, 3),
        "train_cpu_s": round(time.process_time() - cpu, 3),
    }


def score_tgcn(model: Forecaster, panel: SpeedPanel, *, input_steps: int) -> dict[str, Any]:
    """Score a model fitted on the first 80 % the T-GCN way (pooled over steps 1..h, nothing masked)."""
    split = tgcn_split(panel.n_steps)
    steps = horizon_steps(panel)
    horizons = max(steps)
    ends = window_ends(split.train_end, panel.n_steps, input_steps, min(steps), tgcn=True)
    forecast, predict_ms = forecast_windows(model, panel, ends, horizons)
    truth = _padded_targets(panel, ends, horizons)
    scores: Scores = {}
    for minutes, h in zip(REPORT_MINUTES, steps, strict=True):
        count = len(window_ends(split.train_end, panel.n_steps, input_steps, h, tgcn=True))
        scores[str(minutes)] = score_pooled(truth[:count, :h], forecast[:count, :h])
    return {"inference_ms": round(predict_ms, 3), "windows": len(ends), "scores": scores}


def evaluate_tgcn(
    name: str, params: Mapping[str, object], panel: SpeedPanel, *, input_steps: int
) -> dict[str, Any]:
    """Fit on the first 80 % (scaling, if any, by the maximum of the whole series), score the T-GCN way."""
    model = _with_scale(name, params, float(np.nanmax(panel.values)))
    timing = _fit(model, panel.rows(0, tgcn_split(panel.n_steps).train_end), max(horizon_steps(panel)))
    return {"params": model.params(), **timing, **score_tgcn(model, panel, input_steps=input_steps)}


def _padded_targets(panel: SpeedPanel, ends: np.ndarray, horizons: int) -> np.ndarray:
    """Targets after each end, NaN past the last row (the short-horizon windows of the T-GCN convention
    reach nearer the end than the long ones; those cells are never scored)."""
    out = np.full((len(ends), horizons, panel.n_nodes), np.nan)
    for h in range(1, horizons + 1):
        rows = ends + h
        inside = rows < panel.n_steps
        out[inside, h - 1] = panel.values[rows[inside]]
    return out


def select_on_validation(
    name: str,
    candidates: Sequence[Mapping[str, object]],
    panel: SpeedPanel,
    split: Split,
    *,
    input_steps: int,
) -> tuple[Mapping[str, object], list[dict[str, Any]]]:
    """The candidate with the lowest validation MAE (zeros masked, mean over the reported horizons), each
    fitted on the training part only; a single candidate is taken without fitting."""
    if len(candidates) == 1:
        return candidates[0], []
    steps = horizon_steps(panel)
    horizons = max(steps)
    ends = window_ends(split.train_end, split.val_end, input_steps, horizons)
    truth = targets(panel, ends, horizons)
    tried: list[dict[str, Any]] = []
    for params in candidates:
        model = make_model(name, **params)
        model.fit(panel.rows(0, split.train_end), horizons)
        forecast, _ = forecast_windows(model, panel, ends, horizons)
        errors = [
            metrics.mae(truth[:, h - 1], forecast[:, h - 1], metrics.nonzero(truth[:, h - 1])) for h in steps
        ]
        tried.append({"params": dict(params), "val_mae": float(np.mean(errors))})
    best = min(range(len(candidates)), key=lambda i: float(tried[i]["val_mae"]))
    return candidates[best], tried


def score_clean(model: Forecaster, panel: SpeedPanel, split: Split, *, input_steps: int) -> dict[str, Any]:
    """Score a model fitted on train + validation on the test part at step h, zeros masked."""
    steps = horizon_steps(panel)
    horizons = max(steps)
    ends = window_ends(split.val_end, panel.n_steps, input_steps, horizons)
    forecast, predict_ms = forecast_windows(model, panel, ends, horizons)
    truth = targets(panel, ends, horizons)
    scores: Scores = {
        str(minutes): score_at_step(truth[:, h - 1], forecast[:, h - 1])
        for minutes, h in zip(REPORT_MINUTES, steps, strict=True)
    }
    return {"inference_ms": round(predict_ms, 3), "windows": len(ends), "scores": scores}


def evaluate_clean(
    name: str, candidates: Sequence[Mapping[str, object]], panel: SpeedPanel, *, input_steps: int
) -> dict[str, Any]:
    """Select on validation, refit on train + validation, score the test part at step h, zeros masked."""
    split = clean_split(panel.n_steps)
    chosen, tried = select_on_validation(name, candidates, panel, split, input_steps=input_steps)
    model = make_model(name, **chosen)
    timing = _fit(model, panel.rows(0, split.val_end), max(horizon_steps(panel)))
    return {
        "params": model.params(),
        "selection": tried,
        **timing,
        **score_clean(model, panel, split, input_steps=input_steps),
    }


def evaluate_both(
    name: str, candidates: Sequence[Mapping[str, object]], panel: SpeedPanel, *, input_steps: int
) -> dict[str, Any]:
    """Both conventions with one selection: the clean convention's train + validation is the T-GCN training
    part (the first 80 %), so one fit serves both unless the model scales by the series maximum and that
    maximum lies in the test part (then it is refitted with the T-GCN scaling)."""
    split = clean_split(panel.n_steps)
    if split.val_end != tgcn_split(panel.n_steps).train_end:
        raise AssertionError("the clean split's first 80 % must be the T-GCN training part")
    chosen, tried = select_on_validation(name, candidates, panel, split, input_steps=input_steps)
    model = make_model(name, **chosen)
    timing = _fit(model, panel.rows(0, split.val_end), max(horizon_steps(panel)))
    clean = {"params": model.params(), "selection": tried, **timing}
    clean.update(score_clean(model, panel, split, input_steps=input_steps))
    tgcn_model = model
    if "scale_kmh" in model.params():
        series_max = float(np.nanmax(panel.values))
        train_max = float(np.nanmax(panel.values[: split.val_end]))
        if series_max != train_max:
            tgcn_model = _with_scale(name, chosen, series_max)
            timing = _fit(tgcn_model, panel.rows(0, split.val_end), max(horizon_steps(panel)))
    tgcn = {"params": tgcn_model.params(), **timing}
    tgcn.update(score_tgcn(tgcn_model, panel, input_steps=input_steps))
    return {"tgcn": tgcn, "clean": clean}
