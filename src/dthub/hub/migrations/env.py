"""Alembic environment: runs on the connection `Store.migrate` hands over."""

from alembic import context

import dthub.hub.audit_tables
import dthub.hub.identity_tables  # noqa: F401  (registers its tables on Base.metadata)
from dthub.hub.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
