"""Traffic-speed forecasting (交通流预测): one interface, the models behind it, and their evaluation.

`base.py` declares the interface (`SpeedPanel`, `Forecaster`, `MODELS`, `make_model`, `load_model`); each
model module registers its classes in `MODELS` when imported here. The neural model imports PyTorch only
when it is built, so the default install (without the `forecast` extra) still imports this package.
"""

from __future__ import annotations

from dthub.domains.roads.forecast import baselines, boosting, graph_gru, neural
from dthub.domains.roads.forecast.base import (
    MODELS,
    Forecaster,
    ForecastError,
    SpeedPanel,
    load_model,
    make_model,
    register,
)

__all__ = [
    "MODELS",
    "ForecastError",
    "Forecaster",
    "SpeedPanel",
    "baselines",
    "boosting",
    "graph_gru",
    "load_model",
    "make_model",
    "neural",
    "register",
]
