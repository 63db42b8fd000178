"""Settings come from DTHUB_* variables; a misspelt one is refused, naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dthub.hub.settings import Settings


def test_variables_set_the_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DTHUB_HOME", str(tmp_path))
    monkeypatch.setenv("DTHUB_ENGINE", "spark")

    settings = Settings()

    assert (settings.home, settings.engine) == (tmp_path, "spark")
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'hub.db'}"


def test_misspelt_variable_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTHUB_DB_ULR", "postgresql://x")

    with pytest.raises(ValidationError, match="unknown settings DTHUB_DB_ULR"):
        Settings()


def test_unknown_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTHUB_ENGINE", "oracle")

    with pytest.raises(ValidationError, match="engine"):
        Settings()
