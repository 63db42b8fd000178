"""vehicles: registry, live state, alarm workflow

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import dthub.hub.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _utc() -> dthub.hub.tables.UtcDateTime:
    return dthub.hub.tables.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vehicles",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=False),
        sa.Column("plate_colour", sa.SmallInteger(), nullable=False),
        sa.Column("vehicle_class", sa.String(length=32), nullable=False),
        sa.Column("enterprise", sa.String(length=256), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("auth_code", sa.String(length=64), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_vehicles")),
    )
    op.create_index(op.f("ix_vehicles_plate"), "vehicles", ["plate"])
    op.create_table(
        "vehicle_live",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=True),
        sa.Column("reported_at", _utc(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=False),
        sa.Column("direction", sa.Integer(), nullable=False),
        sa.Column("in_service", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_vehicle_live")),
    )
    op.create_table(
        "vehicle_alarms",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=True),
        sa.Column("enterprise", sa.String(length=256), nullable=True),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raised_at", _utc(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("acknowledged_at", _utc(), nullable=True),
        sa.Column("handled_by", sa.String(length=128), nullable=True),
        sa.Column("handled_at", _utc(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle_alarms")),
    )
    op.create_index(op.f("ix_vehicle_alarms_rule"), "vehicle_alarms", ["rule"])
    op.create_index(op.f("ix_vehicle_alarms_phone"), "vehicle_alarms", ["phone"])
    op.create_index(op.f("ix_vehicle_alarms_started_at"), "vehicle_alarms", ["started_at"])


def downgrade() -> None:
    op.drop_table("vehicle_alarms")
    op.drop_table("vehicle_live")
    op.drop_table("vehicles")
