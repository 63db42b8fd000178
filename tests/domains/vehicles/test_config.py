"""Gateway limits and supervision rules as settings; rules, geofences and routes from files."""

from __future__ import annotations

import json
from datetime import time
from pathlib import Path

import pytest

from dthub.domains.vehicles.config import ConfigError, load_routes, load_rules, supervision
from dthub.domains.vehicles.gateway import GatewayConfig
from dthub.domains.vehicles.rules import ClassLimits
from dthub.domains.vehicles.simulator import fleet
from dthub.hub.settings import Settings

AREA = {"type": "Feature", "properties": {"name": "港区", "forbidden": True},
        "geometry": {"type": "Polygon", "coordinates": [[[117.1, 39.0], [117.2, 39.0], [117.2, 39.1],
                                                         [117.1, 39.0]]]}}  # fmt: skip
ROUTE = {"type": "Feature", "properties": {"plate": "津A00001"},
         "geometry": {"type": "LineString", "coordinates": [[117.0, 39.1], [117.3, 39.1]]}}  # fmt: skip


def _write(folder: Path, name: str, document: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_gateway_limits_come_from_dthub_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DTHUB_VEHICLES_IDLE_TIMEOUT_S", "42")
    monkeypatch.setenv("DTHUB_VEHICLES_MAX_FRAME_BYTES", "512")
    monkeypatch.setenv("DTHUB_VEHICLES_MAX_UNPUBLISHED", "1000")
    config = GatewayConfig.from_settings(Settings(home=tmp_path), write_timeout_s=3.0)
    limits = (config.idle_timeout_s, config.max_frame_bytes, config.max_unpublished, config.write_timeout_s)
    assert limits == (42.0, 512, 1000, 3.0)
    assert config.package_timeout_s == 60.0


def test_rules_geofences_and_routes_from_the_files_the_settings_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rules = {"classes": {"taxi": {"speed_limit_kmh": 70, "overspeed_min_s": 10}}, "night": ["23:00", "05:00"],
             "drift_kmh": 200, "geofences": {"type": "FeatureCollection", "features": [AREA]},
             "kpis": {"report_interval_s": 10}}  # fmt: skip
    monkeypatch.setenv("DTHUB_VEHICLES_RULES_FILE", str(_write(tmp_path, "rules.json", rules)))
    routes = {"type": "FeatureCollection", "features": [ROUTE]}
    monkeypatch.setenv("DTHUB_VEHICLES_ROUTES_FILE", str(_write(tmp_path, "routes.geojson", routes)))
    vehicles = {t.vehicle.phone: t.vehicle for t in fleet(2)}
    found = supervision(Settings(home=tmp_path), vehicles)
    assert found.rules.limits("taxi") == ClassLimits(speed_limit_kmh=70, overspeed_min_s=10)
    assert found.rules.limits("coach").banned_hours == (2, 5)  # left out: the reference default
    assert (found.rules.night, found.rules.drift_kmh) == ((time(23), time(5)), 200.0)
    assert [(a.name, a.forbidden, a.polygon.bounds) for a in found.areas] == [
        ("港区", True, (117.1, 39.0, 117.2, 39.1))
    ]
    assert (found.kpis.report_interval_s, found.kpis.clock_skew_s) == (10.0, 300.0)
    assert found.routes is not None
    assert {phone: list(line.coords) for phone, line in found.routes.items()} == {
        "13900000001": [(117.0, 39.1), (117.3, 39.1)]
    }


def test_without_files_the_reference_defaults_apply(tmp_path: Path) -> None:
    found = supervision(Settings(home=tmp_path), {})
    assert (found.rules.limits("coach").max_day_driving_s, found.areas, found.routes) == (14_400, (), None)


@pytest.mark.parametrize(
    ("name", "document", "error"),
    [
        ("rules.json", {"drift_kmh": "fast"}, "drift_kmh: Input should be a valid number"),
        ("rules.json", {"classes": {"taxi": {"speed_limit": 70}}},
         "classes.taxi.speed_limit_kmh: Field required"),
        ("rules.json", {"geofences": {"type": "FeatureCollection", "features": [ROUTE]}},
         "feature 0: want a Polygon, got LineString"),
        ("rules.json", [1, 2], "want a JSON object"),
        ("rules.json", {"kpis": {"interval": 5}}, "kpis: unknown interval"),
        ("rules.json", {"kpis": {"clock_skew_s": "late"}},
         "kpis.clock_skew_s: Input should be a valid number"),
    ],
)  # fmt: skip
def test_a_bad_rules_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, name: str, document: object, error: str
) -> None:
    path = _write(tmp_path, name, document)
    with pytest.raises(ConfigError, match=error) as caught:
        supervision(Settings(home=tmp_path, vehicles_rules_file=path), {})
    assert str(path) in str(caught.value)


def test_a_route_for_an_unknown_plate_or_without_a_vehicle_is_refused(tmp_path: Path) -> None:
    unknown = {**ROUTE, "properties": {"plate": "津Z99999"}}
    path = _write(tmp_path, "routes.geojson", {"type": "FeatureCollection", "features": [unknown]})
    with pytest.raises(ConfigError, match="route 0: plate '津Z99999' is not in the registry"):
        load_routes(path, {t.vehicle.phone: t.vehicle for t in fleet(2)})
    nameless = {**ROUTE, "properties": {}}
    path = _write(tmp_path, "routes.geojson", {"type": "FeatureCollection", "features": [nameless]})
    with pytest.raises(ConfigError, match="route 0: want a `phone` or `plate` property"):
        load_routes(path, {})
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="not JSON"):
        load_rules(tmp_path / "broken.json")
