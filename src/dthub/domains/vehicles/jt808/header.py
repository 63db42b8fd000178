"""JT/T 808 message header (消息头, clause 4 协议基础): 2013 and 2019 layouts, told apart per frame.

| 2013 offset | 2019 offset | Field | Type |
|---|---|---|---|
| 0 | 0 | message id (消息ID) | WORD |
| 2 | 2 | body attributes (消息体属性) | WORD |
| — | 4 | protocol version (协议版本号, 2019 only, "initial version 1") | BYTE |
| 4 | 5 | terminal phone number (终端手机号) | BCD[6] / BCD[10] |
| 10 | 15 | serial number (消息流水号) | WORD |
| 12 | 17 | package total (消息包总数, with the subpackage bit only) | WORD |
| 14 | 19 | package sequence, from 1 (包序号) | WORD |

Layouts from reference §1.2. Body attributes: bits 0-9 body length, 10-12 encryption (0 none, 1 RSA),
13 subpackage, 14 version flag (1 = 2019 layout), 15 reserved. A 2011 header is a 2013 header; 2011 shows
only in the register body.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from struct import Struct

from dthub.domains.vehicles.jt808._build import fast_constructor
from dthub.domains.vehicles.jt808.errors import BadPackage, BodyLengthMismatch, Truncated

BODY_LENGTH_MASK = 0x03FF
ENCRYPTION_SHIFT, ENCRYPTION_MASK = 10, 0x7
SUBPACKAGE_BIT = 1 << 13
VERSION_BIT = 1 << 14
RESERVED_BIT = 1 << 15
MAX_BODY_LENGTH = BODY_LENGTH_MASK
"""1023 bytes: a longer message goes out in packages (分包)."""

_HEAD_2013 = Struct(">HH6sH")
_HEAD_2019 = Struct(">HHB10sH")
_PACKAGES = Struct(">HH")
PHONE_DIGITS = {False: 12, True: 20}
"""Digits of the phone number: BCD[6] in 2011/2013, BCD[10] in 2019."""


class Version(IntEnum):
    """Edition of JT/T 808 a frame follows; the header tells 2013 from 2019, the register body 2011."""

    JT2011 = 2011
    JT2013 = 2013
    JT2019 = 2019


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """One frame's header. `phone` is the BCD digits without leading zeros (encoding pads them back);
    some terminals put a binary IMEI there, so nibbles above 9 are kept as hex letters, never refused."""

    message_id: int
    phone: str
    serial: int
    version: Version = Version.JT2013
    protocol_version: int = 0
    """The 2019 header's version byte (1 for the first 2019 version); 0 in 2011/2013 headers."""
    encryption: int = 0
    """Bits 10-12 of the body attributes: 0 none, 1 RSA (the codec leaves RSA bodies unread)."""
    reserved_bit: bool = False
    package_total: int | None = None
    package_seq: int | None = None

    @property
    def subpackaged(self) -> bool:
        return self.package_total is not None


_new_header = fast_constructor(Header)


def parse_header(content: bytes) -> tuple[Header, int]:
    """The header of `content` (a frame between its flags, unescaped, without the check byte) and the
    offset of the body; the body length in the attributes must match the bytes that follow."""
    size = len(content)
    if size < 4:
        raise Truncated(f"header needs 12 bytes (2013) or 17 (2019), got {size}")
    attributes = (content[2] << 8) | content[3]
    if attributes & VERSION_BIT:
        if size < 17:
            raise Truncated(f"2019 header needs 17 bytes, got {size}")
        message_id, _, protocol_version, bcd, serial = _HEAD_2019.unpack_from(content)
        offset, version = 17, _JT2019
    else:
        if size < 12:
            raise Truncated(f"2013 header needs 12 bytes, got {size}")
        message_id, _, bcd, serial = _HEAD_2013.unpack_from(content)
        offset, version, protocol_version = 12, _JT2013, 0
    total = seq = None
    if attributes & SUBPACKAGE_BIT:
        if size < offset + 4:
            raise Truncated(f"subpackaged header needs {offset + 4} bytes, got {size}")
        total, seq = _PACKAGES.unpack_from(content, offset)
        offset += 4
        if total == 0 or not 1 <= seq <= total:
            raise BadPackage(f"package {seq} of {total}")
    if attributes & BODY_LENGTH_MASK != size - offset:
        raise BodyLengthMismatch(
            f"attributes say {attributes & BODY_LENGTH_MASK} body bytes, got {size - offset}"
        )
    header = _new_header(
        message_id,
        bcd.hex().lstrip("0") or "0",
        serial,
        version,
        protocol_version,
        (attributes >> ENCRYPTION_SHIFT) & ENCRYPTION_MASK,
        attributes & RESERVED_BIT != 0,
        total,
        seq,
    )
    return header, offset


_JT2013, _JT2019 = Version.JT2013, Version.JT2019


def header_bytes(header: Header, body_length: int) -> bytes:
    """The header for a body of `body_length` bytes; values that do not fit raise ValueError."""
    if not 0 <= body_length <= MAX_BODY_LENGTH:
        raise ValueError(f"body of {body_length} bytes is over {MAX_BODY_LENGTH}: send it in packages")
    if not 0 <= header.encryption <= ENCRYPTION_MASK:
        raise ValueError(f"encryption {header.encryption} does not fit bits 10-12")
    is_2019 = header.version is Version.JT2019
    digits = PHONE_DIGITS[is_2019]
    phone = header.phone.rjust(digits, "0")
    if len(phone) != digits or not all(c in "0123456789abcdefABCDEF" for c in phone):
        raise ValueError(f"phone {header.phone!r} is not {digits} BCD digits")
    attributes = (
        body_length
        | header.encryption << ENCRYPTION_SHIFT
        | (SUBPACKAGE_BIT if header.package_total is not None else 0)
        | (VERSION_BIT if is_2019 else 0)
        | (RESERVED_BIT if header.reserved_bit else 0)
    )
    if is_2019:
        head = _HEAD_2019.pack(
            header.message_id, attributes, header.protocol_version, bytes.fromhex(phone), header.serial
        )
    else:
        head = _HEAD_2013.pack(header.message_id, attributes, bytes.fromhex(phone), header.serial)
    if header.package_total is None:
        return head
    if header.package_seq is None or not 1 <= header.package_seq <= header.package_total:
        raise ValueError(f"package {header.package_seq} of {header.package_total}")
    return head + _PACKAGES.pack(header.package_total, header.package_seq)
