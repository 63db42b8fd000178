"""Alembic environment: runs on the connection `Store.migrate` hands over.

Upgrades need no models. To autogenerate a revision, hand over the complete metadata as the attribute
`target_metadata` after importing every module that declares tables (the hub's and each domain's), as
`tests/hub/test_store.py` does to check that the revisions match the code; the hub imports no domain.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=context.config.attributes.get("target_metadata"),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
