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
from dthub.domains.vehicles.jt808.columnar import PLAIN_BYTES, plain_reports
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


DIRECTION_MAX = 32_767
"""The largest heading the dataset's int16 column holds (degrees are 0-359; the frame's WORD goes on)."""


def _refuse_wide_directions(
    columns: dict[str, list[Any]], locations: list[int], rejected: list[Rejected], lines: dict[int, str]
) -> tuple[dict[str, list[Any]], list[int]]:
    """Refuse (`vehicles.bad_direction`) the reports whose heading does not fit the dataset, instead of
    failing the whole batch."""
    wide = [i for i, value in enumerate(columns["direction"]) if value > DIRECTION_MAX]
    if not wide:
        return columns, locations
    for i in wide:
        detail = f"direction {columns['direction'][i]} is no heading (0-359)"
        rejected.append(
            Rejected(
                reason="vehicles.bad_direction", detail=detail, location=locations[i], raw=lines[locations[i]]
            )
        )
    keep = sorted(set(range(len(locations))) - set(wide))
    return {name: [values[i] for i in keep] for name, values in columns.items()}, [locations[i] for i in keep]


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
        """Plain 0x0200 frames (nearly all) are decoded together as columns (`jt808.columnar`); the
        others, and any the columnar reader leaves out, one by one with `decode`, which refuses the bad
        ones with their reason. Rows come in the order of the lines either way."""
        rejected: list[Rejected] = []
        plain: list[tuple[int, dict[str, Any], bytes]] = []  # line number, message, frame
        others: list[tuple[int, dict[str, Any], list[bytes] | bytes]] = []
        numbered = _lines(data)
        for number, line in numbered:
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
                    others.append((number, message, [bytes.fromhex(frame) for frame in message["frames"]]))
                else:
                    frame = bytes.fromhex(message["frame"])
                    (plain if len(frame) == PLAIN_BYTES else others).append((number, message, frame))
            except (ValueError, KeyError, TypeError) as error:
                rejected.append(
                    Rejected(reason="vehicles.bad_message", detail=repr(error), location=number, raw=line)
                )
        lines = dict(numbered)
        columns, locations = self._plain(plain, others, rejected, lines)
        self._others(others, columns, locations, rejected, lines)
        if others:  # rows in the order of the lines (a sort is stable: a 0x0704's reports keep theirs)
            order = sorted(range(len(locations)), key=locations.__getitem__)
            columns = {name: [values[i] for i in order] for name, values in columns.items()}
            locations = [locations[i] for i in order]
        columns, locations = _refuse_wide_directions(columns, locations, rejected, lines)
        rejected.sort(key=lambda r: r.location or 0)
        self.columns = columns
        table = pa.table(
            {
                **{f.name: pa.array(columns[f.name], f.type) for f in LOCATION_REPORTS.schema},
                LOCATION: pa.array(locations, pa.int64()),
            }
        )
        return Parsed(rows=table, rejected=tuple(rejected))

    @staticmethod
    def _plain(
        plain: list[tuple[int, dict[str, Any], bytes]],
        others: list[tuple[int, dict[str, Any], list[bytes] | bytes]],
        rejected: list[Rejected],
        lines: dict[int, str],
    ) -> tuple[dict[str, list[Any]], list[int]]:
        """The rows of the plain frames the columnar reader takes; the others join `others`."""
        read = plain_reports([frame for _, _, frame in plain])
        taken: list[tuple[int, dict[str, Any], bytes]] = []
        for entry, ok in zip(plain, read.taken.tolist(), strict=True):
            (taken if ok else others).append(entry)
        keep = [True] * len(taken)
        received: list[datetime] = []
        stamps: dict[str, datetime] = {}
        for n, (number, message, _) in enumerate(taken):
            try:
                stamp = message["received_at"]
                at = stamps.get(stamp)
                if at is None:
                    at = stamps[stamp] = datetime.fromisoformat(stamp)
                received.append(at)
            except (ValueError, KeyError, TypeError) as error:
                keep[n] = False
                rejected.append(
                    Rejected(
                        reason="vehicles.bad_message", detail=repr(error), location=number, raw=lines[number]
                    )
                )

        def kept(values: list[Any]) -> list[Any]:
            return values if all(keep) else [v for v, ok in zip(values, keep, strict=True) if ok]

        messages = kept([message for _, message, _ in taken])
        columns = {
            "phone": kept(read.phone),
            "plate": [m.get("plate") for m in messages],
            "plate_colour": [m.get("plate_colour") for m in messages],
            "vehicle_class": [m.get("vehicle_class") for m in messages],
            "enterprise": [m.get("enterprise") for m in messages],
            "reported_at": kept(read.time),
            "received_at": received,
            "lon": kept(read.longitude),
            "lat": kept(read.latitude),
            "altitude_m": kept(read.altitude_m),
            "speed_kmh": kept(read.speed_kmh),
            "direction": kept(read.direction),
            "alarm_word": kept(read.alarm),
            "status_word": kept(read.status),
            "serial": kept(read.serial),
        }
        return columns, kept([number for number, _, _ in taken])

    @staticmethod
    def _others(
        others: list[tuple[int, dict[str, Any], list[bytes] | bytes]],
        columns: dict[str, list[Any]],
        locations: list[int],
        rejected: list[Rejected],
        lines: dict[int, str],
    ) -> None:
        """Decode the other frames one by one, adding their rows (or refusals)."""
        names = LOCATION_REPORTS.schema.names
        (phone, plate, colour, vclass, enterprise, reported, received, lon, lat, altitude, speed,
         direction, alarm, status, serial) = (columns[name] for name in names)  # fmt: skip
        for number, message, frames in others:
            line = lines[number]
            try:
                packet = joined(frames) if isinstance(frames, list) else decode(frames)
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
