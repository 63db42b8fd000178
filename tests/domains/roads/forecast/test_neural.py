"""The T-GCN learns: its training loss falls over a few epochs on a small real slice."""

from __future__ import annotations

import numpy as np
import pytest

from dthub.domains.roads.forecast import SpeedPanel, make_model
from dthub.domains.roads.forecast.data import LOS_SPEED, load_los_loop
from dthub.domains.roads.forecast.features import normalised_adjacency
from dthub.domains.roads.forecast.neural import TGCNForecaster
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
