"""The hub's reader: one engine backend per thread, whose tables follow the lake as batches land."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file

OBSERVATIONS = "roads.detector_observations"


def test_reader_is_kept_per_thread(hub: Hub) -> None:
    other: list[Any] = []
    thread = threading.Thread(target=lambda: other.append(hub.reader()))
    thread.start()
    thread.join()

    assert hub.reader() is hub.reader()
    assert other[0] is not hub.reader()


def test_kept_table_follows_new_batches(hub: Hub, pems_files: list[Path]) -> None:
    adapter = hub.registry.adapter("pems.station_5min")
    ingest_file(hub, adapter, pems_files[0])
    first = hub.table(OBSERVATIONS, hub.reader())
    assert hub.table(OBSERVATIONS, hub.reader()) is first
    assert first.count().execute() == 2592

    ingest_file(hub, adapter, pems_files[1])

    assert hub.table(OBSERVATIONS, hub.reader()).count().execute() == 2 * 2592
