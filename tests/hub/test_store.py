"""The operational store: migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

# every module that declares tables, so that Base.metadata is complete
import dthub.domains
import dthub.hub.audit_tables
import dthub.hub.identity_tables
import dthub.hub.key_tables  # noqa: F401
from dthub.hub.core import Hub
from dthub.hub.tables import Base


def test_migrations_build_the_declared_tables(any_hub: Hub) -> None:
    with any_hub.store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert differences == []


def test_migrating_twice_changes_nothing(any_hub: Hub) -> None:
    before = sorted(inspect(any_hub.store.engine).get_table_names())

    any_hub.store.migrate()

    assert sorted(inspect(any_hub.store.engine).get_table_names()) == before
    assert {"datasets", "batches", "lake_files", "quarantine", "audit_log"} <= set(before)
