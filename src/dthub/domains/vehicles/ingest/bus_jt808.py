"""Gateway messages on the bus (JSON lines) -> `vehicles.location_reports`; alarms -> `vehicles.alarms`.

The gateway publishes one line per frame it received: `{"kind": "frame", "frame": <hex, flags
included>, "received_at": ISO 8601, "phone", "plate", "plate_colour", "vehicle_class", "enterprise"}` (a
subpackaged message: `"frames"`, its package frames in order, instead of `"frame"`), or
for bytes it refused `{"kind": "refused", "reason", "detail", "raw": <hex>, "received_at"}`. The writer
joins a batch of them, one per line. A 0x0200 frame gives one row, a 0x0704 frame one row per report; a
refused message, a frame that does not decode (`jt808.*`), a line that is no such JSON
(`vehicles.bad_message`) is quarantined with its reason and the line as raw text.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

import pyarrow as pa

from dthub.domains.vehicles.datasets import ALARMS, LOCATION_REPORTS
from dthub.domains.vehicles.jt808 import (
    BatchLocationReport,
    Fragment,
    FrameError,
    LocationReport,
    Packet,
    decode,
    decode_body,
)
from dthub.hub.adapter import LOCATION, LineText, Parsed, Rejected


def _lines(data: bytes) -> list[tuple[int, str]]:
    return [
        (number, line)
        for number, raw in enumerate(data.split(b"\n"), start=1)
        if (line := raw.rstrip(b"\r").decode("utf-8", "replace")).strip()
    ]


def joined(frames: list[bytes]) -> Packet:
    """The message of a subpackaged uplink from all its package frames, in sequence order (分包合并)."""
    packets = [decode(frame) for frame in frames]
    first = packets[0].header
    total = first.package_total
    sequence = [p.header.package_seq for p in packets]
    if total is None or sequence != list(range(1, total + 1)):
        raise ValueError(f"packages {sequence} are not 1..{total}")
    body = b"".join(p.message.body for p in packets if isinstance(p.message, Fragment))
    header = replace(first, package_total=None, package_seq=None)
    return Packet(header, decode_body(header, body), packets[0].lenient)


def _table(rows: list[dict[str, Any]], schema: pa.Schema, locations: list[int]) -> pa.Table:
    columns = {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}
    return pa.table({**columns, LOCATION: pa.array(locations, pa.int64())})


class _JsonLines(LineText):
    """Bus messages as JSON lines (one record per line)."""


class GatewayFrames(_JsonLines):
    """Frames the gateway published on the bus -> `vehicles.location_reports`.

    `columns` keeps the last parse's rows as Python lists by column (what the table was made of), so a
    caller that needs the values too (the writer's rules) does not decode the frames again."""

    name: ClassVar[str] = "jt808.gateway_frames"
    dataset: ClassVar[str] = LOCATION_REPORTS.id
    columns: dict[str, list[Any]] | None = None

    def parse(self, data: bytes) -> Parsed:
        names = LOCATION_REPORTS.schema.names
        columns: dict[str, list[Any]] = {name: [] for name in names}
        (phone, plate, colour, vclass, enterprise, reported, received, lon, lat, altitude, speed,
         direction, alarm, status, serial) = (columns[name] for name in names)  # fmt: skip
        locations: list[int] = []
        rejected: list[Rejected] = []
        for number, line in _lines(data):
            try:
                message = json.loads(line)
                kind = message["kind"]
                if kind == "refused":
                    rejected.append(
                        Rejected(
                            reason=message["reason"], detail=message["detail"], location=number, raw=line
                        )
                    )
                    continue
                if "frames" in message:
                    packet = joined([bytes.fromhex(frame) for frame in message["frames"]])
                else:
                    packet = decode(bytes.fromhex(message["frame"]))
                at = datetime.fromisoformat(message["received_at"])
            except FrameError as error:
                rejected.append(Rejected(reason=error.reason, detail=error.detail, location=number, raw=line))
                continue
            except (ValueError, KeyError, TypeError) as error:
                rejected.append(
                    Rejected(reason="vehicles.bad_message", detail=repr(error), location=number, raw=line)
                )
                continue
            body = packet.message
            reports = (
                (body,)
                if isinstance(body, LocationReport)
                else body.reports
                if isinstance(body, BatchLocationReport)
                else ()
            )
            if not reports:
                rejected.append(
                    Rejected(
                        reason="vehicles.not_a_report",
                        detail=f"message {packet.header.message_id:#06x} carries no location",
                        location=number,
                        raw=line,
                    )
                )
                continue
            header = packet.header
            for report in reports:
                phone.append(header.phone)
                plate.append(message.get("plate"))
                colour.append(message.get("plate_colour"))
                vclass.append(message.get("vehicle_class"))
                enterprise.append(message.get("enterprise"))
                reported.append(report.time)
                received.append(at)
                lon.append(report.longitude)
                lat.append(report.latitude)
                altitude.append(report.altitude_m)
                speed.append(report.speed_kmh)
                direction.append(report.direction)
                alarm.append(report.alarm)
                status.append(report.status)
                serial.append(header.serial)
                locations.append(number)
        self.columns = columns
        table = pa.table(
            {
                **{f.name: pa.array(columns[f.name], f.type) for f in LOCATION_REPORTS.schema},
                LOCATION: pa.array(locations, pa.int64()),
            }
        )
        return Parsed(rows=table, rejected=tuple(rejected))


class AlarmRecords(_JsonLines):
    """Alarms the rules raised, one JSON object per line -> `vehicles.alarms`."""

    name: ClassVar[str] = "vehicles.alarm_records"
    dataset: ClassVar[str] = ALARMS.id

    def parse(self, data: bytes) -> Parsed:
        rows: list[dict[str, Any]] = []
        locations: list[int] = []
        rejected: list[Rejected] = []
        for number, line in _lines(data):
            try:
                record = json.loads(line)
                for name in ("started_at", "ended_at"):
                    record[name] = datetime.fromisoformat(record[name])
                record["evidence"] = json.dumps(record["evidence"], ensure_ascii=False)
            except (ValueError, KeyError, TypeError) as error:
                rejected.append(
                    Rejected(reason="vehicles.bad_alarm", detail=repr(error), location=number, raw=line)
                )
                continue
            rows.append(record)
            locations.append(number)
        return Parsed(rows=_table(rows, ALARMS.schema, locations), rejected=tuple(rejected))
