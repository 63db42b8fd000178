"""The roads routes over a hub with two real PeMS days landed: TPI and segment levels."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dthub.api import create_app
from dthub.hub.ingest import ingest_file
from dthub.hub.settings import Settings

ADAPTERS = ("pems.station_5min", "pems.station_segments", "pems.detector_segments")


def client_with_pems(settings: Settings, files: list[Path]) -> TestClient:
    app = create_app(settings)
    for path in files:
        for adapter in ADAPTERS:
            ingest_file(app.state.hub, app.state.hub.registry.adapter(adapter), path)
    return TestClient(app)


def test_corridor_tpi_per_15_minutes_of_a_real_day(settings: Settings, pems_files: list[Path]) -> None:
    with client_with_pems(settings, pems_files[:1]) as client:
        answer = client.get(
            "/api/v1/roads/tpi",
            params={
                "scope": "corridor",
                "id": "101-N",
                "interval": 15,
                "start": "2022-10-04T15:00:00Z",
                "end": "2022-10-04T15:30:00Z",
            },
        )
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "scope_id": "101-N",
            "interval_start": "2022-10-04T15:00:00Z",
            "segments": 4,
            "length_km": 2.02,
            "dtp": 0.072,
            "tpi": 0.48,
            "level": "free",
            "level_zh": "畅通",
        },
        {
            "scope_id": "101-N",
            "interval_start": "2022-10-04T15:15:00Z",
            "segments": 4,
            "length_km": 2.02,
            "dtp": 0.068,
            "tpi": 0.453,
            "level": "free",
            "level_zh": "畅通",
        },
    ]


def test_segment_levels_at_an_instant(settings: Settings, pems_files: list[Path]) -> None:
    with client_with_pems(settings, pems_files[:1]) as client:
        answer = client.get("/api/v1/roads/segments/levels", params={"at": "2022-10-04T15:02:00Z"})
    assert answer.status_code == 200
    levels = answer.json()
    assert {row["interval_start"] for row in levels} == {"2022-10-04T15:00:00Z"}
    assert {row["road_class"] for row in levels} == {"expressway"}
    assert len(levels) == 4


def test_district_tpi_without_an_id_is_refused(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        answer = client.get(
            "/api/v1/roads/tpi",
            params={"scope": "district", "start": "2022-10-04T00:00:00Z", "end": "2022-10-05T00:00:00Z"},
        )
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "request.invalid",
        "detail": "query.id: required when scope is district",
    }
