"""JT/T 808 framing: 0x7E flags, 0x7D escaping, the XOR check byte (标识位, 转义, 校验码; clause 4, 协议基础).

Sending: build header + body, append the XOR of every byte, escape, add the flags. Receiving: strip the
flags, unescape, verify the XOR, then parse (reference §1.1). `unwrap` is the receiving half in two modes:

- strict (the wire): the escaping must be valid, the XOR must match after unescaping, and no bare 0x7E may
  sit between the flags (the checks run in that order, so a damaged frame reports as `jt808.bad_checksum`);
- lenient (captures): a frame strict mode refuses is taken as given, without unescaping, when its XOR
  matches that way (logs that were unescaped before they were written), and the waived strict reason is
  reported; a frame whose XOR matches neither way is still refused.
"""

from __future__ import annotations

from dthub.domains.vehicles.jt808.errors import BadChecksum, BadEscape, BadFlag, FrameError, Truncated

FLAG = 0x7E
ESCAPE = 0x7D
_FLAG_BYTE = b"\x7e"
_ESCAPE_BYTE = b"\x7d"
_UNESCAPED = {0x01: ESCAPE, 0x02: FLAG}
"""0x7D 0x01 -> 0x7D, 0x7D 0x02 -> 0x7E; any other byte after 0x7D is an error."""


def escape(data: bytes) -> bytes:
    """0x7D -> 0x7D 0x01, then 0x7E -> 0x7D 0x02 (in this order, so no escape is escaped twice)."""
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    """Undo `escape`, byte by byte: after 0x7D only 0x01 or 0x02 may follow, else `BadEscape`.

    A state machine with two states (plain, after 0x7D); runs of plain bytes are copied by `find` rather
    than one by one. A bare 0x7E is plain data here: `unwrap` checks for it.
    """
    start = data.find(_ESCAPE_BYTE)
    if start < 0:
        return data
    out = bytearray(data[:start])
    end = len(data)
    while start >= 0:
        if start + 1 >= end:
            raise BadEscape(f"0x7d at offset {start} ends the frame", data)
        after = data[start + 1]
        if after not in _UNESCAPED:
            raise BadEscape(f"0x7d at offset {start} followed by {after:#04x}, want 0x01 or 0x02", data)
        out.append(_UNESCAPED[after])
        following = data.find(_ESCAPE_BYTE, start + 2)
        out += data[start + 2 : end if following < 0 else following]
        start = following
    return bytes(out)


def checksum(data: bytes) -> int:
    """XOR of every byte: the message read as one integer, folded in halves down to 8 bits."""
    folded = int.from_bytes(data, "big")
    size_class = (len(data) - 1).bit_length()
    for shift, mask in _FOLDS[size_class] if size_class < len(_FOLDS) else _folds(size_class):
        folded = (folded >> shift) ^ (folded & mask)
    return folded


def _folds(size_class: int) -> tuple[tuple[int, int], ...]:
    """The (shift, mask) halvings that take an integer of 2**size_class bytes down to its lowest byte."""
    return tuple((8 << n, (1 << (8 << n)) - 1) for n in reversed(range(size_class)))


_FOLDS = [_folds(size_class) for size_class in range(13)]
"""Fold plans for up to 4 KiB, more than any frame holds."""


def wrap(content: bytes) -> bytes:
    """Header + body -> a frame on the wire: check byte appended, escaped, between flags."""
    return _FLAG_BYTE + escape(content + bytes((checksum(content),))) + _FLAG_BYTE


def unwrap(frame: bytes, *, lenient: bool = False) -> tuple[bytes, str | None]:
    """A frame (flags included) -> header + body, and the strict reason lenient mode waived (or None).

    Offsets in refusals count from the first byte after the start flag.
    """
    if len(frame) < 2 or frame[0] != FLAG or frame[-1] != FLAG:
        ends = f"{frame[:1].hex() or 'nothing'}...{frame[-1:].hex()}"
        raise BadFlag(f"frame must start and end with 0x7e, got {ends}", frame)
    inner = frame[1:-1]
    try:
        content = unescape(inner) if ESCAPE in inner else inner
        if len(content) < 2:
            raise Truncated(f"{len(content)} byte(s) between the flags")
        message = content[:-1]
        want = checksum(message)
        if want != content[-1]:
            raise BadChecksum(f"want {want:#04x}, got {content[-1]:#04x}")
        if FLAG in inner:
            raise BadEscape(f"bare 0x7e at offset {inner.index(FLAG)}: it must be sent as 0x7d 0x02")
        return message, None
    except FrameError as strict:
        strict.raw = frame
        if not lenient or len(inner) < 2 or checksum(inner[:-1]) != inner[-1]:
            raise
        return inner[:-1], strict.reason
