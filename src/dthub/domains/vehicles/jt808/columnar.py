"""Many plain 0x0200 frames at once (位置信息汇报, 批量解码): numpy over the fixed 43-byte layout.

The lake writer reads tens of thousands of location reports a batch, nearly all of them alike: a 2011/2013
header, not subpackaged, not encrypted, the 28-byte basic block and no additional item, nothing escaped.
`plain_reports` reads those as columns, checking what `decode` checks (flags, no 0x7D/0x7E inside, the
XOR, message id and body attributes, BCD digits and a calendar time); a frame that is not plain, or
fails any check, is left out (`PlainReports.taken` is False) for `decode`, which reads it as usual or
refuses it with its reason. For every frame it takes, the values equal `decode`'s (a test checks it).

| frame offset | field |
|---|---|
| 0, 42 | flags 0x7E |
| 1-2, 3-4 | message id 0x0200, body attributes 28 |
| 5-10, 11-12 | phone BCD[6], serial |
| 13-40 | alarm, status, latitude, longitude, altitude, speed, direction, time BCD[6] (GMT+8) |
| 41 | check byte (XOR of 1-40) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

PLAIN_BYTES = 43
"""Flags, the 12-byte 2013 header, the 28-byte basic block and the check byte."""
_LAYOUT = np.dtype(
    [("open", "u1"), ("id", ">u2"), ("attributes", ">u2"), ("phone", "V6"), ("serial", ">u2"),
     ("alarm", ">u4"), ("status", ">u4"), ("lat", ">u4"), ("lon", ">u4"), ("altitude", ">i2"),
     ("speed", ">u2"), ("direction", ">u2"), ("time", "V6"), ("check", "u1"), ("close", "u1")]
)  # fmt: skip
_SOUTH, _WEST = 1 << 2, 1 << 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GMT8_S = 8 * 3600


@dataclass(frozen=True)
class PlainReports:
    """Columns of the frames taken (in the order given); `taken[i]` says whether frame i is among them."""

    taken: np.ndarray[Any, np.dtype[np.bool_]]
    phone: list[str]
    serial: list[int]
    alarm: list[int]
    status: list[int]
    latitude: list[float]
    longitude: list[float]
    altitude_m: list[int]
    speed_kmh: list[float]
    direction: list[int]
    time: list[datetime]


def plain_reports(frames: list[bytes]) -> PlainReports:
    """Read the plain 0x0200 frames among `frames` (each flags included); see the module doc."""
    sized = np.fromiter((len(f) == PLAIN_BYTES for f in frames), bool, len(frames))
    taken = sized.copy()
    whole = b"".join(f for f, ok in zip(frames, sized, strict=True) if ok)
    raw = np.frombuffer(whole, np.uint8).reshape(-1, PLAIN_BYTES)
    rec = raw.view(_LAYOUT).reshape(-1)
    inner = raw[:, 1:41]
    good = (
        (rec["open"] == 0x7E)
        & (rec["close"] == 0x7E)
        & (rec["id"] == 0x0200)
        & (rec["attributes"] == 28)
        & ~((inner == 0x7D) | (inner == 0x7E)).any(axis=1)
        & (rec["check"] != 0x7D)
        & (rec["check"] != 0x7E)
        & (np.bitwise_xor.reduce(inner, axis=1) == rec["check"])
    )
    digits = raw[:, 35:41]
    high, low = digits >> 4, digits & 0xF
    good &= ((high <= 9) & (low <= 9)).all(axis=1) & digits.any(axis=1)  # all zeros: no fix, `decode`'s
    value = (high * 10 + low).astype(np.int64)
    year, month, day, hour, minute, second = (value[:, n] for n in range(6))
    good &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    good &= (hour <= 23) & (minute <= 59) & (second <= 59)
    months = ((2000 + year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (np.clip(day, 1, 31) - 1)
    good &= days.astype("datetime64[M]") == months  # no 31 April, no 29 February in a common year
    rec, raw = rec[good], raw[good]
    taken[sized] = good
    seconds = days[good].astype(np.int64) * 86_400 + (
        hour[good] * 3600 + minute[good] * 60 + second[good] - _GMT8_S
    )
    known: dict[int, datetime] = {}
    times = [known.get(s) or known.setdefault(s, _EPOCH + timedelta(seconds=s)) for s in seconds.tolist()]
    phones = np.ascontiguousarray(raw[:, 5:11]).tobytes().hex()
    status = rec["status"]
    lat, lon = rec["lat"] / 1e6, rec["lon"] / 1e6
    return PlainReports(
        taken=taken,
        phone=[phones[at : at + 12].lstrip("0") or "0" for at in range(0, len(phones), 12)],
        serial=rec["serial"].tolist(),
        alarm=rec["alarm"].tolist(),
        status=status.tolist(),
        latitude=np.where(status & _SOUTH, -lat, lat).tolist(),
        longitude=np.where(status & _WEST, -lon, lon).tolist(),
        altitude_m=rec["altitude"].tolist(),
        speed_kmh=(rec["speed"] / 10).tolist(),
        direction=rec["direction"].tolist(),
        time=times,
    )
