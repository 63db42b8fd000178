"""Forecast errors (预测误差): MAE, RMSE, MAPE with masks, and the T-GCN paper's Accuracy, R2 and explained
variance. Every function takes targets `y` and forecasts `p` of one shape and an optional boolean `mask` of
the cells that count; NaN targets never count."""

from __future__ import annotations

import numpy as np

from dthub.domains.roads.forecast.base import ForecastError


def _cells(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if y.shape != p.shape:
        raise ForecastError("bad_metric", f"targets {y.shape} and forecasts {p.shape} differ in shape")
    keep = ~np.isnan(y)
    if mask is not None:
        keep &= mask
    if not keep.any():
        raise ForecastError("bad_metric", "no target cell to score")
    return y[keep], p[keep]


def nonzero(y: np.ndarray) -> np.ndarray:
    """Mask of targets that are not exactly 0 (a zero speed is a missing reading on these panels)."""
    return np.asarray(y != 0)


def at_least(y: np.ndarray, kmh: float) -> np.ndarray:
    """Mask of targets of at least `kmh` (MAPE is only meaningful away from 0)."""
    return np.asarray(y >= kmh)


def mae(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error (平均绝对误差), km/h."""
    yy, pp = _cells(y, p, mask)
    return float(np.mean(np.abs(yy - pp)))


def rmse(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Root mean squared error (均方根误差), km/h."""
    yy, pp = _cells(y, p, mask)
    return float(np.sqrt(np.mean((yy - pp) ** 2)))


def mape(y: np.ndarray, p: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute percentage error (平均绝对百分比误差), in percent; zero targets must be masked out."""
    yy, pp = _cells(y, p, mask)
    if np.any(yy == 0):
        raise ForecastError("bad_metric", "MAPE over a zero target: mask zeros (at_least) first")
    return float(np.mean(np.abs((yy - pp) / yy)) * 100.0)


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """T-GCN "Accuracy": 1 - ||Y - Yhat||_F / ||Y||_F over all cells (nothing masked)."""
    return float(1.0 - np.linalg.norm(y - p) / np.linalg.norm(y))


def r2(y: np.ndarray, p: np.ndarray) -> float:
    """T-GCN R2: 1 - sum((Y - Yhat)^2) / sum((Y - mean(Y))^2) over all cells."""
    return float(1.0 - np.sum((y - p) ** 2) / np.sum((y - np.mean(y)) ** 2))


def explained_variance(y: np.ndarray, p: np.ndarray) -> float:
    """T-GCN "var": 1 - Var(Y - Yhat) / Var(Y) over all cells."""
    return float(1.0 - np.var(y - p) / np.var(y))
