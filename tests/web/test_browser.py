"""The console in Debian's Chromium (Playwright, never a downloaded browser): log in, see the TPI chart,
switch language, open the catalog, replay a quarantined line, approve an access request, read the audit
log; watch the simulated fleet move on the map between two polls, play a track back, acknowledge and handle
an alarm, read the traffic page, plan a trip over the real Cairns GTFS feed by clicking the map; no
JavaScript console error on any page; a screenshot of each page under `test-artifacts/console/`, the map
pages at 1920x1080 and 1366x768."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pytest
import uvicorn

from dthub.domains.transit.gtfs import read_feed
from dthub.domains.vehicles import alarms as workflow
from dthub.hub import access_requests, quarantine
from dthub.hub.identity_tables import AccessRequestRow
from dthub.hub.tables import QuarantineRow
from dthub.web import STATIC, planner
from fixtures.console import BAD_NUMBER_LINE, FLEET_FIXES, FLEET_T0, PASSWORD, Console, land_fleet

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(__file__).parents[2] / "test-artifacts" / "console"
VENDOR = ("htmx.min.js", "echarts.min.js", "maplibre-gl.js", "maplibre-gl.css")


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url(console: Console) -> Iterator[str]:
    """uvicorn serving the console app on a free loopback port, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(console.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _need_browser() -> None:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing; run scripts/install-services.sh")
    if missing := [name for name in VENDOR if not (STATIC / "vendor" / name).exists()]:
        _missing(f"front-end packages {missing} are not built; run make vendor")


def test_steward_walks_the_console_without_a_javascript_error(console: Console, base_url: str) -> None:
    _need_browser()
    from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url')})")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        expect.set_options(timeout=10_000)

        page.goto(f"{base_url}/")
        expect(page.locator("h1")).to_have_text("登录")
        shot(page, "01-login")
        page.fill("input[name=username]", "wang.steward")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")

        expect(page.locator("h1")).to_have_text("综合监控")
        expect(page.locator("#tpi-chart canvas")).to_be_visible()
        expect(page.locator("#tpi-chart")).to_have_attribute("data-ready", "1")
        shot(page, "02-overview-1366x768")
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.reload()
        expect(page.locator("#tpi-chart canvas")).to_be_visible()
        shot(page, "03-overview-1920x1080")

        page.click("#lang-switch")
        expect(page.locator("h1")).to_have_text("Overview")
        shot(page, "04-overview-en")
        page.click("#lang-switch")
        expect(page.locator("h1")).to_have_text("综合监控")

        page.click("[data-nav=catalog]")
        expect(page.locator("#catalog")).to_contain_text("一般数据（2级）")
        shot(page, "05-catalog")
        page.click("a[href='/console/catalog/roads.detector_observations']")
        expect(page.locator("#lineage")).to_contain_text("corrupted-")
        shot(page, "06-dataset")

        page.click("[data-nav=quarantine]")
        record = next(r for r in _open(console) if r.location == BAD_NUMBER_LINE)
        page.click(f"[data-fix='{record.id}']")
        raw = page.locator(f"#fix-{record.id} textarea")
        expect(raw).to_have_value(record.raw)
        fields = record.raw.split(",")
        fields[7] = "20"
        raw.fill(",".join(fields))
        shot(page, "07-quarantine-fix")
        page.click(f"[data-replay='{record.id}']")
        expect(page.locator(f"[data-replayed='{record.id}']")).to_contain_text("入湖 1")
        shot(page, "08-quarantine-replayed")

        page.click("[data-nav=access]")
        pending = next(r for r in _requests(console) if r.status == "pending")
        page.fill(f"#request-{pending.id} input[name=note]", "用途合理，同意")
        page.click(f"[data-approve='{pending.id}']")
        expect(page.locator(f"[data-status='{pending.id}']")).to_have_text("已批准")
        page.click(f"[data-provision='{pending.id}']")
        expect(page.locator(f"[data-status='{pending.id}']")).to_have_text("已开通")
        shot(page, "09-access-requests")

        page.click("[data-nav=audit]")
        expect(page.locator("#audit-status")).to_contain_text("哈希链完整")
        shot(page, "10-audit")
        browser.close()

    assert errors == []


def _open(console: Console) -> list[QuarantineRow]:
    return quarantine.list_records(console.hub).records


def _requests(console: Console) -> list[AccessRequestRow]:
    return access_requests.requests(console.hub)


CAIRNS = "gtfs_kit/cairns_gtfs"
BIKESHARE = "boulder_bcycle_gbfs"
SIZES = ((1920, 1080), (1366, 768))


def _cairns_trip(console: Console) -> tuple[tuple[float, float], tuple[float, float], str]:
    """The second and the last but one stop of the first weekday trip of the real Cairns feed, and a
    departure 3 minutes before the trip leaves the first of them."""
    feed = read_feed(console.hub.settings.realdata / "gtfs" / f"{CAIRNS}.zip")
    trips = feed.get("trips.txt")
    weekday = trips.filter(pc.equal(trips["service_id"], "CNS2014-CNS_MUL-Weekday-00"))
    trip = weekday["trip_id"][0].as_py()
    times = feed.get("stop_times.txt")
    times = times.filter(pc.equal(times["trip_id"], trip)).to_pylist()
    times.sort(key=lambda row: int(row["stop_sequence"]))
    stops = {row["stop_id"]: row for row in feed.get("stops.txt").to_pylist()}
    first, last = stops[times[1]["stop_id"]], stops[times[-2]["stop_id"]]
    hours, minutes, _ = (int(part) for part in times[1]["departure_time"].split(":"))
    leave = hours * 60 + minutes - 3
    return (
        (float(first["stop_lon"]), float(first["stop_lat"])),
        (float(last["stop_lon"]), float(last["stop_lat"])),
        f"{leave // 60:02d}:{leave % 60:02d}",
    )


def test_operator_watches_the_fleet_handles_an_alarm_and_plans_a_trip(
    console: Console, base_url: str
) -> None:
    _need_browser()
    from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    def shots(page: Page, name: str, ready: str) -> None:
        """The page at each size, its map (or chart) drawn again after the resize."""
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(300)
            expect(page.locator(ready)).to_be_visible()
            page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url')})")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        expect.set_options(timeout=15_000)

        page.goto(f"{base_url}/console/login")
        page.fill("input[name=username]", "wang.steward")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("综合监控")
        expect(page.locator("#map")).to_have_attribute("data-ready", "1")
        expect(page.locator("[data-figure=online]")).to_have_text("6")
        shots(page, "11-overview-map", "#map canvas")

        # vehicles move on the map: a second batch of reports lands while the page polls
        page.click("[data-nav=vehicles]")
        expect(page.locator("h1")).to_have_text("车辆监管")
        expect(page.locator("#map")).to_have_attribute("data-ready", "1")
        position = page.locator("#fleet tr[data-plate='津A00005'] .pos")
        expect(position).not_to_have_text("—")
        before = position.inner_text()
        # in a thread of its own: Playwright's sync API holds this thread's event loop
        batch = threading.Thread(
            target=land_fleet,
            args=(console.hub,),
            kwargs={"fixes": FLEET_FIXES * 2, "start": FLEET_T0.replace(hour=3)},
        )
        batch.start()
        batch.join(timeout=60)
        expect(position).not_to_have_text(before)
        after = position.inner_text()
        assert float(after.split(",")[0]) > float(before.split(",")[0])  # east-bound
        assert int(page.locator("#map").get_attribute("data-polls") or 0) >= 1
        shots(page, "12-vehicles-live", "#map canvas")

        # the track of the day plays back
        page.click("[data-track='津A00005']")
        expect(page.locator("#playback")).to_be_visible()
        expect(page.locator("#playback")).to_have_attribute("data-index", "0")
        page.locator("#playback-slider").press("ArrowRight")
        expect(page.locator("#playback")).to_have_attribute("data-index", "1")
        page.click("#playback-play")
        expect(page.locator("#playback")).not_to_have_attribute("data-index", "1")
        page.click("#playback-play")
        shots(page, "13-vehicles-track", "#playback")

        # acknowledge, then handle, an overspeed alarm
        alarm_id = page.locator("tbody.alarm[data-alarm^='overspeed:']:has([data-ack])").first.get_attribute(
            "data-alarm"
        )
        row = page.locator(f"tbody[data-alarm='{alarm_id}']")
        row.locator("[data-ack]").click()
        expect(row.locator("[data-alarm-status]")).to_have_text("已确认")
        row.locator("input[name=note]").fill("已电话提醒驾驶员减速")
        row.locator("[data-handle]").click()
        expect(row.locator("[data-alarm-status]")).to_have_text("已处置")
        expect(row).to_contain_text("已电话提醒驾驶员减速")
        stored = next(a for a in workflow.list_alarms(console.hub.store) if a.id == alarm_id)
        assert (stored.status, stored.handled_by) == ("handled", "person:wang.steward")
        row.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "14-vehicles-alarm-handled.png"))

        page.click("#lang-switch")
        expect(page.locator("h1")).to_have_text("Vehicle supervision")
        expect(page.locator("#map")).to_have_attribute("data-ready", "1")
        page.screenshot(path=str(SHOTS / "15-vehicles-en.png"))
        page.click("#lang-switch")

        page.click("[data-nav=traffic]")
        expect(page.locator("h1")).to_have_text("交通运行")
        expect(page.locator("#tpi-chart")).to_have_attribute("data-ready", "1")
        expect(page.locator("#segments")).to_contain_text("pems:")
        expect(page.locator("#forecast-empty")).to_be_visible()
        shots(page, "16-traffic", "#tpi-chart canvas")

        # plan a trip: click the origin and the destination on the map
        origin, destination, leave = _cairns_trip(console)
        page.goto(f"{base_url}/console/planner?feed={CAIRNS}")
        expect(page.locator("h1")).to_have_text("出行规划")
        expect(page.locator("#plan-form")).to_have_attribute("data-ready", "1")
        expect(page.locator("#map")).to_have_attribute("data-ready", "1")
        box = page.locator("#map").bounding_box()
        assert box is not None
        for lon, lat in (origin, destination):
            point = page.evaluate("([lon, lat]) => window.dthubMap.project([lon, lat])", [lon, lat])
            page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        expect(page.locator("#plan-form")).to_have_attribute("data-picks", "2")
        page.fill("input[name=time]", leave)
        page.click("#plan-submit")
        expect(page.locator("#plan-form")).to_have_attribute("data-planned", re.compile(r"[1-9]"))
        expect(page.locator("#itineraries .leg[data-mode=BUS]").first).to_be_visible()
        shots(page, "17-planner", "#itineraries .itinerary")

        # with the real Boulder bike-share system: a ride between two of its stations
        page.select_option("#plan-bikeshare", BIKESHARE)
        expect(page.locator("#plan-form")).to_have_attribute("data-ready", "1")
        expect(page.locator("#map")).to_have_attribute("data-ready", "1")
        stations = planner.bike_stations(console.hub, BIKESHARE)
        assert stations is not None
        ends = [stations["features"][i]["geometry"]["coordinates"] for i in (0, 10)]
        page.evaluate("([lon, lat]) => window.dthubMap.jumpTo({center: [lon, lat], zoom: 13})", ends[0])
        box = page.locator("#map").bounding_box()
        assert box is not None
        for lon, lat in ends:
            point = page.evaluate("([lon, lat]) => window.dthubMap.project([lon, lat])", [lon, lat])
            page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        expect(page.locator("#plan-form")).to_have_attribute("data-picks", "2")
        page.click("#plan-submit")
        expect(page.locator("#itineraries .leg[data-mode=BICYCLE]").first).to_be_visible()
        expect(page.locator("#itineraries .leg[data-mode=BICYCLE]").first).to_contain_text("骑行")
        page.screenshot(path=str(SHOTS / "18-planner-bike-share.png"))
        browser.close()

    assert errors == []
