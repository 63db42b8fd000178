"""The graph model (`agcrn`): shapes, horizons, save and load, ensembles, devices, and that its graph earns
its keep (on a panel where a road repeats its neighbour's speeds two steps later, it beats the GRU)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from dthub.domains.roads.forecast import ForecastError, SpeedPanel, load_model, make_model
from dthub.domains.roads.forecast.evaluate import forecast_windows, targets
from dthub.domains.roads.forecast.graph_gru import AGCRNForecaster
from dthub.domains.roads.forecast.windows import window_ends

LAG = 2
"""Steps by which each follower road repeats its leader."""
TINY: dict[str, object] = {"input_steps": 6, "hidden": 8, "max_epochs": 2, "batch_size": 32, "embed_dim": 3}


def _lagged_pairs(rows: int = 900, pairs: int = 3, seed: int = 0) -> SpeedPanel:
    """Simulated speeds: leaders (even columns) are an AR(1) around a daily cycle; each follower (the odd
    column after it) repeats its leader's speed `LAG` steps later; the road graph joins each pair."""
    rng = np.random.default_rng(seed)
    per_day = 96
    cycle = 40.0 + 8.0 * np.sin(2 * np.pi * np.arange(rows + LAG) / per_day)
    values = np.empty((rows, 2 * pairs))
    adjacency = np.zeros((2 * pairs, 2 * pairs))
    for p in range(pairs):
        noise = np.zeros(rows + LAG)
        for t in range(1, rows + LAG):
            noise[t] = 0.9 * noise[t - 1] + rng.normal(0.0, 3.0)
        leader = cycle + noise
        values[:, 2 * p] = leader[LAG:]
        values[:, 2 * p + 1] = leader[:rows]
        adjacency[2 * p, 2 * p + 1] = adjacency[2 * p + 1, 2 * p] = 1.0
    return SpeedPanel(
        values=values,
        step=timedelta(minutes=15),
        start=datetime(2026, 3, 2, tzinfo=UTC),
        nodes=tuple(f"simulated-{i}" for i in range(2 * pairs)),
        adjacency=adjacency,
    )


@pytest.mark.parametrize("spatial", ["inputs", "cell"])
def test_shapes_horizons_and_save_load(spatial: str, tmp_path: Path) -> None:
    panel = _lagged_pairs(rows=400)
    model = make_model("agcrn", spatial=spatial, **TINY)
    assert isinstance(model, AGCRNForecaster)
    model.fit(panel.rows(0, 300), 4)
    history = panel.rows(0, 320)
    forecast = model.predict(history, 4)
    assert forecast.shape == (4, panel.n_nodes)
    assert np.isfinite(forecast).all()
    np.testing.assert_array_equal(model.predict(history, 2), forecast[:2])
    with pytest.raises(ForecastError, match="bad_horizons"):
        model.predict(history, 5)
    with pytest.raises(ForecastError, match="short_history"):
        model.predict(panel.rows(0, 3), 1)
    model.save(tmp_path / "agcrn")
    loaded = load_model(tmp_path / "agcrn")
    assert isinstance(loaded, AGCRNForecaster)
    assert loaded.params() == model.params()
    np.testing.assert_array_equal(loaded.predict(history, 4), forecast)


def test_an_ensemble_of_seeds_is_the_mean_of_its_members(tmp_path: Path) -> None:
    panel = _lagged_pairs(rows=400)
    params = {**TINY, "spatial": "inputs"}
    pair = make_model("agcrn", members=2, **params)
    pair.fit(panel.rows(0, 300), 3)
    assert isinstance(pair, AGCRNForecaster)
    assert len(pair.networks) == 2
    assert {epoch["member"] for epoch in pair.loss_history()} == {0.0, 1.0}
    first, second = (make_model("agcrn", seed=7 + i, **params) for i in range(2))
    first.fit(panel.rows(0, 300), 3)
    second.fit(panel.rows(0, 300), 3)
    mean = (first.predict(panel, 3) + second.predict(panel, 3)) / 2
    np.testing.assert_allclose(pair.predict(panel, 3), mean, rtol=1e-5, atol=1e-4)
    pair.save(tmp_path / "pair")
    np.testing.assert_array_equal(load_model(tmp_path / "pair").predict(panel, 3), pair.predict(panel, 3))


def test_bad_parameters_and_devices_are_refused() -> None:
    for bad in ({"spatial": "everywhere"}, {"order": 0}, {"embed_dim": 0}, {"device": "tpu"}, {"members": 0}):
        with pytest.raises(ForecastError, match="bad_params"):
            make_model("agcrn", **bad)
    torch = pytest.importorskip("torch")
    model = make_model("agcrn", device="cuda", **TINY)
    panel = _lagged_pairs(rows=300)
    if torch.cuda.is_available():
        model.fit(panel, 2)
        assert model.predict(panel, 2).shape == (2, panel.n_nodes)
    else:
        with pytest.raises(ForecastError, match="no_cuda"):
            model.fit(panel, 2)


def test_fitted_on_other_roads_is_refused() -> None:
    model = make_model("agcrn", **TINY)
    model.fit(_lagged_pairs(rows=300, pairs=3), 2)
    with pytest.raises(ForecastError, match="bad_panel"):
        model.predict(_lagged_pairs(rows=300, pairs=2), 2)


@pytest.mark.parametrize("spatial", ["inputs", "cell"])
def test_the_graph_beats_the_gru_where_a_road_follows_its_neighbour(spatial: str) -> None:
    """The followers' next `LAG` speeds are their leaders' last ones: a model that sees the neighbours
    forecasts them almost exactly; the GRU (each road on its own) can only extrapolate the AR(1)."""
    panel = _lagged_pairs()
    train_end, horizons = 700, LAG
    common = {"input_steps": 6, "hidden": 16, "learning_rate": 0.01, "max_epochs": 40, "patience": 40}
    graph = make_model("agcrn", spatial=spatial, embed_dim=4, **common)
    gru = make_model("gru", **common)
    ends = window_ends(train_end, panel.n_steps, 6, horizons)
    truth = targets(panel, ends, horizons)[:, :, 1::2]  # the followers
    errors = {}
    for name, model in (("graph", graph), ("gru", gru)):
        model.fit(panel.rows(0, train_end), horizons)
        forecast, _ = forecast_windows(model, panel, ends, horizons)
        errors[name] = float(np.mean(np.abs(forecast[:, :, 1::2] - truth)))
    assert errors["graph"] < 0.6 * errors["gru"], errors


def test_huber_loss_is_the_squared_error_below_its_threshold() -> None:
    """Below `huber_kmh` the Huber loss is the squared error over twice the threshold: with every error
    below a threshold of 1,000 km/h, Adam (invariant to the loss's scale) trains the same network; a threshold
    of 0.5 km/h (nearly the absolute error) trains another."""
    for bad in ({"loss": "quantile"}, {"huber_kmh": 0.0}):
        with pytest.raises(ForecastError, match="bad_params"):
            make_model("agcrn", **bad)
    panel = _lagged_pairs(rows=400)
    params = {**TINY, "spatial": "inputs", "weight_decay": 0.0}  # weight decay is not scale-invariant
    squared = make_model("agcrn", loss="mse", **params)
    huber = make_model("agcrn", loss="huber", huber_kmh=1000.0, **params)
    narrow = make_model("agcrn", loss="huber", huber_kmh=0.5, **params)
    for model in (squared, huber, narrow):
        model.fit(panel.rows(0, 300), 2)
    np.testing.assert_allclose(huber.predict(panel, 2), squared.predict(panel, 2), atol=0.05)
    assert np.abs(narrow.predict(panel, 2) - squared.predict(panel, 2)).max() > 0.05
