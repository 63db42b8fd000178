"""merge the forecast registry and rider account branches, both made from 0005 in parallel

Revision ID: 0007
Revises: 0006_forecast, 0006_riders
"""

revision = "0007"
down_revision = ("0006_forecast", "0006_riders")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: the two branches touch different tables; this makes the history one line again."""


def downgrade() -> None:
    """Nothing to undo."""
