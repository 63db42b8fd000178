"""The bus lines the gateway formats itself are the JSON `json.dumps` gives, vehicle fields escaped."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

from dthub.domains.vehicles.gateway import Gateway
from dthub.domains.vehicles.registry import Vehicle
from dthub.hub.bus import connect_bus

ODD = Vehicle(phone="13900000001", plate='津A"0\\1', plate_colour=2, vehicle_class="coach\n",
              enterprise="模拟运输公司 (simulated)\u2028", terminal_id="T1", auth_code="a")  # fmt: skip


async def _lines() -> list[str]:
    gateway = Gateway(connect_bus("memory://"), {ODD.phone: ODD})
    gateway._publish({"frame": "7e0002000000013900000001000a0a7e"}, ODD.phone)
    gateway._publish({"frame": "7e00"}, "13900000009")  # not in the registry
    gateway._publish({"frames": ["7e01", "7e02"]}, ODD.phone)
    lines = list(gateway._publisher.lines)
    await gateway.close()
    return lines


def test_lines_are_what_json_dumps_gives() -> None:
    known, unknown, packages = asyncio.run(_lines())

    for line, frames, vehicle in (
        (known, {"frame": "7e0002000000013900000001000a0a7e"}, ODD),
        (unknown, {"frame": "7e00"}, None),
        (packages, {"frames": ["7e01", "7e02"]}, ODD),
    ):
        record = json.loads(line)
        datetime.fromisoformat(record["received_at"])
        want = {"kind": "frame", **frames, "received_at": record["received_at"],
                "plate": vehicle.plate if vehicle else None,
                "plate_colour": vehicle.plate_colour if vehicle else None,
                "vehicle_class": vehicle.vehicle_class if vehicle else None,
                "enterprise": vehicle.enterprise if vehicle else None}  # fmt: skip
        assert line == json.dumps(want, ensure_ascii=False)
