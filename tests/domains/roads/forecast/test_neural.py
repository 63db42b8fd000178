"""The T-GCN learns: its training loss falls over a few epochs on a small real slice."""

from __future__ import annotations

import numpy as np
import pytest

from dthub.domains.roads.forecast import SpeedPanel, make_model
from dthub.domains.roads.forecast.data import LOS_SPEED, load_los_loop
from dthub.domains.roads.forecast.features import normalised_adjacency
from dthub.domains.roads.forecast.neural import GRUForecaster, TGCNForecaster
from fixtures.hub import REALDATA, need_realdata


@pytest.mark.realdata
@pytest.mark.parametrize("calendar", [True, False])
def test_training_loss_decreases(calendar: bool) -> None:
    need_realdata(REALDATA / LOS_SPEED)
    panel = load_los_loop(REALDATA)
    assert panel.adjacency is not None
    keep = slice(0, 30)
    small = SpeedPanel(
        values=panel.values[:600, keep],
        step=panel.step,
        start=panel.start,
        nodes=panel.nodes[keep],
        adjacency=panel.adjacency[keep, keep],
    )
    model = make_model("tgcn", input_steps=6, hidden=16, calendar=calendar, max_epochs=6, patience=6)
    assert isinstance(model, TGCNForecaster)
    model.fit(small, 3)
    losses = [epoch["train"] for epoch in model.loss_history()]
    assert len(losses) == 6
    assert losses[-1] < 0.8 * losses[0]
    assert np.isfinite(model.predict(small, 3)).all()


def test_graph_operator_is_the_symmetric_normalised_adjacency_with_self_loops() -> None:
    a = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    a_hat = normalised_adjacency(a)
    np.testing.assert_allclose(a_hat, [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])


def _graph_slice(with_edges: bool) -> SpeedPanel:
    """Two days of 12 Los-loop sensors, with their part of the road graph or with no edge at all."""
    need_realdata(REALDATA / LOS_SPEED)
    panel = load_los_loop(REALDATA)
    assert panel.adjacency is not None
    keep = slice(0, 12)
    adjacency = panel.adjacency[keep, keep]
    assert np.count_nonzero(adjacency - np.diag(np.diag(adjacency))) > 0
    return SpeedPanel(
        values=panel.values[:576, keep],
        step=panel.step,
        start=panel.start,
        nodes=panel.nodes[keep],
        adjacency=adjacency if with_edges else np.zeros_like(adjacency),
    )


@pytest.mark.realdata
def test_gru_is_the_tgcn_without_the_graph() -> None:
    """Same seed, same parameters: on a graph without edges (A_hat = I) the two are the same model and
    forecast the same; on the real graph they differ, and only by the convolution (no extra weights)."""
    params = {"input_steps": 6, "hidden": 8, "max_epochs": 2, "patience": 2}
    for with_edges in (False, True):
        panel = _graph_slice(with_edges)
        tgcn, gru = make_model("tgcn", **params), make_model("gru", **params)
        assert isinstance(gru, GRUForecaster)
        assert isinstance(tgcn, TGCNForecaster)
        assert not gru.graph
        assert tgcn.graph
        tgcn.fit(panel, 3)
        gru.fit(panel, 3)
        assert gru.params() == tgcn.params()
        shapes = {k: tuple(v.shape) for k, v in tgcn.network.state_dict().items()}
        assert {k: tuple(v.shape) for k, v in gru.network.state_dict().items()} == shapes
        same = np.allclose(tgcn.predict(panel, 3), gru.predict(panel, 3), rtol=1e-5, atol=1e-4)
        assert same is not with_edges, f"with_edges={with_edges}"
