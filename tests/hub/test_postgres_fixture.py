"""The `postgres_db_url` fixture: a real PostgreSQL 15 the test session started."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text


@pytest.mark.postgres
def test_postgres_db_url_reaches_a_running_postgresql_15(postgres_db_url: str) -> None:
    engine = create_engine(postgres_db_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("select version()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("PostgreSQL 15")
