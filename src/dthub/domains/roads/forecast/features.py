"""Shared preparation of model inputs: filling gaps, lag windows, slot profiles, graph normalisation."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from dthub.domains.roads.forecast.base import SpeedPanel

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
PERIODS = {"day": DAY, "week": WEEK}
"""Seasons a model may name in its parameters."""


def fill_missing(values: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """Copy of `values` (T, N) with each NaN replaced by the node's last earlier value; leading NaNs by
    `fallback[n]` (a node's training mean) or 0. Never looks forward in time."""
    filled = np.array(values, dtype=np.float64, copy=True)
    missing = np.isnan(filled)
    if not missing.any():
        return filled
    t_index = np.where(~missing, np.arange(filled.shape[0])[:, None], 0)
    np.maximum.accumulate(t_index, axis=0, out=t_index)
    filled = filled[t_index, np.arange(filled.shape[1])[None, :]]
    still = np.isnan(filled)
    if still.any():
        base = np.zeros(filled.shape[1]) if fallback is None else np.nan_to_num(fallback)
        filled = np.where(still, base[None, :], filled)
    return filled


def lag_windows(values: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """Input windows, shape (W, length, N): rows ends[w]-length+1 .. ends[w] of `values` (oldest first)."""
    offsets = np.arange(-length + 1, 1)
    return values[ends[:, None] + offsets[None, :]]


def target_windows(values: np.ndarray, ends: np.ndarray, horizons: int) -> np.ndarray:
    """Targets, shape (W, horizons, N): rows ends[w]+1 .. ends[w]+horizons of `values`."""
    offsets = np.arange(1, horizons + 1)
    return values[ends[:, None] + offsets[None, :]]


def slot_profile(panel: SpeedPanel, period: timedelta) -> tuple[np.ndarray, np.ndarray]:
    """(mean, count), each (slots, N): the mean speed of each node in each slot of the period (time of day
    or time of week) over the panel, NaN where the slot was never observed."""
    slots = panel.slots(period)
    per = panel.steps_per(period)
    observed = ~np.isnan(panel.values)
    sums = np.zeros((per, panel.n_nodes))
    counts = np.zeros((per, panel.n_nodes))
    np.add.at(sums, slots, np.where(observed, panel.values, 0.0))
    np.add.at(counts, slots, observed.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
    return mean, counts


def normalised_adjacency(adjacency: np.ndarray) -> np.ndarray:
    """D^-1/2 (A + I) D^-1/2 of Kipf and Welling (2017), the T-GCN graph convolution's operator; A is made
    symmetric (max with its transpose) and its own diagonal is replaced by the self-loop."""
    a = np.maximum(adjacency, adjacency.T).astype(np.float64)
    np.fill_diagonal(a, 0.0)
    a = a + np.eye(a.shape[0])
    degree = a.sum(axis=1)
    inv_sqrt = 1.0 / np.sqrt(degree)
    return np.asarray(inv_sqrt[:, None] * a * inv_sqrt[None, :], dtype=np.float64)


def neighbour_mean(adjacency: np.ndarray) -> np.ndarray:
    """Row-normalised adjacency without self-loops (a node's neighbours' weighted mean); isolated nodes get
    their own value."""
    a = np.maximum(adjacency, adjacency.T).astype(np.float64)
    np.fill_diagonal(a, 0.0)
    degree = a.sum(axis=1)
    isolated = degree == 0
    a[isolated, isolated] = 1.0
    return np.asarray(a / a.sum(axis=1, keepdims=True), dtype=np.float64)


def holdout_ends(
    rows: int, lookback: int, horizons: int, val_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """(fitting ends, hold-out ends) of windows over `rows` rows: the last `val_fraction` of the rows is held
    out to decide when training stops, and windows are cut inside each part (no fitting target is a
    hold-out row, no hold-out input a fitting row)."""
    boundary = int(rows * (1 - val_fraction))
    fit_ends = np.arange(lookback - 1, boundary - horizons)
    val_ends = np.arange(boundary + lookback - 1, rows - horizons)
    return fit_ends, val_ends
