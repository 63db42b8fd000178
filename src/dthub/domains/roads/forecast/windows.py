"""Chronological splits and sliding windows cut inside one part, so no window straddles two parts.

A window is named by its `end`: the last row the model may see ("now"); its targets are rows end+1 ..
end+horizons. Inputs of the first window of a part start at the part's first row, targets of the last end at
its last row: nothing of a later part reaches an earlier part's windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dthub.domains.roads.forecast.base import ForecastError


@dataclass(frozen=True, kw_only=True)
class Split:
    """Row bounds: train [0, train_end), validation [train_end, val_end), test [val_end, rows)."""

    train_end: int
    val_end: int
    rows: int

    def __post_init__(self) -> None:
        if not 0 < self.train_end <= self.val_end < self.rows:
            raise ForecastError("bad_split", f"want 0 < {self.train_end} <= {self.val_end} < {self.rows}")


def tgcn_split(rows: int, train_rate: float = 0.8) -> Split:
    """The T-GCN code's split: `train = int(T * 0.8)`, the rest is test; no validation part."""
    train_end = int(rows * train_rate)
    return Split(train_end=train_end, val_end=train_end, rows=rows)


def clean_split(rows: int, train_rate: float = 0.7, val_rate: float = 0.1) -> Split:
    """Train / validation / test in time order (70 / 10 / 20 %): the test part is the T-GCN test part."""
    train_end = int(rows * train_rate)
    val_end = int(rows * (train_rate + val_rate))
    return Split(train_end=train_end, val_end=val_end, rows=rows)


def window_ends(first: int, stop: int, input_steps: int, horizons: int, *, tgcn: bool = False) -> np.ndarray:
    """Ends of the sliding windows (stride 1) inside rows [first, stop): inputs `input_steps` rows up to the
    end, targets the `horizons` rows after it. `tgcn=True` drops the last window, as the T-GCN code's
    `range(len(part) - seq_len - pre_len)` does."""
    if input_steps < 1 or horizons < 1:
        raise ForecastError("bad_windows", f"input_steps {input_steps} and horizons {horizons} must be >= 1")
    count = stop - first - input_steps - horizons + (0 if tgcn else 1)
    if count < 1:
        raise ForecastError(
            "bad_windows", f"rows {first}:{stop} hold no window of {input_steps} + {horizons} steps"
        )
    return np.arange(count, dtype=np.int64) + first + input_steps - 1
