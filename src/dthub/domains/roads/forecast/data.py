"""The two public benchmark panels of the T-GCN paper (Zhao et al., 2019), read from `DTHUB_REALDATA`.

- SZ-taxi (深圳出租车): taxi speeds on 156 roads of Luohu, Shenzhen, 15-minute steps, 1-31 January 2015
  (2,976 x 156), with the 0/1 road adjacency. Speeds from `traffic/st_cgcn/` (the same matrix as the
  T-GCN repository's `sz_speed.csv`), adjacency from `traffic/tgcn/data_sz_adj.csv`.
- Los-loop: loop-detector speeds of 207 Los Angeles sensors (METR-LA), 5-minute steps, 1-7 March 2012
  (2,016 x 207), with the weighted sensor adjacency `traffic/tgcn/data_los_adj.csv`.

These are public files read for benchmarking and tests, not data landed in the hub: they carry no personal
information and no access level. Times are converted to UTC (Shenzhen UTC+8, Los Angeles PST UTC-8).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from dthub.domains.roads.forecast.base import ForecastError, SpeedPanel

SZ_SPEED = Path("traffic/st_cgcn/data_SZ_taxi_SZ_taxi.npz")
SZ_ADJACENCY = Path("traffic/tgcn/data_sz_adj.csv")
LOS_SPEED = Path("traffic/tgcn/data_los_speed.csv")
LOS_ADJACENCY = Path("traffic/tgcn/data_los_adj.csv")

SZ_START = datetime(2014, 12, 31, 16, 0, tzinfo=UTC)
"""2015-01-01 00:00 in Shenzhen (UTC+8)."""
LOS_START = datetime(2012, 3, 1, 8, 0, tzinfo=UTC)
"""2012-03-01 00:00 in Los Angeles (PST, UTC-8)."""


def _need(realdata: Path, relative: Path) -> Path:
    path = realdata / relative
    if not path.is_file():
        raise ForecastError("no_data", f"{path} does not exist (set DTHUB_REALDATA to the real data folder)")
    return path


def load_sz_taxi(realdata: Path) -> SpeedPanel:
    """SZ-taxi: 2,976 x 156 speeds (km/h), 15-minute steps from 2015-01-01 00:00 Shenzhen time."""
    with np.load(_need(realdata, SZ_SPEED), allow_pickle=False) as stored:
        values = np.asarray(stored["data"], dtype=np.float64)[:, :, 0]
    adjacency = np.loadtxt(_need(realdata, SZ_ADJACENCY), delimiter=",", dtype=np.float64)
    nodes = tuple(f"sz-road-{i:03d}" for i in range(values.shape[1]))
    return SpeedPanel(
        values=values, step=timedelta(minutes=15), start=SZ_START, nodes=nodes, adjacency=adjacency
    )


def load_los_loop(realdata: Path) -> SpeedPanel:
    """Los-loop: 2,016 x 207 speeds (km/h), 5-minute steps from 2012-03-01 00:00 Los Angeles time."""
    path = _need(realdata, LOS_SPEED)
    with path.open(encoding="utf-8") as file:
        header = file.readline().strip().split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    adjacency = np.loadtxt(_need(realdata, LOS_ADJACENCY), delimiter=",", dtype=np.float64)
    nodes = tuple(f"metr-la-{sensor}" for sensor in header)
    return SpeedPanel(
        values=values, step=timedelta(minutes=5), start=LOS_START, nodes=nodes, adjacency=adjacency
    )


BENCHMARK_PANELS: dict[str, Callable[[Path], SpeedPanel]] = {
    "sz_taxi": load_sz_taxi,
    "los_loop": load_los_loop,
}
"""The benchmark panels by name."""
