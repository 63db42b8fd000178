"""The gateway's template 0x8001 frames equal the codec's, byte for byte, in every header edition."""

from __future__ import annotations

import pytest

from dthub.domains.vehicles.jt808 import Header, PlatformResponse, Result, Version, decode, encode
from dthub.domains.vehicles.jt808.answers import PlatformAnswers

EDITIONS = [("13900000001", Version.JT2013, 0), ("7e7d0000001", Version.JT2013, 0),
            ("12345678901234567890", Version.JT2019, 1), ("1", Version.JT2019, 7)]  # fmt: skip


@pytest.mark.parametrize(("phone", "version", "protocol_version"), EDITIONS)
@pytest.mark.parametrize("serials", [(0, 0), (1, 0x7E7D), (0x7D7E, 0xFFFF), (0x1234, 0x007E)])
@pytest.mark.parametrize("reply_id", [0x0200, 0x0002, 0x7E7D])
def test_template_frame_is_the_encoded_response(
    phone: str, version: Version, protocol_version: int, serials: tuple[int, int], reply_id: int
) -> None:
    serial, reply_serial = serials
    answers = PlatformAnswers(phone, version, protocol_version)
    for result in Result:
        header = Header(message_id=0x8001, phone=phone, serial=serial, version=version,
                        protocol_version=protocol_version)  # fmt: skip
        want = encode(header, PlatformResponse(reply_serial, reply_id, result))
        got = answers.frame(serial, reply_serial, reply_id, result)
        assert got == want
        assert decode(got).message == PlatformResponse(reply_serial, reply_id, result)


def test_fits_only_the_phone_and_edition_it_was_made_for() -> None:
    answers = PlatformAnswers.to(Header(message_id=0x0200, phone="13900000001", serial=9))
    assert answers.fits(Header(message_id=0x0002, phone="13900000001", serial=10))
    assert not answers.fits(Header(message_id=0x0200, phone="13900000002", serial=9))
    assert not answers.fits(
        Header(message_id=0x0200, phone="13900000001", serial=9, version=Version.JT2019, protocol_version=1)
    )
