"""Ingest (数据接入): one pipeline for every source, losing nothing and duplicating nothing.

source bytes → adapter (typed rows + rejected records) → validation against the dataset's schema and rules
→ duplicates dropped (same key in the batch or already landed) → Parquet files → one commit.

Guarantees:
- Nothing is dropped silently: every record read is landed, quarantined (with reason, location and raw
  text) or counted as a duplicate; `read == landed + quarantined + duplicate` for every batch.
- Idempotent: a source whose bytes were already committed is skipped; a row whose key is landed is not
  landed again.
- Crash-safe: the batch's files, manifest rows, quarantine rows and metrics commit in one transaction; a
  writer killed before it leaves files no reader sees, and the next writer sweeps them (`recover`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import and_, or_, select

from dthub.hub import keys, lake, pii_tags
from dthub.hub.adapter import LOCATION, Adapter, Parsed, Rejected
from dthub.hub.core import Hub, code_version
from dthub.hub.dataset import DatasetSpec, Rule
from dthub.hub.tables import BatchRow, LakeFileRow, QuarantineRow


@dataclass(frozen=True, kw_only=True)
class BatchResult:
    """Metrics of one batch."""

    batch_id: str
    dataset: str
    source: str
    status: str
    read: int
    landed: int
    quarantined: int
    duplicate: int
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Refused:
    """A record that will not land: its reason, where it was, and its raw text."""

    reason: str
    detail: str
    location: int | None
    raw: str


def ingest_file(hub: Hub, adapter: Adapter, path: Path) -> BatchResult:
    """Ingest one source file through `adapter` into its dataset."""
    data = path.read_bytes()
    return ingest_bytes(hub, adapter, data, source=str(path))


def ingest_bytes(hub: Hub, adapter: Adapter, data: bytes, *, source: str) -> BatchResult:
    """Ingest one source, given as bytes, named `source` in lineage and quarantine."""
    spec = hub.registry.dataset(adapter.dataset)
    checksum = hashlib.sha256(data).hexdigest()
    with hub.writer():
        started = time.perf_counter()
        prior = _committed_batch(hub, spec.id, checksum)
        if prior is not None:
            return _record_skipped(hub, adapter, prior, source, started)
        with open_batch(hub, adapter, source, checksum) as batch_id:
            parsed = adapter.parse(data)
            landing = prepare_landing(hub, spec, batch_id, parsed, lambda at: adapter.raw_records(data, at))
            result = commit_batch(hub, adapter, batch_id, source, landing, started)
        pii_tags.suggest(hub, spec, batch_id, landing.samples)
        return result


def prepare_landing(
    hub: Hub,
    spec: DatasetSpec,
    batch_id: str,
    parsed: Parsed,
    raw_at: Callable[[Sequence[int]], list[str]],
) -> Landing:
    refused = [_refused(r) for r in parsed.rejected]
    rows, invalid = validate(spec, parsed.rows)
    if invalid:
        raws = raw_at([location for location, _, _ in invalid])
        refused += [
            Refused(reason=reason, detail=detail, location=location, raw=raw)
            for (location, reason, detail), raw in zip(invalid, raws, strict=True)
        ]
    fresh = new_rows(hub, spec, rows)
    samples = pii_tags.sample(spec, fresh)
    fresh = keys.encrypt_columns(hub, spec, fresh)
    files = lake.write_partitions(
        hub.lake_dir, spec, batch_id, fresh, max_rows_per_file=hub.settings.lake_file_max_rows
    )
    return Landing(
        read=parsed.rows.num_rows + len(parsed.rejected),
        landed=fresh.num_rows,
        duplicate=rows.num_rows - fresh.num_rows,
        refused=refused,
        files=files,
        samples=samples,
    )


@dataclass(frozen=True, kw_only=True)
class Landing:
    read: int
    landed: int
    duplicate: int
    refused: list[Refused]
    files: list[lake.LakeFile]
    samples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    """Values of the undeclared string columns, sampled before encryption (`hub.pii_tags`)."""


def validate(spec: DatasetSpec, rows: pa.Table) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Split rows into those that satisfy the dataset's schema and rules, and (location, reason,
    detail) for the others. `rows` carries the adapter's `_location` column."""
    rows = rows.select([*spec.schema.names, LOCATION]).cast(
        pa.schema([*(f.with_nullable(True) for f in spec.schema), pa.field(LOCATION, pa.int64())])
    )
    failed = pa.array([False] * rows.num_rows, pa.bool_())
    invalid: list[tuple[int, str, str]] = []

    def refuse(passes: pa.Array | pa.ChunkedArray, reason: str, describe: Callable[[int], str]) -> None:
        nonlocal failed
        bad = pc.and_(pc.invert(pc.fill_null(passes, True)), pc.invert(failed))
        for index in pc.indices_nonzero(bad).to_pylist():
            invalid.append((rows[LOCATION][index].as_py(), reason, describe(index)))
        failed = pc.or_(failed, bad)

    for field in spec.schema:
        if not field.nullable:
            refuse(
                pc.is_valid(rows[field.name]),
                "schema.missing_value",
                lambda _index: f"{field.name} is empty",  # noqa: B023 (called at once)
            )
    for rule in spec.rules:
        refuse(
            rule.check(rows),
            f"rule.{rule.name}",
            lambda index: _describe_failure(rows, index, rule),  # noqa: B023 (called at once)
        )
    if invalid:
        rows = rows.filter(pc.invert(failed))
    invalid.sort(key=lambda item: item[0])
    return rows, invalid


def _describe_failure(rows: pa.Table, index: int, rule: Rule) -> str:
    values = ", ".join(f"{column}={rows[column][index].as_py()!r}" for column in rule.columns)
    return f"{values}; want: {rule.description}"


def new_rows(hub: Hub, spec: DatasetSpec, rows: pa.Table) -> pa.Table:
    """Rows whose key is neither earlier in the batch nor already landed, sorted for landing, with the
    `_partition` column the lake writes by.

    Only the key, time and location columns go through DuckDB, which picks the row numbers to keep;
    Arrow then takes those rows."""
    key = ", ".join(f'"{column}"' for column in spec.primary_key)
    day = f'CAST("{spec.time_column}" AS DATE)' if spec.time_column else "CAST(NULL AS DATE)"
    columns = list(dict.fromkeys([*spec.primary_key, *filter(None, [spec.time_column]), LOCATION]))
    keys = rows.select(columns).append_column("_row", pa.array(range(rows.num_rows), pa.int64()))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("incoming", keys)
        partitions = [
            lake.partition_name(row[0])
            for row in con.execute(f"SELECT DISTINCT {day} FROM incoming").fetchall()
        ]
        landed = _landed_files(hub, spec, partitions, rows)
        already = ""
        if landed:
            paths = ", ".join(f"'{path}'" for path in landed)
            match = " AND ".join(f'old."{c}" IS NOT DISTINCT FROM incoming."{c}"' for c in spec.primary_key)
            already = f"AND NOT EXISTS (SELECT 1 FROM read_parquet([{paths}]) AS old WHERE {match})"
        order = ", ".join(["_partition", *filter(None, [spec.time_column]), *spec.primary_key])
        picked = con.sql(
            f"""
            SELECT _row, {day} AS _partition FROM incoming
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {LOCATION}) = 1 {already}
            ORDER BY {order}
            """
        ).to_arrow_table()
    finally:
        con.close()
    fresh = rows.select(spec.schema.names).take(picked["_row"])
    return fresh.append_column(pa.field(lake.PARTITION_COLUMN, pa.date32()), picked["_partition"]).cast(
        pa.schema([*spec.schema, pa.field(lake.PARTITION_COLUMN, pa.date32())])
    )


def _landed_files(hub: Hub, spec: DatasetSpec, partitions: list[str], rows: pa.Table) -> list[Path]:
    """The committed files of `partitions` that may hold a key of `rows`.

    When the key includes the time column, a landed row with the same key has the same time, so only
    files whose time range (`min_time`..`max_time` in the manifest) meets the range of `rows` can hold
    one: a stream landing the latest fixes reads the last few files of the day, not all of them. A file
    without a range, or rows with a null time, fall back to every file of the partitions."""
    if spec.time_column is None or spec.time_column not in spec.primary_key or rows.num_rows == 0:
        return hub.files(spec.id, partitions)
    times = rows[spec.time_column]
    if times.null_count:
        return hub.files(spec.id, partitions)
    bounds = pc.min_max(times)
    low, high = _as_utc(bounds["min"].as_py()), _as_utc(bounds["max"].as_py())
    query = (
        select(LakeFileRow.path)
        .join(BatchRow, BatchRow.id == LakeFileRow.batch_id)
        .where(
            LakeFileRow.dataset_id == spec.id,
            BatchRow.status == "committed",
            LakeFileRow.partition.in_(partitions),
            or_(
                LakeFileRow.min_time.is_(None),
                LakeFileRow.max_time.is_(None),
                and_(LakeFileRow.min_time <= high, LakeFileRow.max_time >= low),
            ),
        )
        .order_by(LakeFileRow.id)
    )
    with hub.store.session() as session:
        return [hub.lake_dir / path for path in session.scalars(query)]


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _refused(rejected: Rejected) -> Refused:
    return Refused(
        reason=rejected.reason,
        detail=rejected.detail,
        location=rejected.location,
        raw=rejected.raw,
    )


def _committed_batch(hub: Hub, dataset_id: str, checksum: str) -> BatchRow | None:
    with hub.store.session() as session:
        return session.scalars(
            select(BatchRow).where(
                BatchRow.dataset_id == dataset_id,
                BatchRow.source_checksum == checksum,
                BatchRow.status == "committed",
            )
        ).first()


@contextmanager
def open_batch(
    hub: Hub, adapter: Adapter, source: str, checksum: str, *, replay_of: int | None = None
) -> Iterator[str]:
    """A running batch for the `with` block; if the block raises, the batch is aborted at once (its
    files removed) and the error goes on. Call with the writer lock held."""
    batch_id = _start_batch(hub, adapter, source, checksum, replay_of=replay_of)
    try:
        yield batch_id
    except BaseException:
        _abort(hub, batch_id)
        raise


def _abort(hub: Hub, batch_id: str) -> None:
    with hub.store.session() as session:
        batch = session.get_one(BatchRow, batch_id)
        if batch.status == "running":
            lake.remove_batch_files(hub.lake_dir, batch.dataset_id, batch.id)
            batch.status = "aborted"
            batch.finished_at = datetime.now(UTC)


def _start_batch(hub: Hub, adapter: Adapter, source: str, checksum: str, replay_of: int | None) -> str:
    batch_id = uuid.uuid4().hex
    with hub.store.session() as session:
        session.add(
            BatchRow(
                id=batch_id,
                dataset_id=adapter.dataset,
                adapter=adapter.name,
                source=source,
                source_checksum=checksum,
                status="running",
                code_version=code_version(),
                replay_of=replay_of,
            )
        )
    return batch_id


def commit_batch(
    hub: Hub,
    adapter: Adapter,
    batch_id: str,
    source: str,
    landing: Landing,
    started: float,
    *,
    replaying: QuarantineRow | None = None,
) -> BatchResult:
    """The commit point: manifest, quarantine and metrics in one transaction.

    When `replaying` a quarantined record, the record is resolved if its row landed (or was already
    there) and otherwise keeps its place with the new reason, instead of a second quarantine entry."""
    seconds = time.perf_counter() - started
    with hub.store.session() as session:
        batch = session.get_one(BatchRow, batch_id)
        for file in landing.files:
            session.add(
                LakeFileRow(
                    batch_id=batch_id,
                    dataset_id=adapter.dataset,
                    partition=file.partition,
                    path=file.path,
                    rows=file.rows,
                    size_bytes=file.size_bytes,
                    min_time=file.min_time,
                    max_time=file.max_time,
                )
            )
        if replaying is not None:
            _resolve(session.get_one(QuarantineRow, replaying.id), batch_id, landing.refused)
        else:
            session.add_all(
                QuarantineRow(
                    batch_id=batch_id,
                    dataset_id=adapter.dataset,
                    adapter=adapter.name,
                    source=source,
                    location=refused.location,
                    location_unit=adapter.location_unit,
                    reason=refused.reason,
                    detail=refused.detail,
                    raw=refused.raw,
                )
                for refused in landing.refused
            )
        batch.status = "committed"
        batch.finished_at = datetime.now(UTC)
        batch.rows_read = landing.read
        batch.rows_landed = landing.landed
        batch.rows_quarantined = len(landing.refused)
        batch.rows_duplicate = landing.duplicate
        batch.seconds = seconds
    return _result(batch)


def _resolve(record: QuarantineRow, batch_id: str, refused: list[Refused]) -> None:
    if refused:
        record.reason, record.detail, record.raw = (
            refused[0].reason,
            refused[0].detail,
            refused[0].raw,
        )
        return
    record.status = "replayed"
    record.resolved_at = datetime.now(UTC)
    record.resolved_by_batch = batch_id


def _record_skipped(hub: Hub, adapter: Adapter, prior: BatchRow, source: str, started: float) -> BatchResult:
    """The same bytes were committed before: record a skipped batch; every record is a duplicate."""
    now = datetime.now(UTC)
    batch = BatchRow(
        id=uuid.uuid4().hex,
        dataset_id=adapter.dataset,
        adapter=adapter.name,
        source=source,
        source_checksum=prior.source_checksum,
        status="skipped",
        code_version=code_version(),
        started_at=now,
        finished_at=now,
        rows_read=prior.rows_read,
        rows_duplicate=prior.rows_read,
        seconds=time.perf_counter() - started,
    )
    with hub.store.session() as session:
        session.add(batch)
    return _result(batch)


def _result(batch: BatchRow) -> BatchResult:
    return BatchResult(
        batch_id=batch.id,
        dataset=batch.dataset_id,
        source=batch.source,
        status=batch.status,
        read=batch.rows_read,
        landed=batch.rows_landed,
        quarantined=batch.rows_quarantined,
        duplicate=batch.rows_duplicate,
        seconds=batch.seconds,
    )


def recover(hub: Hub) -> list[str]:
    """Abort batches a dead writer left running and remove their files; returns their ids.

    Called with the writer lock held, so no live writer owns a running batch."""
    with hub.store.session() as session:
        running = list(session.scalars(select(BatchRow.id).where(BatchRow.status == "running")))
    for batch_id in running:
        _abort(hub, batch_id)
    return running
