"""Building the demo city into a hub (I/O edge): write the generated sources, land them through the hub.

Everything goes the way real data goes: the road network as a GeoJSON file through `geojson.segments`,
the detector map and today's detector observations (from Beijing midnight, a day at least) as CSV
through `sim.detector_segments` and `sim.detector_5min`, the vehicles as a registry CSV through the
registry import, the GTFS feed through the `gtfs.*` adapters into `transit.*`, the bike stations and their
status as GBFS files through `gbfs.station_information` and `gbfs.station_status`. Every source lies in
`<home>/demo-city-simulated/`, so lineage names it as simulated too. A linear autoregression per segment is
fitted on the simulated speeds and issues the first forecasts (`train_forecasts`).

The trip planner plans on the feeds landed in `transit.*` (the generated one lands as `tianjin_simulated`),
read as its service identity `maas-planner` (`domains/transit/landed.py`). The routes that still read
static GTFS from files under `DTHUB_REALDATA` (GTFS-RT matching, `domains/transit/realtime_api.py`) see a view
of the real data folder (`<home>/demo-realdata/`: links to each entry of the real one) in which
`gtfs/tianjin_simulated` is the generated feed (`realdata_view`). Nothing is copied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dthub.demo import gbfs, gtfs
from dthub.demo.city import Network, build_network, feature_collection
from dthub.demo.detectors import (
    BEIJING,
    Detector,
    SimDetectorObservations,
    SimDetectorSegments,
    backfill,
    interval_start,
    observations,
    place_detectors,
    segment_map,
)
from dthub.demo.fleet import registry, registry_csv
from dthub.domains.roads.forecast import job as forecast_job
from dthub.domains.roads.ingest.geojson import GeojsonSegments
from dthub.domains.transit.gbfs_ingest import GbfsStations, GbfsStationStatus
from dthub.domains.transit.ingest.gtfs import ingest_feed
from dthub.domains.vehicles import registry as vehicle_registry
from dthub.domains.vehicles.registry import Vehicle
from dthub.hub.core import Hub
from dthub.hub.ingest import BatchResult, ingest_bytes, ingest_file

FOLDER = "demo-city-simulated"
VIEW = "demo-realdata"
MIN_BACKFILL = timedelta(days=1)
FORECAST_MODEL, FORECAST_STEP = "linear_ar", timedelta(minutes=5)
DEMO_ACTOR = "cli:dthub-demo"


@dataclass(frozen=True, kw_only=True)
class DemoCity:
    """The generated city: network, detectors and vehicles."""

    seed: int
    network: Network
    detectors: tuple[Detector, ...]
    vehicles: tuple[Vehicle, ...]


@dataclass(frozen=True, kw_only=True)
class Built:
    """What a build landed and wrote."""

    batches: list[BatchResult]
    vehicles: int
    gtfs: Path
    gbfs: Path
    forecast_model: str
    """Id of the forecast model fitted on today's simulated speeds (see `train_forecasts`)."""


def plan_city(*, vehicles: int = 3_000, seed: int = 7) -> DemoCity:
    """The demo city for a seed (pure)."""
    network = build_network()
    return DemoCity(
        seed=seed,
        network=network,
        detectors=place_detectors(network, seed=seed),
        vehicles=tuple(registry(vehicles, seed=seed)),
    )


def folder_of(hub: Hub) -> Path:
    return hub.settings.home / FOLDER


def feed_folder(home: Path) -> Path:
    """Where the demo's GTFS feed is written."""
    return home / FOLDER / "gtfs" / gtfs.FEED_NAME


def backfill_start(now: datetime) -> datetime:
    """Beijing midnight of today or a day before `now`, whichever is earlier: a day of history at least, which
    the forecast model is fitted on."""
    local = now.astimezone(UTC) + BEIJING
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) - BEIJING
    return min(midnight, now - MIN_BACKFILL)


def build(hub: Hub, city: DemoCity, *, now: datetime | None = None) -> Built:
    """Write the demo city's sources under the hub's home and land them."""
    now = now or datetime.now(UTC)
    folder = folder_of(hub)
    folder.mkdir(parents=True, exist_ok=True)
    segments = folder / "tianjin-road-network-simulated.geojson"
    segments.write_text(json.dumps(feature_collection(city.network), ensure_ascii=False), encoding="utf-8")
    batches = [ingest_file(hub, GeojsonSegments(), segments)]
    batches.append(land_lines(hub, SimDetectorSegments(), folder / "detector-segments-simulated.csv",
                              segment_map(city.detectors)))  # fmt: skip
    start = backfill_start(now)
    lines = backfill(city.detectors, start, now, seed=city.seed)
    name = f"detector-5min-simulated-{start:%Y%m%dT%H%M}-{interval_start(now):%H%M}.csv"
    batches.append(land_lines(hub, SimDetectorObservations(), folder / "detectors" / name, lines))
    table = folder / "vehicle-registry-simulated.csv"
    table.write_text(registry_csv(list(city.vehicles)), encoding="utf-8")
    count = vehicle_registry.save(hub.store, vehicle_registry.parse_csv(table.read_text(encoding="utf-8")))
    today = (now + BEIJING).date()
    feed = gtfs.write_feed(feed_folder(hub.settings.home), today)
    batches += ingest_feed(hub, feed, feed=gtfs.FEED_NAME)
    bikes = gbfs.write_feed(folder / "gbfs", now)
    batches.append(ingest_file(hub, GbfsStations(system=gbfs.SYSTEM_ID), bikes / "station_information.json"))
    batches.append(ingest_file(hub, GbfsStationStatus(system=gbfs.SYSTEM_ID), bikes / "station_status.json"))
    model = train_forecasts(hub, start, now)
    return Built(batches=batches, vehicles=count, gtfs=feed, gbfs=bikes, forecast_model=model)


def train_forecasts(hub: Hub, start: datetime, now: datetime) -> str:
    """Fit a per-segment linear autoregression (线性自回归) on the simulated speeds from `start` to the last
    whole 5 minutes, register it, and issue its first forecasts, so the traffic page shows forecast against
    actual from the start; the server's forecast job issues them again every `DTHUB_FORECAST_REFRESH_S`."""
    grid = FORECAST_STEP.total_seconds()
    start, end = (datetime.fromtimestamp(t.timestamp() // grid * grid, UTC) for t in (start, now))
    request = forecast_job.TrainRequest(model=FORECAST_MODEL, params={}, start=start, end=end)
    row = forecast_job.train(hub, request, by=DEMO_ACTOR)
    forecast_job.refresh_model(hub, row, now)
    return row.id


def realdata_view(home: Path, realdata: Path, feed: Path) -> Path:
    """`<home>/demo-realdata`: a link to each entry of `realdata`, and under `gtfs/` a link to each real
    feed and `tianjin_simulated` to the demo feed, for the routes that read static GTFS files (GTFS-RT
    matching; the planner reads the landed feed instead). Made anew on each call."""
    view = home / VIEW
    gtfs_view = view / "gtfs"
    for folder in (gtfs_view, view):
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_symlink():
                    entry.unlink()
    gtfs_view.mkdir(parents=True, exist_ok=True)
    real = realdata.resolve()
    if real.is_dir():
        for entry in real.iterdir():
            if entry.name != "gtfs":
                (view / entry.name).symlink_to(entry)
        if (real / "gtfs").is_dir():
            for entry in (real / "gtfs").iterdir():
                if entry.name != gtfs.FEED_NAME:
                    (gtfs_view / entry.name).symlink_to(entry)
    (gtfs_view / gtfs.FEED_NAME).symlink_to(feed.resolve())
    return view


def land_lines(
    hub: Hub, adapter: SimDetectorObservations | SimDetectorSegments, path: Path, lines: list[str]
) -> BatchResult:
    """Write `lines` to `path` and land them through `adapter`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    return ingest_bytes(hub, adapter, data, source=str(path))


def land_interval(hub: Hub, city: DemoCity, start: datetime) -> BatchResult:
    """Land the detector observations of the interval starting at `start` (the live feed's step)."""
    start = interval_start(start)
    path = folder_of(hub) / "detectors" / f"detector-5min-simulated-{start:%Y%m%dT%H%M}.csv"
    return land_lines(
        hub, SimDetectorObservations(), path, observations(city.detectors, start, seed=city.seed)
    )


def refresh_bikes(hub: Hub, now: datetime) -> BatchResult:
    """Rewrite the GBFS files for the interval holding `now` and land the station status."""
    folder = gbfs.write_feed(folder_of(hub) / "gbfs", now)
    return ingest_file(hub, GbfsStationStatus(system=gbfs.SYSTEM_ID), folder / "station_status.json")
