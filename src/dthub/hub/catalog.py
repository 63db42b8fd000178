"""The catalog (数据目录): declared datasets, stored in the operational store, with live figures.

Figures per dataset: rows and files landed, freshness (latest event time, last landing), and quality
(share of read records that landed or were duplicates rather than quarantined; open quarantine).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from dthub.hub.dataset import DatasetSpec
from dthub.hub.store import Store
from dthub.hub.tables import BatchRow, DatasetRow, LakeFileRow, QuarantineRow


def sync(store: Store, specs: Iterable[DatasetSpec]) -> None:
    """Write each declaration to the `datasets` table (insert or update)."""
    with store.session() as session:
        for spec in specs:
            row = session.get(DatasetRow, spec.id) or DatasetRow(id=spec.id)
            row.domain = spec.domain
            row.title_zh, row.title_en = spec.title_zh, spec.title_en
            row.description = spec.description
            row.arrow_schema = schema_fields(spec)
            row.primary_key = list(spec.primary_key)
            row.time_column = spec.time_column
            row.partitioning = spec.partitioning
            row.owner = spec.owner
            row.update_frequency = spec.update_frequency
            row.retention_days = spec.retention_days
            row.level = spec.level.value
            row.pii_fields = list(spec.pii_fields)
            row.rules = [{"name": r.name, "description": r.description} for r in spec.rules]
            session.add(row)


def schema_fields(spec: DatasetSpec) -> list[dict[str, Any]]:
    """The Arrow schema as plain data: name, type, nullable, description."""
    return [
        {
            "name": field.name,
            "type": str(field.type),
            "nullable": field.nullable,
            "description": (field.metadata or {}).get(b"description", b"").decode(),
        }
        for field in spec.schema
    ]


@dataclass(frozen=True, kw_only=True)
class DatasetFigures:
    """Live figures of one dataset."""

    rows: int
    files: int
    size_bytes: int
    latest_event_at: datetime | None
    last_landed_at: datetime | None
    batches: int
    rows_read: int
    rows_quarantined: int
    open_quarantine: int

    @property
    def valid_ratio(self) -> float | None:
        """Share of read records that were not quarantined; None before any read."""
        if self.rows_read == 0:
            return None
        return 1 - self.rows_quarantined / self.rows_read


def figures(store: Store, dataset_ids: Iterable[str]) -> dict[str, DatasetFigures]:
    """Figures of each dataset, from the manifest, the batches and the quarantine."""
    ids = list(dataset_ids)
    committed = BatchRow.status == "committed"
    with store.session() as session:
        files = {
            row[0]: row[1:]
            for row in session.execute(
                select(
                    LakeFileRow.dataset_id,
                    func.coalesce(func.sum(LakeFileRow.rows), 0),
                    func.count(LakeFileRow.id),
                    func.coalesce(func.sum(LakeFileRow.size_bytes), 0),
                    func.max(LakeFileRow.max_time),
                )
                .join(BatchRow, BatchRow.id == LakeFileRow.batch_id)
                .where(committed, LakeFileRow.dataset_id.in_(ids))
                .group_by(LakeFileRow.dataset_id)
            )
        }
        batches = {
            row[0]: row[1:]
            for row in session.execute(
                select(
                    BatchRow.dataset_id,
                    func.max(BatchRow.finished_at),
                    func.count(BatchRow.id),
                    func.coalesce(func.sum(BatchRow.rows_read), 0),
                    func.coalesce(func.sum(BatchRow.rows_quarantined), 0),
                )
                .where(committed, BatchRow.dataset_id.in_(ids))
                .group_by(BatchRow.dataset_id)
            )
        }
        open_quarantine: dict[str, int] = dict(
            session.execute(
                select(QuarantineRow.dataset_id, func.count(QuarantineRow.id))
                .where(QuarantineRow.status == "open", QuarantineRow.dataset_id.in_(ids))
                .group_by(QuarantineRow.dataset_id)
            ).all()
        )
    result = {}
    for dataset_id in ids:
        rows, n_files, size, latest = files.get(dataset_id, (0, 0, 0, None))
        landed_at, n_batches, read, quarantined = batches.get(dataset_id, (None, 0, 0, 0))
        result[dataset_id] = DatasetFigures(
            rows=int(rows),
            files=int(n_files),
            size_bytes=int(size),
            latest_event_at=latest,
            last_landed_at=landed_at,
            batches=int(n_batches),
            rows_read=int(read),
            rows_quarantined=int(quarantined),
            open_quarantine=int(open_quarantine.get(dataset_id, 0)),
        )
    return result
