"""The forecast model registry (预测模型登记): versions, data lineage, validation metrics, artefacts.

Each fitted model is saved under `<home>/models/<name>/v<version>/` (the model's own `save`, plain files)
and recorded in `roads_forecast_models` with the window and grid it was trained on, its metrics and the lake
batches it read (`roads_forecast_inputs`). Registering a version makes it the active one of its name (the one
the refresh job issues forecasts with) and retires the previous one; nothing is ever deleted, so a forecast's
`model_id` always names a model that can be looked up.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dthub.domains.roads.forecast.base import Forecaster, ForecastError, load_model
from dthub.domains.roads.forecast.panel import LakeInput
from dthub.domains.roads.tables import ForecastInputRow, ForecastModelRow
from dthub.hub.core import Hub, code_version
from dthub.hub.tables import utcnow

MODELS_DIR = "models"
"""Folder under the hub's home that holds the saved models."""
ACTIVE, RETIRED = "active", "retired"


class RegistryError(ForecastError):
    """A registry request that cannot be served: unknown model id, wrong status."""


@dataclass(frozen=True, kw_only=True)
class Training:
    """What a model was fitted on: the window, its grid, the segments (in column order), the lineage."""

    start: datetime
    end: datetime
    step: timedelta
    horizons: int
    context_steps: int
    nodes: tuple[str, ...]
    inputs: tuple[LakeInput, ...]


def register(
    hub: Hub,
    model: Forecaster,
    training: Training,
    metrics: dict[str, Any],
    *,
    by: str,
    activate: bool = True,
) -> ForecastModelRow:
    """Save `model` as the next version of its name and record it; the active one unless `activate` is
    false. Under the lake's writer lock, so two registrations never pick the same version; the artefact is
    written first and removed again if the record cannot be committed."""
    with hub.writer():
        return _register(hub, model, training, metrics, by=by, activate=activate)


def _register(
    hub: Hub, model: Forecaster, training: Training, metrics: dict[str, Any], *, by: str, activate: bool
) -> ForecastModelRow:
    with hub.store.session() as session:
        latest = session.scalar(
            select(func.max(ForecastModelRow.version)).where(ForecastModelRow.name == model.name)
        )
    version = (latest or 0) + 1
    model_id = f"{model.name}-v{version}"
    relative = Path(MODELS_DIR, model.name, f"v{version}")
    folder = hub.settings.home / relative
    if folder.exists():  # left by a registration that failed to commit
        shutil.rmtree(folder)
    model.save(folder)
    row = ForecastModelRow(
        id=model_id,
        name=model.name,
        version=version,
        params=dict(model.params()),
        status=ACTIVE if activate else RETIRED,
        step_s=int(training.step.total_seconds()),
        horizons=training.horizons,
        context_steps=training.context_steps,
        nodes=list(training.nodes),
        train_start=training.start,
        train_end=training.end,
        metrics=metrics,
        artefact=relative.as_posix(),
        code_version=code_version(),
        trained_at=utcnow(),
        trained_by=by,
        retired_at=None if activate else utcnow(),
    )
    try:
        with hub.store.session() as session:
            if activate:
                _retire_active(session, model.name)
            session.add(row)
            session.flush()
            session.add_all(
                ForecastInputRow(
                    model_id=model_id, batch_id=item.batch_id, dataset_id=item.dataset_id, files=item.files
                )
                for item in training.inputs
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return row


def _retire_active(session: Any, name: str) -> None:
    for active in session.scalars(
        select(ForecastModelRow).where(ForecastModelRow.name == name, ForecastModelRow.status == ACTIVE)
    ):
        active.status, active.retired_at = RETIRED, utcnow()


def models(hub: Hub, *, name: str | None = None, status: str | None = None) -> list[ForecastModelRow]:
    """Registered models, newest first (by training time, then version)."""
    query = select(ForecastModelRow).order_by(
        ForecastModelRow.trained_at.desc(), ForecastModelRow.version.desc()
    )
    if name is not None:
        query = query.where(ForecastModelRow.name == name)
    if status is not None:
        query = query.where(ForecastModelRow.status == status)
    with hub.store.session() as session:
        return list(session.scalars(query))


def active(hub: Hub, names: Sequence[str] | None = None) -> list[ForecastModelRow]:
    """The active version of each model name (of `names`, when given), by name."""
    rows = models(hub, status=ACTIVE)
    chosen = [row for row in rows if names is None or row.name in names]
    return sorted(chosen, key=lambda row: row.name)


def get(hub: Hub, model_id: str) -> ForecastModelRow:
    with hub.store.session() as session:
        row = session.get(ForecastModelRow, model_id)
    if row is None:
        raise RegistryError("forecast.unknown_model_id", f"no registered model {model_id!r}")
    return row


def inputs(hub: Hub, model_id: str) -> list[ForecastInputRow]:
    """The lineage of a model: the lake batches it was trained on."""
    query = (
        select(ForecastInputRow)
        .where(ForecastInputRow.model_id == model_id)
        .order_by(ForecastInputRow.dataset_id, ForecastInputRow.batch_id)
    )
    with hub.store.session() as session:
        return list(session.scalars(query))


def activate(hub: Hub, model_id: str) -> ForecastModelRow:
    """Make a version the active one of its name (rolling back to it), retiring the one that was."""
    with hub.store.session() as session:
        row = session.get(ForecastModelRow, model_id)
        if row is None:
            raise RegistryError("forecast.unknown_model_id", f"no registered model {model_id!r}")
        if row.status != ACTIVE:
            _retire_active(session, row.name)
            session.flush()
            row.status, row.retired_at = ACTIVE, None
    return row


def retire(hub: Hub, model_id: str) -> ForecastModelRow:
    """Stop a version from issuing forecasts; its record and artefact stay."""
    with hub.store.session() as session:
        row = session.get(ForecastModelRow, model_id)
        if row is None:
            raise RegistryError("forecast.unknown_model_id", f"no registered model {model_id!r}")
        if row.status == ACTIVE:
            row.status, row.retired_at = RETIRED, datetime.now(UTC)
    return row


def load(hub: Hub, row: ForecastModelRow) -> Forecaster:
    """The fitted model of a registry record, from its artefact."""
    folder = hub.settings.home / row.artefact
    model = load_model(folder)
    if model.name != row.name:
        raise RegistryError("forecast.wrong_artefact", f"{folder} holds {model.name!r}, not {row.name!r}")
    return model
