"""Tables of the roads domain in the operational store: the forecast model registry (预测模型登记).

A model is one fitted forecaster: its name and version, hyper-parameters, the window and grid it was trained
on, where its artefact lies under `<home>/models/`, its validation metrics, and whether it is the one that
issues forecasts (`active`). Its data lineage is one `roads_forecast_inputs` row per lake batch whose rows it
was trained on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dthub.hub.tables import Base, utcnow


class ForecastModelRow(Base):
    """A fitted forecaster of the registry: one version of one model name."""

    __tablename__ = "roads_forecast_models"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    """`<name>-v<version>`, e.g. `historical_average-v3`."""
    name: Mapped[str] = mapped_column(String(64), index=True)
    """Model name of `forecast.MODELS`."""
    version: Mapped[int] = mapped_column(Integer)
    """1, 2, ... per name."""
    params: Mapped[dict[str, Any]] = mapped_column()
    """Hyper-parameters: `make_model(name, **params)` rebuilds the untrained model."""
    status: Mapped[str] = mapped_column(String(16), index=True)
    """active | retired; at most one active version per name."""
    step_s: Mapped[int] = mapped_column(Integer)
    """Seconds between rows of the panel (300 or 900)."""
    horizons: Mapped[int] = mapped_column(Integer)
    """Steps ahead it forecasts, 1..horizons."""
    context_steps: Mapped[int] = mapped_column(Integer)
    """Rows of recent history a forecast reads."""
    nodes: Mapped[list[Any]] = mapped_column()
    """Segment ids, in the order of the model's columns."""
    train_start: Mapped[datetime] = mapped_column()
    """First instant of the training window (inclusive), UTC."""
    train_end: Mapped[datetime] = mapped_column()
    """End of the training window (exclusive), UTC; validation is its last part."""
    metrics: Mapped[dict[str, Any]] = mapped_column()
    """Validation metrics: MAE, RMSE, MAPE per horizon and overall, and how they were measured."""
    artefact: Mapped[str] = mapped_column(Text)
    """Folder of the saved model, relative to the hub's home."""
    code_version: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    trained_by: Mapped[str] = mapped_column(String(128))
    """Who or what trained it: `cli`, a person's actor, a job."""
    retired_at: Mapped[datetime | None] = mapped_column()


class ForecastInputRow(Base):
    """Data lineage (数据血缘) of a model: one lake batch whose rows it was trained on."""

    __tablename__ = "roads_forecast_inputs"

    model_id: Mapped[str] = mapped_column(ForeignKey("roads_forecast_models.id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(128))
    files: Mapped[int] = mapped_column(Integer)
    """Files of the batch within the training window."""
