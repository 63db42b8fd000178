"""The docs say what the code does: every setting, domain and dataset is documented."""

from __future__ import annotations

from pathlib import Path

from settings_table import settings_table

from dthub.domains import DOMAINS

DOCS = Path(__file__).parents[1] / "docs"


def test_settings_table_in_operations_doc_is_current() -> None:
    text = (DOCS / "operations.md").read_text()
    start, end = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
    documented = text[text.index(start) + len(start) : text.index(end)]
    assert documented == settings_table(), "run: python scripts/settings_table.py"


def test_every_domain_is_in_the_architecture_doc() -> None:
    text = (DOCS / "architecture.md").read_text()
    for domain in DOMAINS:
        assert f"{domain.name}/" in text, domain.name


def test_every_dataset_is_in_the_datasets_doc() -> None:
    text = (DOCS / "datasets.md").read_text()
    for domain in DOMAINS:
        for spec in domain.datasets:
            assert f"## {spec.id}" in text, spec.id
            assert spec.title_zh in text, spec.id
