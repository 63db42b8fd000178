"""The one interface of every traffic-speed forecaster (交通流预测模型) and the panel of speeds it reads.

A `SpeedPanel` is a regular grid of speeds, time x node (检测器 / 路段), NaN where nothing was measured. A
`Forecaster` is fitted on one panel and then, given the recent history ending "now", predicts the speeds of
steps 1..horizons after its last row. Fitted state is saved as plain files in one folder (`model.json` with
the name and parameters, `state.npz` for arrays, plus whatever text or tensor file a model needs): never a
pickle of code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

import numpy as np

from dthub.hub.errors import Refusal

STATE_JSON = "model.json"
"""File in a saved model's folder holding its name, parameters and small fitted scalars."""
STATE_ARRAYS = "state.npz"
"""File in a saved model's folder holding its fitted arrays (loaded with allow_pickle=False)."""


class ForecastError(Refusal):
    """A forecasting request that cannot be served: unknown model, unfitted model, panel too short."""


@dataclass(frozen=True, kw_only=True, eq=False)
class SpeedPanel:
    """Speeds (km/h) on a regular time grid: `values[t, n]` is node `nodes[n]` at `start + t * step`."""

    values: np.ndarray
    """float64, shape (T, N), km/h; NaN = missing."""
    step: timedelta
    """Time between rows (5 or 15 minutes on the benchmarks)."""
    start: datetime
    """Time of row 0, timezone-aware (UTC)."""
    nodes: tuple[str, ...]
    """Node (detector or road segment) id of each column."""
    adjacency: np.ndarray | None = None
    """Road-graph weights, shape (N, N), or None where the graph is unknown."""

    def __post_init__(self) -> None:
        values = self.values
        if values.ndim != 2:
            raise ForecastError("bad_panel", f"values must be 2-D (time x node), got shape {values.shape}")
        if values.dtype != np.float64:
            raise ForecastError("bad_panel", f"values must be float64, got {values.dtype}")
        if values.shape[1] != len(self.nodes):
            raise ForecastError(
                "bad_panel", f"{values.shape[1]} columns but {len(self.nodes)} node ids; want one id a column"
            )
        if self.step <= timedelta(0):
            raise ForecastError("bad_panel", f"step must be positive, got {self.step}")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ForecastError("bad_panel", f"start must be timezone-aware (UTC), got {self.start!r}")
        n = values.shape[1]
        if self.adjacency is not None and self.adjacency.shape != (n, n):
            raise ForecastError(
                "bad_panel", f"adjacency must be {n} x {n} for {n} nodes, got {self.adjacency.shape}"
            )

    @property
    def n_steps(self) -> int:
        """Rows (time steps)."""
        return int(self.values.shape[0])

    @property
    def n_nodes(self) -> int:
        """Columns (nodes)."""
        return int(self.values.shape[1])

    @property
    def end(self) -> datetime:
        """Time of the last row ("now" when the panel is the history given to `predict`)."""
        return self.start + (self.n_steps - 1) * self.step

    def rows(self, first: int, stop: int) -> SpeedPanel:
        """Rows first..stop-1 as a panel of their own (start moved accordingly, same nodes and graph)."""
        if not 0 <= first <= stop <= self.n_steps:
            raise ForecastError("bad_panel", f"rows {first}:{stop} outside 0:{self.n_steps}")
        return SpeedPanel(
            values=self.values[first:stop],
            step=self.step,
            start=self.start + first * self.step,
            nodes=self.nodes,
            adjacency=self.adjacency,
        )

    def steps_per(self, period: timedelta) -> int:
        """Rows in one period (a day, a week); the period must be a whole number of steps."""
        count, rest = divmod(period, self.step)
        if rest or count < 1:
            raise ForecastError("bad_panel", f"period {period} is not a whole number of {self.step} steps")
        return int(count)

    def slots(self, period: timedelta, *, first: int = 0, count: int | None = None) -> np.ndarray:
        """Slot (0..steps_per(period)-1) of rows first..first+count-1 in a period anchored at Monday 00:00
        UTC; rows past the end are allowed (future steps). Slots are UTC: a local-time slot is the same
        partition shifted, so slot means and seasonal lags do not depend on the zone."""
        per = self.steps_per(period)
        n = self.n_steps - first if count is None else count
        monday = datetime(1970, 1, 5, tzinfo=self.start.tzinfo)  # a Monday
        offset = (self.start - monday) // self.step
        return np.asarray((offset + first + np.arange(n)) % per, dtype=np.int64)


@runtime_checkable
class Forecaster(Protocol):
    """Every model: fit on a panel, predict steps 1..horizons after the last row of the recent history."""

    name: str
    """Registry name: "historical_average", "seasonal_naive", "lightgbm", "tgcn", ..."""

    def params(self) -> dict[str, object]:
        """Hyper-parameters as JSON-able values (`make_model(name, **params())` rebuilds the model)."""
        ...

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        """Learn from the whole of `panel` (the training part) to forecast steps 1..horizons."""
        ...

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        """Forecast, shape (horizons, N): row h-1 is the speed h steps after the last row of `panel`."""
        ...

    def save(self, path: Path) -> None:
        """Write the fitted state into the folder `path` (created if needed)."""
        ...

    @classmethod
    def load(cls, path: Path) -> Self:
        """The model saved by `save(path)`; its predictions are identical."""
        ...


MODELS: dict[str, type[Forecaster]] = {}
"""Every implemented model class by its `name`; filled by `register` as the model modules are imported."""

_F = TypeVar("_F", bound=type[Any])


def register(cls: _F) -> _F:
    """Class decorator: add a model class to `MODELS` under its `name`."""
    name = cls.name
    if name in MODELS and MODELS[name] is not cls:
        raise ValueError(f"two forecasters named {name!r}")
    MODELS[name] = cls
    return cls


def make_model(name: str, **params: object) -> Forecaster:
    """A new, unfitted model of the registered class `name` with the given hyper-parameters."""
    try:
        cls = MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ForecastError("unknown_model", f"no model {name!r}; known: {known}") from None
    factory: Callable[..., Forecaster] = cls
    try:
        return factory(**params)
    except TypeError as error:
        raise ForecastError("bad_params", f"{name}: {error}") from None


def load_model(path: Path) -> Forecaster:
    """The model saved in folder `path`, whatever its class (read from its `model.json`)."""
    meta = read_meta(path)
    name = meta.get("name")
    if not isinstance(name, str) or name not in MODELS:
        raise ForecastError("unknown_model", f"{path / STATE_JSON} names no known model: {name!r}")
    return MODELS[name].load(path)


def check_horizons(horizons: int, fitted: int | None = None) -> None:
    """Refuse a horizon count below 1, or above what a direct model was fitted for."""
    if horizons < 1:
        raise ForecastError("bad_horizons", f"horizons must be at least 1, got {horizons}")
    if fitted is not None and horizons > fitted:
        raise ForecastError("bad_horizons", f"fitted for {fitted} steps ahead, asked for {horizons}")


def write_state(
    path: Path, *, name: str, params: Mapping[str, object], arrays: Mapping[str, np.ndarray], **extra: object
) -> None:
    """Save `model.json` (name, params, extra JSON-able fields) and `state.npz` in folder `path`."""
    path.mkdir(parents=True, exist_ok=True)
    meta = {"name": name, "params": dict(params), **extra}
    (path / STATE_JSON).write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
    with (path / STATE_ARRAYS).open("wb") as file:
        np.savez(file, allow_pickle=False, **{key: np.asarray(value) for key, value in arrays.items()})


def read_meta(path: Path) -> dict[str, Any]:
    """The `model.json` of a saved model's folder."""
    file = path / STATE_JSON
    if not file.is_file():
        raise ForecastError("no_model", f"{file} does not exist: not a saved model")
    meta = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ForecastError("no_model", f"{file} is not a JSON object")
    return meta


def read_state(path: Path, name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(model.json, arrays of state.npz) of a model saved as `name`; refuses another model's folder."""
    meta = read_meta(path)
    if meta.get("name") != name:
        raise ForecastError("wrong_model", f"{path} holds a {meta.get('name')!r} model, not {name!r}")
    arrays: dict[str, np.ndarray] = {}
    file = path / STATE_ARRAYS
    if file.is_file():
        with np.load(file, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    return meta, arrays
