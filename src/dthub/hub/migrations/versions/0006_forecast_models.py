"""roads: forecast model registry and its data lineage

Revision ID: 0006_forecast
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import dthub.hub.tables

revision = "0006_forecast"
down_revision = "0005"
branch_labels = None
depends_on = None


def _utc() -> dthub.hub.tables.UtcDateTime:
    return dthub.hub.tables.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "roads_forecast_models",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step_s", sa.Integer(), nullable=False),
        sa.Column("horizons", sa.Integer(), nullable=False),
        sa.Column("context_steps", sa.Integer(), nullable=False),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("train_start", _utc(), nullable=False),
        sa.Column("train_end", _utc(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("artefact", sa.Text(), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("trained_at", _utc(), nullable=False),
        sa.Column("trained_by", sa.String(length=128), nullable=False),
        sa.Column("retired_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roads_forecast_models")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_roads_forecast_models_name_version")),
    )
    op.create_index(op.f("ix_roads_forecast_models_name"), "roads_forecast_models", ["name"])
    op.create_index(op.f("ix_roads_forecast_models_status"), "roads_forecast_models", ["status"])
    op.create_table(
        "roads_forecast_inputs",
        sa.Column("model_id", sa.String(length=96), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["roads_forecast_models.id"],
            name=op.f("fk_roads_forecast_inputs_model_id_roads_forecast_models"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_roads_forecast_inputs_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("model_id", "batch_id", name=op.f("pk_roads_forecast_inputs")),
    )


def downgrade() -> None:
    op.drop_table("roads_forecast_inputs")
    op.drop_index(op.f("ix_roads_forecast_models_status"), table_name="roads_forecast_models")
    op.drop_index(op.f("ix_roads_forecast_models_name"), table_name="roads_forecast_models")
    op.drop_table("roads_forecast_models")
