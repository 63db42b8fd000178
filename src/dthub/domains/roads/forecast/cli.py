"""`dthub roads forecast ...`: train a model on the hub's speeds, refresh the forecasts, list the registry.

Mounted by `dthub.cli` (`roads_app.add_typer(forecast_app, name="forecast")`); the plumbing (settings, the
hub, one-line errors with exit codes 2 and 1) is the CLI's, imported when a command runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from dthub.domains.roads.forecast.base import ForecastError

forecast_app = typer.Typer(
    help="交通流预测 Forecasts: train on the hub's segment speeds, refresh forecasts, list the registry.",
    no_args_is_help=True,
)


def _time(text: str, option: str) -> datetime:
    from dthub.cli import BAD_INPUT, fail

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: want an ISO 8601 time, got {text!r}", BAD_INPUT)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _params(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; a value is read as JSON when it is JSON (`12`, `0.1`, `true`), else as text."""
    from dthub.cli import BAD_INPUT, fail

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            fail(f"--param: want key=value, got {pair!r}", BAD_INPUT)
        try:
            params[key] = json.loads(text)
        except json.JSONDecodeError:
            params[key] = text
    return params


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "params": row.params,
        "step_minutes": row.step_s // 60,
        "horizons": row.horizons,
        "segments": len(row.nodes),
        "train_start": row.train_start,
        "train_end": row.train_end,
        "trained_at": row.trained_at,
        "validation": row.metrics.get("overall"),
    }


@forecast_app.command("train")
def train(
    model: Annotated[
        str, typer.Option(help="Model name: historical_average, seasonal_naive, lightgbm, tgcn, agcrn, ...")
    ],
    start: Annotated[
        str, typer.Option(help="First instant of the training window, ISO 8601 (UTC if no offset).")
    ],
    end: Annotated[str, typer.Option(help="End of the window (exclusive), ISO 8601.")],
    step: Annotated[int, typer.Option(help="Minutes per step: 5 or 15.")] = 5,
    horizons: Annotated[int, typer.Option(min=1, max=288, help="Steps ahead to forecast.")] = 12,
    param: Annotated[
        list[str] | None, typer.Option(help="Hyper-parameter key=value; repeat for more.")
    ] = None,
    validation_share: Annotated[
        float, typer.Option(min=0.01, max=0.99, help="Last part of the window kept for validation.")
    ] = 0.2,
    activate: Annotated[bool, typer.Option(help="Make it the active version of its name.")] = True,
    by: Annotated[str, typer.Option(help="Who trains it, for the registry.")] = "cli",
) -> None:
    """训练 Train a model on the segment speeds of the lake and register it with lineage and metrics."""
    from dthub.cli import BAD_INPUT, REFUSED, fail, load_settings, open_hub
    from dthub.console import to_json
    from dthub.domains.roads.forecast import job

    if step not in (5, 15):
        fail(f"--step: want 5 or 15, got {step}", BAD_INPUT)
    request = job.TrainRequest(
        model=model,
        params=_params(param or []),
        start=_time(start, "--start"),
        end=_time(end, "--end"),
        step=timedelta(minutes=step),
        horizons=horizons,
        validation_share=validation_share,
        activate=activate,
    )
    with open_hub(load_settings()) as hub:
        try:
            row = job.train(hub, request, by=by)
        except ForecastError as exc:
            code = (
                BAD_INPUT
                if exc.reason in ("unknown_model", "bad_params", "bad_window", "bad_step")
                else REFUSED
            )
            fail(str(exc), code)
    typer.echo(to_json(_summary(row)))


@forecast_app.command("refresh")
def refresh(
    now: Annotated[str | None, typer.Option(help="Issue as of this time, ISO 8601. Default: now.")] = None,
    model: Annotated[list[str] | None, typer.Option(help="Only this model name; repeat for more.")] = None,
) -> None:
    """刷新预测 Issue the next forecasts of every active model and land them in roads.segment_forecasts."""
    from dthub.cli import REFUSED, fail, load_settings, open_hub
    from dthub.console import to_json
    from dthub.domains.roads.forecast import job

    moment = _time(now, "--now") if now else datetime.now(UTC)
    with open_hub(load_settings()) as hub:
        try:
            done = job.refresh_forecasts(hub, moment, names=model or None)
        except ForecastError as exc:
            fail(str(exc), REFUSED)
    if not done:
        fail("no active forecast model; train one: dthub roads forecast train", REFUSED)
    for item in done:
        batch = item.batch
        typer.echo(to_json({"model_id": item.model_id, "status": item.status, "issued_at": item.issued_at,
                            "forecasts": item.forecasts, "batch": batch.batch_id if batch else None,
                            "landed": batch.landed if batch else 0,
                            "duplicate": batch.duplicate if batch else 0}))  # fmt: skip


@forecast_app.command("models")
def models(
    name: Annotated[str | None, typer.Option(help="Only versions of this model name.")] = None,
    status: Annotated[str | None, typer.Option(help="active or retired.")] = None,
) -> None:
    """模型登记 Registered model versions, newest first, one JSON object per line."""
    from dthub.cli import BAD_INPUT, fail, load_settings, open_hub
    from dthub.console import to_json
    from dthub.domains.roads.forecast import registry

    if status not in (None, registry.ACTIVE, registry.RETIRED):
        fail(f"--status: want active or retired, got {status!r}", BAD_INPUT)
    with open_hub(load_settings()) as hub:
        rows = registry.models(hub, name=name, status=status)
        lineage = {row.id: len(registry.inputs(hub, row.id)) for row in rows}
    for row in rows:
        typer.echo(to_json({**_summary(row), "input_batches": lineage[row.id]}))
