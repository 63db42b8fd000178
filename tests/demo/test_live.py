"""A short live run of `dthub demo`: the city lands labelled simulated, vehicles come online through the
API over the JT/T 808 gateway, and Ctrl-C stops everything cleanly.

The real PeMS sample is left out here (DTHUB_REALDATA points at an empty folder) to keep the run short;
`tests/test_cli.py` lands it through the same command.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dthub.demo.domain import FILLED, TITLE_EN, TITLE_ZH

VEHICLES = 6
WAIT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Demo:
    base: str
    home: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def login(self, username: str) -> str:
        password = json.loads((self.home / "demo-accounts.json").read_text())[username]
        body = json.dumps({"username": username, "password": password}).encode()
        request = urllib.request.Request(
            f"{self.base}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            token: str = json.loads(answer.read())["token"]
            return token


def wait_for(check: Any, what: str, process: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dthub demo ended early with {process.returncode}"
        try:
            found = check()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            found = None
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"no {what} within {WAIT_S:.0f} s")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home = tmp_path_factory.mktemp("demo-home")
    port = free_port()
    env = os.environ | {
        "DTHUB_HOME": str(home),
        "DTHUB_PORT": str(port),
        "DTHUB_REALDATA": str(tmp_path_factory.mktemp("no-realdata")),
    }
    dthub = str(Path(sys.executable).with_name("dthub"))
    command = [dthub, "demo", "--vehicles", str(VEHICLES), "--gateway-port", "0", "--report-every-s", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    running = Demo(base=f"http://127.0.0.1:{port}", home=home, process=process)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_city_lands_in_the_catalog_labelled_simulated(demo: Demo) -> None:
    datasets = wait_for(lambda: demo.get("/api/v1/datasets"), "catalog", demo.process)
    by_id = {d["id"]: d for d in datasets}
    for dataset_id in FILLED:
        assert by_id[dataset_id]["title_zh"].endswith(TITLE_ZH)
        assert by_id[dataset_id]["title_en"].endswith(TITLE_EN)
        assert "simulated" in by_id[dataset_id]["description"]
    landed = ("roads.segments", "roads.detector_segments", "roads.detector_observations",
              "transit.stop_times", "transit.bike_stations", "transit.bike_station_status")  # fmt: skip
    for dataset_id in landed:
        figures = by_id[dataset_id]["figures"]
        assert figures["rows"] > 0, dataset_id
        assert figures["open_quarantine"] == 0, (dataset_id, figures)
    assert not by_id["roads.detector_stations"]["title_zh"].endswith(TITLE_ZH)


def test_vehicles_come_online_through_the_api(demo: Demo) -> None:
    token = wait_for(lambda: demo.login("demo-admin"), "login", demo.process)

    def online() -> list[dict[str, Any]]:
        live = demo.get("/api/v1/vehicles/live", token)
        return [v for v in live if v["online"]] if len(live) == VEHICLES else []

    vehicles = wait_for(lambda: len(online()) == VEHICLES and online(), "vehicles online", demo.process)
    assert all(39.0 < v["lat"] < 39.25 and 117.05 < v["lon"] < 117.35 for v in vehicles)
    assert all(v["plate"].startswith("津") for v in vehicles)
    first = {v["phone"]: v["reported_at"] for v in vehicles}
    later = wait_for(
        lambda: [v for v in demo.get("/api/v1/vehicles/live", token) if v["reported_at"] > first[v["phone"]]],
        "a newer report",
        demo.process,
    )
    assert later


def test_a_trip_is_planned_on_the_simulated_metro_and_buses(demo: Demo) -> None:
    wait_for(lambda: demo.get("/api/v1/datasets"), "catalog", demo.process)
    day = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    body = {"from_lat": 39.20, "from_lon": 117.20, "to_lat": 39.05, "to_lon": 117.20, "date": day,
            "time": "08:00", "feeds": ["tianjin_simulated"]}  # fmt: skip
    request = urllib.request.Request(
        f"{demo.base}/api/v1/transit/plan", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        itineraries = json.loads(answer.read())["plan"]["itineraries"]
    assert itineraries
    modes = {leg["mode"] for itinerary in itineraries for leg in itinerary["legs"]}
    assert modes & {"SUBWAY", "BUS"}
    # priced by the demo's own (simulated) fare table
    ridden = [i for i in itineraries if {leg["mode"] for leg in i["legs"]} & {"SUBWAY", "BUS"}]
    assert {i["fare"]["system"] for i in ridden} == {"tianjin_simulated"}
    assert all(i["fare"]["fare"]["regular"]["cents"] >= 200 for i in ridden)
    assert {i["fare"]["fare"]["regular"]["currency"]["currencyCode"] for i in ridden} == {"CNY"}


def test_forecasts_of_a_model_fitted_on_the_simulated_speeds_are_served(demo: Demo) -> None:
    token = wait_for(lambda: demo.login("demo-admin"), "login", demo.process)

    forecasts = wait_for(lambda: demo.get("/api/v1/roads/forecasts", token), "forecasts", demo.process)
    models = demo.get("/api/v1/roads/forecast-models", token)

    assert {f["model_name"] for f in forecasts} == {"linear_ar"}
    assert {f["horizon_steps"] for f in forecasts} == set(range(1, 13))
    assert all("tjsim-" in f["segment_id"] for f in forecasts)
    assert [f["speed_kmh"] for f in forecasts if not 0 < f["speed_kmh"] < 150] == []
    [active] = [m for m in models if m["status"] == "active"]
    assert active["id"] == forecasts[0]["model_id"]


def test_ctrl_c_stops_the_server_the_gateway_and_the_fleet_cleanly(demo: Demo) -> None:
    wait_for(lambda: demo.get("/api/v1/datasets"), "catalog", demo.process)
    demo.process.send_signal(signal.SIGINT)
    stdout, stderr = demo.process.communicate(timeout=60)
    assert demo.process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert "Stopped" in stdout.decode()
