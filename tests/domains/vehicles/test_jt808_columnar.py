"""The columnar reader of plain 0x0200 frames gives `decode`'s values for every frame it takes, leaves
every other frame to `decode`, and the writer's adapter lands the same rows and refusals either way."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from dthub.domains.vehicles.ingest import bus_jt808
from dthub.domains.vehicles.ingest.bus_jt808 import GatewayFrames
from dthub.domains.vehicles.jt808 import FrameError, Header, LocationReport, Version, decode, encode
from dthub.domains.vehicles.jt808.columnar import PLAIN_BYTES, PlainReports, plain_reports
from dthub.domains.vehicles.jt808.framing import escape, unescape


def _report(rng: random.Random) -> LocationReport:
    when = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 99 * 365 * 86_400))
    return LocationReport(
        alarm=rng.getrandbits(32),
        status=rng.getrandbits(32),
        latitude=rng.choice([-1, 1]) * rng.randrange(0, 90_000_000) / 1e6,
        longitude=rng.choice([-1, 1]) * rng.randrange(0, 180_000_000) / 1e6,
        altitude_m=rng.randrange(-32768, 32768),
        speed_kmh=rng.randrange(0, 65536) / 10,
        direction=rng.randrange(0, 360),
        time=None if rng.random() < 0.02 else when,
        extra=b"\x01\x04\x00\x00\x00\x10" if rng.random() < 0.05 else b"",
    )


def _damaged(frame: bytes, rng: random.Random) -> bytes:
    """`frame` with one byte of its content changed and its XOR made right again, or left wrong."""
    content = bytearray(unescape(frame[1:-1]))
    content[rng.randrange(0, len(content) - 1)] = rng.getrandbits(8)
    if rng.random() < 0.7:
        check = 0
        for byte in content[:-1]:
            check ^= byte
        content[-1] = check
    return b"\x7e" + escape(bytes(content)) + b"\x7e"


def frames(count: int, seed: int) -> list[bytes]:
    """Frames of every kind: plain, escaped, 2019, with items, without a fix, and damaged ones."""
    rng = random.Random(seed)
    out = []
    for serial in range(count):
        version = Version.JT2019 if rng.random() < 0.05 else Version.JT2013
        phone = str(rng.randrange(10**10, 10**11))
        header = Header(message_id=0x0200, phone=phone, serial=serial & 0xFFFF, version=version,
                        protocol_version=1 if version is Version.JT2019 else 0)  # fmt: skip
        frame = encode(header, _report(rng))
        if rng.random() < 0.3:
            frame = _damaged(frame, rng)
        out.append(frame)
    out += [bytes(PLAIN_BYTES), b"\x7e" * PLAIN_BYTES, b""]
    return out


def _decoded(frame: bytes) -> tuple[object, ...] | None:
    try:
        packet = decode(frame)
    except FrameError:
        return None
    report, header = packet.message, packet.header
    if not isinstance(report, LocationReport):
        return None
    return (header.phone, header.serial, report.alarm, report.status, report.latitude, report.longitude,
            report.altitude_m, report.speed_kmh, report.direction, report.time)  # fmt: skip


def _rows(read: PlainReports) -> list[tuple[object, ...]]:
    return list(zip(read.phone, read.serial, read.alarm, read.status, read.latitude, read.longitude,
                    read.altitude_m, read.speed_kmh, read.direction, read.time, strict=True))  # fmt: skip


@pytest.mark.parametrize("seed", range(5))
def test_every_frame_taken_reads_as_decode_reads_it(seed: int) -> None:
    given = frames(4000, seed)

    read = plain_reports(given)

    taken = [f for f, ok in zip(given, read.taken.tolist(), strict=True) if ok]
    assert _rows(read) == [_decoded(f) for f in taken]
    assert all(t.tzinfo is UTC for t in read.time)
    assert 2000 < len(taken) < 4000  # most are plain; the damaged, escaped, 2019 ones and items are not


@pytest.mark.parametrize("seed", range(3))
def test_every_plain_frame_decode_reads_is_taken(seed: int) -> None:
    given = frames(4000, seed)

    read = plain_reports(given)

    for frame, ok in zip(given, read.taken.tolist(), strict=True):
        values = _decoded(frame)
        plain = len(frame) == PLAIN_BYTES and values is not None and values[-1] is not None
        assert ok == plain, frame.hex()


def test_nothing_to_read() -> None:
    read = plain_reports([])
    assert (read.taken.tolist(), read.phone, read.time) == ([], [], [])


def _lines(given: list[bytes], seed: int) -> bytes:
    rng = random.Random(seed)
    received = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    lines = []
    for n, frame in enumerate(given):
        stamp = (received + timedelta(milliseconds=n // 7)).isoformat()
        line = {"kind": "frame", "frame": frame.hex(), "received_at": stamp, "plate": f"津A{n:05d}",
                "plate_colour": 2, "vehicle_class": "coach", "enterprise": "模拟 (simulated)"}  # fmt: skip
        if rng.random() < 0.01:
            line["received_at"] = "yesterday"
        lines.append(json.dumps(line, ensure_ascii=False))
        if rng.random() < 0.01:
            lines.append(json.dumps({"kind": "refused", "reason": "jt808.garbage", "detail": "d", "raw": ""}))
        if rng.random() < 0.01:
            lines.append("{not json")
    return ("\n".join(lines) + "\n").encode()


def _one_by_one(frames: list[bytes]) -> PlainReports:
    return PlainReports(np.zeros(len(frames), bool), [], [], [], [], [], [], [], [], [], [])


@pytest.mark.parametrize("seed", range(3))
def test_the_adapter_lands_the_same_rows_and_refusals_as_decoding_one_by_one(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _lines(frames(3000, seed), seed)
    columnar = GatewayFrames()
    parsed = columnar.parse(data)
    monkeypatch.setattr(bus_jt808, "plain_reports", _one_by_one)
    scalar = GatewayFrames()
    expected = scalar.parse(data)

    assert parsed.rows.equals(expected.rows)
    assert parsed.rejected == expected.rejected
    assert columnar.columns == scalar.columns
    reasons = {r.reason for r in parsed.rejected}
    assert reasons >= {
        "vehicles.bad_message",
        "jt808.garbage",
        "jt808.bad_checksum",
        "vehicles.bad_direction",
    }
    assert parsed.rows.num_rows > 1000
    assert isinstance(parsed.rows, pa.Table)
