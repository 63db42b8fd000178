"""Supervision configuration from files the settings point at (监控规则配置).

`DTHUB_VEHICLES_RULES_FILE` names a JSON file: the fields of `RuleConfig` (limits per vehicle class,
night window, drift, offline and route-deviation thresholds; every ⚠️ unverified value of the reference
is one of them) and optionally `geofences`, a GeoJSON FeatureCollection of Polygons with the properties
`name` and `forbidden`, and `kpis`, the ⚠️ conventions of the daily KPIs (`kpis.KpiConfig`: reporting
interval, largest valid speed, clock skew). Anything it leaves out keeps the reference default (a class it
names is replaced whole, the other classes stay); an unknown key is an error.

    {"classes": {"coach": {"speed_limit_kmh": 100, "banned_hours": [2, 5]},
                 "taxi": {"speed_limit_kmh": 80, "overspeed_min_s": 10}},
     "night": ["22:00", "06:00"], "drift_kmh": 160,
     "geofences": {"type": "FeatureCollection", "features": [...]}}

`DTHUB_VEHICLES_ROUTES_FILE` names a GeoJSON FeatureCollection of LineStrings, the assigned routes of
fixed-route vehicles, each with a `phone` (terminal) or `plate` property naming a registered vehicle.
A bad file raises `ConfigError` naming the file, and the feature or field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from shapely import is_empty as shape_is_empty  # type: ignore[import-untyped]
from shapely.geometry import LineString, Polygon, shape  # type: ignore[import-untyped]

from dthub.domains.vehicles.kpis import KpiConfig
from dthub.domains.vehicles.registry import Vehicle
from dthub.domains.vehicles.rules import Geofence, RuleConfig
from dthub.hub.settings import Settings


class ConfigError(ValueError):
    """A rules or routes file that cannot be used, with the file and what is wrong."""


@dataclass(frozen=True)
class Supervision:
    """What the writer's rules run with."""

    rules: RuleConfig
    areas: tuple[Geofence, ...] = ()
    routes: Mapping[str, LineString] | None = None
    kpis: KpiConfig = field(default_factory=KpiConfig)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: not JSON: {error}") from None


def _features(path: Path, collection: Any, kind: type) -> list[tuple[int, Any, dict[str, Any]]]:
    """(index, shape, properties) of each feature; a feature of another geometry type is an error."""
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ConfigError(f"{path}: want a GeoJSON FeatureCollection")
    found = []
    for n, feature in enumerate(collection.get("features") or []):
        try:
            geometry: Any = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigError(f"{path}: feature {n}: bad geometry ({error})") from None
        if not isinstance(geometry, kind) or bool(shape_is_empty(geometry)):
            raise ConfigError(f"{path}: feature {n}: want a {kind.__name__}, got {geometry.geom_type}")
        found.append((n, geometry, dict(feature.get("properties") or {})))
    return found


def _problems(error: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False)
    )


def load_kpis(path: Path) -> KpiConfig:
    """The KPI conventions (`kpis` of a rules file: report_interval_s, max_valid_speed_kmh, clock_skew_s)."""
    document = _json(path)
    given = document.get("kpis", {}) if isinstance(document, dict) else {}
    unknown = sorted(set(given) - {f.name for f in fields(KpiConfig)}) if isinstance(given, dict) else []
    if unknown:
        raise ConfigError(f"{path}: kpis: unknown {', '.join(unknown)}")
    try:
        return TypeAdapter(KpiConfig).validate_python(given)
    except ValidationError as error:
        raise ConfigError(f"{path}: {_problems(error, 'kpis.')}") from None


def load_rules(path: Path) -> tuple[RuleConfig, tuple[Geofence, ...]]:
    """The rules and geofences of a rules file."""
    document = _json(path)
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: want a JSON object")
    fences = document.pop("geofences", None)
    document.pop("kpis", None)
    try:
        rules = RuleConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"{path}: {_problems(error)}") from None
    if "classes" in document:  # the classes it names replace the reference's; the others stay
        rules = rules.model_copy(update={"classes": {**RuleConfig().classes, **rules.classes}})
    areas = []
    for n, polygon, properties in _features(path, fences, Polygon) if fences is not None else ():
        name = properties.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{path}: geofence {n}: want a `name` property")
        areas.append(Geofence(name, polygon, forbidden=bool(properties.get("forbidden", False))))
    return rules, tuple(areas)


def load_routes(path: Path, vehicles: Mapping[str, Vehicle]) -> dict[str, LineString]:
    """The assigned route of each vehicle a routes file names, by terminal phone."""
    by_plate = {vehicle.plate: phone for phone, vehicle in vehicles.items()}
    routes: dict[str, LineString] = {}
    for n, line, properties in _features(path, _json(path), LineString):
        phone = properties.get("phone")
        plate = properties.get("plate")
        if phone is None and plate is not None:
            phone = by_plate.get(str(plate))
            if phone is None:
                raise ConfigError(f"{path}: route {n}: plate {plate!r} is not in the registry")
        if phone is None:
            raise ConfigError(f"{path}: route {n}: want a `phone` or `plate` property")
        routes[str(phone).lstrip("0") or "0"] = line
    return routes


def supervision(settings: Settings, vehicles: Mapping[str, Vehicle]) -> Supervision:
    """The rules, geofences and routes the settings point at (the reference defaults without files)."""
    rules, areas = (
        load_rules(settings.vehicles_rules_file) if settings.vehicles_rules_file else (RuleConfig(), ())
    )
    routes = load_routes(settings.vehicles_routes_file, vehicles) if settings.vehicles_routes_file else None
    kpis = load_kpis(settings.vehicles_rules_file) if settings.vehicles_rules_file else KpiConfig()
    return Supervision(rules, areas, routes, kpis)
