"""How fast `dthub demo` serves on a fresh home: seconds from starting it to the first 200 from
/api/v1/datasets, and to the first simulated vehicle online in /api/v1/vehicles/live (as demo-admin).

Runs `dthub demo` as `make demo` does (the real PeMS sample under DTHUB_REALDATA included) in a new
temporary home, on free ports, then stops it with SIGINT and checks it stopped cleanly. Prints one JSON line.

    .venv/bin/python benchmarks/demo_startup.py [--vehicles 3000]
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
from pathlib import Path
from typing import Any

DTHUB = Path(sys.executable).with_name("dthub")
LIMIT_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, None


def login(base: str, home: Path) -> str:
    password = json.loads((home / "demo-accounts.json").read_text())["demo-admin"]
    body = json.dumps({"username": "demo-admin", "password": password}).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        token: str = json.loads(answer.read())["token"]
        return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vehicles", type=int, default=3_000)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="dthub-demo-") as folder:
        home = Path(folder)
        env = os.environ | {"DTHUB_HOME": str(home), "DTHUB_PORT": str(port)}
        command = [str(DTHUB), "demo", "--vehicles", str(args.vehicles), "--gateway-port", "0"]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        serving_s = online_s = None
        token = None
        online = 0
        try:
            while time.perf_counter() - started < LIMIT_S and process.poll() is None:
                if serving_s is None and get(f"{base}/api/v1/datasets")[0] == 200:
                    serving_s = time.perf_counter() - started
                    token = login(base, home)
                if token is not None:
                    status, live = get(f"{base}/api/v1/vehicles/live", token)
                    online = sum(1 for v in live if v["online"]) if status == 200 and live else 0
                    if online:
                        online_s = time.perf_counter() - started
                        break
                time.sleep(0.25)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                code = -9
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    result = {
        "benchmark": "demo_startup",
        "vehicles": args.vehicles,
        "serving_s": round(serving_s, 1) if serving_s is not None else None,
        "first_vehicle_online_s": round(online_s, 1) if online_s is not None else None,
        "exit_code_after_sigint": code,
        "traceback": "Traceback" in stderr,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
