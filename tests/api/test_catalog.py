"""The catalog routes: datasets with live figures, their schema and rules, and their lineage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dthub.api import create_app
from dthub.domains import DOMAINS, roads
from dthub.domains.roads.datasets import DETECTOR_STATIONS
from dthub.hub.core import Hub
from dthub.hub.engine import to_arrow
from dthub.hub.ingest import BatchResult, ingest_file
from dthub.hub.settings import Settings

OBSERVATIONS = "roads.detector_observations"
ROWS_PER_PEMS_FILE = 2592  # 9 stations x 288 five-minute intervals

NO_FIGURES = {
    "rows": 0,
    "files": 0,
    "size_bytes": 0,
    "latest_event_at": None,
    "last_landed_at": None,
    "batches": 0,
    "rows_read": 0,
    "rows_quarantined": 0,
    "open_quarantine": 0,
    "valid_ratio": None,
}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def two_pems_batches(hub: Hub, pems_files: list[Path]) -> list[tuple[Path, BatchResult]]:
    """The first two real PeMS files ingested, oldest first."""
    adapter = hub.registry.adapter("pems.station_5min")
    return [(path, ingest_file(hub, adapter, path)) for path in pems_files[:2]]


def test_empty_catalog_lists_every_declared_dataset_with_zero_figures(client: TestClient) -> None:
    body = client.get("/api/v1/datasets").json()

    declared = sorted(spec.id for domain in DOMAINS for spec in domain.datasets)
    assert "roads.detector_observations" in declared
    assert [(entry["id"], entry["figures"]) for entry in body] == [(id_, NO_FIGURES) for id_ in declared]


def test_catalog_entry_states_the_declaration(client: TestClient) -> None:
    body = {entry["id"]: entry for entry in client.get("/api/v1/datasets").json()}

    assert body["roads.detector_stations"] == {
        "id": "roads.detector_stations",
        "domain": "roads",
        "title_zh": "检测器站点",
        "title_en": "Detector stations",
        "description": DETECTOR_STATIONS.description,
        "level": "general-1",
        "level_title_zh": "一般数据（1级）",
        "owner": "市交通运输委 路网监测中心 (road network monitoring centre)",
        "update_frequency": "irregular",
        "retention_days": None,
        "time_column": None,
        "partitioning": "none",
        "primary_key": ["station_id"],
        "pii_fields": [],
        "figures": NO_FIGURES,
        "value": {
            "reads": 0,
            "consumers": 0,
            "rows_served": 0,
            "usage_part": 0.0,
            "freshness_part": 0.0,
            "quality_part": 0.0,
            "score": 0.0,
        },
    }


ROADS = sorted(spec.id for spec in roads.DOMAIN.datasets)


@pytest.mark.parametrize(("domain", "ids"), [("roads", ROADS), ("rail", [])])
def test_domain_filter_keeps_that_domains_datasets(client: TestClient, domain: str, ids: list[str]) -> None:
    body = client.get("/api/v1/datasets", params={"domain": domain}).json()

    assert [entry["id"] for entry in body] == ids


@pytest.mark.realdata
def test_two_pems_files_show_in_the_figures(
    client: TestClient, hub: Hub, two_pems_batches: list[tuple[Path, BatchResult]]
) -> None:
    observations = hub.table(OBSERVATIONS, hub.connect())
    latest_observed_at = to_arrow(observations.aggregate(latest=observations.observed_at.max()))["latest"][0]
    lake_files = hub.files(OBSERVATIONS)

    listed = client.get("/api/v1/datasets").json()
    figures = next(entry["figures"] for entry in listed if entry["id"] == OBSERVATIONS)

    assert figures == {
        "rows": 2 * ROWS_PER_PEMS_FILE,
        "files": len(lake_files),
        "size_bytes": sum(path.stat().st_size for path in lake_files),
        "latest_event_at": figures["latest_event_at"],
        "last_landed_at": figures["last_landed_at"],
        "batches": 2,
        "rows_read": 2 * ROWS_PER_PEMS_FILE,
        "rows_quarantined": 0,
        "open_quarantine": 0,
        "valid_ratio": 1.0,
    }
    assert datetime.fromisoformat(figures["latest_event_at"]) == latest_observed_at.as_py()


def test_detail_gives_the_schema_and_rules(client: TestClient) -> None:
    body = client.get("/api/v1/datasets/roads.detector_stations").json()

    assert body["schema"] == [
        {"name": "station_id", "type": "int32", "nullable": False, "description": "Detector station id"},
        {"name": "district", "type": "int16", "nullable": True, "description": "Operating district"},
        {"name": "freeway", "type": "int16", "nullable": True, "description": "Road (freeway) number"},
        {
            "name": "direction",
            "type": "string",
            "nullable": True,
            "description": "Direction of travel: N, S, E or W",
        },
        {
            "name": "lane_type",
            "type": "string",
            "nullable": True,
            "description": "Lane type: CD, CH, FF, FR, HV, ML, OR",
        },
        {
            "name": "length_mi",
            "type": "double",
            "nullable": True,
            "description": "Length of road the station covers, miles (PeMS)",
        },
        {
            "name": "first_seen_at",
            "type": "timestamp[us, tz=UTC]",
            "nullable": True,
            "description": "First interval the station reported",
        },
    ]
    assert body["rules"] == [
        {"name": "direction_known", "description": "direction is empty or one of N, S, E, W"},
        {"name": "lane_type_known", "description": "lane_type is empty or one of CD, CH, FF, FR, HV, ML, OR"},
        {"name": "length_mi_in_range", "description": "length_mi is empty or between 0 and 100"},
    ]


@pytest.mark.parametrize("suffix", ["", "/lineage"])
def test_unknown_dataset_is_404_with_the_error_body(client: TestClient, hub: Hub, suffix: str) -> None:
    response = client.get(f"/api/v1/datasets/roads.nothing{suffix}")

    assert response.status_code == 404
    assert response.json() == {
        "error": "dataset.not_found",
        "detail": f"unknown dataset 'roads.nothing'; known: {', '.join(sorted(hub.registry.datasets))}",
    }


@pytest.mark.realdata
def test_lineage_lists_both_batches_newest_first_with_their_checksums(
    client: TestClient, two_pems_batches: list[tuple[Path, BatchResult]]
) -> None:
    body = client.get(f"/api/v1/datasets/{OBSERVATIONS}/lineage").json()

    lineage = [
        {key: batch[key] for key in ("batch_id", "adapter", "source", "source_checksum", "status")}
        | {key: batch[key] for key in ("rows_read", "rows_landed", "rows_quarantined", "rows_duplicate")}
        | {"replay_of": batch["replay_of"]}
        for batch in body
    ]
    assert lineage == [
        {
            "batch_id": result.batch_id,
            "adapter": "pems.station_5min",
            "source": str(path),
            "source_checksum": hashlib.sha256(path.read_bytes()).hexdigest(),
            "status": "committed",
            "rows_read": ROWS_PER_PEMS_FILE,
            "rows_landed": ROWS_PER_PEMS_FILE,
            "rows_quarantined": 0,
            "rows_duplicate": 0,
            "replay_of": None,
        }
        for path, result in reversed(two_pems_batches)
    ]
    assert all(
        datetime.fromisoformat(batch["started_at"]) <= datetime.fromisoformat(batch["finished_at"])
        for batch in body
    )


@pytest.mark.realdata
def test_lineage_limit_keeps_the_newest_batches(
    client: TestClient, two_pems_batches: list[tuple[Path, BatchResult]]
) -> None:
    body = client.get(f"/api/v1/datasets/{OBSERVATIONS}/lineage", params={"limit": 1}).json()

    assert [batch["batch_id"] for batch in body] == [two_pems_batches[-1][1].batch_id]


@pytest.mark.parametrize(
    ("limit", "detail"),
    [
        ("0", "query.limit: Input should be greater than or equal to 1"),
        ("1001", "query.limit: Input should be less than or equal to 1000"),
        ("many", "query.limit: Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_lineage_limit_outside_1_to_1000_is_422(client: TestClient, limit: str, detail: str) -> None:
    response = client.get(f"/api/v1/datasets/{OBSERVATIONS}/lineage", params={"limit": limit})

    assert response.status_code == 422
    assert response.json() == {"error": "request.invalid", "detail": detail}
