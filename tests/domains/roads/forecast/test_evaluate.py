"""The harness on the real benchmark panels reproduces the figures recomputed from the T-GCN authors' code."""

from __future__ import annotations

import pytest

from dthub.domains.roads.forecast import make_model
from dthub.domains.roads.forecast.data import LOS_SPEED, SZ_SPEED, load_los_loop, load_sz_taxi
from dthub.domains.roads.forecast.evaluate import (
    evaluate_clean,
    evaluate_tgcn,
    forecast_windows,
    score_pooled,
    targets,
)
from dthub.domains.roads.forecast.windows import tgcn_split, window_ends
from fixtures.hub import REALDATA, need_realdata


@pytest.mark.realdata
def test_the_papers_ha_row_on_sz_taxi() -> None:
    """The T-GCN paper's "HA" (a moving average of the 4 inputs): RMSE 4.2951, MAE 2.7815 (reference)."""
    need_realdata(REALDATA / SZ_SPEED)
    panel = load_sz_taxi(REALDATA)
    assert panel.values.shape == (2976, 156)
    result = evaluate_tgcn("moving_average", {"window": 4}, panel, input_steps=4)
    at_15 = result["scores"]["15"]
    assert at_15["rmse"] == pytest.approx(4.2951, abs=5e-5)
    assert at_15["mae"] == pytest.approx(2.7815, abs=5e-5)


@pytest.mark.realdata
def test_the_papers_ha_row_on_los_loop() -> None:
    """On Los-loop the row is the 1-step error of 15 inputs: RMSE 7.4427, MAE 4.0148 (reference)."""
    need_realdata(REALDATA / LOS_SPEED)
    panel = load_los_loop(REALDATA)
    assert panel.values.shape == (2016, 207)
    ends = window_ends(tgcn_split(panel.n_steps).train_end, panel.n_steps, 15, 1, tgcn=True)
    model = make_model("moving_average", window=15)
    forecast, _ = forecast_windows(model, panel, ends, 1)
    scores = score_pooled(targets(panel, ends, 1), forecast)
    assert scores["rmse"] == pytest.approx(7.4427, abs=5e-5)
    assert scores["mae"] == pytest.approx(4.0148, abs=5e-5)


@pytest.mark.realdata
def test_clean_convention_masks_zeros_and_selects_on_validation() -> None:
    need_realdata(REALDATA / SZ_SPEED)
    panel = load_sz_taxi(REALDATA)
    result = evaluate_clean("seasonal_naive", [{"season": "day"}, {"season": "week"}], panel, input_steps=4)
    assert {tried["params"]["season"] for tried in result["selection"]} == {"day", "week"}
    best = min(result["selection"], key=lambda tried: tried["val_mae"])
    assert result["params"] == best["params"]
    assert set(result["scores"]) == {"15", "30", "45", "60"}
    assert set(result["scores"]["60"]) == {"mae", "rmse", "mape"}
    # a seasonal naive forecast does not depend on how far ahead: each step scores the same order of error
    assert result["scores"]["15"]["mae"] == pytest.approx(result["scores"]["60"]["mae"], rel=0.05)
