"""JT/T 808 headers: 2013 and 2019 told apart per frame by bit 14, phone widths, subpackage fields."""

from __future__ import annotations

import pytest

from dthub.domains.vehicles.jt808.errors import BadPackage, BodyLengthMismatch, Truncated
from dthub.domains.vehicles.jt808.header import Header, Version, header_bytes, parse_header


def test_2013_header_has_a_12_digit_phone() -> None:
    content = bytes.fromhex("000200001234567820130001")
    assert parse_header(content) == (
        Header(message_id=0x0002, phone="123456782013", serial=1, version=Version.JT2013),
        12,
    )


def test_2019_header_has_the_version_byte_and_a_20_digit_phone() -> None:
    content = bytes.fromhex("0002400001123456789012345620190001")
    assert parse_header(content) == (
        Header(
            message_id=0x0002,
            phone="12345678901234562019",
            serial=1,
            version=Version.JT2019,
            protocol_version=1,
        ),
        17,
    )


def test_phone_loses_its_padding_zeros_and_gets_them_back() -> None:
    content = bytes.fromhex("0002400001000000000172998417380000")
    header, _ = parse_header(content)
    assert header.phone == "17299841738"
    assert header_bytes(header, 0) == content


def test_binary_imei_in_the_phone_field_is_kept_as_hex_digits() -> None:
    content = bytes.fromhex("000200004eb6fb4ad6280002")  # Traccar's frames 60 and 61 carry such ids
    header, _ = parse_header(content)
    assert header.phone == "4eb6fb4ad628"
    assert header_bytes(header, 0) == content


def test_subpackaged_header_carries_total_and_sequence() -> None:
    content = bytes.fromhex("1205602e0100000000017299841738430100060006") + bytes(46)
    header, offset = parse_header(content)
    assert (header.package_total, header.package_seq, header.serial, offset) == (6, 6, 0x4301, 21)
    assert header_bytes(header, 46) == content[:21]


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("truncated_2013", bytes.fromhex("0002000012345678"), Truncated, "2013 header needs 12 bytes, got 8"),
        ("truncated_2019", bytes.fromhex("000240000112345678901234"), Truncated, "2019 header needs 17"),
        (
            "body_longer",
            bytes.fromhex("000200001234567820130001ff"),
            BodyLengthMismatch,
            "say 0 body bytes, got 1",
        ),
        (
            "package_zero",
            bytes.fromhex("0002200012345678201300010002") + bytes(2),
            BadPackage,
            "package 0 of 2",
        ),
        ("package_over", bytes.fromhex("0002200012345678201300010002") + b"\x00\x03", BadPackage, "3 of 2"),
    ],
)
def test_bad_headers_are_refused_quoting_the_value(
    name: str, content: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_header(content)


def test_encoding_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="over 1023"):
        header_bytes(Header(message_id=0x0200, phone="1", serial=0), 1024)
    with pytest.raises(ValueError, match="is not 12 BCD digits"):
        header_bytes(Header(message_id=0x0200, phone="1234567890123", serial=0), 0)
