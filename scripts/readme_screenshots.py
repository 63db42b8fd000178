"""Screenshots of the console for the README (界面截图): run `dthub demo` in a temporary home on free
ports, log in as the demo admin through the login form in Debian's Chromium (Playwright, never a downloaded
browser), and save each page under `docs/img/`. The demo city is simulated (模拟), and labelled so on the
pages.

    .venv/bin/python scripts/readme_screenshots.py              # about 12 minutes: see --actuals
    .venv/bin/python scripts/readme_screenshots.py --actuals 0  # about 1 minute, no measured speeds yet

The real data under `DTHUB_REALDATA` (default `../shared/data`) gives the PeMS sample and the GTFS feeds the
planner lists; the planner shots use the demo's own `tianjin_simulated` feed. Ctrl-C (SIGINT) stops the demo.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
VIEWPORT = {"width": 1920, "height": 1080}
ADMIN = "demo-admin"
FEED = "tianjin_simulated"
TRIP = ((117.1299, 39.0710), (117.1706, 39.1338))
"""Origin and destination (lon, lat) of the planned trip: beside 华苑站 in the south-west to the corner of
卫国道 and 卫津路 in the centre, a metro ride and a bus ride on the demo city's (seed 7) timetables."""
SETTLE_MS = 1_500
"""After the map says it is ready: MapLibre draws its last frame and the first poll of vehicles lands."""

T = TypeVar("T")


@dataclass(frozen=True)
class Demo:
    base: str
    home: Path
    process: subprocess.Popen[bytes]

    def get(self, path: str, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.base + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def password(self, username: str) -> str:
        accounts: dict[str, str] = json.loads((self.home / "demo-accounts.json").read_text())
        return accounts[username]

    def token(self, username: str) -> str:
        body = json.dumps({"username": username, "password": self.password(username)}).encode()
        request = urllib.request.Request(
            f"{self.base}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            token: str = json.loads(answer.read())["token"]
            return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], T | None], what: str, process: subprocess.Popen[bytes], wait_s: float) -> T:
    """`check()` until it answers something true; `SystemExit` when the demo ends or `wait_s` pass."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"dthub demo ended early with {process.returncode}")
        try:
            found = check()
        except (urllib.error.URLError, ConnectionError, TimeoutError, FileNotFoundError, KeyError):
            found = None
        if found:
            return found
        time.sleep(1.0)
    raise SystemExit(f"no {what} within {wait_s:.0f} s")


@contextmanager
def running_demo(home: Path, realdata: Path, vehicles: int, report_every_s: float) -> Iterator[Demo]:
    """`dthub demo` on a free port with its gateway on another, its output in `<home>/demo.log`; stopped
    with SIGINT (Ctrl-C) on the way out. The scheduled forecast refresh is off, so the traffic page keeps
    comparing the forecast issued at build with the intervals measured since (each refresh would start a
    new issue at the latest interval, leaving one measured point beside it)."""
    port = free_port()
    env = os.environ | {
        "DTHUB_HOME": str(home),
        "DTHUB_PORT": str(port),
        "DTHUB_REALDATA": str(realdata),
        "DTHUB_FORECAST_REFRESH_S": "0",
    }
    dthub = str(Path(sys.executable).with_name("dthub"))
    command = [dthub, "demo", "--vehicles", str(vehicles), "--gateway-port", "0",
               "--report-every-s", f"{report_every_s:g}"]  # fmt: skip
    with (home / "demo.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield Demo(base=f"http://127.0.0.1:{port}", home=home, process=process)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(90)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_until_online(demo: Demo, vehicles: int, wait_s: float) -> int:
    """The number of vehicles online once nearly all are (95 %)."""
    token = wait_for(lambda: demo.token(ADMIN), "login", demo.process, wait_s)

    def online() -> int | None:
        count = sum(1 for v in demo.get("/api/v1/vehicles/live", token) if v["online"])
        return count if count >= 0.95 * vehicles else None

    return wait_for(online, "vehicles online", demo.process, wait_s)


def shoot(demo: Demo, out: Path, actuals: int, actuals_wait_s: float) -> list[Path]:
    """Log in through the console's form, wait until the forecast issued at build has `actuals` measured
    intervals beside it (`wait_for_actuals`; the fleet raises its first alarms meanwhile), then save each
    page; the paths written."""
    from playwright.sync_api import expect, sync_playwright

    written: list[Path] = []
    errors: list[str] = []

    def save(page: Page, name: str) -> None:
        path = out / f"console-{name}.png"
        page.screenshot(path=str(path))
        written.append(path)
        print(f"{path}: {path.stat().st_size // 1024} KiB", flush=True)

    def map_ready(page: Page) -> None:
        expect(page.locator("#map")).to_have_attribute("data-ready", "1")
        page.wait_for_timeout(SETTLE_MS)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        expect.set_options(timeout=60_000)

        page.goto(f"{demo.base}/console/login")
        page.fill("input[name=username]", ADMIN)
        page.fill("input[name=password]", demo.password(ADMIN))
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_have_text("综合监控")
        wait_for_actuals(page, f"{demo.base}/console/traffic", actuals, actuals_wait_s)
        page.click("[data-nav=overview]")
        expect(page.locator("h1")).to_have_text("综合监控")
        expect(page.locator("#tpi-chart")).to_have_attribute("data-ready", "1")
        map_ready(page)
        save(page, "overview")

        page.click("[data-nav=vehicles]")
        expect(page.locator("h1")).to_have_text("车辆监管")
        map_ready(page)
        save(page, "vehicles")
        track = page.locator("#fleet [data-track]").first
        plate = track.get_attribute("data-track")
        track.click()
        expect(page.locator("#playback")).to_be_visible()
        expect(page.locator("#playback-plate")).to_have_text(plate or "")
        slider = page.locator("#playback-slider")
        for _ in range(int(slider.get_attribute("max") or 0) // 2):
            slider.press("ArrowRight")
        page.wait_for_timeout(SETTLE_MS)
        save(page, "vehicles-track")

        page.goto(f"{demo.base}/console/planner?feed={FEED}")
        expect(page.locator("h1")).to_have_text("出行规划")
        expect(page.locator("#plan-form")).to_have_attribute("data-ready", "1")
        map_ready(page)
        box = page.locator("#map").bounding_box()
        assert box is not None
        for lon, lat in TRIP:
            point = page.evaluate("([lon, lat]) => window.dthubMap.project([lon, lat])", [lon, lat])
            page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
        expect(page.locator("#plan-form")).to_have_attribute("data-picks", "2")
        page.click("#plan-submit")
        expect(page.locator("#itineraries .itinerary").first).to_be_visible()
        page.wait_for_timeout(SETTLE_MS)
        save(page, "planner")

        page.click("[data-nav=catalog]")
        expect(page.locator("#catalog")).to_contain_text("模拟")
        save(page, "catalog")
        page.click("[data-nav=traffic]")
        expect(page.locator("h1")).to_have_text("交通运行")
        expect(page.locator("#tpi-chart")).to_have_attribute("data-ready", "1")
        expect(page.locator("#versus-chart")).to_have_attribute("data-ready", "1")
        map_ready(page)
        save(page, "traffic")
        page.evaluate("document.getElementById('versus-chart').scrollIntoView({block: 'center'})")
        page.wait_for_timeout(500)
        save(page, "traffic-forecast")
        browser.close()
    if errors:
        raise SystemExit(f"JavaScript errors on the pages: {errors}")
    return written


def wait_for_actuals(page: Page, url: str, actuals: int, wait_s: float) -> None:
    """Open the traffic page until its forecast-against-actual chart holds `actuals` measured points: the
    demo lands each 5-minute interval of detector speeds when it ends (real time), so this takes about
    5 minutes a point. Gives up after `wait_s` and leaves the page as it is."""
    deadline = time.monotonic() + wait_s
    while True:
        page.goto(url)
        data = page.locator("#versus-data")
        found = 0
        if data.count():
            series = json.loads(data.text_content() or "{}")
            found = sum(1 for speed in series.get("actual", []) if speed is not None)
        if found >= actuals or time.monotonic() > deadline:
            print(f"forecast against actual: {found} measured intervals", flush=True)
            return
        page.wait_for_timeout(30_000)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, help="DTHUB_HOME to use and keep (default: a temporary one)")
    parser.add_argument("--vehicles", type=int, default=300)
    parser.add_argument("--report-every-s", type=float, default=5.0)
    parser.add_argument("--wait-s", type=float, default=300.0, help="longest wait for the demo to serve")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--actuals",
        type=int,
        default=3,
        help="measured intervals to wait for beside the forecast (about 5 min each; 0: none)",
    )
    parser.add_argument("--actuals-wait-s", type=float, default=1_200.0)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing; run scripts/install-services.sh")
    realdata = Path(os.environ.get("DTHUB_REALDATA", ROOT.parent / "shared" / "data")).resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dthub-shots-") as scratch:
        home = args.home or Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with running_demo(home, realdata, args.vehicles, args.report_every_s) as demo:
            online = wait_until_online(demo, args.vehicles, args.wait_s)
            print(f"{online} vehicles online after {time.monotonic() - started:.0f} s", flush=True)
            shoot(demo, args.out, args.actuals, args.actuals_wait_s)
        print(f"demo stopped ({demo.process.returncode}); log in {home / 'demo.log'}", flush=True)


if __name__ == "__main__":
    main()
