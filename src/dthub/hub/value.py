"""A first data value score (数据价值评估): how much a dataset is used, how fresh and how clean it is.

Usage comes from the audit log (every governed read and export is there, with the rows served); freshness
from the latest event time against the declared update frequency; quality from the share of records read
that were not quarantined. The score is a weighted sum on 0-100; the weights are an argument, and this is a
first, explainable measure, not a standard one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from dthub.hub.audit import Action
from dthub.hub.audit_tables import AuditLogRow
from dthub.hub.catalog import DatasetFigures
from dthub.hub.store import Store

_DURATION = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Governed reads of a dataset, from the audit log."""

    reads: int
    consumers: int
    rows_served: int


@dataclass(frozen=True, kw_only=True)
class Weights:
    usage: float = 0.4
    freshness: float = 0.3
    quality: float = 0.3
    reads_for_full_usage: int = 1_000
    consumers_for_full_usage: int = 10


@dataclass(frozen=True, kw_only=True)
class Value:
    """The score and its three parts, each 0-1."""

    usage: Usage
    usage_part: float
    freshness_part: float
    quality_part: float
    score: float
    """0-100."""


def usage(store: Store, dataset_ids: Iterable[str]) -> dict[str, Usage]:
    """Reads, distinct consumers and rows served per dataset, from the read and export entries of the
    audit log."""
    ids = list(dataset_ids)
    reads = dict.fromkeys(ids, 0)
    rows = dict.fromkeys(ids, 0)
    actors: dict[str, set[str]] = {dataset_id: set() for dataset_id in ids}
    query = select(AuditLogRow.target, AuditLogRow.actor, AuditLogRow.detail).where(
        AuditLogRow.action.in_([Action.READ.value, Action.EXPORT.value]), AuditLogRow.target.in_(ids)
    )
    with store.session() as session:
        for target, actor, detail in session.execute(query):
            reads[target] += 1
            rows[target] += int((detail or {}).get("rows", 0))
            actors[target].add(actor)
    return {i: Usage(reads=reads[i], consumers=len(actors[i]), rows_served=rows[i]) for i in ids}


def period(update_frequency: str) -> timedelta | None:
    """An ISO 8601 duration (`PT5M`, `P1D`); None for `irregular` or anything else."""
    match = _DURATION.match(update_frequency)
    if match is None or not any(match.groupdict().values()):
        return None
    d, h, m, s = (int(match[g] or 0) for g in "dhms")
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def freshness(figures: DatasetFigures, update_frequency: str, now: datetime) -> float:
    """1 while the latest event is at most two periods old, then 2 periods / age; an irregular dataset is
    fresh once it has data; nothing landed is 0."""
    latest = figures.latest_event_at or figures.last_landed_at
    if latest is None:
        return 0.0
    every = period(update_frequency)
    if every is None:
        return 1.0
    age = max((now - latest).total_seconds(), 0.0)
    allowed = 2 * every.total_seconds()
    return 1.0 if age <= allowed else allowed / age


def value(
    reads: Usage, figures: DatasetFigures, update_frequency: str, now: datetime, weights: Weights = Weights()
) -> Value:
    """The value score of one dataset."""
    usage_part = 0.5 * min(1.0, math.log10(1 + reads.reads) / math.log10(1 + weights.reads_for_full_usage))
    usage_part += 0.5 * min(1.0, reads.consumers / weights.consumers_for_full_usage)
    fresh = freshness(figures, update_frequency, now)
    quality = figures.valid_ratio or 0.0
    total = weights.usage * usage_part + weights.freshness * fresh + weights.quality * quality
    return Value(
        usage=reads,
        usage_part=round(usage_part, 4),
        freshness_part=round(fresh, 4),
        quality_part=round(quality, 4),
        score=round(100 * total / (weights.usage + weights.freshness + weights.quality), 1),
    )
