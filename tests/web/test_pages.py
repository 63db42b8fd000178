"""Each console route through TestClient: who may see it, and what it shows."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from dthub.hub import access_requests, identity, quarantine
from dthub.hub.classification import Level
from dthub.hub.identity import Role
from dthub.hub.identity_tables import AccessRequestRow
from dthub.hub.tables import QuarantineRow
from dthub.web import i18n
from fixtures.console import BAD_NUMBER_LINE, CSRF_FIELD, FLEET_VEHICLES, PASSWORD, Console, logged_in

PAGES = ("/console/", "/console/catalog", "/console/catalog/roads.segments", "/console/quarantine",
         "/console/audit", "/console/access", "/console/vehicles", "/console/traffic",
         "/console/planner")  # fmt: skip


def test_root_redirects_to_the_console(console: Console) -> None:
    answer = TestClient(console.app, follow_redirects=False).get("/")
    assert (answer.status_code, answer.headers["location"]) == (307, "/console/")


@pytest.mark.parametrize("path", PAGES)
def test_page_without_a_session_redirects_to_login(console: Console, path: str) -> None:
    answer = TestClient(console.app, follow_redirects=False).get(path)
    assert (answer.status_code, answer.headers["location"]) == (303, f"/console/login?next={path}")


def test_wrong_password_is_refused_and_said_so(console: Console) -> None:
    client = TestClient(console.app, follow_redirects=False)
    [token] = CSRF_FIELD.findall(client.get("/console/login").text)
    answer = client.post(
        "/console/login", data={"username": "wang.steward", "password": "nope-nope", "csrf": token}
    )
    assert answer.status_code == 401
    assert "用户名或口令错误" in answer.text
    assert "dthub_session" not in client.cookies


def test_steward_reaches_every_page(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_overview_counts_and_tpi_of_the_latest_day(console: Console) -> None:
    page = logged_in(console, "wang.steward").get("/console/").text
    figure = dict(re.findall(r'data-figure="([\w-]+)">([\d.]+)<', page))
    # stale: the 2022 PeMS observations, the 2025 fleet's reports and alarms, Boulder's 2022 bike status;
    # fresh: two PeMS datasets, the eight transit datasets of the Cairns feed (all but transfers: it has no
    # transfers.txt) and Boulder's bike stations;
    # quarantined: two PeMS lines and the frame with a bad check byte that simulated vehicle 1 sends
    assert (figure["stale"], figure["fresh"], figure["quarantine"]) == ("4", "11", "3")
    assert int(figure["batches"]) >= 7
    assert (figure["online"], figure["alarms-today"]) == (str(FLEET_VEHICLES), figure["alarms-open"])
    assert int(figure["alarms-today"]) >= 2
    assert 0 <= float(figure["tpi-now"]) <= 10
    assert 'id="tpi-chart"' in page
    assert "真实 Caltrans PeMS" in page


def test_analyst_below_the_road_level_sees_no_tpi_quarantine_or_audit(console: Console) -> None:
    client = logged_in(console, "li.analyst")
    page = client.get("/console/").text
    assert "您的密级不足以查看路网检测器数据" in page
    assert 'id="tpi-chart"' not in page
    assert 'data-nav="quarantine"' not in page
    assert 'data-nav="audit"' not in page
    assert client.get("/console/quarantine").status_code == 403
    assert client.get("/console/audit").status_code == 403
    assert client.post("/console/access/requests/1/approve", data={"note": "x"}).status_code == 403


def test_auditor_reads_the_audit_log_with_its_chain_intact(console: Console) -> None:
    page = logged_in(console, "zhao.auditor").get("/console/audit").text
    assert re.search(r"哈希链完整：已校验 \d+ 条", page)
    assert "person:wang.steward" in page


def test_catalog_shows_levels_freshness_quality_and_access(console: Console) -> None:
    page = logged_in(console, "li.analyst").get("/console/catalog").text
    assert "一般数据（2级）" in page
    assert "过期" in page
    assert "密级不足" in page
    english = logged_in(console, "li.analyst")
    english.cookies.set("dthub_lang", "en")
    assert "General, level 2" in english.get("/console/catalog").text


def test_dataset_page_shows_schema_rules_and_lineage(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    page = client.get("/console/catalog/roads.detector_observations").text
    assert "avg_speed_kmh" in page
    assert "avg_occupancy_in_range" in page
    assert page.count("d04_text_station_5min_") >= 3
    assert client.get("/console/catalog/roads.nothing").status_code == 404


def test_language_switch_sets_the_cookie_and_stays_on_the_console(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    answer = client.get("/console/lang/en", params={"next": "/console/catalog"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/catalog")
    assert client.cookies["dthub_lang"] == "en"
    assert "Data catalog" in client.get("/console/catalog").text
    assert client.get("/console/lang/en", params={"next": "https://evil.example/"}).headers["location"] == (
        "/console/"
    )


def test_steward_fixes_and_replays_a_quarantined_line(console: Console) -> None:
    client = logged_in(console, "wang.steward")
    [record] = [r for r in _open(console) if r.location == BAD_NUMBER_LINE]
    form = client.get(f"/console/quarantine/{record.id}/edit").text
    assert "2O" in form
    fields = record.raw.split(",")
    fields[7] = "20"
    answer = client.post(f"/console/quarantine/{record.id}/replay", data={"raw": ",".join(fields)})
    assert "已重放：读取 1，入湖 1，隔离 0，重复 0" in answer.text
    again = client.post(f"/console/quarantine/{record.id}/replay", data={"raw": ",".join(fields)})
    assert "该记录已处理" in again.text


def test_steward_approves_then_provisions_and_the_analyst_sees_it(console: Console) -> None:
    analyst = logged_in(console, "li.analyst")
    new = {"dataset_id": "roads.segments", "purpose": "路网", "days": "7"}
    assert analyst.post("/console/access/requests", data=new).status_code == 303
    [mine] = [r for r in _requests(console) if r.dataset_id == "roads.segments"]
    steward = logged_in(console, "wang.steward")
    approved = steward.post(f"/console/access/requests/{mine.id}/approve", data={"note": "同意"})
    assert f'data-status="{mine.id}">已批准' in approved.text
    provisioned = steward.post(f"/console/access/requests/{mine.id}/provision")
    assert f'data-status="{mine.id}">已开通' in provisioned.text
    assert "已开通" in analyst.get("/console/access").text


def test_a_steward_sees_and_decides_only_the_requests_of_the_datasets_they_steward(console: Console) -> None:
    identity.add_person(console.hub.store, "sun.roads", name="sun.roads", password=PASSWORD,
                        role=Role.DATA_STEWARD, clearance=Level.IMPORTANT, scopes=("roads.*",),
                        by="cli")  # fmt: skip
    analyst = logged_in(console, "li.analyst")
    for dataset_id in ("roads.detector_stations", "vehicles.alarms"):
        new = {"dataset_id": dataset_id, "purpose": "分工", "days": "7"}
        assert analyst.post("/console/access/requests", data=new).status_code == 303
    roads, vehicles = (
        max(r.id for r in _requests(console) if r.dataset_id == d)
        for d in ("roads.detector_stations", "vehicles.alarms")
    )
    steward = logged_in(console, "sun.roads")

    page = steward.get("/console/access").text
    refused = steward.post(f"/console/access/requests/{vehicles}/approve", data={"note": "越权"})

    assert f'data-approve="{roads}"' in page
    assert f'id="request-{vehicles}"' not in page
    assert "access.not_its_steward" in refused.text
    assert f'data-approve="{vehicles}"' not in refused.text


def test_every_message_catalogue_has_the_same_keys() -> None:
    assert set(i18n.ZH_CN) == set(i18n.EN)


def test_static_stylesheet_is_served(console: Console) -> None:
    logged_in(console, "root")
    assert TestClient(console.app).get("/console/static/console.css").status_code == 200


def _open(console: Console) -> list[QuarantineRow]:
    return quarantine.list_records(console.hub).records


def _requests(console: Console) -> list[AccessRequestRow]:
    return access_requests.requests(console.hub)
