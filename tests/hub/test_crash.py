"""A writer killed with SIGKILL in the middle of a batch leaves nothing visible; a re-run lands it once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dthub.domains import DOMAINS
from dthub.hub import quarantine
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file
from dthub.hub.settings import Settings
from dthub.hub.tables import BatchRow

OBSERVATIONS = "roads.detector_observations"

INGEST = """
import sys
from pathlib import Path
from dthub.domains import DOMAINS
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_file
from dthub.hub.settings import Settings
hub = Hub.open(Settings(), DOMAINS)
ingest_file(hub, hub.registry.adapter("pems.station_5min"), Path(sys.argv[1]))
"""


def all_days(pems_files: list[Path], folder: Path) -> tuple[Path, int]:
    """One source with every real line (13 days, 26 UTC partitions) and a damaged line at the end."""
    header, *bodies = (p.read_text().split("\n", 1) for p in pems_files)
    lines = [line for _, body in [header, *bodies] for line in body.splitlines() if line]
    path = folder / "all_days.csv"
    path.write_text("\n".join([header[0], *lines, "10/04/2022 00:00:00,1,truncated"]) + "\n")
    return path, len(lines)


def kill_once_files_appear(source: Path, settings: Settings) -> None:
    env = {
        **os.environ,
        "DTHUB_HOME": str(settings.home),
        "DTHUB_DB_URL": settings.database_url,
        "DTHUB_LAKE_FILE_MAX_ROWS": "200",
    }
    writer = subprocess.Popen([sys.executable, "-c", INGEST, str(source)], env=env)
    lake = settings.lake_dir / OBSERVATIONS
    deadline = time.monotonic() + 120
    while not any(lake.glob("*/*.parquet")):
        assert writer.poll() is None, "the writer finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    writer.send_signal(signal.SIGKILL)
    assert writer.wait() == -signal.SIGKILL


def test_killed_batch_is_invisible_and_rerun_lands_it_exactly_once(
    settings: Settings, store_url: str, pems_files: list[Path], tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"db_url": store_url})
    source, lines = all_days(pems_files, tmp_path)
    Hub.open(settings, DOMAINS).close()  # migrated before the writer starts

    kill_once_files_appear(source, settings)

    hub = Hub.open(settings, DOMAINS)
    orphans = list((settings.lake_dir / OBSERVATIONS).glob("*/*.parquet"))
    assert orphans, "the kill came after the files were written"
    assert hub.files(OBSERVATIONS) == []
    assert hub.table(OBSERVATIONS, hub.connect()).count().execute() == 0
    assert quarantine.list_records(hub).total == 0
    with hub.store.session() as session:
        assert [b.status for b in session.query(BatchRow)] == ["running"]

    result = ingest_file(hub, hub.registry.adapter("pems.station_5min"), source)

    assert (result.status, result.read, result.landed, result.quarantined) == (
        "committed",
        lines + 1,
        lines,
        1,
    )
    assert hub.table(OBSERVATIONS, hub.connect()).count().execute() == lines == 33_696
    on_disk = sorted((settings.lake_dir / OBSERVATIONS).glob("*/*.parquet"))
    assert on_disk == sorted(hub.files(OBSERVATIONS)), "orphans of the killed batch were swept"
    assert quarantine.list_records(hub).total == 1
    with hub.store.session() as session:
        assert sorted(b.status for b in session.query(BatchRow)) == ["aborted", "committed"]
    hub.close()
