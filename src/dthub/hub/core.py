"""A running hub: its settings, operational store, registry of domains, and the lake's writer lock."""

from __future__ import annotations

import fcntl
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import ibis
from sqlalchemy import select

import dthub
from dthub.hub import catalog, engine
from dthub.hub.domain import Domain, Registry
from dthub.hub.settings import Settings
from dthub.hub.store import Store
from dthub.hub.tables import BatchRow, LakeFileRow


class Hub:
    """One hub: open it with `Hub.open(settings, domains)`, which migrates and syncs the catalog."""

    def __init__(self, settings: Settings, registry: Registry, store: Store) -> None:
        self.settings, self.registry, self.store = settings, registry, store
        self._readers = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, domains: Iterable[Domain]) -> Hub:
        settings.home.mkdir(parents=True, exist_ok=True)
        store = Store(settings.database_url)
        store.migrate()
        registry = Registry(domains)
        catalog.sync(store, registry.datasets.values())
        return cls(settings, registry, store)

    def close(self) -> None:
        """Dispose of the store's connections and disconnect every thread's reader (DuckDB keeps worker
        threads per connection; a process that forks later, as Spark does, should not carry them)."""
        with self._opened_lock:
            for con in self._opened:
                con.disconnect()
            self._opened.clear()
        self._readers = threading.local()
        self.store.dispose()

    @property
    def lake_dir(self) -> Path:
        return self.settings.lake_dir

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the lake's single-writer lock; on entry, batches left running by a dead writer are
        aborted and their files removed (`hub.ingest.recover`)."""
        from dthub.hub.ingest import recover

        self.settings.home.mkdir(parents=True, exist_ok=True)
        with (self.settings.home / "writer.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                recover(self)
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def files(self, dataset_id: str, partitions: Sequence[str] | None = None) -> list[Path]:
        """Visible files of a dataset (committed batches only), optionally of some partitions."""
        query = (
            select(LakeFileRow.path)
            .join(BatchRow, BatchRow.id == LakeFileRow.batch_id)
            .where(LakeFileRow.dataset_id == dataset_id, BatchRow.status == "committed")
            .order_by(LakeFileRow.id)
        )
        if partitions is not None:
            query = query.where(LakeFileRow.partition.in_(partitions))
        with self.store.session() as session:
            return [self.lake_dir / path for path in session.scalars(query)]

    def table(self, dataset_id: str, con: Any) -> ibis.Table:
        """A dataset as an Ibis table on `con` (see `hub.engine.connect`); on this thread's `reader`, the
        table is kept until the dataset's files change."""
        spec = self.registry.dataset(dataset_id)
        files = self.files(dataset_id)
        if con is not getattr(self._readers, "con", None):
            return engine.read_files(con, spec, files)
        kept: dict[str, tuple[tuple[Path, ...], ibis.Table]] = self._readers.tables
        if dataset_id not in kept or kept[dataset_id][0] != tuple(files):
            kept[dataset_id] = (tuple(files), engine.read_files(con, spec, files))
        return kept[dataset_id][1]

    def reader(self) -> Any:
        """The engine backend this thread reads pages through, kept between reads: opening DuckDB and reading
        the Parquet footers again cost about 35 ms of a 70 ms page. One per thread (a DuckDB connection is
        not for concurrent use); never disconnect it. Generators that outlive a call use `connect`."""
        if getattr(self._readers, "con", None) is None:
            self._readers.con, self._readers.tables = self.connect(), {}
            with self._opened_lock:
                self._opened.append(self._readers.con)
        return self._readers.con

    def connect(self) -> Any:
        """An Ibis backend on the configured engine."""
        return engine.connect(self.settings.engine, spark_master=self.settings.spark_master)


@cache
def code_version() -> str:
    """Package version, plus the git commit when running from a checkout (for lineage)."""
    version = dthub.__version__
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(dthub.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}" if sha else version
