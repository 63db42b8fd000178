"""Forecast operations (预测作业): train a model on the hub's own speeds, and refresh the stored forecasts.

- `train`: a panel of segment speeds from the lake (`panel.segment_panel`), split in time: the model is fitted
  on the first part, and validated on the last (`validation_share`) from rolling origins, each given only the
  history before it (no leakage); MAE, RMSE and MAPE per horizon, zeros and gaps masked. The fitted model
  goes to the registry with the window, the metrics and the lake batches read.
- `refresh_forecasts`: each active model forecasts the next `horizons` steps of its segments from the most
  recent `context_steps` of history, issued at the end of the last whole step the lake holds (never after
  `now`), and the rows land in `roads.segment_forecasts` through the hub's ingest: validated, quarantined
  when bad, and never duplicated (the same issue twice lands nothing the second time).
- `run_periodically`: the scheduled job the API server starts (`DTHUB_FORECAST_REFRESH_S`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from dthub.domains.roads.forecast import registry
from dthub.domains.roads.forecast.base import ForecastError, SpeedPanel, make_model
from dthub.domains.roads.forecast.panel import (
    aligned,
    lake_inputs,
    latest_observation,
    segment_districts,
    segment_panel,
)
from dthub.domains.roads.forecast.records import ForecastRecords, forecast_lines
from dthub.domains.roads.tables import ForecastModelRow
from dthub.hub.core import Hub
from dthub.hub.ingest import BatchResult, ingest_bytes

log = logging.getLogger(__name__)

MAX_ORIGINS = 24
"""Most validation origins a training run evaluates (evenly spread over the validation part)."""
CONTEXT = timedelta(days=7)
"""History a forecast reads by default: a week, enough for weekly seasonality."""
MIN_SPEED_KMH = 1.0
"""Speeds below this are masked in MAPE (the standard protocol masks zeros)."""


# Training


def horizon_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, Any]:
    """MAE, RMSE (km/h) and MAPE (%) per horizon and overall of forecasts against what was measured.

    `predicted`, `actual`: (origins, horizons, nodes). Pairs with a missing value are left out; MAPE also
    leaves out measured speeds below `MIN_SPEED_KMH`. A horizon without a pair has null metrics."""
    if predicted.shape != actual.shape or predicted.ndim != 3:
        raise ValueError(
            f"want two equal (origins, horizons, nodes) arrays, got {predicted.shape}, {actual.shape}"
        )
    both = np.isfinite(predicted) & np.isfinite(actual)
    error = np.where(both, predicted - actual, 0.0)
    relevant = both & (np.abs(actual) >= MIN_SPEED_KMH)
    ratio = np.where(relevant, np.abs(error) / np.where(relevant, np.abs(actual), 1.0), 0.0)

    def summary(mask: np.ndarray, err: np.ndarray, rel: np.ndarray, rat: np.ndarray) -> dict[str, Any]:
        pairs, pct = int(mask.sum()), int(rel.sum())
        return {
            "pairs": pairs,
            "mae": round(float(np.abs(err).sum() / pairs), 4) if pairs else None,
            "rmse": round(float(np.sqrt((err**2).sum() / pairs)), 4) if pairs else None,
            "mape": round(float(100 * rat.sum() / pct), 4) if pct else None,
        }

    per_horizon = [
        {"horizon": h + 1, **summary(both[:, h], error[:, h], relevant[:, h], ratio[:, h])}
        for h in range(predicted.shape[1])
    ]
    return {"per_horizon": per_horizon, "overall": summary(both, error, relevant, ratio)}


def origins(first: int, last: int, most: int = MAX_ORIGINS) -> list[int]:
    """Up to `most` rows evenly spread over [first, last], both included; none when last < first."""
    if last < first:
        return []
    return sorted({round(x) for x in np.linspace(first, last, num=min(most, last - first + 1))})


def validate(
    model: Any, panel: SpeedPanel, *, split: int, horizons: int, context_steps: int
) -> dict[str, Any]:
    """Rolling-origin validation on rows split.. of `panel`: at each origin o the model sees rows
    max(0, o - context_steps)..o-1 only, and forecasts rows o..o+horizons-1."""
    chosen = origins(split, panel.n_steps - horizons)
    if not chosen:
        raise ForecastError(
            "forecast.window_too_short",
            f"{panel.n_steps} rows leave no validation origin after row {split} for {horizons} steps",
        )
    predicted = np.stack(
        [model.predict(panel.rows(max(0, o - context_steps), o), horizons) for o in chosen]
    ).astype(np.float64)
    actual = np.stack([panel.values[o : o + horizons] for o in chosen])
    metrics = horizon_metrics(predicted, actual)
    metrics["validation"] = {
        "start": (panel.start + split * panel.step).isoformat(),
        "end": (panel.start + panel.n_steps * panel.step).isoformat(),
        "origins": len(chosen),
        "protocol": "rolling origin, chronological split, history before each origin only",
    }
    return metrics


@dataclass(frozen=True, kw_only=True)
class TrainRequest:
    """What to train: a model with its hyper-parameters, on a window of the lake, on a grid."""

    model: str
    params: dict[str, Any]
    start: datetime
    end: datetime
    step: timedelta = timedelta(minutes=5)
    horizons: int = 12
    validation_share: float = 0.2
    context: timedelta = CONTEXT
    activate: bool = True


def train(hub: Hub, request: TrainRequest, *, by: str) -> ForecastModelRow:
    """Fit `request.model` on the hub's speeds of the window and register it with lineage and metrics."""
    if not 0 < request.validation_share < 1:
        raise ForecastError(
            "forecast.bad_split", f"validation_share must be in (0, 1), got {request.validation_share}"
        )
    panel = segment_panel(hub, start=request.start, end=request.end, step=request.step)
    if panel.n_nodes == 0:
        raise ForecastError("forecast.no_data", f"no segment speed in {request.start} .. {request.end}")
    split = round(panel.n_steps * (1 - request.validation_share))
    model = make_model(request.model, **request.params)
    training = panel.rows(0, split)
    model.fit(training, request.horizons)
    context_steps = max(1, min(split, request.context // request.step))
    metrics = validate(model, panel, split=split, horizons=request.horizons, context_steps=context_steps)
    record = registry.Training(
        start=panel.start,
        end=panel.start + split * panel.step,
        step=panel.step,
        horizons=request.horizons,
        context_steps=context_steps,
        nodes=panel.nodes,
        inputs=tuple(lake_inputs(hub, start=panel.start, end=request.end)),
    )
    return registry.register(hub, model, record, metrics, by=by, activate=request.activate)


# Refreshing forecasts


@dataclass(frozen=True, kw_only=True)
class Refreshed:
    """What one model's refresh did: the issue time, and the ingest batch (None when nothing was issued)."""

    model_id: str
    issued_at: datetime | None
    status: str
    """issued | no_data"""
    forecasts: int
    batch: BatchResult | None


def issue_time(now: datetime, latest: datetime, step: timedelta) -> datetime:
    """When a forecast is issued: the end of the last whole step that has data (`latest` is the start of the
    lake's latest 5-minute interval), and never after `now`; on the grid of `step`."""
    return aligned(min(now, latest + timedelta(minutes=5)), step)


def forecast_records(
    row: ForecastModelRow, issued_at: datetime, forecast: np.ndarray, districts: dict[str, str]
) -> list[dict[str, Any]]:
    """One record per segment and step with a finite forecast, segment by segment; times as ISO 8601."""
    step = timedelta(seconds=row.step_s)
    issued = issued_at.isoformat()
    targets = [(issued_at + h * step).isoformat() for h in range(forecast.shape[0])]
    records = []
    for column, segment in enumerate(row.nodes):
        for h in range(forecast.shape[0]):
            speed = float(forecast[h, column])
            if not np.isfinite(speed):
                continue
            records.append(
                {
                    "segment_id": segment,
                    "issued_at": issued,
                    "target_time": targets[h],
                    "horizon_steps": h + 1,
                    "step_minutes": row.step_s // 60,
                    "speed_kmh": round(speed, 3),
                    "model_id": row.id,
                    "model_name": row.name,
                    "model_version": row.version,
                    "district_code": districts.get(segment),
                }
            )
    return records


def refresh_model(hub: Hub, row: ForecastModelRow, now: datetime) -> Refreshed:
    """Issue one model's forecasts at the latest issue time the lake allows, and land them."""
    latest = latest_observation(hub)
    if latest is None:
        return Refreshed(model_id=row.id, issued_at=None, status="no_data", forecasts=0, batch=None)
    step = timedelta(seconds=row.step_s)
    issued_at = issue_time(now, latest, step)
    history = segment_panel(
        hub, start=issued_at - row.context_steps * step, end=issued_at, step=step, nodes=row.nodes
    )
    if not np.isfinite(history.values).any():
        return Refreshed(model_id=row.id, issued_at=issued_at, status="no_data", forecasts=0, batch=None)
    forecast = registry.load(hub, row).predict(history, row.horizons)
    records = forecast_records(row, issued_at, forecast, segment_districts(hub, row.nodes))
    source = f"forecast:{row.id}@{issued_at.isoformat()}"
    batch = ingest_bytes(hub, ForecastRecords(), forecast_lines(records), source=source)
    return Refreshed(
        model_id=row.id, issued_at=issued_at, status="issued", forecasts=len(records), batch=batch
    )


def refresh_forecasts(hub: Hub, now: datetime, *, names: Sequence[str] | None = None) -> list[Refreshed]:
    """Refresh the forecasts of every active model (of `names`, when given) as of `now`."""
    if now.tzinfo is None:
        raise ForecastError("bad_time", f"now={now!r} has no time zone")
    return [refresh_model(hub, row, now) for row in registry.active(hub, names)]


async def run_periodically(
    hub: Hub,
    every_s: float,
    stop: asyncio.Event,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Refresh every `every_s` seconds (the first after one period) until `stop` is set. A refresh that
    fails is logged and the next one runs on time: the server must not stop serving for it."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=every_s)
            return
        except TimeoutError:
            pass
        try:
            done = await asyncio.to_thread(refresh_forecasts, hub, clock())
        except Exception:  # a failed refresh is reported and retried next period
            log.exception("forecast refresh failed")
            continue
        for item in done:
            log.info(
                "forecast refresh %s: %s at %s, %d forecasts",
                item.model_id,
                item.status,
                item.issued_at,
                item.forecasts,
            )
