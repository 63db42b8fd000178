"""Join subpackaged JT/T 808 messages (分包合并, reference §1.2): packages in, whole messages out.

Packages belong together by (phone, message id, first serial, package total); the first serial is the
package's serial minus its sequence number plus one, as terminals number packages consecutively. A group
that sees no new package for `timeout_s`, or the oldest groups when pending bytes pass
`max_pending_bytes`, are given up and reported as `jt808.packages_dropped` (raw: the bodies received), never
dropped silently. Time is an argument (`now`, seconds on any monotonic clock), so tests need no sleeping.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

from dthub.domains.vehicles.jt808.codec import Packet, decode_body
from dthub.domains.vehicles.jt808.errors import FrameError, PackagesDropped
from dthub.domains.vehicles.jt808.header import Header
from dthub.domains.vehicles.jt808.messages import Fragment


@dataclass(frozen=True, slots=True)
class PackageKey:
    """What packages of one message share."""

    phone: str
    message_id: int
    first_serial: int
    total: int


@dataclass(slots=True)
class _Pending:
    first: Header
    lenient: str | None
    last_seen: float
    parts: dict[int, bytes] = field(default_factory=dict)
    frames: dict[int, bytes] = field(default_factory=dict)
    size: int = 0


@dataclass(frozen=True, slots=True)
class Reassembly:
    """What one `add` gave: the whole message if this package completed one, the groups given up, and
    the refusal of a completed message whose joined body does not decode."""

    packet: Packet | None
    dropped: tuple[PackagesDropped, ...] = ()
    refused: FrameError | None = None
    frames: tuple[bytes, ...] = ()
    """The package frames of the completed message in sequence order, as given to `add` (if given)."""


class Reassembler:
    """Collects packages per `PackageKey`; bounded by `timeout_s` of silence and `max_pending_bytes`."""

    def __init__(self, *, timeout_s: float, max_pending_bytes: int = 1 << 20) -> None:
        if timeout_s <= 0 or max_pending_bytes <= 0:
            raise ValueError(f"timeout_s {timeout_s} and max_pending_bytes {max_pending_bytes} must be > 0")
        self.timeout_s = timeout_s
        self.max_pending_bytes = max_pending_bytes
        self._groups: OrderedDict[PackageKey, _Pending] = OrderedDict()
        self._pending_bytes = 0

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    def add(self, packet: Packet, *, now: float, frame: bytes | None = None) -> Reassembly:
        """Take one decoded packet (and its `frame`, to be given back with the whole message); a packet
        that is not subpackaged comes straight back out.

        The whole message is decoded with the first package's header (package fields cleared); a joined
        body that does not decode comes back as `refused`, its `FrameError` holding the body as raw.
        """
        dropped = self.expire(now=now)
        header = packet.header
        if header.package_total is None or header.package_seq is None:
            return Reassembly(packet, dropped)
        if not isinstance(packet.message, Fragment):
            raise ValueError(
                f"a subpackaged packet must carry a Fragment, got {type(packet.message).__name__}"
            )
        seq, total = header.package_seq, header.package_total
        key = PackageKey(header.phone, header.message_id, (header.serial - seq + 1) & 0xFFFF, total)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Pending(first=header, lenient=packet.lenient, last_seen=now)
        body = packet.message.body
        grown = (
            len(body) - len(group.parts.get(seq, b"")) + len(frame or b"") - len(group.frames.get(seq, b""))
        )
        if frame is not None:
            group.frames[seq] = frame
        self._pending_bytes += grown
        group.size += grown
        group.parts[seq] = body
        group.last_seen = now
        if seq == 1:
            group.first = header
        self._groups.move_to_end(key)
        if len(group.parts) == total:
            self._remove(key)
            whole = b"".join(group.parts[n] for n in range(1, total + 1))
            first = replace(group.first, package_total=None, package_seq=None)
            try:
                message = decode_body(first, whole)
            except FrameError as error:
                error.raw = whole
                return Reassembly(None, dropped, error)
            frames = tuple(group.frames[n] for n in range(1, total + 1) if n in group.frames)
            return Reassembly(Packet(first, message, group.lenient), dropped, frames=frames)
        while self._pending_bytes > self.max_pending_bytes and self._groups:
            oldest = next(iter(self._groups))
            dropped += (self._drop(oldest, f"pending bytes over {self.max_pending_bytes}"),)
        return Reassembly(None, dropped)

    def missing(self, header: Header) -> tuple[int, ...]:
        """The package numbers not yet received of the message the package `header` belongs to (none
        when it is complete or unknown)."""
        if header.package_total is None or header.package_seq is None:
            return ()
        first = self.first_serial(header)
        group = self._groups.get(PackageKey(header.phone, header.message_id, first, header.package_total))
        if group is None:
            return ()
        return tuple(n for n in range(1, header.package_total + 1) if n not in group.parts)

    @staticmethod
    def first_serial(header: Header) -> int:
        """The serial of package 1 of the message the package `header` belongs to."""
        return (header.serial - (header.package_seq or 1) + 1) & 0xFFFF

    def expire(self, *, now: float) -> tuple[PackagesDropped, ...]:
        """Give up the groups silent for more than `timeout_s` at `now`."""
        dropped: list[PackagesDropped] = []
        while self._groups:
            key, oldest = next(iter(self._groups.items()))
            if now - oldest.last_seen <= self.timeout_s:
                break
            dropped.append(self._drop(key, f"no package for {now - oldest.last_seen:g} s"))
        return tuple(dropped)

    def _remove(self, key: PackageKey) -> _Pending:
        group = self._groups.pop(key)
        self._pending_bytes -= group.size
        return group

    def _drop(self, key: PackageKey, why: str) -> PackagesDropped:
        group = self._remove(key)
        have = sorted(group.parts)
        detail = (
            f"message {key.message_id:#06x} from {key.phone} (first serial {key.first_serial}): "
            f"packages {have} of {key.total} given up, {why}"
        )
        return PackagesDropped(detail, b"".join(group.parts[n] for n in have))
