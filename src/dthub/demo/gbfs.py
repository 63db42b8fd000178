"""The demo city's public bikes (模拟公共自行车) as a GBFS 2.3 feed: station information and status.

Pure and deterministic: a docking station at every junction of the arterial grid and beside every metro
station, named after where it stands and labelled 模拟. Status depends only on the seed and the 5-minute
interval: bikes drain from the residential edge towards the centre in the morning peak and back in the
evening (`station_status`). `write_feed` writes `gbfs.json`, `system_information.json`,
`station_information.json` and `station_status.json` to a folder.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dthub.demo.city import CENTRE_LAT, CENTRE_LON, GRID_EW, GRID_NS, SIMULATED, CityPlan, to_lonlat
from dthub.demo.detectors import BEIJING, interval_start, peak_share
from dthub.demo.gtfs import lines

VERSION = "2.3"
TTL_S = 300
SYSTEM_ID = "tianjin_bikes_simulated"


def stations(plan: CityPlan | None = None) -> list[dict[str, Any]]:
    """`station_information` entries: grid junctions and metro stations."""
    plan = plan or CityPlan()
    half = plan.grid_lines // 2
    found = []
    for i in range(plan.grid_lines):
        for j in range(plan.grid_lines):
            x, y = (i - half) * plan.grid_spacing_km, (j - half) * plan.grid_spacing_km
            lon, lat = to_lonlat((x + 0.05, y + 0.05))
            found.append((f"bike-g{i}{j}", f"{GRID_NS[i]}{GRID_EW[j]}口自行车站{SIMULATED}", lon, lat))
    for line in lines(plan):
        if line.route_type != 1:
            continue
        for stop_id, name, lon, lat in line.stops:
            found.append((f"bike-{stop_id}", f"{name}自行车站{SIMULATED}", round(lon + 0.0006, 6), lat))
    rng = random.Random(11)
    return [
        {"station_id": sid, "name": name, "lat": lat, "lon": lon, "capacity": rng.choice((20, 24, 30, 36))}
        for sid, name, lon, lat in found
    ]


def station_status(information: list[dict[str, Any]], at: datetime, *, seed: int = 7) -> list[dict[str, Any]]:
    """Status of each station in the 5-minute interval holding `at`."""
    start = interval_start(at)
    local = start + BEIJING
    hour = local.hour + local.minute / 60
    morning = math.exp(-(((hour - 8.5) / 2.0) ** 2))
    evening = math.exp(-(((hour - 18.5) / 2.0) ** 2))
    rng = random.Random(f"{seed}:{int(start.timestamp()) // 300}")
    reported = int(start.timestamp())
    status = []
    for station in information:
        radius = math.hypot((station["lon"] - CENTRE_LON) * 86.4, (station["lat"] - CENTRE_LAT) * 111.2)
        central = max(0.0, 1 - radius / 6)
        share = 0.5 + 0.35 * (morning - evening) * (2 * central - 1) - 0.1 * peak_share(hour)
        share = min(1.0, max(0.0, share + rng.uniform(-0.12, 0.12)))
        capacity = station["capacity"]
        bikes = round(capacity * share)
        disabled = 1 if rng.random() < 0.1 else 0
        status.append(
            {
                "station_id": station["station_id"],
                "num_bikes_available": max(0, bikes - disabled),
                "num_bikes_disabled": disabled,
                "num_docks_available": capacity - bikes,
                "is_installed": True,
                "is_renting": True,
                "is_returning": True,
                "last_reported": reported,
            }
        )
    return status


def _envelope(data: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"last_updated": int(at.timestamp()), "ttl": TTL_S, "version": VERSION, "data": data}


def write_feed(folder: Path, at: datetime, *, base_url: str = "", seed: int = 7) -> Path:
    """Write the GBFS files for the interval holding `at`; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    at = interval_start(at.astimezone(UTC))
    information = stations()
    files: dict[str, dict[str, Any]] = {
        "gbfs.json": {
            "zh": {"feeds": [{"name": name, "url": f"{base_url}{name}.json"} for name in
                             ("system_information", "station_information", "station_status")]}
        },
        "system_information.json": {
            "system_id": SYSTEM_ID,
            "language": "zh",
            "name": f"天津公共自行车{SIMULATED} Tianjin public bikes (simulated)",
            "operator": f"dthub 演示城市{SIMULATED}",
            "timezone": "Asia/Shanghai",
        },
        "station_information.json": {"stations": information},
        "station_status.json": {"stations": station_status(information, at, seed=seed)},
    }  # fmt: skip
    for name, data in files.items():
        (folder / name).write_text(
            json.dumps(_envelope(data, at), ensure_ascii=False, indent=1), encoding="utf-8"
        )
    return folder
