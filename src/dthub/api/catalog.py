"""Routes of the catalog (数据目录): datasets with their live figures, schema, rules and lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Path, Query

from dthub.api.models import (
    INVALID_PARAMETERS,
    ApiProblem,
    Batch,
    BatchStatus,
    DatasetDetail,
    DatasetSummary,
    DatasetValue,
    Figures,
    RuleSummary,
    SchemaField,
    answers,
)
from dthub.hub import catalog, lineage, value
from dthub.hub.catalog import DatasetFigures
from dthub.hub.core import Hub
from dthub.hub.dataset import DatasetSpec
from dthub.hub.domain import UnknownName
from dthub.hub.tables import utcnow
from dthub.hub.web import HubDep

router = APIRouter(prefix="/api/v1/datasets", tags=["catalog"])

NOT_FOUND = "No domain declares this dataset; `error` is `dataset.not_found`."


DatasetId = Annotated[
    str, Path(description="Dataset id, `<domain>.<name>`.", examples=["roads.detector_observations"])
]


@router.get(
    "",
    summary="List the catalog",
    response_model=list[DatasetSummary],
    responses=answers("Every declared dataset, by id, with its figures.", invalid=INVALID_PARAMETERS),
)
def list_datasets(
    hub: HubDep,
    domain: Annotated[
        str | None, Query(description="Only datasets of this domain, e.g. `roads`.", examples=["roads"])
    ] = None,
) -> list[DatasetSummary]:
    """Every dataset the domains declare, ordered by id: declaration (titles, classification level,
    owner, update frequency, retention, keys, personal-information fields) and live figures (rows, files,
    freshness, quality). An unknown `domain` gives an empty list."""
    specs = sorted(
        (spec for spec in hub.registry.datasets.values() if domain is None or spec.domain == domain),
        key=lambda spec: spec.id,
    )
    ids = [spec.id for spec in specs]
    figures, reads, now = catalog.figures(hub.store, ids), value.usage(hub.store, ids), utcnow()
    return [summary(spec, figures[spec.id], reads[spec.id], now) for spec in specs]


@router.get(
    "/{dataset_id}",
    summary="Describe one dataset",
    response_model=DatasetDetail,
    responses=answers(
        "The dataset's declaration, figures, schema and rules.",
        not_found=NOT_FOUND,
        invalid=INVALID_PARAMETERS,
    ),
)
def get_dataset(hub: HubDep, dataset_id: DatasetId) -> DatasetDetail:
    """One dataset as in the catalog list, plus its schema (name, Arrow type, nullable, description of
    each column) and the rules every landed row satisfies."""
    spec = _declared(hub, dataset_id)
    figures = catalog.figures(hub.store, [spec.id])[spec.id]
    reads = value.usage(hub.store, [spec.id])[spec.id]
    return DatasetDetail(
        **dict(summary(spec, figures, reads, utcnow())),
        schema=[SchemaField(**field) for field in catalog.schema_fields(spec)],
        rules=[RuleSummary(name=rule.name, description=rule.description) for rule in spec.rules],
    )


@router.get(
    "/{dataset_id}/lineage",
    summary="List a dataset's batches",
    response_model=list[Batch],
    responses=answers(
        "The dataset's batches, newest first.", not_found=NOT_FOUND, invalid=INVALID_PARAMETERS
    ),
)
def get_lineage(
    hub: HubDep,
    dataset_id: DatasetId,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most batches to return.")] = 50,
) -> list[Batch]:
    """The batches that fed the dataset, of every status, newest first: source and its SHA-256, adapter,
    code version, times and record counts (read = landed + quarantined + duplicate)."""
    spec = _declared(hub, dataset_id)
    return [
        Batch(
            batch_id=row.id,
            adapter=row.adapter,
            source=row.source,
            source_checksum=row.source_checksum,
            status=cast(BatchStatus, row.status),  # checked by the model
            code_version=row.code_version,
            started_at=row.started_at,
            finished_at=row.finished_at,
            rows_read=row.rows_read,
            rows_landed=row.rows_landed,
            rows_quarantined=row.rows_quarantined,
            rows_duplicate=row.rows_duplicate,
            seconds=row.seconds,
            replay_of=row.replay_of,
        )
        for row in lineage.batches(hub.store, spec.id, limit=limit)
    ]


def summary(spec: DatasetSpec, figures: DatasetFigures, reads: value.Usage, now: datetime) -> DatasetSummary:
    """The catalog entry of a declared dataset with its figures and value score."""
    worth = value.value(reads, figures, spec.update_frequency, now)
    return DatasetSummary(
        id=spec.id,
        domain=spec.domain,
        title_zh=spec.title_zh,
        title_en=spec.title_en,
        description=spec.description,
        level=spec.level,
        level_title_zh=spec.level.title_zh,
        owner=spec.owner,
        update_frequency=spec.update_frequency,
        retention_days=spec.retention_days,
        time_column=spec.time_column,
        partitioning=spec.partitioning,
        primary_key=list(spec.primary_key),
        pii_fields=list(spec.pii_fields),
        figures=Figures(
            rows=figures.rows,
            files=figures.files,
            size_bytes=figures.size_bytes,
            latest_event_at=figures.latest_event_at,
            last_landed_at=figures.last_landed_at,
            batches=figures.batches,
            rows_read=figures.rows_read,
            rows_quarantined=figures.rows_quarantined,
            open_quarantine=figures.open_quarantine,
            valid_ratio=figures.valid_ratio,
        ),
        value=DatasetValue(
            reads=reads.reads,
            consumers=reads.consumers,
            rows_served=reads.rows_served,
            usage_part=worth.usage_part,
            freshness_part=worth.freshness_part,
            quality_part=worth.quality_part,
            score=worth.score,
        ),
    )


def _declared(hub: Hub, dataset_id: str) -> DatasetSpec:
    try:
        return hub.registry.dataset(dataset_id)
    except UnknownName as exc:
        raise ApiProblem(404, "dataset.not_found", str(exc)) from None
