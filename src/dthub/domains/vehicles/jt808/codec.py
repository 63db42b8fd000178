"""Whole frames in both directions: `decode` a frame into a `Packet`, `encode` a header and a message back.

Receiving follows the standard's order: strip the flags, unescape, verify the XOR, parse the header,
then the body (reference §1.1). Every refusal is a `FrameError` whose `raw` is the whole frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dthub.domains.vehicles.jt808._build import fast_constructor
from dthub.domains.vehicles.jt808.errors import FrameError
from dthub.domains.vehicles.jt808.framing import ESCAPE, unescape, unwrap, wrap
from dthub.domains.vehicles.jt808.header import MAX_BODY_LENGTH, Header, Version, header_bytes, parse_header
from dthub.domains.vehicles.jt808.messages import (
    DECODERS,
    Authenticate,
    Fragment,
    Message,
    Register,
    RetransmitRequest,
    UnknownMessage,
)


@dataclass(frozen=True, slots=True)
class Packet:
    """A decoded frame. `lenient` is the strict refusal reason lenient mode waived by checking the frame
    as given (`jt808.bad_checksum` or `jt808.bad_escape`: a capture unescaped before it was written);
    None when the frame passed strictly."""

    header: Header
    message: Message
    lenient: str | None = None


_new_packet = fast_constructor(Packet)


def decode(frame: bytes, *, lenient: bool = False, checked: bool = False) -> Packet:
    """One frame, flags included -> header and message; `lenient` for captures (see `framing.unwrap`).

    `checked`: the frame is one a strict `FrameSplitter` gave, which checked its flags, escaping and XOR
    already; they are not checked again (the gateway decodes every frame it splits)."""
    if checked:
        inner = frame[1:-1]
        content, waived = (unescape(inner) if ESCAPE in inner else inner)[:-1], None
    else:
        content, waived = unwrap(frame, lenient=lenient)
    try:
        header, offset = parse_header(content)
        if header.package_total is None and not header.encryption:  # decode_body's common case, inlined
            decoder = DECODERS.get(header.message_id)
            if decoder is not None:
                return _new_packet(header, decoder(content[offset:], header.version), waived)
        return _new_packet(header, decode_body(header, content[offset:]), waived)
    except FrameError as error:
        error.raw = frame
        raise


def decode_body(header: Header, body: bytes) -> Message:
    """The message in `body` as its header says: a `Fragment` when subpackaged, an `UnknownMessage` for
    an unknown id or an encrypted body."""
    if header.package_total is not None:
        return Fragment(body)
    decoder = DECODERS.get(header.message_id)
    if decoder is None or header.encryption:
        return UnknownMessage(header.message_id, body)
    return decoder(body, header.version)


def encode(header: Header, message: Message) -> bytes:
    """A header and a message -> one frame on the wire (check byte, escaping, flags).

    The message must be the header's: same id, and for 0x0100/0x0102 a layout of the header's edition.
    """
    _check_matches(header, message)
    body = message.to_body()
    return wrap(header_bytes(header, len(body)) + body)


def encode_packages(header: Header, message: Message, *, package_size: int = MAX_BODY_LENGTH) -> list[bytes]:
    """A message too long for one frame -> frames of at most `package_size` body bytes each, package
    1..n, serials counting up from `header.serial` (分包, reference §1.2)."""
    if not 1 <= package_size <= MAX_BODY_LENGTH:
        raise ValueError(f"package size {package_size} is outside 1-{MAX_BODY_LENGTH}")
    _check_matches(header, message)
    body = message.to_body()
    chunks = [body[at : at + package_size] for at in range(0, len(body), package_size)] or [b""]
    if len(chunks) > 0xFFFF:
        raise ValueError(f"{len(chunks)} packages do not fit the package total WORD")
    frames = []
    for seq, chunk in enumerate(chunks, start=1):
        package = replace(
            header, serial=(header.serial + seq - 1) & 0xFFFF, package_total=len(chunks), package_seq=seq
        )
        frames.append(wrap(header_bytes(package, len(chunk)) + chunk))
    return frames


def _check_matches(header: Header, message: Message) -> None:
    if isinstance(message, UnknownMessage):
        want = message.message_id
    elif isinstance(message, Fragment):
        want = header.message_id
    else:
        want = message.MESSAGE_ID
    if want != header.message_id:
        raise ValueError(f"header says message {header.message_id:#06x}, the body is {want:#06x}")
    is_2019 = header.version is Version.JT2019
    if isinstance(message, Register) and (message.layout is Version.JT2019) != is_2019:
        raise ValueError(f"a {message.layout.value} register body in a {header.version.value} header")
    if isinstance(message, RetransmitRequest) and (message.layout is Version.JT2019) != is_2019:
        raise ValueError(f"a {message.layout.value} 0x8003 body in a {header.version.value} header")
    if isinstance(message, Authenticate) and (message.imei is not None) != is_2019:
        raise ValueError(
            f"an authentication body with imei={message.imei!r} in a {header.version.value} header"
        )
