"""Lineage (数据血缘): the batches that fed a dataset, each with its source, checksum, code version and
metrics, as `hub.ingest` recorded them."""

from __future__ import annotations

from sqlalchemy import select

from dthub.hub.store import Store
from dthub.hub.tables import BatchRow


def batches(store: Store, dataset_id: str, *, limit: int) -> list[BatchRow]:
    """The dataset's batches of every status, newest first, at most `limit` of them."""
    with store.session() as session:
        return list(
            session.scalars(
                select(BatchRow)
                .where(BatchRow.dataset_id == dataset_id)
                .order_by(BatchRow.started_at.desc(), BatchRow.id.desc())
                .limit(limit)
            )
        )
