"""Models at the HTTP boundary: what each route returns, and the error body of every refusal.

Models are strict and closed (`extra="forbid"`); timestamps are time-zone aware (UTC); each field carries
its description into OpenAPI.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from dthub.hub.classification import Level
from dthub.hub.web import INVALID_PARAMETERS, ApiError, ApiProblem, Model, answers

__all__ = ["INVALID_PARAMETERS", "ApiError", "ApiProblem", "Model", "answers"]


class Health(Model):
    """Liveness of the API and reachability of the operational store."""

    status: Literal["ok", "unavailable"] = Field(
        description="`ok` when the hub can serve requests, `unavailable` when its store is unreachable."
    )
    version: str = Field(description="Version of dthub serving the API.", examples=["0.1.0"])
    database: Literal["ok", "unavailable"] = Field(
        description="`ok` when `SELECT 1` succeeded on the operational store, `unavailable` otherwise."
    )


class Figures(Model):
    """Live figures of a dataset: volume, freshness and quality, over committed batches."""

    rows: int = Field(ge=0, description="Rows landed in the lake.")
    files: int = Field(ge=0, description="Parquet files of the lake holding those rows.")
    size_bytes: int = Field(ge=0, description="Total size of those files, bytes.")
    latest_event_at: AwareDatetime | None = Field(
        description="Latest event time of a landed row (UTC); null before any row or without a time column."
    )
    last_landed_at: AwareDatetime | None = Field(
        description="When the last batch committed (UTC); null before any batch."
    )
    batches: int = Field(ge=0, description="Committed batches.")
    rows_read: int = Field(ge=0, description="Records read from sources by those batches.")
    rows_quarantined: int = Field(ge=0, description="Records of those batches sent to quarantine.")
    open_quarantine: int = Field(ge=0, description="Quarantined records still waiting for a steward.")
    valid_ratio: float | None = Field(
        ge=0,
        le=1,
        description="Share of records read that were not quarantined; null before any record was read.",
    )


class DatasetValue(Model):
    """A first data value score (数据价值评估) and what makes it: usage, freshness and quality."""

    reads: int = Field(ge=0, description="Governed reads and exports of the dataset, from the audit log.")
    consumers: int = Field(ge=0, description="Distinct consumers who read it.")
    rows_served: int = Field(ge=0, description="Rows those reads returned.")
    usage_part: float = Field(ge=0, le=1, description="Usage, 0-1: reads (log scale) and consumers.")
    freshness_part: float = Field(
        ge=0, le=1, description="Freshness, 0-1: 1 within two update periods, then 2 periods / age."
    )
    quality_part: float = Field(ge=0, le=1, description="Quality, 0-1: the valid ratio (0 before any read).")
    score: float = Field(ge=0, le=100, description="0.4 usage + 0.3 freshness + 0.3 quality, on 0-100.")


class DatasetSummary(Model):
    """A dataset of the catalog (数据目录): its declaration and live figures."""

    id: str = Field(description="`<domain>.<name>`.", examples=["roads.detector_observations"])
    domain: str = Field(description="Domain that declares the dataset.", examples=["roads"])
    title_zh: str = Field(description="Title in Chinese.")
    title_en: str = Field(description="Title in English.")
    description: str = Field(description="What a row is, where it comes from, and its units.")
    level: Level = Field(description="Classification under GB/T 43697-2024 (数据分类分级).")
    level_title_zh: str = Field(
        description="Chinese title of the level, e.g. 一般数据（2级）.", examples=["一般数据（2级）"]
    )
    owner: str = Field(description="Organisation accountable for the data (数据责任单位).")
    update_frequency: str = Field(
        description="How often new data arrives: ISO 8601 duration (`PT5M`) or `irregular`.",
        examples=["PT5M"],
    )
    retention_days: int | None = Field(description="Days the data is kept; null keeps it for ever.")
    time_column: str | None = Field(description="Column holding the event time of a row, if any.")
    partitioning: Literal["date", "none"] = Field(
        description="`date`: the lake is partitioned by the UTC date of the event time; `none` otherwise."
    )
    primary_key: list[str] = Field(description="Columns that identify a row.")
    pii_fields: list[str] = Field(description="Columns holding personal information.")
    figures: Figures = Field(description="Live figures over committed batches.")
    value: DatasetValue = Field(description="The first data value score, with its parts.")


class SchemaField(Model):
    """One column of a dataset."""

    name: str = Field(description="Column name.")
    type: str = Field(description="Arrow type, e.g. `int32`, `timestamp[us, tz=UTC]`.")
    nullable: bool = Field(description="Whether a row may leave the column empty.")
    description: str = Field(description="Meaning and unit of the column.")


class RuleSummary(Model):
    """A rule every landed row satisfies; rows that fail are quarantined as `rule.<name>`."""

    name: str = Field(description="Rule name; the quarantine reason is `rule.<name>`.")
    description: str = Field(description="What the rule demands.")


class DatasetDetail(DatasetSummary):
    """A dataset of the catalog with its schema and row rules."""

    schema_: list[SchemaField] = Field(alias="schema", description="Columns of a row, in order.")
    rules: list[RuleSummary] = Field(description="Rules every landed row satisfies.")


BatchStatus = Literal["running", "committed", "aborted", "skipped"]


class Batch(Model):
    """One ingest batch (批次): one source into one dataset, with its lineage and metrics."""

    batch_id: str = Field(description="Batch id.")
    adapter: str = Field(description="Adapter that parsed the source.", examples=["pems.station_5min"])
    source: str = Field(description="Where the source bytes came from (a path or a name).")
    source_checksum: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the source bytes, lower-case hex."
    )
    status: BatchStatus = Field(
        description=(
            "`committed`: its rows are visible; `running`: in progress; `aborted`: its writer died and "
            "its files were removed; `skipped`: the same bytes were committed before."
        )
    )
    code_version: str = Field(description="dthub version (and git commit) that ran the batch.")
    started_at: AwareDatetime = Field(description="When the batch started (UTC).")
    finished_at: AwareDatetime | None = Field(description="When it committed or was aborted (UTC).")
    rows_read: int = Field(ge=0, description="Records read from the source.")
    rows_landed: int = Field(ge=0, description="Rows landed in the lake.")
    rows_quarantined: int = Field(ge=0, description="Records sent to quarantine.")
    rows_duplicate: int = Field(ge=0, description="Records whose key was already landed or repeated.")
    seconds: float = Field(ge=0, description="Time the batch took, seconds.")
    replay_of: int | None = Field(description="Quarantine record this batch replays, if any.")
