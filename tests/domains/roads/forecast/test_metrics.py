"""Error measures against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dthub.domains.roads.forecast import ForecastError
from dthub.domains.roads.forecast import metrics as m

Y = np.array([[0.0, 10.0], [20.0, 0.5]])
P = np.array([[1.0, 12.0], [15.0, 1.0]])


def test_unmasked_errors() -> None:
    assert m.mae(Y, P) == pytest.approx((1 + 2 + 5 + 0.5) / 4)
    assert m.rmse(Y, P) == pytest.approx(math.sqrt((1 + 4 + 25 + 0.25) / 4))


def test_zero_targets_masked() -> None:
    mask = m.nonzero(Y)
    assert m.mae(Y, P, mask) == pytest.approx((2 + 5 + 0.5) / 3)
    assert m.rmse(Y, P, mask) == pytest.approx(math.sqrt((4 + 25 + 0.25) / 3))


def test_mape_only_over_targets_of_at_least_one_kmh() -> None:
    assert m.mape(Y, P, m.at_least(Y, 1.0)) == pytest.approx((0.2 + 0.25) / 2 * 100)
    with pytest.raises(ForecastError) as refused:
        m.mape(Y, P)
    assert refused.value.reason == "bad_metric"


def test_missing_targets_never_count() -> None:
    y = np.array([10.0, np.nan])
    assert m.mae(y, np.array([12.0, 99.0])) == pytest.approx(2.0)


def test_tgcn_accuracy_r2_and_explained_variance() -> None:
    error = math.sqrt(1 + 4 + 25 + 0.25)
    assert m.accuracy(Y, P) == pytest.approx(1 - error / math.sqrt(0 + 100 + 400 + 0.25))
    mean = Y.mean()
    assert m.r2(Y, P) == pytest.approx(1 - 30.25 / float(((Y - mean) ** 2).sum()))
    assert m.explained_variance(Y, P) == pytest.approx(1 - np.var(Y - P) / np.var(Y))


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ForecastError):
        m.mae(Y, P[:1])
