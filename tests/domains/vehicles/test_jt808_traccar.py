"""Conformance on Traccar's 67 real JT/T 808 strings (`jt808/traccar/frames.jsonl`, Huabao decoder tests).

Every string decodes, or is refused with the reason the table below gives, in strict (wire) and lenient
(capture) mode. Decision on the 4 strings whose XOR fails either way (19, 50, 62, 63): lenient mode refuses
them too, with `jt808.bad_checksum`. It forgives only a capture's escaping (bytes logged after unescaping),
never a check that fails: the XOR is a frame's only integrity guard, and these four are a vendor variant
or strings damaged by hand. Traccar accepts them because its decoder never verifies the check byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from dthub.domains.vehicles.jt808 import (
    Authenticate,
    BatchLocationReport,
    FrameError,
    FrameSplitter,
    Heartbeat,
    LocationReport,
    Packet,
    Register,
    UnknownMessage,
    decode,
    encode,
)
from fixtures.hub import REALDATA, need_realdata

FRAMES = REALDATA / "jt808" / "traccar" / "frames.jsonl"
DECODED_AS = {
    0x0200: LocationReport,
    0x0704: BatchLocationReport,
    0x0100: Register,
    0x0102: Authenticate,
    0x0002: Heartbeat,
}
"""What the strings decode to by message id; the other ids in the file (0x0702 driver identity, 0x0900
transparent data, 0x0210 vendor batch, 0x2070 acceleration, 0x1300, 0x1007) are `UnknownMessage`s."""

REFUSED: dict[int, tuple[str, str | None, str]] = {
    # frame: (strict refusal, lenient refusal or None when lenient mode takes it as given, why)
    10: ("jt808.bad_escape", None, "three bare 0x7e between the flags: a capture logged unescaped"),
    23: (
        "jt808.bad_checksum",
        None,
        "0x0900 with 7d 01 in its phone field: unescaped twice, it checks only as given",
    ),
    30: ("jt808.bad_escape", None, "7d a0 in an item: not an escape; the capture was logged unescaped"),
    59: ("jt808.bad_escape", None, "7d 8b in an item, same as frame 30"),
    60: ("jt808.bad_checksum", None, "7d 01 in the longitude: unescaped twice, it checks only as given"),
    61: ("jt808.bad_checksum", None, "same as frame 60 (an alarm differs)"),
    18: (
        "jt808.body_length_mismatch",
        "jt808.body_length_mismatch",
        "0x5501 vendor lock report: serial is one BYTE",
    ),
    42: (
        "jt808.body_length_mismatch",
        "jt808.body_length_mismatch",
        "0x5501 again: the header reads 1 byte short",
    ),
    65: (
        "jt808.body_length_mismatch",
        "jt808.body_length_mismatch",
        "0x0900 says 122 body bytes, 107 arrive",
    ),
    40: (
        "jt808.truncated",
        "jt808.truncated",
        "after the basic block a vendor's fixed 18-byte tail, not TLV items",
    ),
    19: (
        "jt808.bad_checksum",
        "jt808.bad_checksum",
        "0x5501 with reserved encryption bits; fails the XOR both ways",
    ),
    50: (
        "jt808.bad_checksum",
        "jt808.bad_checksum",
        "says 50 body bytes, 40 arrive: cut short; XOR fails both ways",
    ),
    62: (
        "jt808.bad_checksum",
        "jt808.bad_checksum",
        "two bare 0x7e in the coordinates and the XOR fails both ways",
    ),
    63: ("jt808.bad_checksum", "jt808.bad_checksum", "the XOR fails both ways"),
}


def _report(packet: Packet) -> LocationReport:
    """The report, or the first of a batch (as Traccar's `verifyAttribute` reads the first position)."""
    message = packet.message
    report = message.reports[0] if isinstance(message, BatchLocationReport) else message
    assert isinstance(report, LocationReport)
    return report


def _item(packet: Packet, ident: int) -> bytes:
    """The value of the report's first item `ident`."""
    return dict(reversed(_report(packet).items))[ident]


EXPECTATIONS: dict[int, tuple[str, Callable[[Packet], object], object]] = {
    # frame: (Traccar's expectation, what our record holds, the value); typed where the standard defines it
    0: ("KEY_SATELLITES 14", lambda p: _report(p).extras.satellites, 14),
    35: ("ALARM_LOW_BATTERY (bit 7)", lambda p: "main_power_undervoltage" in _report(p).alarms, True),
    39: ("ALARM_TAMPERING (bit 17, reserved in 2013)", lambda p: "bit17" in _report(p).alarms, True),
    57: ("KEY_DOOR true (status bit 16, door 4)", lambda p: "door4_open" in _report(p).status_flags, True),
    # vendor items stay raw: the bytes Traccar reads its value from
    1: ("KEY_POWER 11.4 (0xE1 WORD, 0.1 V)", lambda p: _item(p, 0xE1), (114).to_bytes(2, "big")),
    2: ("KEY_BATTERY_LEVEL 99 (0xE4 WORD)", lambda p: _item(p, 0xE4), (99).to_bytes(2, "big")),
    3: ("KEY_BATTERY_LEVEL 100 (0xD4 BYTE)", lambda p: _item(p, 0xD4), bytes([100])),
    7: ("timezone UTC+08:00 (0xEB text)", lambda p: _item(p, 0xEB), b"UTC+08:00"),
    8: ("videoAlarm 4 (0x14, a JT/T 1078 item)", lambda p: _item(p, 0x14), (4).to_bytes(4, "big")),
    9: ("KEY_BATTERY_LEVEL 86 (0xE4 WORD)", lambda p: _item(p, 0xE4), (86).to_bytes(2, "big")),
    12: ("KEY_BATTERY_LEVEL 62 (0x06, one vendor BYTE)", lambda p: _item(p, 0x06), bytes([62])),
    16: ("PREFIX_TEMP 1 29.1 (0x51 WORD, 0.1 °C)", lambda p: _item(p, 0x51), (291).to_bytes(2, "big")),
    17: ("KEY_BATTERY_LEVEL 100 (0xE3 second byte)", lambda p: _item(p, 0xE3)[1], 100),
    22: ("KEY_BATTERY_LEVEL 90 (0x56 first byte x10)", lambda p: _item(p, 0x56)[0] * 10, 90),
    24: ("KEY_BATTERY 3.95 (0x69 WORD, 0.01 V)", lambda p: _item(p, 0x69), (395).to_bytes(2, "big")),
    26: ("KEY_BATTERY_LEVEL 45 (0xE1 BYTE)", lambda p: _item(p, 0xE1), bytes([45])),
    27: ("driver (0xBC text)", lambda p: _item(p, 0xBC).rstrip(b"\0"), b"DRIVING LICENSE$TEST$MR."),
}


@pytest.fixture(scope="module")
def frames() -> list[bytes]:
    lines = need_realdata(FRAMES).read_text().splitlines()
    return [bytes.fromhex(json.loads(line)["hex"]) for line in lines]


def test_file_holds_the_67_strings(frames: list[bytes]) -> None:
    assert len(frames) == 67


def test_every_string_decodes_or_is_refused_for_its_reason_in_strict_mode(frames: list[bytes]) -> None:
    for n, frame in enumerate(frames):
        if n in REFUSED:
            with pytest.raises(FrameError) as caught:
                decode(frame)
            assert (n, caught.value.reason) == (n, REFUSED[n][0])
            assert caught.value.raw == frame
        else:
            packet = decode(frame)
            want = DECODED_AS.get(packet.header.message_id, UnknownMessage)
            assert (n, type(packet.message), packet.lenient) == (n, want, None)


def test_every_string_decodes_or_is_refused_for_its_reason_in_lenient_mode(frames: list[bytes]) -> None:
    for n, frame in enumerate(frames):
        strict, lenient, _ = REFUSED.get(n, ("", None, ""))
        if lenient is not None:
            with pytest.raises(FrameError) as caught:
                decode(frame, lenient=True)
            assert (n, caught.value.reason) == (n, lenient)
        else:
            packet = decode(frame, lenient=True)
            assert (n, packet.lenient) == (n, strict or None)


def test_53_decode_strictly_and_59_leniently(frames: list[bytes]) -> None:
    assert len(frames) - len(REFUSED) == 53
    assert len(frames) - sum(lenient is not None for _, lenient, _ in REFUSED.values()) == 59


def test_every_strict_string_encodes_back_byte_for_byte(frames: list[bytes]) -> None:
    for n, frame in enumerate(frames):
        if n not in REFUSED:
            packet = decode(frame)
            assert (n, encode(packet.header, packet.message)) == (n, frame)


@pytest.mark.parametrize("n", sorted(EXPECTATIONS))
def test_traccar_expectation_holds(frames: list[bytes], n: int) -> None:
    _, read, value = EXPECTATIONS[n]
    assert read(decode(frames[n], lenient=True)) == value


def test_positions_are_on_earth_and_timed(frames: list[bytes]) -> None:
    for n, frame in enumerate(frames):
        if n in REFUSED and REFUSED[n][1] is not None:
            continue
        message = decode(frame, lenient=True).message
        reports = message.reports if isinstance(message, BatchLocationReport) else (message,)
        for report in reports:
            if isinstance(report, LocationReport):
                assert abs(report.latitude) <= 90, n
                assert abs(report.longitude) <= 180, n
                assert report.time is not None, n


def test_the_table_names_only_strings_that_exist(frames: list[bytes]) -> None:
    assert set(REFUSED) | set(EXPECTATIONS) <= set(range(len(frames)))


def _outcome(frame: bytes, *, checked: bool = False) -> Packet | str:
    try:
        return decode(frame, checked=checked)
    except FrameError as error:
        return error.reason


def test_a_frame_the_strict_splitter_passed_decodes_the_same_checked() -> None:
    """The gateway decodes the frames its strict splitter checked with `checked=True` (no second XOR)."""
    data = b"".join(
        bytes.fromhex(json.loads(line)["hex"]) for line in need_realdata(FRAMES).read_text().splitlines()
    )
    passed = [piece for piece in FrameSplitter().feed(data) if isinstance(piece, bytes)]

    outcomes = [_outcome(frame) for frame in passed]

    assert [_outcome(frame, checked=True) for frame in passed] == outcomes
    assert sum(isinstance(o, Packet) for o in outcomes) > 50
