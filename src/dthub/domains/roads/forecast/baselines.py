"""Statistical baselines (基线模型), pure numpy: persistence, moving average, historical average, seasonal
naive and a per-node linear autoregression. On small panels such as SZ-taxi and Los-loop they are strong; a
learned model that does not beat them is not worth serving."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

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
    PERIODS,
    fill_missing,
    lag_windows,
    slot_profile,
    target_windows,
)


def _period_name(period: str) -> str:
    if period not in PERIODS:
        raise ForecastError("bad_params", f"period {period!r}; want one of {', '.join(PERIODS)}")
    return period


def _need_rows(panel: SpeedPanel, rows: int, model: str) -> None:
    if panel.n_steps < rows:
        raise ForecastError("short_history", f"{model} needs at least {rows} rows, got {panel.n_steps}")


@register
class Persistence:
    """Persistence (last value, 持续性预测): every future step equals the last observed speed of the node."""

    name: ClassVar[str] = "persistence"

    def params(self) -> dict[str, object]:
        return {}

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        check_horizons(horizons)

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        check_horizons(horizons)
        _need_rows(panel, 1, self.name)
        last = fill_missing(panel.values)[-1]
        return np.repeat(last[None, :], horizons, axis=0)

    def save(self, path: Path) -> None:
        write_state(path, name=self.name, params=self.params(), arrays={})

    @classmethod
    def load(cls, path: Path) -> Self:
        read_state(path, cls.name)
        return cls()


@register
class MovingAverage:
    """Moving average of the last `window` steps, rolled forward on its own output: the row the T-GCN paper
    calls "HA" (`Baselines/baselines.py` of lehaifeng/T-GCN; window 4 on SZ-taxi, 15 on Los-loop)."""

    name: ClassVar[str] = "moving_average"

    def __init__(self, window: int = 4) -> None:
        if window < 1:
            raise ForecastError("bad_params", f"window must be at least 1, got {window}")
        self.window = window

    def params(self) -> dict[str, object]:
        return {"window": self.window}

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        check_horizons(horizons)

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        check_horizons(horizons)
        _need_rows(panel, self.window, self.name)
        recent = list(fill_missing(panel.values)[-self.window :])
        out = []
        for _ in range(horizons):
            mean = np.mean(recent, axis=0)
            out.append(mean)
            recent = [*recent[1:], mean]
        return np.asarray(out, dtype=np.float64)

    def save(self, path: Path) -> None:
        write_state(path, name=self.name, params=self.params(), arrays={})

    @classmethod
    def load(cls, path: Path) -> Self:
        meta, _ = read_state(path, cls.name)
        return cls(**meta["params"])


@register
class HistoricalAverage:
    """Historical average (历史平均): the training mean of each node in the same slot of the period (time of
    week by default); a slot never seen in training falls back to the time-of-day mean, then the node mean."""

    name: ClassVar[str] = "historical_average"

    def __init__(self, period: str = "week") -> None:
        self.period = _period_name(period)
        self.profile: np.ndarray | None = None

    def params(self) -> dict[str, object]:
        return {"period": self.period}

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        check_horizons(horizons)
        period = PERIODS[self.period]
        profile, _ = slot_profile(panel, period)
        daily, _ = slot_profile(panel, DAY)
        with np.errstate(invalid="ignore"):
            node_mean = np.nanmean(panel.values, axis=0) if panel.n_steps else np.zeros(panel.n_nodes)
        per_day = panel.steps_per(DAY)
        daily_at = daily[np.arange(profile.shape[0]) % per_day]
        profile = np.where(np.isnan(profile), daily_at, profile)
        self.profile = np.where(np.isnan(profile), np.nan_to_num(node_mean)[None, :], profile)

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        check_horizons(horizons)
        if self.profile is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it predicts")
        slots = panel.slots(PERIODS[self.period], first=panel.n_steps, count=horizons)
        return np.array(self.profile[slots], dtype=np.float64)

    def save(self, path: Path) -> None:
        if self.profile is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it is saved")
        write_state(path, name=self.name, params=self.params(), arrays={"profile": self.profile})

    @classmethod
    def load(cls, path: Path) -> Self:
        meta, arrays = read_state(path, cls.name)
        model = cls(**meta["params"])
        model.profile = arrays["profile"]
        return model


@register
class SeasonalNaive:
    """Seasonal naive (季节性朴素预测): the speed one season (a day or a week) before the target time; the
    last value where the history does not reach that far back or the value is missing."""

    name: ClassVar[str] = "seasonal_naive"

    def __init__(self, season: str = "day") -> None:
        self.season = _period_name(season)

    def params(self) -> dict[str, object]:
        return {"season": self.season}

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        check_horizons(horizons)

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        check_horizons(horizons)
        _need_rows(panel, 1, self.name)
        per = panel.steps_per(PERIODS[self.season])
        last = fill_missing(panel.values)[-1]
        out = np.repeat(last[None, :], horizons, axis=0)
        for h in range(1, horizons + 1):
            row = panel.n_steps - 1 + h - per
            if 0 <= row < panel.n_steps:
                past = panel.values[row]
                out[h - 1] = np.where(np.isnan(past), last, past)
        return out

    def save(self, path: Path) -> None:
        write_state(path, name=self.name, params=self.params(), arrays={})

    @classmethod
    def load(cls, path: Path) -> Self:
        meta, _ = read_state(path, cls.name)
        return cls(**meta["params"])


@register
class LinearAR:
    """Per-node linear autoregression (线性自回归), direct: for each node and each step h a ridge regression
    of the speed h steps ahead on the last `lags` speeds and an intercept, fitted by least squares."""

    name: ClassVar[str] = "linear_ar"

    def __init__(self, lags: int = 12, ridge: float = 1e-3) -> None:
        if lags < 1:
            raise ForecastError("bad_params", f"lags must be at least 1, got {lags}")
        self.lags, self.ridge = lags, ridge
        self.coef: np.ndarray | None = None  # (N, lags + 1, H)
        self.node_mean: np.ndarray | None = None

    def params(self) -> dict[str, object]:
        return {"lags": self.lags, "ridge": self.ridge}

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        check_horizons(horizons)
        _need_rows(panel, self.lags + horizons + 1, self.name)
        with np.errstate(invalid="ignore"):
            self.node_mean = np.nan_to_num(np.nanmean(panel.values, axis=0))
        values = fill_missing(panel.values, self.node_mean)
        ends = np.arange(self.lags - 1, panel.n_steps - horizons)
        x = lag_windows(values, ends, self.lags)  # (W, L, N)
        y = target_windows(panel.values, ends, horizons)  # (W, H, N), NaN targets dropped below
        design = np.concatenate([x, np.ones((x.shape[0], 1, x.shape[2]))], axis=1).transpose(2, 0, 1)
        targets = y.transpose(2, 0, 1)  # (N, W, H)
        known = ~np.isnan(targets)
        coef = np.empty((panel.n_nodes, self.lags + 1, horizons))
        eye = np.eye(self.lags + 1) * self.ridge * max(1, x.shape[0])
        eye[-1, -1] = 0.0
        for h in range(horizons):
            weight = known[:, :, h].astype(np.float64)[:, :, None]
            xtx = np.einsum("nwi,nwj->nij", design * weight, design) + eye
            xty = np.einsum("nwi,nw->ni", design * weight, np.nan_to_num(targets[:, :, h]))
            coef[:, :, h] = np.linalg.solve(xtx, xty[:, :, None])[:, :, 0]
        self.coef = coef

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        if self.coef is None or self.node_mean is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it predicts")
        check_horizons(horizons, self.coef.shape[2])
        _need_rows(panel, self.lags, self.name)
        recent = fill_missing(panel.values[-self.lags :], self.node_mean)  # (L, N)
        design = np.concatenate([recent, np.ones((1, recent.shape[1]))], axis=0)  # (L+1, N)
        return np.asarray(np.einsum("in,nih->hn", design, self.coef[:, :, :horizons]), dtype=np.float64)

    def save(self, path: Path) -> None:
        if self.coef is None or self.node_mean is None:
            raise ForecastError("not_fitted", f"{self.name} must be fitted before it is saved")
        arrays = {"coef": self.coef, "node_mean": self.node_mean}
        write_state(path, name=self.name, params=self.params(), arrays=arrays)

    @classmethod
    def load(cls, path: Path) -> Self:
        meta, arrays = read_state(path, cls.name)
        model = cls(**meta["params"])
        model.coef, model.node_mean = arrays["coef"], arrays["node_mean"]
        return model
