"""Gradient boosting (梯度提升树, LightGBM) with lag, graph and calendar features; direct: one model per step.

For each node and window end t, the model of step h sees the node's last `lags` speeds, their mean and last
change, the weighted mean of its road-graph neighbours now and one step before, the time of day and day of
week of the target (UTC slots), and the node's training mean at the target's time of day (a historical
average, 历史平均). All nodes share one model per step. Trees are grown on at most `max_rows` (node, window)
rows of the panel given to `fit` minus its last `val_fraction`, which decides when to stop adding trees.
LightGBM is imported when a model is built, so the default install does not need it; a saved model is
LightGBM's own text format, one file per step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from dthub.domains.roads.forecast.base import (
    ForecastError,
    SpeedPanel,
    check_horizons,
    read_state,
    register,
    write_state,
)
from dthub.domains.roads.forecast.features import (
    DAY,
    WEEK,
    fill_missing,
    holdout_ends,
    lag_windows,
    neighbour_mean,
    slot_profile,
)

FEATURES_FIXED = ("lag_mean", "last_change", "nbr_now", "nbr_prev", "time_of_day", "day_of_week", "ha_at")


def _lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError as error:  # pragma: no cover - the forecast extra is part of dev
        raise ForecastError(
            "missing_extra", "LightGBM is not installed: pip install 'dthub[forecast]'"
        ) from error
    return lightgbm


@register
class LightGBMForecaster:
    """LightGBM, direct multi-step (one booster per step ahead), shared by all nodes."""

    name: ClassVar[str] = "lightgbm"

    def __init__(
        self,
        lags: int = 12,
        num_leaves: int = 31,
        learning_rate: float = 0.1,
        max_rounds: int = 300,
        min_data_in_leaf: int = 100,
        max_rows: int = 100_000,
        val_fraction: float = 0.125,
        threads: int = 1,
        seed: int = 7,
    ) -> None:
        if lags < 2:
            raise ForecastError("bad_params", f"lags must be at least 2, got {lags}")
        if not 0.0 < val_fraction < 0.5:
            raise ForecastError("bad_params", f"val_fraction must be in (0, 0.5), got {val_fraction}")
        self.lags, self.num_leaves, self.learning_rate = lags, num_leaves, learning_rate
        self.max_rounds, self.min_data_in_leaf, self.val_fraction = max_rounds, min_data_in_leaf, val_fraction
        self.max_rows = max_rows
        self.threads, self.seed = threads, seed
        self.boosters: list[Any] = []
        self.profile: np.ndarray | None = None  # (slots of a day, N)
        self.neighbours: np.ndarray | None = None  # (N, N)
        self.node_mean: np.ndarray | None = None

    def params(self) -> dict[str, object]:
        return {
            "lags": self.lags,
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "max_rounds": self.max_rounds,
            "min_data_in_leaf": self.min_data_in_leaf,
            "max_rows": self.max_rows,
            "val_fraction": self.val_fraction,
            "threads": self.threads,
            "seed": self.seed,
        }

    def _features(self, panel: SpeedPanel, values: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        """(W * N, features) rows for window ends `ends` of `values` (filled) and step h; row w * N + n."""
        assert self.profile is not None
        assert self.neighbours is not None
        lags = lag_windows(values, ends, self.lags)  # (W, L, N)
        w, n = len(ends), values.shape[1]
        per_day = panel.steps_per(DAY)
        week_slot = panel.slots(WEEK)  # of rows 0..T-1; targets may lie past the end
        target_slot = (week_slot[0] + ends + h) % panel.steps_per(WEEK)
        now, prev = lags[:, -1, :], lags[:, -2, :]
        columns = [lags[:, ::-1, :].transpose(0, 2, 1).reshape(w * n, self.lags)]
        extra = np.stack(
            [
                lags.mean(axis=1),
                now - prev,
                now @ self.neighbours.T,
                prev @ self.neighbours.T,
                np.repeat((target_slot % per_day)[:, None], n, axis=1).astype(np.float64),
                np.repeat((target_slot // per_day)[:, None], n, axis=1).astype(np.float64),
                self.profile[target_slot % per_day],
            ],
            axis=2,
        ).reshape(w * n, len(FEATURES_FIXED))
        columns.append(extra)
        return np.concatenate(columns, axis=1)

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        check_horizons(horizons)
        lgb = _lightgbm()
        with np.errstate(invalid="ignore"):
            self.node_mean = np.nan_to_num(np.nanmean(panel.values, axis=0))
        profile, _ = slot_profile(panel, DAY)
        self.profile = np.where(np.isnan(profile), self.node_mean[None, :], profile)
        adjacency = panel.adjacency if panel.adjacency is not None else np.zeros((panel.n_nodes,) * 2)
        self.neighbours = neighbour_mean(adjacency)
        values = fill_missing(panel.values, self.node_mean)
        fit_ends, val_ends = holdout_ends(panel.n_steps, self.lags, horizons, self.val_fraction)
        if len(fit_ends) < 20 or len(val_ends) < 1:
            raise ForecastError("short_history", f"{self.name}: {panel.n_steps} rows are too few to fit")
        rng = np.random.default_rng(self.seed)
        config = {
            "objective": "regression",
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": 0.9,
            "num_threads": self.threads,
            "seed": self.seed,
            "deterministic": True,
            "verbosity": -1,
        }
        self.boosters = []
        for h in range(1, horizons + 1):
            x_fit = self._features(panel, values, fit_ends, h)
            y_fit = panel.values[fit_ends + h].reshape(-1)
            keep = np.flatnonzero(~np.isnan(y_fit))
            if len(keep) > self.max_rows:
                keep = np.sort(rng.choice(keep, self.max_rows, replace=False))
            x_val = self._features(panel, values, val_ends, h)
            y_val = panel.values[val_ends + h].reshape(-1)
            known = ~np.isnan(y_val)
            train = lgb.Dataset(x_fit[keep], y_fit[keep], free_raw_data=True)
            valid = lgb.Dataset(x_val[known], y_val[known], reference=train)
            booster = lgb.train(
                config,
                train,
                num_boost_round=self.max_rounds,
                valid_sets=[valid],
                callbacks=[lgb.early_stopping(20, verbose=False)],
            )
            self.boosters.append(booster)

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        if not self.boosters or self.node_mean is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it predicts")
        check_horizons(horizons, len(self.boosters))
        if panel.n_steps < self.lags:
            raise ForecastError("short_history", f"{self.name} needs {self.lags} rows, got {panel.n_steps}")
        values = fill_missing(panel.values[-self.lags - 1 :], self.node_mean)
        recent = panel.rows(panel.n_steps - values.shape[0], panel.n_steps)
        end = np.array([values.shape[0] - 1])
        out = np.empty((horizons, panel.n_nodes))
        for h in range(1, horizons + 1):
            booster = self.boosters[h - 1]
            out[h - 1] = booster.predict(
                self._features(recent, values, end, h),
                num_iteration=booster.best_iteration,
                num_threads=self.threads,
            )
        return out

    def save(self, path: Path) -> None:
        if not self.boosters or self.profile is None or self.neighbours is None or self.node_mean is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it is saved")
        arrays = {"profile": self.profile, "neighbours": self.neighbours, "node_mean": self.node_mean}
        write_state(path, name=self.name, params=self.params(), arrays=arrays, horizons=len(self.boosters))
        for h, booster in enumerate(self.boosters, start=1):
            (path / f"booster_step{h:02d}.txt").write_text(
                booster.model_to_string(num_iteration=booster.best_iteration), encoding="utf-8"
            )

    @classmethod
    def load(cls, path: Path) -> Self:
        meta, arrays = read_state(path, cls.name)
        lgb = _lightgbm()
        model = cls(**meta["params"])
        model.profile, model.neighbours = arrays["profile"], arrays["neighbours"]
        model.node_mean = arrays["node_mean"]
        model.boosters = [
            lgb.Booster(model_str=(path / f"booster_step{h:02d}.txt").read_text(encoding="utf-8"))
            for h in range(1, int(meta["horizons"]) + 1)
        ]
        return model
