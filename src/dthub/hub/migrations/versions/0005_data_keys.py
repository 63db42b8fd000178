"""data keys of encrypted fields, PII tag suggestions

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import dthub.hub.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _utc() -> dthub.hub.tables.UtcDateTime:
    return dthub.hub.tables.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        sa.Column("master_key_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("rotated_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_data_keys")),
    )
    op.create_table(
        "pii_suggestions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(length=128), nullable=False),
        sa.Column("column", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("hinted", sa.Boolean(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("suggested_at", _utc(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_suggestions")),
        sa.UniqueConstraint(
            "dataset_id", "column", "kind", name=op.f("uq_pii_suggestions_dataset_id_column_kind")
        ),
    )


def downgrade() -> None:
    op.drop_table("pii_suggestions")
    op.drop_table("data_keys")
