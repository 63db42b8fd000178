"""Joining subpackaged messages: whole bodies out, incomplete ones given up and reported, memory capped."""

from __future__ import annotations

from dataclasses import replace

from dthub.domains.vehicles.jt808 import (
    Header,
    Packet,
    Parameter,
    Reassembler,
    SetParameters,
    UnknownMessage,
    Version,
    decode,
    encode_packages,
)
from dthub.domains.vehicles.jt808.errors import BadBody, PackagesDropped

H = Header(message_id=0x8103, phone="13912345678", serial=100, version=Version.JT2019, protocol_version=1)
SETTINGS = SetParameters(tuple(Parameter.of(0xF000 + n, "x" * 200) for n in range(12)))
"""Twelve 200-byte vendor parameters: 2,461 body bytes, three packages of 1,000."""


def packages(header: Header = H) -> list[Packet]:
    return [decode(frame) for frame in encode_packages(header, SETTINGS, package_size=1000)]


def test_packages_in_any_order_give_the_whole_message_with_the_first_header() -> None:
    first, second, third = packages()
    assert (first.header.package_total, [p.header.serial for p in (first, second, third)]) == (
        3,
        [100, 101, 102],
    )
    joiner = Reassembler(timeout_s=30)
    assert joiner.add(third, now=0).packet is None
    assert joiner.add(first, now=1).packet is None
    done = joiner.add(second, now=2)
    assert done.packet == Packet(H, SETTINGS)
    assert done.dropped == ()
    assert joiner.pending_bytes == 0


def test_a_packet_that_is_not_subpackaged_passes_straight_through() -> None:
    whole = Packet(replace(H, message_id=0x0F00), UnknownMessage(0x0F00, b"x"))
    assert Reassembler(timeout_s=30).add(whole, now=0).packet == whole


def test_a_retransmitted_package_replaces_the_first_copy() -> None:
    first, second, third = packages()
    joiner = Reassembler(timeout_s=30)
    joiner.add(first, now=0)
    joiner.add(first, now=1)
    assert joiner.pending_bytes == 1000
    joiner.add(second, now=2)
    assert joiner.add(third, now=3).packet == Packet(H, SETTINGS)


def test_messages_from_two_terminals_do_not_mix() -> None:
    other = replace(H, phone="13900000000")
    joiner = Reassembler(timeout_s=30)
    results = [joiner.add(p, now=0) for pair in zip(packages(), packages(other), strict=True) for p in pair]
    assert [r.packet.header.phone for r in results if r.packet] == ["13912345678", "13900000000"]


def test_a_message_silent_past_its_timeout_is_given_up_and_reported() -> None:
    first, second, _ = packages()
    joiner = Reassembler(timeout_s=30)
    joiner.add(first, now=0)
    joiner.add(second, now=10)
    (dropped,) = joiner.expire(now=41)
    assert isinstance(dropped, PackagesDropped)
    assert dropped.reason == "jt808.packages_dropped"
    assert "packages [1, 2] of 3 given up, no package for 31 s" in dropped.detail
    assert dropped.raw == first.message.to_body() + second.message.to_body()
    assert joiner.pending_bytes == 0


def test_pending_bytes_over_the_cap_drop_the_oldest_message() -> None:
    joiner = Reassembler(timeout_s=30, max_pending_bytes=2500)
    old = packages()
    new = packages(replace(H, serial=200))
    joiner.add(old[0], now=0)
    joiner.add(old[1], now=1)
    result = joiner.add(new[0], now=2)
    assert [d.reason for d in result.dropped] == ["jt808.packages_dropped"]
    assert "first serial 100" in result.dropped[0].detail
    assert joiner.pending_bytes == 1000


def test_a_joined_body_that_breaks_its_layout_is_refused_with_the_whole_body() -> None:
    bad = UnknownMessage(0x8103, b"\x05" + bytes(1500))  # says 5 parameters, holds zeros
    frames = encode_packages(replace(H, message_id=0x8103), bad, package_size=1000)
    joiner = Reassembler(timeout_s=30)
    joiner.add(decode(frames[0]), now=0)
    result = joiner.add(decode(frames[1]), now=0)
    assert result.packet is None
    assert isinstance(result.refused, BadBody)
    assert result.refused.raw == bad.body
