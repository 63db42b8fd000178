"""maas: rider accounts of one code for all modes (一码通乘)

Revision ID: 0006_riders
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import dthub.hub.tables

revision = "0006_riders"
down_revision = "0005"
branch_labels = None
depends_on = None


def _utc() -> dthub.hub.tables.UtcDateTime:
    return dthub.hub.tables.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "maas_riders",
        sa.Column("rider_id", sa.String(length=20), nullable=False),
        sa.Column("fare_system", sa.String(length=64), nullable=False),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("last_tap_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("rider_id", name=op.f("pk_maas_riders")),
    )


def downgrade() -> None:
    op.drop_table("maas_riders")
