"""The forecast jobs: validation metrics, the lake panel, issuing, landing and the scheduled refresh."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from dthub.cli import app
from dthub.domains import DOMAINS
from dthub.domains.roads.forecast import job
from dthub.domains.roads.forecast.base import ForecastError
from dthub.domains.roads.forecast.panel import adjacency_from_geometry, pivot, segment_panel
from dthub.domains.roads.forecast.records import ForecastRecords
from dthub.hub import engine
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_bytes
from dthub.hub.settings import Settings
from dthub.hub.tables import QuarantineRow
from fixtures.forecast import END, START, land, train

NOW = datetime(2022, 10, 12, 12, 7, tzinfo=UTC)
"""Hours after the last real interval (2022-10-12 06:55 UTC)."""


def forecasts(hub: Hub) -> pa.Table:
    return engine.to_arrow(hub.table("roads.segment_forecasts", hub.connect()))


def test_metrics_per_horizon_leave_out_gaps_and_zeros_in_mape() -> None:
    actual = np.array([[[50.0, 0.0], [40.0, np.nan]]])  # 1 origin, 2 horizons, 2 nodes
    predicted = np.array([[[45.0, 3.0], [44.0, 10.0]]])

    metrics = job.horizon_metrics(predicted, actual)

    first, second = metrics["per_horizon"]
    assert first == {"horizon": 1, "pairs": 2, "mae": 4.0, "rmse": 4.1231, "mape": 10.0}
    assert second == {"horizon": 2, "pairs": 1, "mae": 4.0, "rmse": 4.0, "mape": 10.0}
    assert metrics["overall"] == {"pairs": 3, "mae": 4.0, "rmse": 4.0825, "mape": 10.0}


def test_a_horizon_without_a_pair_has_no_metric() -> None:
    metrics = job.horizon_metrics(np.full((2, 1, 3), 50.0), np.full((2, 1, 3), np.nan))
    assert metrics["overall"] == {"pairs": 0, "mae": None, "rmse": None, "mape": None}


def test_issue_time_is_the_end_of_the_last_whole_step_with_data_never_after_now() -> None:
    latest = datetime(2022, 10, 12, 6, 55, tzinfo=UTC)
    fifteen, five = timedelta(minutes=15), timedelta(minutes=5)
    assert job.issue_time(NOW, latest, fifteen) == datetime(2022, 10, 12, 7, tzinfo=UTC)
    assert job.issue_time(datetime(2022, 10, 12, 6, 58, tzinfo=UTC), latest, five) == latest
    assert job.issue_time(datetime(2022, 10, 12, 6, 58, tzinfo=UTC), latest, fifteen) == datetime(
        2022, 10, 12, 6, 45, tzinfo=UTC
    )


def test_pivot_puts_rows_on_the_grid_and_leaves_the_rest_missing() -> None:
    rows = pa.table(
        {"segment_id": ["b", "a", "x", "a"], "row": [0, 2, 1, 9], "speed_kmh": [30.0, 50.0, 70.0, 1.0]}
    )
    values = pivot(rows, ("a", "b"), 3)
    assert np.array_equal(
        values, np.array([[np.nan, 30.0], [np.nan, np.nan], [50.0, np.nan]]), equal_nan=True
    )


def test_segments_that_meet_end_to_start_are_neighbours() -> None:
    graph = adjacency_from_geometry(
        ["LINESTRING (114.0 22.5, 114.1 22.5)", "LINESTRING (114.1 22.5, 114.1 22.6)", None, ""]
    )
    assert graph is not None
    assert graph.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert adjacency_from_geometry([None, ""]) is None


def test_the_panel_leaves_out_flagged_detectors(hub: Hub, pems_files: list[Path]) -> None:
    land(hub, pems_files[:3])
    step = timedelta(minutes=5)
    third_day = datetime(2022, 10, 18, 7, tzinfo=UTC)  # every mainline station is stuck on 2022-10-18 UTC

    panel = segment_panel(hub, start=START, end=third_day + timedelta(days=1), step=step)

    assert panel.nodes == ("pems:401833", "pems:401834", "pems:404531", "pems:404532")
    assert panel.start == START
    on_the_18th = slice((third_day - START) // step, (third_day - START) // step + 17 * 12)
    assert np.isnan(panel.values[on_the_18th]).all()
    assert np.isfinite(panel.values[: 24 * 12]).mean() > 0.95  # the first real day is healthy


def test_a_window_off_the_grid_is_refused(hub: Hub) -> None:
    with pytest.raises(ForecastError) as refused:
        segment_panel(hub, start=START + timedelta(minutes=1), end=END, step=timedelta(minutes=15))
    assert refused.value.reason == "bad_window"


def test_refresh_lands_each_issue_once(hub: Hub, pems_files: list[Path]) -> None:
    land(hub, pems_files[:2])
    model = train(hub)

    first = job.refresh_forecasts(hub, NOW)
    again = job.refresh_forecasts(hub, NOW)
    later = job.refresh_forecasts(hub, NOW + timedelta(hours=5))  # no new data: the same issue

    [issued] = first
    assert issued.issued_at == datetime(2022, 10, 12, 7, tzinfo=UTC)
    assert issued.batch is not None
    assert (issued.batch.status, issued.batch.landed, issued.forecasts) == ("committed", 16, 16)
    for rerun in (*again, *later):
        assert rerun.batch is not None
        assert (rerun.batch.landed, rerun.batch.duplicate) == (0, 16)  # same bytes: a skipped batch
    rows = forecasts(hub)
    assert rows.num_rows == 16
    assert set(rows["model_id"].to_pylist()) == {model.id}
    assert set(rows["model_version"].to_pylist()) == {1}
    assert set(rows["district_code"].to_pylist()) == {"4"}
    assert sorted(set(rows["horizon_steps"].to_pylist())) == [1, 2, 3, 4]
    first_step = rows.filter(pa.compute.equal(rows["horizon_steps"], 1))
    assert {t.isoformat() for t in first_step["target_time"].to_pylist()} == {"2022-10-12T07:00:00+00:00"}


def test_a_new_model_version_issues_beside_the_old_forecasts(hub: Hub, pems_files: list[Path]) -> None:
    land(hub, pems_files[:2])
    train(hub)
    job.refresh_forecasts(hub, NOW)
    second = train(hub, period="week")

    [issued] = job.refresh_forecasts(hub, NOW)

    assert issued.model_id == second.id == "historical_average-v2"
    assert issued.batch is not None
    assert issued.batch.landed == 16
    assert forecasts(hub).num_rows == 32


def test_a_refresh_without_data_issues_nothing(hub: Hub, pems_files: list[Path]) -> None:
    land(hub, pems_files[:2])
    train(hub)
    [done] = job.refresh_forecasts(hub, datetime(2022, 10, 1, tzinfo=UTC))  # before any data
    assert (done.status, done.forecasts, done.batch) == ("no_data", 0, None)


def test_a_bad_forecast_record_is_quarantined(hub: Hub) -> None:
    good = {"segment_id": "pems:1", "issued_at": "2022-10-12T07:00:00+00:00",
            "target_time": "2022-10-12T07:00:00+00:00", "horizon_steps": 1, "step_minutes": 15,
            "speed_kmh": 61.5, "model_id": "historical_average-v1", "model_name": "historical_average",
            "model_version": 1, "district_code": "4"}  # fmt: skip
    lines = [good, {**good, "segment_id": "pems:2", "speed_kmh": -3.0}, {**good, "horizon_steps": "one"}]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()

    result = ingest_bytes(hub, ForecastRecords(), data, source="test")

    assert (result.read, result.landed, result.quarantined) == (3, 1, 2)
    with hub.store.session() as session:
        reasons = sorted(row.reason for row in session.scalars(select(QuarantineRow)))
    assert reasons == ["roads.bad_forecast", "rule.speed_kmh_in_range"]


def test_the_scheduled_job_refreshes_until_stopped(hub: Hub, pems_files: list[Path]) -> None:
    land(hub, pems_files[:2])
    train(hub)

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(job.run_periodically(hub, 0.05, stop, clock=lambda: NOW))
        for _ in range(600):
            await asyncio.sleep(0.05)
            if await asyncio.to_thread(lambda: forecasts(hub).num_rows):
                break
        stop.set()
        await asyncio.wait_for(task, timeout=60)

    asyncio.run(run())
    assert forecasts(hub).num_rows == 16


def test_the_cli_trains_refreshes_and_lists(settings: Settings, pems_files: list[Path]) -> None:
    hub = Hub.open(settings, DOMAINS)
    try:
        land(hub, pems_files[:2])
    finally:
        hub.close()
    env = {"DTHUB_HOME": str(settings.home), "COLUMNS": "250", "NO_COLOR": "1"}

    def dthub(*args: str) -> Result:
        return CliRunner().invoke(app, ["roads", "forecast", *args], env=env, prog_name="dthub")

    trained = dthub("train", "--model", "historical_average", "--start", START.isoformat(), "--end",
                    END.isoformat(), "--step", "15", "--horizons", "4", "--param", "period=day")  # fmt: skip
    issued = dthub("refresh", "--now", NOW.isoformat())
    listed = dthub("models", "--status", "active")
    unknown = dthub("train", "--model", "nope", "--start", START.isoformat(), "--end", END.isoformat())

    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["id"] == "historical_average-v1"
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.stdout) == {
        "model_id": "historical_average-v1", "status": "issued", "issued_at": "2022-10-12T07:00:00+00:00",
        "forecasts": 16, "batch": json.loads(issued.stdout)["batch"], "landed": 16, "duplicate": 0,
    }  # fmt: skip
    assert json.loads(listed.stdout)["input_batches"] == 3
    assert unknown.exit_code == 2
    assert "no model 'nope'" in unknown.output
