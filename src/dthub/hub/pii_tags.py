"""PII tags suggested on ingest (个人信息标签建议), for a data steward to confirm or reject.

After a batch commits, up to `SAMPLE_ROWS` values of each string column the dataset does not declare as
PII are run through `hub.pii.suggest_pii_tags`; each suggestion is stored once per (dataset, column, kind)
and kept fresh while open. A steward's confirmation is a record (audited), not a declaration: the dataset
stays as its domain's `datasets.py` declares it until that file is changed.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
from sqlalchemy import select

from dthub.hub import audit
from dthub.hub.access_requests import STEWARDS, Forbidden, Invalid
from dthub.hub.audit import Action
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.identity import Consumer
from dthub.hub.key_tables import PiiSuggestionRow
from dthub.hub.pii import PiiKind, suggest_pii_tags
from dthub.hub.tables import utcnow

SAMPLE_ROWS = 1_000
"""Most values sampled of a column per batch, spread evenly over the landed rows."""
DECLARATION_NOTE = (
    "The dataset's declaration is unchanged: add the column to pii_fields and pii_kinds in its domain's "
    "datasets.py; this confirmation is the steward's record."
)


def sample(spec: DatasetSpec, rows: pa.Table, *, most: int = SAMPLE_ROWS) -> dict[str, list[str]]:
    """Up to `most` non-empty values of each string column not declared PII, evenly spread."""
    out: dict[str, list[str]] = {}
    for field in spec.schema:
        if (
            field.name in spec.pii_fields
            or not pa.types.is_string(field.type)
            or field.name not in rows.column_names
        ):
            continue
        values = rows[field.name].drop_null()
        step = max(1, len(values) // most)
        out[field.name] = [
            v for v in values.take(pa.array(range(0, len(values), step), pa.int64())[:most]).to_pylist() if v
        ]
    return out


def suggest(
    hub: Hub, spec: DatasetSpec, batch_id: str, samples: Mapping[str, list[str]]
) -> list[PiiSuggestionRow]:
    """Store suggestions for the sampled columns: new ones open, open ones refreshed, decided ones kept."""
    stored = []
    with hub.store.session() as session:
        for column, values in samples.items():
            for found in suggest_pii_tags(column, values):
                row = session.scalars(
                    select(PiiSuggestionRow).where(
                        PiiSuggestionRow.dataset_id == spec.id,
                        PiiSuggestionRow.column == column,
                        PiiSuggestionRow.kind == found.kind.value,
                    )
                ).first()
                if row is None:
                    row = PiiSuggestionRow(dataset_id=spec.id, column=column, kind=found.kind.value)
                    session.add(row)
                elif row.status != "open":
                    continue
                row.share, row.confidence, row.hinted = found.share, found.confidence, found.hinted
                row.sampled, row.batch_id, row.suggested_at = len(values), batch_id, utcnow()
                stored.append(row)
        session.flush()
        session.expunge_all()
    return stored


def suggestions(hub: Hub, *, status: str | None = "open") -> list[PiiSuggestionRow]:
    """Stored suggestions (of one status, or all), by dataset and column."""
    query = select(PiiSuggestionRow).order_by(
        PiiSuggestionRow.dataset_id, PiiSuggestionRow.column, PiiSuggestionRow.confidence.desc()
    )
    if status is not None:
        query = query.where(PiiSuggestionRow.status == status)
    with hub.store.session() as session:
        rows = list(session.scalars(query))
        session.expunge_all()
    return rows


def decide(
    hub: Hub, spec: DatasetSpec, column: str, kind: PiiKind, steward: Consumer, *, confirm: bool
) -> PiiSuggestionRow:
    """Record a steward's confirmation (or rejection) of a PII tag, suggested or not; audited."""
    if steward.role not in STEWARDS:
        raise Forbidden("access.not_steward", f"{steward.actor} is not a data steward or an admin")
    if column not in spec.schema.names:
        raise Invalid("pii.unknown_column", f"{column!r} is not a column of {spec.id}")
    with hub.store.session() as session:
        row = session.scalars(
            select(PiiSuggestionRow).where(
                PiiSuggestionRow.dataset_id == spec.id,
                PiiSuggestionRow.column == column,
                PiiSuggestionRow.kind == kind.value,
            )
        ).first()
        if row is None:
            row = PiiSuggestionRow(
                dataset_id=spec.id, column=column, kind=kind.value, share=0.0, confidence=0.0,
                hinted=False, sampled=0, batch_id="",
            )  # fmt: skip
            session.add(row)
        row.status = "confirmed" if confirm else "rejected"
        row.decided_by, row.decided_at = steward.actor, utcnow()
        session.flush()
        session.expunge(row)
    detail = {"step": "pii_tag", "column": column, "kind": kind.value, "status": row.status,
              "declared": column in spec.pii_fields}  # fmt: skip
    audit.append(hub.store, steward.actor, Action.CONFIG, spec.id, detail)
    return row
