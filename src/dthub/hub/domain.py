"""The extension point: a domain (业务域) declares what it brings to the hub, explicitly.

Every domain package exposes `DOMAIN = Domain(...)` in its `__init__.py`; built-in domains and later ones
register the same way (`dthub.domains.DOMAINS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import APIRouter

from dthub.hub.adapter import Adapter
from dthub.hub.dataset import DatasetSpec


@dataclass(frozen=True, kw_only=True)
class Domain:
    """One system of the action plan, as the hub sees it."""

    name: str
    """Package name and prefix of its dataset ids, e.g. `roads`."""
    title_zh: str
    title_en: str
    datasets: tuple[DatasetSpec, ...]
    """Catalog entries the domain owns."""
    adapters: tuple[Adapter, ...] = ()
    """Source adapters that feed its datasets."""
    router: APIRouter | None = None
    """Routes mounted under `/api/v1/<name>`."""


class UnknownName(LookupError):
    """A dataset or adapter that no domain declares."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(sorted(known)) or 'none'}")
        self.kind, self.name = kind, name


class Registry:
    """Datasets and adapters of a set of domains, looked up by id."""

    def __init__(self, domains: Iterable[Domain]) -> None:
        self.domains = tuple(domains)
        self.datasets: dict[str, DatasetSpec] = {}
        self.adapters: dict[str, Adapter] = {}
        for domain in self.domains:
            for spec in domain.datasets:
                if spec.domain != domain.name:
                    raise ValueError(f"dataset {spec.id} does not belong to domain {domain.name}")
                if spec.id in self.datasets:
                    raise ValueError(f"dataset {spec.id} is declared twice")
                self.datasets[spec.id] = spec
            for adapter in domain.adapters:
                if adapter.name in self.adapters:
                    raise ValueError(f"adapter {adapter.name} is declared twice")
                self.adapters[adapter.name] = adapter
        for adapter in self.adapters.values():
            if adapter.dataset not in self.datasets:
                raise ValueError(f"adapter {adapter.name} feeds undeclared {adapter.dataset}")

    def dataset(self, dataset_id: str) -> DatasetSpec:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            raise UnknownName("dataset", dataset_id, self.datasets) from None

    def adapter(self, name: str) -> Adapter:
        try:
            return self.adapters[name]
        except KeyError:
            raise UnknownName("adapter", name, self.adapters) from None
