"""The console in Debian's Chromium (Playwright, never a downloaded browser): log in, see the TPI chart,
switch language, open the catalog, replay a quarantined line, approve an access request, read the audit
log; no JavaScript console error on any page; a screenshot of each page under `test-artifacts/console/`."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from dthub.hub import access_requests, quarantine
from dthub.hub.identity_tables import AccessRequestRow
from dthub.hub.tables import QuarantineRow
from dthub.web import STATIC
from fixtures.console import BAD_NUMBER_LINE, PASSWORD, Console

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


def test_steward_walks_the_console_without_a_javascript_error(console: Console, base_url: str) -> None:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing; run scripts/install-services.sh")
    if missing := [name for name in VENDOR if not (STATIC / "vendor" / name).exists()]:
        _missing(f"front-end packages {missing} are not built; run make vendor")
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
