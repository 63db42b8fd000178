"""Cut a TCP byte stream into JT/T 808 frames (粘包/拆包): bytes in, whole frames or refusals out, in order.

Every 0x7E is a flag; the bytes between two flags are a candidate frame, kept when it passes the framing
checks (`framing.unwrap`: escaping and XOR). Nothing is dropped silently, and nothing poisons the stream:

- bytes before the first flag, or right after a good frame's closing flag up to the next flag, that do not
  form a frame are reported as `jt808.garbage` (a frame sharing the previous frame's closing flag is kept);
- a candidate between a start flag and the next flag that fails the checks is reported with its reason,
  and its closing flag is then read as the next frame's opening flag, so the good frames after it come out;
- more than `max_frame_bytes` without a flag is reported once as `jt808.frame_too_long` (the first bytes
  kept as raw) and skipped up to the next flag, so memory stays bounded.
"""

from __future__ import annotations

from dthub.domains.vehicles.jt808.errors import FrameError, FrameTooLong, Garbage, Truncated
from dthub.domains.vehicles.jt808.framing import FLAG, unwrap
from dthub.domains.vehicles.jt808.header import MAX_BODY_LENGTH

MAX_FRAME_BYTES = 2 + 2 * (21 + MAX_BODY_LENGTH + 1)
"""2092: flags, plus the longest header, body and check byte all escaped to two bytes each."""

Split = bytes | FrameError
"""What the splitter gives: a whole frame (flags included) or a refusal."""


class FrameSplitter:
    """Feed it bytes as they arrive; it returns the frames and refusals they complete, in stream order."""

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES, lenient: bool = False) -> None:
        if max_frame_bytes < 3:
            raise ValueError(f"max_frame_bytes {max_frame_bytes} cannot hold a frame")
        self.max_frame_bytes = max_frame_bytes
        self.lenient = lenient
        self._pending = bytearray()
        self._seen_flag = False
        self._after_good = False
        self._skipping = False

    @property
    def pending_bytes(self) -> int:
        """Bytes held for a frame not yet closed: at most `max_frame_bytes`."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[Split]:
        """The frames and refusals completed by `data`."""
        out: list[Split] = []
        pending = self._pending
        pending += data
        at = 0
        while True:
            flag = pending.find(FLAG, at)
            if flag < 0:
                break
            self._segment(bytes(pending[at:flag]), out)
            at = flag + 1
        del pending[:at]
        if len(pending) + 2 > self.max_frame_bytes and not self._skipping:
            self._overflow(bytes(pending), out)
            pending.clear()
        elif self._skipping:
            pending.clear()
        return out

    def close(self) -> list[Split]:
        """The end of the stream: bytes left without a closing flag are refused."""
        out: list[Split] = []
        rest = bytes(self._pending)
        self._pending.clear()
        if rest and not self._skipping:
            if self._seen_flag and not self._after_good:
                out.append(Truncated(f"stream ended {len(rest)} bytes into a frame", b"\x7e" + rest))
            else:
                out.append(Garbage(f"{len(rest)} bytes after the last frame", rest))
        self._seen_flag = self._after_good = self._skipping = False
        return out

    def _segment(self, segment: bytes, out: list[Split]) -> None:
        """The bytes up to a flag (excluded) since the previous flag (or the stream's start)."""
        if self._skipping:
            self._skipping = False
        elif not self._seen_flag:
            if segment:
                out.append(Garbage(f"{len(segment)} bytes before the first flag", segment))
        elif segment:
            if len(segment) + 2 > self.max_frame_bytes:
                self._overflow(segment, out)
                self._skipping = False
                return
            frame = b"\x7e" + segment + b"\x7e"
            try:
                unwrap(frame, lenient=self.lenient)
            except FrameError as error:
                if self._after_good:
                    out.append(Garbage(f"{len(segment)} bytes after a frame: {error}", segment))
                else:
                    out.append(error)
                self._after_good = False
                return
            out.append(frame)
            self._after_good = True
            return
        self._seen_flag = True
        self._after_good = False

    def _overflow(self, segment: bytes, out: list[Split]) -> None:
        keep = segment[: self.max_frame_bytes]
        if not self._seen_flag or self._after_good:
            out.append(Garbage(f"over {self.max_frame_bytes} bytes without a flag", keep))
        else:
            detail = f"over {self.max_frame_bytes} bytes without a closing flag"
            out.append(FrameTooLong(detail, b"\x7e" + keep))
        self._skipping = True
        self._after_good = False
