"""Splits and windows: chronological, cut inside each part, and no test value reaches training."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import pytest

from dthub.domains.roads.forecast import MODELS, SpeedPanel
from dthub.domains.roads.forecast.evaluate import evaluate_clean, evaluate_tgcn
from dthub.domains.roads.forecast.features import holdout_ends
from dthub.domains.roads.forecast.windows import clean_split, tgcn_split, window_ends

ROWS = 960  # 10 days of 15-minute steps


def row_panel() -> SpeedPanel:
    """Every value is 100 + its row number, so a value names the row it came from."""
    values = np.repeat(100.0 + np.arange(ROWS, dtype=np.float64)[:, None], 3, axis=1)
    return SpeedPanel(
        values=values,
        step=timedelta(minutes=15),
        start=datetime(2015, 1, 1, tzinfo=UTC),
        nodes=("a", "b", "c"),
    )


class Spy:
    """A forecaster that records the rows it was shown."""

    name: ClassVar[str] = "spy"
    fitted_rows: ClassVar[list[float]] = []
    predictions: ClassVar[list[float]] = []

    def __init__(self, level: int = 0) -> None:
        self.level = level

    def params(self) -> dict[str, object]:
        return {"level": self.level}

    def fit(self, panel: SpeedPanel, horizons: int) -> None:
        Spy.fitted_rows.append(float(panel.values.max()) - 100)

    def predict(self, panel: SpeedPanel, horizons: int) -> np.ndarray:
        last = float(panel.values.max()) - 100
        assert last == panel.n_steps - 1 + (panel.start - row_panel().start) / panel.step
        Spy.predictions.append(last)
        return np.full((horizons, panel.n_nodes), 100.0 + last + self.level)

    def save(self, path: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path) -> Self:
        raise NotImplementedError


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> type[Spy]:
    monkeypatch.setitem(MODELS, "spy", Spy)
    Spy.fitted_rows.clear()
    Spy.predictions.clear()
    return Spy


def test_tgcn_split_and_windows_follow_the_papers_code() -> None:
    split = tgcn_split(2976)
    assert (split.train_end, split.val_end) == (2380, 2380)
    ends = window_ends(split.train_end, 2976, 4, 1, tgcn=True)
    # range(len(test) - seq_len - pre_len) windows; the first input starts at the first test row
    assert len(ends) == 596 - 4 - 1
    assert ends[0] - 3 == 2380
    assert ends[-1] + 1 < 2976
    assert len(window_ends(2380, 2976, 4, 1)) == len(ends) + 1


def test_clean_split_tests_on_the_tgcn_test_part() -> None:
    split = clean_split(2016)
    assert (split.train_end, split.val_end, split.rows) == (1411, 1612, 2016)
    assert split.val_end == tgcn_split(2016).train_end


def test_no_test_row_reaches_fitting_under_either_convention(spy: type[Spy]) -> None:
    panel = row_panel()
    tgcn = evaluate_tgcn("spy", {}, panel, input_steps=4)
    train_end = tgcn_split(ROWS).train_end
    assert spy.fitted_rows == [train_end - 1]
    assert min(spy.predictions) == train_end + 3  # the first test window's inputs are test rows only
    assert tgcn["scores"]["15"]["mae"] == pytest.approx(1.0)  # it forecast "the last row seen", one step off

    spy.fitted_rows.clear()
    spy.predictions.clear()
    evaluate_clean("spy", [{"level": 0}, {"level": 1}], panel, input_steps=4)
    split = clean_split(ROWS)
    # two candidates fitted on the training part only, the chosen one refitted on train + validation
    assert spy.fitted_rows == [split.train_end - 1, split.train_end - 1, split.val_end - 1]
    test_predictions = spy.predictions[-(ROWS - split.val_end - 4 - 4 + 1) :]
    assert min(test_predictions) == split.val_end + 3


def test_holdout_windows_are_cut_inside_each_part() -> None:
    fit_ends, val_ends = holdout_ends(800, 12, 4, 0.125)
    boundary = 700
    assert fit_ends.max() + 4 < boundary  # no fitting target in the hold-out
    assert val_ends.min() - 11 >= boundary  # no hold-out input in the fitting part
    assert val_ends.max() + 4 == 799
