"""Errors of the JT/T 808 codec: one base `FrameError`, one narrow subclass per stable reason key."""

from __future__ import annotations

from typing import ClassVar


class FrameError(Exception):
    """Bytes the codec refuses; `reason` is a stable key the console translates, `raw` the refused bytes.

    Messages quote the bad value: `jt808.bad_checksum: want 0x3a, got 0x3b`.
    """

    reason: ClassVar[str] = "jt808.bad_frame"

    def __init__(self, detail: str, raw: bytes = b"") -> None:
        super().__init__(f"{self.reason}: {detail}")
        self.detail = detail
        self.raw = bytes(raw)

    def __reduce__(self) -> tuple[type[FrameError], tuple[str, bytes]]:
        return type(self), (self.detail, self.raw)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(reason={self.reason!r}, detail={self.detail!r}, raw={self.raw.hex()!r})"
        )


class BadFlag(FrameError):
    """The frame does not begin and end with the 0x7E flag."""

    reason = "jt808.bad_flag"


class BadEscape(FrameError):
    """0x7D followed by anything but 0x01 or 0x02, or a bare 0x7E between the flags."""

    reason = "jt808.bad_escape"


class BadChecksum(FrameError):
    """The XOR of header and body differs from the check byte."""

    reason = "jt808.bad_checksum"


class Truncated(FrameError):
    """Fewer bytes than the header, the body layout or an item length needs."""

    reason = "jt808.truncated"


class BodyLengthMismatch(FrameError):
    """The body length in the header's body attributes (bits 0-9) differs from the body received."""

    reason = "jt808.body_length_mismatch"


class BadBody(FrameError):
    """A body that breaks its layout otherwise: bytes left over, a count that disagrees with the items."""

    reason = "jt808.bad_body"


class BadBcd(FrameError):
    """A BCD field with a nibble above 9."""

    reason = "jt808.bad_bcd"


class BadTime(FrameError):
    """A BCD[6] time that is no calendar time (month 13, 24:61...)."""

    reason = "jt808.bad_time"


class BadPackage(FrameError):
    """Subpackage fields out of range: a total of 0, or a sequence number of 0 or above the total."""

    reason = "jt808.bad_package"


class FrameTooLong(FrameError):
    """More bytes between two flags than a frame can hold; the splitter refuses it and resynchronises."""

    reason = "jt808.frame_too_long"


class Garbage(FrameError):
    """Bytes on a stream outside any frame: before the first flag or between a frame's end and the next."""

    reason = "jt808.garbage"


class PackagesDropped(FrameError):
    """A subpackaged message given up incomplete: its timeout passed, or pending memory ran over the cap."""

    reason = "jt808.packages_dropped"
