"""The platform general response (平台通用应答, 0x8001) to one terminal, built from a template.

The gateway answers every uplink with 0x8001. Its header differs between answers to the same terminal
only in the serial, and its body is the serial and id answered and the result, so `PlatformAnswers`
packs the header once and per answer only the 7 bytes that change; the check byte is the header's XOR,
kept, folded with those 7 bytes. The frame equals `encode(Header(0x8001, phone, serial, version,
protocol_version), PlatformResponse(reply_serial, reply_id, result))` (a test checks it, byte for byte).
"""

from __future__ import annotations

from struct import Struct

from dthub.domains.vehicles.jt808.framing import checksum, escape
from dthub.domains.vehicles.jt808.header import Header, Version, header_bytes
from dthub.domains.vehicles.jt808.messages import PlatformResponse

_TAIL = Struct(">HHHB")
"""The header's serial, then the body: serial answered, id answered, result."""
_BODY_BYTES = 5


class PlatformAnswers:
    """0x8001 frames to the terminal with `phone`, in the header edition of the frames it sends."""

    __slots__ = ("_head", "_head_xor", "key")

    def __init__(self, phone: str, version: Version, protocol_version: int) -> None:
        header = Header(message_id=PlatformResponse.MESSAGE_ID, phone=phone, serial=0, version=version,
                        protocol_version=protocol_version)  # fmt: skip
        head = header_bytes(header, _BODY_BYTES)
        self.key = (phone, version, protocol_version)
        self._head = head[:-2]  # up to the serial, the header's last field (never subpackaged)
        self._head_xor = checksum(self._head)

    @classmethod
    def to(cls, asked: Header) -> PlatformAnswers:
        """Answers in the edition of `asked`, the terminal's frame."""
        return cls(asked.phone, asked.version, asked.protocol_version)

    def fits(self, asked: Header) -> bool:
        """Whether these answers are in the phone and edition of `asked`."""
        return self.key == (asked.phone, asked.version, asked.protocol_version)

    def frame(self, serial: int, reply_serial: int, reply_id: int, result: int) -> bytes:
        """The 0x8001 frame (flags included) with platform serial `serial`, answering `reply_id`."""
        tail = _TAIL.pack(serial, reply_serial, reply_id, result)
        check = self._head_xor ^ checksum(tail)
        return b"\x7e" + escape(self._head + tail + bytes((check,))) + b"\x7e"
