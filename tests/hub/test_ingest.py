"""Ingest loses nothing and duplicates nothing, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pytest
from sqlalchemy import select

from dthub.hub import catalog, quarantine
from dthub.hub.adapter import LocationUnit, Parsed
from dthub.hub.core import Hub
from dthub.hub.ingest import BatchResult, _landed_files, ingest_bytes, ingest_file
from dthub.hub.tables import BatchRow, LakeFileRow

OBSERVATIONS = "roads.detector_observations"


def observations(hub: Hub) -> int:
    con = hub.connect()
    return int(hub.table(OBSERVATIONS, con).count().execute())


def ingest(hub: Hub, path: Path) -> BatchResult:
    return ingest_file(hub, hub.registry.adapter("pems.station_5min"), path)


def test_real_files_land_every_line_once(any_hub: Hub, pems_files: list[Path]) -> None:
    lines = [len(path.read_bytes().rstrip(b"\n").split(b"\n")) - 1 for path in pems_files]

    results = [ingest(any_hub, path) for path in pems_files]

    assert [(r.status, r.read, r.landed, r.quarantined, r.duplicate) for r in results] == [
        ("committed", n, n, 0, 0) for n in lines
    ]
    assert observations(any_hub) == sum(lines) == 33_696
    figures = catalog.figures(any_hub.store, [OBSERVATIONS])[OBSERVATIONS]
    assert (figures.rows, figures.batches, figures.valid_ratio) == (33_696, 13, 1.0)


def test_same_file_twice_adds_no_row(any_hub: Hub, pems_files: list[Path]) -> None:
    first = ingest(any_hub, pems_files[0])
    files_before = any_hub.files(OBSERVATIONS)

    again = ingest(any_hub, pems_files[0])

    assert (again.status, again.read, again.landed, again.duplicate) == ("skipped", 2592, 0, 2592)
    assert any_hub.files(OBSERVATIONS) == files_before
    assert observations(any_hub) == first.landed == 2592


def test_copy_under_another_name_lands_nothing_new(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    ingest(any_hub, pems_files[0])
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(pems_files[0].read_bytes())

    result = ingest(any_hub, copy)

    assert (result.status, result.landed, result.duplicate) == ("skipped", 0, 2592)
    assert observations(any_hub) == 2592


def test_overlapping_file_lands_only_new_keys(any_hub: Hub, pems_files: list[Path]) -> None:
    """A file whose lines partly repeat landed ones (other bytes, same keys) lands only the new keys."""
    lines = pems_files[0].read_bytes().split(b"\n")
    ingest_bytes(any_hub, any_hub.registry.adapter("pems.station_5min"), b"\n".join(lines[:101]), source="a")

    result = ingest_bytes(
        any_hub,
        any_hub.registry.adapter("pems.station_5min"),
        b"\n".join([lines[0], *lines[51:201]]),
        source="b",
    )

    assert (result.read, result.landed, result.duplicate) == (150, 100, 50)
    assert observations(any_hub) == 200


def test_repeated_line_in_one_file_lands_once(any_hub: Hub, pems_files: list[Path]) -> None:
    lines = pems_files[0].read_bytes().split(b"\n")
    data = b"\n".join([lines[0], lines[1], lines[2], lines[1]])

    result = ingest_bytes(any_hub, any_hub.registry.adapter("pems.station_5min"), data, source="dup")

    assert (result.read, result.landed, result.quarantined, result.duplicate) == (3, 2, 0, 1)


def corrupted_copy(real: Path, folder: Path) -> tuple[Path, dict[int, str]]:
    """A copy of a real file with a truncated line, a bad number, a wrong column count and an occupancy
    out of range; returns it and the expected quarantine reason per damaged line."""
    lines = real.read_text().split("\n")
    damage: dict[int, tuple[str, Callable[[str], str]]] = {
        10: ("pems.wrong_column_count", lambda line: line[: len(line) // 2]),
        20: ("pems.bad_number", lambda line: _set_field(line, 7, "2O")),
        30: ("pems.wrong_column_count", lambda line: line + ",1,2,3"),
        40: ("rule.avg_occupancy_in_range", lambda line: _set_field(line, 10, "1.5")),
    }
    for number, (_, change) in damage.items():
        lines[number - 1] = change(lines[number - 1])
    path = folder / "corrupted.csv"
    path.write_text("\n".join(lines))
    return path, {number: reason for number, (reason, _) in damage.items()}


def _set_field(line: str, index: int, value: str) -> str:
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def test_corrupted_copy_quarantines_bad_lines_and_lands_the_rest(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    path, expected = corrupted_copy(pems_files[0], tmp_path)
    raw = path.read_text().split("\n")

    result = ingest(any_hub, path)

    assert (result.read, result.landed, result.quarantined, result.duplicate) == (2592, 2588, 4, 0)
    page = quarantine.list_records(any_hub, dataset=OBSERVATIONS)
    assert sorted((r.location, r.reason, r.raw, r.source) for r in page.records) == [
        (line, reason, raw[line - 1], str(path)) for line, reason in sorted(expected.items())
    ]
    assert observations(any_hub) == 2588


def test_rule_failure_names_the_value_and_the_rule(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    path, _ = corrupted_copy(pems_files[0], tmp_path)
    ingest(any_hub, path)

    [record] = quarantine.list_records(any_hub, reason="rule.avg_occupancy_in_range").records

    assert record.detail == "avg_occupancy=1.5; want: avg_occupancy is empty or between 0 and 1"


def test_original_after_corrupted_copy_lands_exactly_the_missing_lines(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    path, expected = corrupted_copy(pems_files[0], tmp_path)
    ingest(any_hub, path)

    result = ingest(any_hub, pems_files[0])

    assert (result.landed, result.duplicate) == (len(expected), 2592 - len(expected))
    assert observations(any_hub) == 2592


def test_fixed_record_replays_into_the_lake_once(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    path, _ = corrupted_copy(pems_files[0], tmp_path)
    ingest(any_hub, path)
    [record] = quarantine.list_records(any_hub, reason="pems.bad_number").records
    fixed = _set_field(record.raw, 7, "20")

    replayed = quarantine.replay(any_hub, record.id, raw=fixed)

    assert (replayed.read, replayed.landed, replayed.quarantined) == (1, 1, 0)
    resolved = quarantine.get(any_hub, record.id)
    assert (resolved.status, resolved.resolved_by_batch) == ("replayed", replayed.batch_id)
    assert observations(any_hub) == 2589
    with pytest.raises(quarantine.NotOpen):
        quarantine.replay(any_hub, record.id, raw=fixed)


def test_replay_that_still_fails_keeps_one_open_record(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    path, _ = corrupted_copy(pems_files[0], tmp_path)
    ingest(any_hub, path)
    [record] = quarantine.list_records(any_hub, reason="rule.avg_occupancy_in_range").records

    result = quarantine.replay(any_hub, record.id)

    assert (result.landed, result.quarantined) == (0, 1)
    assert quarantine.get(any_hub, record.id).status == "open"
    assert quarantine.list_records(any_hub).total == 4
    with any_hub.store.session() as session:
        batch = session.get_one(BatchRow, result.batch_id)
        assert (batch.replay_of, batch.source) == (record.id, f"quarantine:{record.id}")


def test_discarded_record_is_closed_with_its_note(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    path, _ = corrupted_copy(pems_files[0], tmp_path)
    ingest(any_hub, path)
    [record] = quarantine.list_records(any_hub, reason="pems.bad_number").records

    quarantine.discard(any_hub, record.id, note="sensor bench test")

    closed = quarantine.get(any_hub, record.id)
    assert (closed.status, closed.note) == ("discarded", "sensor bench test")
    assert quarantine.list_records(any_hub).total == 3


def test_lineage_records_checksum_code_version_and_metrics(any_hub: Hub, pems_files: list[Path]) -> None:
    result = ingest(any_hub, pems_files[0])

    with any_hub.store.session() as session:
        batch = session.scalars(select(BatchRow).where(BatchRow.id == result.batch_id)).one()
    assert batch.source_checksum == hashlib.sha256(pems_files[0].read_bytes()).hexdigest()
    assert batch.code_version.startswith("0.1.0")
    assert (batch.dataset_id, batch.adapter, batch.rows_landed) == (OBSERVATIONS, "pems.station_5min", 2592)
    assert batch.finished_at is not None
    assert batch.seconds > 0


def test_unpartitioned_dataset_keeps_one_row_per_station(any_hub: Hub, pems_files: list[Path]) -> None:
    adapter = any_hub.registry.adapter("pems.stations")
    results = [ingest_file(any_hub, adapter, path) for path in pems_files[:2]]

    assert [(r.landed, r.duplicate) for r in results] == [(9, 2583), (0, 2592)]
    con = any_hub.connect()
    stations = any_hub.table("roads.detector_stations", con).to_pyarrow()
    assert sorted(stations["station_id"].to_pylist()) == [
        401833,
        401834,
        403205,
        403207,
        403311,
        404531,
        404532,
        410094,
        410095,
    ]


def test_replay_of_text_without_a_record_keeps_the_record_open(
    any_hub: Hub, pems_files: list[Path], tmp_path: Path
) -> None:
    path, _ = corrupted_copy(pems_files[0], tmp_path)
    ingest(any_hub, path)
    [record] = quarantine.list_records(any_hub, reason="pems.bad_number").records
    header = pems_files[0].read_text().split("\n", 1)[0]

    with pytest.raises(quarantine.NothingToReplay):
        quarantine.replay(any_hub, record.id, raw=header)

    assert quarantine.get(any_hub, record.id).status == "open"


class Exploding:
    """An adapter whose parser fails after the batch started, as a bug in a new adapter would."""

    name: ClassVar[str] = "test.exploding"
    dataset: ClassVar[str] = OBSERVATIONS
    location_unit: ClassVar[LocationUnit] = "line"

    def parse(self, data: bytes) -> Parsed:
        raise RuntimeError("parser bug")

    def raw_records(self, data: bytes, locations: Sequence[int]) -> list[str]:
        return []

    def parse_raw(self, raw: str) -> Parsed:
        raise RuntimeError("parser bug")


def test_adapter_failure_aborts_its_batch_at_once(any_hub: Hub) -> None:
    with pytest.raises(RuntimeError, match="parser bug"):
        ingest_bytes(any_hub, Exploding(), b"anything", source="bad-adapter")

    with any_hub.store.session() as session:
        assert [b.status for b in session.scalars(select(BatchRow))] == ["aborted"]


def test_skipped_batch_finishes_when_it_starts(any_hub: Hub, pems_files: list[Path]) -> None:
    ingest(any_hub, pems_files[0])
    skipped = ingest(any_hub, pems_files[0])

    with any_hub.store.session() as session:
        batch = session.get_one(BatchRow, skipped.batch_id)
    assert batch.started_at == batch.finished_at


def test_dedup_reads_only_the_files_whose_time_range_meets_the_batch(
    any_hub: Hub, pems_files: list[Path]
) -> None:
    """The key holds the time, so a batch is checked only against the files whose time range meets its
    own; a key repeated from an older file is still found and dropped."""
    lines = pems_files[0].read_bytes().split(b"\n")
    header, stations = lines[0], 9  # 9 stations a 5-minute interval, in time order
    early, late = lines[1 : 1 + 100 * stations], lines[1 + 100 * stations : 1 + 200 * stations]
    adapter = any_hub.registry.adapter("pems.station_5min")
    ingest_bytes(any_hub, adapter, b"\n".join([header, *early]), source="early")
    ingest_bytes(any_hub, adapter, b"\n".join([header, *late]), source="late")

    newer = lines[1 + 200 * stations : 1 + 210 * stations]
    result = ingest_bytes(any_hub, adapter, b"\n".join([header, early[5], late[7], *newer]), source="mixed")

    assert (result.read, result.landed, result.duplicate) == (2 + len(newer), len(newer), 2)
    assert observations(any_hub) == len(early) + len(late) + len(newer)
    spec = any_hub.registry.dataset(OBSERVATIONS)
    with any_hub.store.session() as session:
        files = list(session.scalars(select(LakeFileRow).order_by(LakeFileRow.id)))
    partitions = sorted({f.partition for f in files})

    def read_for(*times: object) -> list[Path]:
        rows = pa.table({"observed_at": pa.array(times, pa.timestamp("us", tz="UTC"))})
        return _landed_files(any_hub, spec, partitions, rows)

    first, second = files[0], files[-1]
    assert first.min_time is not None
    assert second.max_time is not None
    assert read_for(first.min_time) == [any_hub.lake_dir / first.path]
    assert read_for(second.max_time) == [any_hub.lake_dir / second.path]
    assert read_for(second.max_time + timedelta(hours=1)) == []
    assert len(read_for(first.min_time, second.max_time)) == len(files)
    assert len(read_for(first.min_time, None)) == len(files)  # a null time: every file
