"""Cutting a TCP byte stream into frames: whole frames out, garbage reported, never poisoned."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dthub.domains.vehicles.jt808 import (
    FrameError,
    FrameSplitter,
    Header,
    Heartbeat,
    LocationReport,
    decode,
    encode,
)
from dthub.domains.vehicles.jt808.errors import BadChecksum, FrameTooLong, Garbage, Truncated
from dthub.domains.vehicles.jt808.splitter import Split

H = Header(message_id=0x0200, phone="13912345678", serial=1)
T = datetime(2024, 10, 1, 15, 59, 59, tzinfo=UTC)
REPORT = encode(H, LocationReport(0, 2, 39.1, 117.2, 3, 36.0, 90, T, b"\x31\x01\x0c"))
HEARTBEAT = encode(replace(H, message_id=0x0002, serial=2), Heartbeat())
ESCAPED = encode(replace(H, serial=0x7E7D), LocationReport(0x7E, 0x7D, 0.0, 0.0, 0, 0.0, 0, None))
"""A frame with both escapes in it (serial and words hold 0x7e and 0x7d)."""
FRAMES = [REPORT, HEARTBEAT, ESCAPED]


def split_all(stream: bytes, *, chunk: int = 0, lenient: bool = False) -> list[Split]:
    """Everything the splitter gives for `stream`, fed whole or in `chunk`-byte reads, then closed."""
    splitter = FrameSplitter(lenient=lenient)
    if chunk <= 0:
        return [*splitter.feed(stream), *splitter.close()]
    out: list[Split] = []
    for at in range(0, len(stream), chunk):
        out += splitter.feed(stream[at : at + chunk])
    return [*out, *splitter.close()]


def kinds(splits: list[Split]) -> list[object]:
    return [s.reason if isinstance(s, FrameError) else s for s in splits]


@pytest.mark.parametrize("chunk", [0, 1, 2, 7, 64])
def test_frames_split_across_reads_come_out_whole(chunk: int) -> None:
    assert split_all(b"".join(FRAMES), chunk=chunk) == FRAMES


def test_garbage_before_and_between_frames_is_reported_with_its_bytes() -> None:
    splits = split_all(b"GET / HTTP/1.1" + REPORT + b"\x00\x01" + HEARTBEAT)
    assert kinds(splits) == ["jt808.garbage", REPORT, "jt808.garbage", HEARTBEAT]
    assert [s.raw for s in splits if isinstance(s, Garbage)] == [b"GET / HTTP/1.1", b"\x00\x01"]


def test_a_damaged_frame_is_refused_and_the_next_ones_come_out() -> None:
    damaged = REPORT[:5] + bytes([REPORT[5] ^ 0x01]) + REPORT[6:]
    splits = split_all(HEARTBEAT + damaged + REPORT)
    assert kinds(splits) == [HEARTBEAT, "jt808.bad_checksum", REPORT]
    assert isinstance(splits[1], BadChecksum)
    assert splits[1].raw == damaged


def test_garbage_holding_flags_does_not_poison_the_stream() -> None:
    splits = split_all(REPORT + b"ab\x7ecd\x7e\x7eef" + HEARTBEAT + ESCAPED)
    assert kinds(splits)[-2:] == [HEARTBEAT, ESCAPED]
    assert all(isinstance(s, FrameError) for s in splits[1:-2])


def test_a_frame_cut_short_is_refused_and_the_next_one_comes_out() -> None:
    splits = split_all(REPORT[:20] + HEARTBEAT)
    assert kinds(splits) == ["jt808.bad_checksum", HEARTBEAT]


def test_frames_sharing_one_flag_both_come_out() -> None:
    assert split_all(REPORT + HEARTBEAT[1:]) == [REPORT, HEARTBEAT]


def test_a_frame_over_the_maximum_is_refused_once_and_memory_stays_bounded() -> None:
    splitter = FrameSplitter(max_frame_bytes=64)
    splits = splitter.feed(b"\x7e" + b"\x01" * 1000)
    splits += splitter.feed(b"\x01" * 1000)
    assert splitter.pending_bytes == 0
    splits += splitter.feed(HEARTBEAT)
    assert kinds(splits) == ["jt808.frame_too_long", HEARTBEAT]
    assert isinstance(splits[0], FrameTooLong)
    assert len(splits[0].raw) == 65


def test_stream_ending_inside_a_frame_is_refused_on_close() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(REPORT + HEARTBEAT[:9]) == [REPORT]
    (rest,) = splitter.close()
    assert isinstance(rest, Truncated)
    assert rest.raw == HEARTBEAT[:9]


def test_an_empty_stream_gives_nothing() -> None:
    assert split_all(b"") == []


@settings(max_examples=200)
@given(cuts=st.lists(st.integers(0, 400), max_size=12))
def test_any_cutting_of_the_stream_gives_the_same_frames(cuts: list[int]) -> None:
    stream = b"".join(FRAMES * 3)
    splitter = FrameSplitter()
    out: list[Split] = []
    start = 0
    for cut in sorted(cuts):
        out += splitter.feed(stream[start:cut])
        start = max(start, cut)
    out += splitter.feed(stream[start:])
    assert out == FRAMES * 3


def _mutate(frame: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "cut", "insert", "flag", "escape", "splice"]))
    at = data.draw(st.integers(0, len(frame)))
    if kind == "flip" and at < len(frame):
        return frame[:at] + bytes([frame[at] ^ (1 << data.draw(st.integers(0, 7)))]) + frame[at + 1 :]
    if kind == "cut":
        return frame[:at]
    if kind == "insert":
        return frame[:at] + data.draw(st.binary(min_size=1, max_size=8)) + frame[at:]
    if kind == "flag":
        return frame[:at] + b"\x7e" + frame[at:]
    if kind == "escape":
        return frame[:at] + b"\x7d" + frame[at:]
    return frame[:at] + data.draw(st.sampled_from(FRAMES))[at:]


@settings(max_examples=300)
@given(data=st.data(), garbage=st.binary(max_size=40), lenient=st.booleans())
def test_mutated_frames_raise_only_frame_errors_and_never_poison(
    data: st.DataObject, garbage: bytes, lenient: bool
) -> None:
    mutated = _mutate(data.draw(st.sampled_from(FRAMES)), data)
    good = data.draw(st.sampled_from(FRAMES))
    splits = split_all(garbage + mutated + good, chunk=data.draw(st.integers(0, 50)), lenient=lenient)
    for split in splits:
        if isinstance(split, bytes):
            with contextlib.suppress(FrameError):
                decode(split, lenient=lenient)
    assert splits[-1] == good
