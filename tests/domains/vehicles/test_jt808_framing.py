"""JT/T 808 framing: escaping, the XOR check, and the strict (wire) and lenient (capture) modes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dthub.domains.vehicles.jt808.errors import BadChecksum, BadEscape, BadFlag, FrameError, Truncated
from dthub.domains.vehicles.jt808.framing import checksum, escape, unescape, unwrap, wrap

HEARTBEAT_2013 = bytes.fromhex("7e000200001234567820130001387e")
"""go-jt808 `[0002]-JT2013-终端-心跳.txt`: a heartbeat from 123456782013, serial 1."""


def test_standard_worked_example_escapes_flag_then_escape_byte() -> None:
    # reference §1.1: payload 30 7E 08 7D 55 -> on the wire 7E 30 7D 02 08 7D 01 55 7E
    assert escape(bytes.fromhex("307e087d55")) == bytes.fromhex("307d02087d0155")
    assert unescape(bytes.fromhex("307d02087d0155")) == bytes.fromhex("307e087d55")


def test_escape_byte_followed_by_anything_but_01_or_02_is_refused_quoting_it() -> None:
    with pytest.raises(BadEscape, match="0x7d at offset 1 followed by 0x03, want 0x01 or 0x02") as caught:
        unescape(bytes.fromhex("307d0355"))
    assert caught.value.reason == "jt808.bad_escape"
    assert caught.value.raw == bytes.fromhex("307d0355")


def test_escape_byte_at_the_end_is_refused() -> None:
    with pytest.raises(BadEscape, match="ends the frame"):
        unescape(bytes.fromhex("30317d"))


def test_checksum_is_the_xor_of_every_byte() -> None:
    assert checksum(b"") == 0
    assert checksum(bytes.fromhex("000200001234567820130001")) == 0x38
    assert checksum(bytes(range(256)) * 3) == 0  # every bit appears an even number of times


def test_strict_mode_reads_a_well_formed_frame() -> None:
    assert unwrap(HEARTBEAT_2013) == (bytes.fromhex("000200001234567820130001"), None)


def test_frame_with_bad_checksum_is_refused_quoting_want_and_got() -> None:
    frame = HEARTBEAT_2013[:-2] + b"\x39\x7e"
    with pytest.raises(BadChecksum, match=r"jt808.bad_checksum: want 0x38, got 0x39") as caught:
        unwrap(frame)
    assert caught.value.raw == frame


@pytest.mark.parametrize(
    ("name", "frame", "error"),
    [
        ("empty", b"", BadFlag),
        ("no_end_flag", HEARTBEAT_2013[:-1], BadFlag),
        ("no_start_flag", HEARTBEAT_2013[1:], BadFlag),
        ("two_flags", b"\x7e\x7e", Truncated),
        ("only_check_byte", b"\x7e\x00\x7e", Truncated),
    ],
)
def test_named_edge_cases_are_refused(name: str, frame: bytes, error: type[FrameError]) -> None:
    with pytest.raises(error):
        unwrap(frame)


def test_capture_unescaped_before_logging_passes_only_lenient_mode() -> None:
    # a heartbeat whose serial is 0x7d01: on the wire 7d 01 01; a capture logged it unescaped as 7d 01
    content = bytes.fromhex("000200001234567820137d01")
    logged = b"\x7e" + content + bytes((checksum(content),)) + b"\x7e"
    with pytest.raises(BadChecksum):
        unwrap(logged)
    assert unwrap(logged, lenient=True) == (content, "jt808.bad_checksum")
    assert unwrap(wrap(content)) == (content, None)


def test_bare_flag_inside_is_refused_strictly_and_taken_as_given_leniently() -> None:
    content = bytes.fromhex("000200001234567820137e7e")
    logged = b"\x7e" + content + bytes((checksum(content),)) + b"\x7e"
    with pytest.raises(BadEscape, match="bare 0x7e at offset 10"):
        unwrap(logged)
    assert unwrap(logged, lenient=True) == (content, "jt808.bad_escape")


def test_lenient_mode_still_refuses_a_frame_whose_check_fails_both_ways() -> None:
    frame = HEARTBEAT_2013[:-2] + b"\x39\x7e"
    with pytest.raises(BadChecksum, match="want 0x38, got 0x39"):
        unwrap(frame, lenient=True)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_unescape_undoes_escape(data: bytes) -> None:
    escaped = escape(data)
    assert 0x7E not in escaped
    assert unescape(escaped) == data


@settings(max_examples=300)
@given(st.binary(max_size=1100))
def test_wrap_then_unwrap_gives_the_content_back(content: bytes) -> None:
    frame = wrap(content)
    assert frame[0] == frame[-1] == 0x7E
    assert 0x7E not in frame[1:-1]
    if content:
        assert unwrap(frame) == (content, None)
