"""Every registered forecaster: fit, predict the right shape, save and load to identical predictions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dthub.domains.roads.forecast import MODELS, ForecastError, SpeedPanel, load_model, make_model
from dthub.domains.roads.forecast.data import SZ_SPEED, load_sz_taxi
from fixtures.hub import REALDATA, need_realdata

HORIZONS = 4
SMALL: dict[str, dict[str, object]] = {
    "persistence": {},
    "moving_average": {"window": 4},
    "historical_average": {"period": "week"},
    "seasonal_naive": {"season": "day"},
    "linear_ar": {"lags": 6},
    "lightgbm": {"lags": 6, "max_rounds": 15, "num_leaves": 7, "min_data_in_leaf": 20, "threads": 1},
    "tgcn": {"input_steps": 4, "hidden": 8, "max_epochs": 2, "batch_size": 32},
    "gru": {"input_steps": 4, "hidden": 8, "max_epochs": 2, "batch_size": 32},
    "agcrn": {"input_steps": 4, "hidden": 8, "max_epochs": 2, "batch_size": 32, "embed_dim": 3},
}
"""Small, quick parameters of each model; a model registered without an entry here fails the test."""


@pytest.fixture(scope="module")
def sz_slice() -> SpeedPanel:
    """The first 5 days of 24 SZ-taxi roads, with their part of the road graph."""
    need_realdata(REALDATA / SZ_SPEED)
    panel = load_sz_taxi(REALDATA)
    assert panel.adjacency is not None
    keep = slice(0, 24)
    return SpeedPanel(
        values=panel.values[: 5 * 96, keep],
        step=panel.step,
        start=panel.start,
        nodes=panel.nodes[keep],
        adjacency=panel.adjacency[keep, keep],
    )


def test_every_model_has_small_parameters() -> None:
    assert set(SMALL) == set(MODELS)


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(SMALL))
def test_fit_predict_save_load_round_trip(name: str, sz_slice: SpeedPanel, tmp_path: Path) -> None:
    train, history = sz_slice.rows(0, 4 * 96), sz_slice.rows(0, 4 * 96 + 10)
    model = make_model(name, **SMALL[name])
    assert model.name == name
    model.fit(train, HORIZONS)
    forecast = model.predict(history, HORIZONS)
    assert forecast.shape == (HORIZONS, sz_slice.n_nodes)
    assert np.isfinite(forecast).all()
    assert model.predict(history, 2).shape == (2, sz_slice.n_nodes)

    model.save(tmp_path / name)
    again = load_model(tmp_path / name)
    assert type(again) is type(model)
    assert again.params() == model.params()
    np.testing.assert_array_equal(again.predict(history, HORIZONS), forecast)
    assert type(model).load(tmp_path / name).params() == model.params()


@pytest.mark.realdata
def test_missing_speeds_do_not_reach_a_forecast(sz_slice: SpeedPanel) -> None:
    values = sz_slice.values.copy()
    values[100:120, 3] = np.nan
    values[-2:, :] = np.nan
    holed = SpeedPanel(values=values, step=sz_slice.step, start=sz_slice.start, nodes=sz_slice.nodes)
    for name in ("persistence", "linear_ar", "historical_average", "seasonal_naive"):
        model = make_model(name, **SMALL[name])
        model.fit(holed.rows(0, 400), HORIZONS)
        assert np.isfinite(model.predict(holed, HORIZONS)).all(), name


def test_persistence_repeats_the_last_speed() -> None:
    from datetime import UTC, datetime, timedelta

    values = np.array([[30.0, 50.0], [32.0, np.nan]])
    panel = SpeedPanel(
        values=values, step=timedelta(minutes=5), start=datetime(2012, 3, 1, tzinfo=UTC), nodes=("a", "b")
    )
    np.testing.assert_array_equal(make_model("persistence").predict(panel, 3), [[32.0, 50.0]] * 3)


def test_unknown_model_and_bad_parameters_are_refused() -> None:
    with pytest.raises(ForecastError) as unknown:
        make_model("prophet")
    assert unknown.value.reason == "unknown_model"
    with pytest.raises(ForecastError) as bad:
        make_model("linear_ar", order=3)
    assert bad.value.reason == "bad_params"


@pytest.mark.realdata
def test_direct_models_refuse_more_steps_than_fitted(sz_slice: SpeedPanel) -> None:
    model = make_model("linear_ar", lags=4)
    model.fit(sz_slice.rows(0, 200), 2)
    with pytest.raises(ForecastError) as refused:
        model.predict(sz_slice.rows(0, 200), 3)
    assert refused.value.reason == "bad_horizons"


def test_default_import_does_not_load_torch_or_lightgbm() -> None:
    code = (
        "import sys, dthub.domains.roads.forecast; print('torch' in sys.modules, 'lightgbm' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
