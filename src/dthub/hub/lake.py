"""The lake (数据湖): Parquet files, Hive-partitioned by dataset and UTC date, listed by a manifest.

`<lake>/<dataset id>/date=YYYY-MM-DD/part-<batch>-<n>.parquet`. Files are written before their batch
commits and become visible only when the operational store commits their manifest rows (`lake_files`), in
the same transaction that marks the batch committed: readers list files through the manifest, never by
globbing, so a batch killed half-way is invisible and its files are swept on the next write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dthub.hub.dataset import DatasetSpec

PARTITION_COLUMN = "_partition"
"""Column `hub.ingest` adds to rows to land: the UTC date of the time column, or null."""


@dataclass(frozen=True, kw_only=True)
class LakeFile:
    """A Parquet file written for a batch."""

    partition: str
    path: str
    """Relative to the lake root."""
    rows: int
    size_bytes: int
    min_time: datetime | None
    max_time: datetime | None


def partition_name(day: date | None) -> str:
    return "" if day is None else f"date={day.isoformat()}"


def write_partitions(
    root: Path, spec: DatasetSpec, batch_id: str, rows: pa.Table, *, max_rows_per_file: int
) -> list[LakeFile]:
    """Write `rows` (sorted by `_partition`) as Parquet files of `batch_id`, durably (fsync)."""
    written: list[LakeFile] = []
    if rows.num_rows == 0:
        return written
    data = rows.drop_columns([PARTITION_COLUMN])
    start = 0
    for day, end in _runs(rows[PARTITION_COLUMN]):
        for chunk_start in range(start, end, max_rows_per_file):
            chunk = data.slice(chunk_start, min(max_rows_per_file, end - chunk_start))
            written.append(_write_file(root, spec, batch_id, len(written), day, chunk))
        start = end
    _fsync_dir(root / spec.id)
    return written


def _runs(days: pa.ChunkedArray) -> list[tuple[date | None, int]]:
    """(day, end) of each run of equal days in a sorted column; one null run when unpartitioned."""
    if days.null_count == len(days):
        return [(None, len(days))]
    ordinals = days.cast(pa.int32()).to_numpy()
    ends = [*(np.flatnonzero(np.diff(ordinals)) + 1).tolist(), len(ordinals)]
    return [(days[end - 1].as_py(), end) for end in ends]


def _write_file(
    root: Path, spec: DatasetSpec, batch_id: str, seq: int, day: date | None, chunk: pa.Table
) -> LakeFile:
    partition = partition_name(day)
    relative = Path(spec.id, partition, f"part-{batch_id}-{seq:04d}.parquet")
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(chunk, path, compression="zstd")
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())
    _fsync_dir(path.parent)
    min_time = max_time = None
    if spec.time_column is not None:
        bounds = pc.min_max(chunk[spec.time_column])
        min_time, max_time = _utc(bounds["min"].as_py()), _utc(bounds["max"].as_py())
    return LakeFile(
        partition=partition,
        path=relative.as_posix(),
        rows=chunk.num_rows,
        size_bytes=path.stat().st_size,
        min_time=min_time,
        max_time=max_time,
    )


def remove_batch_files(root: Path, dataset_id: str, batch_id: str) -> int:
    """Delete every file a batch wrote (visible or not); returns how many."""
    removed = 0
    for path in (root / dataset_id).glob(f"**/part-{batch_id}-*.parquet"):
        path.unlink()
        removed += 1
    return removed


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _fsync_dir(path: Path) -> None:
    if not path.exists():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
