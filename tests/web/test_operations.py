"""The operations pages through TestClient: vehicles (live positions, tracks, alarms and their workflow,
KPIs) as each clearance may see them, traffic (segment and corridor speeds, TPI history, forecasts or their
empty state), the trip planner's feeds and stops, and CSRF tokens on every POST."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from dthub.api import create_app
from dthub.domains.roads.forecast import job
from dthub.domains.vehicles import alarms as workflow
from dthub.domains.vehicles.simulator import ENTERPRISE
from dthub.hub import audit
from dthub.hub.core import Hub
from dthub.hub.ingest import ingest_bytes
from dthub.hub.settings import Settings
from dthub.web import csrf, i18n, planner, traffic
from fixtures.console import (
    COMPANY_PERSON,
    COMPANY_PLATES,
    CSRF_FIELD,
    FLEET_FIXES,
    FLEET_VEHICLES,
    PASSWORD,
    Console,
    logged_in,
)

CAIRNS = "gtfs_kit/cairns_gtfs"


def test_a_post_without_its_csrf_token_is_refused(console: Console) -> None:
    client = logged_in(console, "li.analyst")
    new = {"dataset_id": "roads.segments", "purpose": "路网", "days": "7"}
    token = client.headers.pop("X-CSRF-Token")
    refused = client.post("/console/access/requests", data=new)
    assert refused.status_code == 403
    assert "缺少 CSRF 令牌" in refused.text
    assert client.post("/console/access/requests", data={**new, "csrf": "0" * 64}).status_code == 403
    assert client.post("/console/logout").status_code == 403
    # the token is the session's: another session's token does not do
    other = logged_in(console, "zhao.auditor").headers["X-CSRF-Token"]
    assert other != token
    assert client.post("/console/access/requests", data={**new, "csrf": other}).status_code == 403
    assert client.post("/console/access/requests", data={**new, "csrf": token}).status_code == 303


def test_login_needs_the_token_of_its_own_form(console: Console) -> None:
    client = TestClient(console.app, follow_redirects=False)
    person = {"username": "li.analyst", "password": PASSWORD}
    assert client.post("/console/login", data=person).status_code == 403
    [token] = CSRF_FIELD.findall(client.get("/console/login").text)
    assert client.post("/console/login", data={**person, "csrf": csrf.new_login_token()}).status_code == 403
    assert client.post("/console/login", data={**person, "csrf": token}).status_code == 303


def test_every_form_of_every_page_carries_the_token(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    token = client.headers["X-CSRF-Token"]
    for path in ("/console/", "/console/access", "/console/vehicles", "/console/quarantine"):
        page = client.get(path).text
        assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page, path
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", page, flags=re.S):
            assert f'name="csrf" value="{token}"' in form, (path, form)


def test_steward_with_grants_sees_plates_positions_alarms_and_kpis(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    page = client.get("/console/vehicles").text
    assert page.count('<tr data-plate="津A') == FLEET_VEHICLES
    assert "车牌已脱敏" not in page
    assert ENTERPRISE in page
    assert 'data-rule="overspeed"' in page or "超速" in page
    kpis = re.search(r'<table class="grid" id="kpis">.*?</table>', page, flags=re.S)
    assert kpis is not None
    assert ENTERPRISE in kpis[0]
    assert "100.0%" in kpis[0]
    live = client.get("/console/vehicles/live.json").json()
    assert live["refused"] is None
    assert live["online"] == FLEET_VEHICLES
    plates = sorted(f["properties"]["plate"] for f in live["features"])
    assert plates == [f"津A{index:05d}" for index in range(FLEET_VEHICLES)]
    assert all(f["geometry"]["type"] == "Point" for f in live["features"])
    found = client.get("/console/vehicles/live.json", params={"q": "津A00003"}).json()
    assert [f["properties"]["plate"] for f in found["features"]] == ["津A00003"]
    by_enterprise = client.get("/console/vehicles/live.json", params={"q": "模拟运输"}).json()
    assert len(by_enterprise["features"]) == FLEET_VEHICLES


def test_track_of_a_day_is_read_through_the_governed_query(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    before = audit.verify(console.hub.store).checked
    track = client.get(
        "/console/vehicles/track.json", params={"plate": "津A00005", "day": "2025-06-02"}
    ).json()
    assert track["refused"] is None
    assert track["coarse"] is False
    assert len(track["points"]) >= FLEET_FIXES
    times = [point["at"] for point in track["points"]]
    assert times == sorted(times)
    assert times[0] == "2025-06-02T02:00:00+00:00"
    lons = [point["lon"] for point in track["points"][:FLEET_FIXES]]
    assert lons == sorted(lons)
    assert lons[0] < lons[-1]
    assert audit.verify(console.hub.store).checked > before  # the decision and the read were audited
    other_day = client.get("/console/vehicles/track.json", params={"plate": "津A00005", "day": "2025-06-03"})
    assert other_day.json()["points"] == []


def test_a_company_sees_only_its_own_vehicles_alarms_and_kpis(console: Console) -> None:
    client = logged_in(console, COMPANY_PERSON)
    live = client.get("/console/vehicles/live.json").json()
    assert sorted(f["properties"]["plate"] for f in live["features"]) == sorted(COMPANY_PLATES)
    page = client.get("/console/vehicles").text
    assert sorted(re.findall(r'<tr data-plate="(津A\d+)">', page)) == sorted(COMPANY_PLATES)
    alarms = re.search(r'<table class="grid" id="alarms">.*?</table>', page, flags=re.S)
    assert alarms is not None
    assert "overspeed:" in alarms[0]  # 津A00000 speeds
    assert "drift:" not in alarms[0]  # 津A00003 drifts: not the company's
    kpis = re.search(r'<table class="grid" id="kpis">.*?</table>', page, flags=re.S)
    assert kpis is not None
    assert re.search(r'<td class="num">2</td>', kpis[0])
    other = client.get("/console/vehicles/track.json", params={"plate": "津A00003", "day": "2025-06-02"})
    assert other.json()["points"] == []
    # general-3: its own track, coarsened in space (1 km cells) and in time (15 minutes)
    own = client.get("/console/vehicles/track.json", params={"plate": "津A00000", "day": "2025-06-02"}).json()
    precise = (
        logged_in(console, "wang.steward")
        .get("/console/vehicles/track.json", params={"plate": "津A00000", "day": "2025-06-02"})
        .json()
    )
    assert own["refused"] is None
    assert (own["coarse"], precise["coarse"]) == (True, False)
    assert own["points"]
    assert {p["at"][14:16] for p in own["points"]} <= {"00", "15", "30", "45"}
    assert {(p["lon"], p["lat"]) for p in own["points"]}.isdisjoint(
        {(p["lon"], p["lat"]) for p in precise["points"]}
    )


def test_low_clearance_reader_sees_no_plate_no_position_and_no_track(console: Console) -> None:
    client = logged_in(console, "li.analyst")
    page = client.get("/console/vehicles").text
    assert "您的密级不足以查看车辆定位数据" in page or "您没有车辆定位数据的有效授权" in page
    assert "津A0" not in page
    live = client.get("/console/vehicles/live.json").json()
    assert live["features"] == []
    assert live["refused"] in ("access.no_grant", "access.clearance_below_level")
    track = client.get(
        "/console/vehicles/track.json", params={"plate": "津A00005", "day": "2025-06-02"}
    ).json()
    assert track["points"] == []
    assert track["refused"] is not None
    overview = client.get("/console/").text
    assert 'data-figure="online"' not in overview
    assert 'data-figure="alarms-today"' not in overview
    assert client.get("/console/map/alarms.json").json()["features"] == []
    # an auditor (general-2) with no grant: the same
    assert "津A0" not in logged_in(console, "zhao.auditor").get("/console/vehicles").text


def test_steward_acknowledges_then_handles_an_alarm_with_a_note(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    alarm = next(a for a in workflow.list_alarms(console.hub.store, status="new") if a.rule == "drift")
    path = f"/console/vehicles/alarms/{quote(alarm.id, safe='')}"
    acknowledged = client.post(f"{path}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    assert "已确认" in acknowledged.text
    assert "person:wang.steward 确认" in acknowledged.text
    again = client.post(f"{path}/acknowledge")
    assert "is acknowledged; cannot acknowledge it" in again.text
    assert client.post(f"{path}/handle", data={"note": " "}).text.count("note: required") == 1
    handled = client.post(f"{path}/handle", data={"note": "已联系企业核实，定位设备故障"})
    assert "已处置" in handled.text
    assert "已联系企业核实，定位设备故障" in handled.text
    row = next(a for a in workflow.list_alarms(console.hub.store) if a.id == alarm.id)
    assert (row.status, row.acknowledged_by, row.handled_by) == ("handled", "person:wang.steward",
                                                                 "person:wang.steward")  # fmt: skip
    assert client.post("/console/vehicles/alarms/no-such-alarm/acknowledge").status_code == 404
    analyst = logged_in(console, "li.analyst")
    assert analyst.post(f"{path}/handle", data={"note": "x"}).status_code == 403


def test_traffic_page_shows_segment_and_corridor_speeds_tpi_and_the_forecast_state(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    page = client.get("/console/traffic").text
    assert 'id="tpi-chart"' in page
    segments = re.search(r'<table class="grid" id="segments">.*?</table>', page, flags=re.S)
    assert segments is not None
    assert segments[0].count("<code>pems:") >= 3
    assert re.search(r'<table class="grid" id="corridors">.*?\d+\.\d</td></tr>', page, flags=re.S)
    assert 'id="forecast-empty"' in page  # no forecast job ran on this hub yet: nothing to compare
    assert "尚无车速预测" in page
    assert 'id="versus-chart"' not in page
    analyst = logged_in(console, "li.analyst").get("/console/traffic").text
    assert 'id="traffic-refused"' in analyst
    assert 'id="segments"' not in analyst


def test_segments_map_draws_only_segments_with_a_geometry(console: Console) -> None:
    # PeMS stations as segments have no geometry: nothing to draw, no made-up lines
    client = logged_in(console, "wang.steward")
    assert client.get("/console/map/segments.json").json() == {"type": "FeatureCollection", "features": []}


def test_planner_offers_the_real_gtfs_feeds_and_their_stops(console: Console) -> None:
    client = logged_in(console, "li.analyst")
    page = client.get("/console/planner", params={"feed": CAIRNS}).text
    assert f"<option selected>{CAIRNS}</option>" in page
    day = re.search(r'name="date" type="date" value="(\d{4}-\d{2}-\d{2})"', page)
    assert day is not None
    assert "2014-05-26" <= day[1] <= "2014-12-26"
    stops = client.get("/console/planner/stops.json", params={"feed": CAIRNS}).json()
    assert len(stops["features"]) > 100
    lon, lat = stops["features"][0]["geometry"]["coordinates"]
    assert 145 < lon < 146.5
    assert -17.5 < lat < -16.5
    assert client.get("/console/planner/stops.json", params={"feed": "../etc"}).status_code == 404


def test_forecasts_of_the_forecast_job_are_drawn_against_the_measured_speeds(console: Console) -> None:
    # a persistence model trained on the two real days, issued two hours before the lake's latest data, so
    # that its targets have measured speeds to compare with
    request = job.TrainRequest(model="persistence", params={}, start=datetime(2022, 10, 11, 7, tzinfo=UTC),
                               end=datetime(2022, 10, 19, 7, tzinfo=UTC), step=timedelta(minutes=15),
                               horizons=4)  # fmt: skip
    model = job.train(console.hub, request, by="test")
    latest = traffic.latest_observation(console.hub)
    assert latest is not None
    [refreshed] = job.refresh_forecasts(console.hub, latest - timedelta(hours=2))
    assert refreshed.status == "issued"
    comparison = traffic.forecast_vs_actual(console.hub)
    assert comparison is not None
    assert (comparison.model_id, comparison.step_minutes, len(comparison.times)) == (model.id, 15, 4)
    assert comparison.issued_at == refreshed.issued_at
    assert all(speed is not None and 0 < speed < 200 for speed in comparison.actual)
    assert all(0 < speed < 200 for speed in comparison.forecast)
    page = logged_in(console, "wang.steward").get("/console/traffic").text
    assert 'id="versus-chart"' in page
    assert model.id in page
    data = re.search(r'<script type="application/json" id="versus-data">(.*?)</script>', page, flags=re.S)
    assert data is not None
    assert json.loads(data[1])["forecast"] == comparison.forecast


def test_planner_opens_on_the_demo_city_feed_when_there_is_one() -> None:
    real = ["beijing_subway/gtfs", "gtfs_kit/cairns_gtfs"]
    assert planner.default_feed(real) == "beijing_subway/gtfs"
    assert planner.default_feed([*real, "tianjin_simulated"]) == "tianjin_simulated"
    assert planner.default_feed([]) is None


def test_planner_offers_the_real_bike_share_systems_and_their_stations(console: Console) -> None:
    client = logged_in(console, "li.analyst")
    page = client.get("/console/planner", params={"feed": CAIRNS, "bikeshare": "boulder_bcycle_gbfs"}).text
    assert "<option selected>boulder_bcycle_gbfs</option>" in page
    assert 'data-bikes="/console/planner/bikes.json?system=boulder_bcycle_gbfs"' in page
    stations = client.get("/console/planner/bikes.json", params={"system": "boulder_bcycle_gbfs"}).json()
    assert len(stations["features"]) > 10
    lon, lat = stations["features"][0]["geometry"]["coordinates"]
    assert -105.4 < lon < -105.1
    assert 39.9 < lat < 40.1  # Boulder, Colorado
    assert client.get("/console/planner/bikes.json", params={"system": "nowhere"}).status_code == 404


def test_segments_with_a_geometry_are_drawn_and_coloured_by_their_latest_level(tmp_path: Path) -> None:
    # two segments (test geometry, not a real network) landed through the GeoJSON segments adapter
    lines = [[[117.20, 39.10], [117.21, 39.10], [117.22, 39.11]], [[117.22, 39.11], [117.20, 39.10]]]
    features = [
        {"type": "Feature", "id": f"t-{index}", "geometry": {"type": "LineString", "coordinates": line},
         "properties": {"name": "卫津路（测试）", "road_class": "arterial", "oneway": True}}
        for index, line in enumerate(lines)
    ]  # fmt: skip
    app = create_app(Settings(home=tmp_path / "hub"))
    hub: Hub = app.state.hub
    try:
        data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        landed = ingest_bytes(
            hub, hub.registry.adapter("geojson.segments"), data, source="test-segments.geojson"
        )
        assert landed.landed == 2
        plain = traffic.segment_map(hub, None)
        assert [f["geometry"]["coordinates"] for f in plain["features"]] == lines
        assert {f["properties"]["colour"] for f in plain["features"]} == {traffic.NO_DATA_COLOUR}
        severe = {"segment_id": "geojson:t-0", "name": "卫津路（测试）", "road_class": "arterial",
                  "corridor_id": None, "length_m": 1000.0, "speed_kmh": 8.0, "level": "severe",
                  "level_zh": "严重拥堵"}  # fmt: skip
        levels = traffic.Levels(interval_start=datetime(2026, 3, 1, tzinfo=UTC), segments=[severe])
        coloured = {
            f["properties"]["segment_id"]: f["properties"]
            for f in traffic.segment_map(hub, levels)["features"]
        }
        assert coloured["geojson:t-0"]["colour"] == traffic.LEVEL_COLOURS["severe"]
        assert coloured["geojson:t-0"]["speed_kmh"] == 8.0
        assert coloured["geojson:t-1"]["colour"] == traffic.NO_DATA_COLOUR
        assert levels.corridors() == [
            {"corridor_id": "卫津路（测试）", "segments": 1, "length_km": 1.0, "speed_kmh": 8.0}
        ]
    finally:
        hub.close()


def test_every_operations_page_speaks_both_languages_with_no_key_left_untranslated(console: Console) -> None:
    # a key with no text in the catalogue shows as the key itself (`translate`): look for any such key
    prefixes = sorted({key.split(".")[0] for key in i18n.EN})
    key = re.compile(rf"(?<![\w.])(?:{'|'.join(prefixes)})\.[a-z_][\w.-]*")
    client = logged_in(console, "wang.steward")
    for lang in ("zh-CN", "en"):
        client.cookies.set("dthub_lang", lang)
        for path in ("/console/", "/console/vehicles", "/console/traffic", f"/console/planner?feed={CAIRNS}"):
            page = client.get(path).text
            assert f'<html lang="{lang}">' in page
            shown = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
            assert key.findall(re.sub(r"<[^>]+>", " ", shown)) == [], (lang, path)
