"""Fuzz the JT/T 808 stream path: mutated real frames through `FrameSplitter` and `decode`.

Seeds are the real frames in the shared data: Traccar's 67 strings and go-jt808's annotated frames.
`--frames` of them are drawn at random into one byte stream; about half are mutated first (1-3 of: bit
flips, a cut at either end, inserted random bytes, an injected 0x7E or 0x7D, a deleted run). The stream
is fed to one `FrameSplitter` in random chunk sizes, and every frame it gives is decoded (strict). Any
exception but a `FrameError` is a bug: the script stops and prints the frame. It counts refusals by
reason, decodes by message type, and checks the splitter is never poisoned: every unmutated well-formed
frame must come out and decode. Prints one JSON line.

    .venv/bin/python benchmarks/jt808_fuzz.py --frames 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shlex
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from dthub.domains.vehicles.jt808 import FrameError, FrameSplitter, decode
from dthub.hub.settings import Settings

MUTATIONS = ("flip", "cut_end", "cut_start", "insert", "inject_flag", "inject_escape", "delete")


def seed_frames(realdata: Path) -> list[bytes]:
    """Every frame in the Traccar strings and in go-jt808's terminal vectors."""
    traccar = realdata / "jt808" / "traccar" / "frames.jsonl"
    frames = [bytes.fromhex(json.loads(line)["hex"]) for line in traccar.read_text().splitlines()]
    for path in sorted((realdata / "jt808" / "go-jt808" / "terminal" / "testdata").glob("*.txt")):
        frames += [bytes.fromhex(h) for h in re.findall(r"^7e[0-9a-f]+7e$", path.read_text(), re.MULTILINE)]
    return frames


def mutate(frame: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(MUTATIONS)
        at = rng.randrange(len(frame) + 1)
        if kind == "flip" and frame:
            at = min(at, len(frame) - 1)
            frame = frame[:at] + bytes([frame[at] ^ (1 << rng.randrange(8))]) + frame[at + 1 :]
        elif kind == "cut_end":
            frame = frame[:at]
        elif kind == "cut_start":
            frame = frame[at:]
        elif kind == "insert":
            frame = frame[:at] + rng.randbytes(rng.randint(1, 8)) + frame[at:]
        elif kind == "inject_flag":
            frame = frame[:at] + b"\x7e" + frame[at:]
        elif kind == "inject_escape":
            frame = frame[:at] + b"\x7d" + frame[at:]
        elif kind == "delete":
            frame = frame[:at] + frame[at + rng.randint(1, 8) :]
    return frame


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=1_000_000, help="frames drawn (default 1000000)")
    parser.add_argument("--seed", type=int, default=808, help="random seed (default 808)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    seeds = seed_frames(Settings().realdata)
    well_formed = set()
    for frame in seeds:
        try:
            decode(frame)
            well_formed.add(frame)
        except FrameError:
            pass

    splitter = FrameSplitter()
    refused: Counter[str] = Counter()
    decoded: Counter[str] = Counter()
    expected: Counter[bytes] = Counter()  # unmutated well-formed frames fed and not yet out
    good_in = good_out = mutated = 0
    start = time.perf_counter()

    def take(splits: list[bytes | FrameError]) -> None:
        nonlocal good_out
        for split in splits:
            if isinstance(split, FrameError):
                refused[split.reason] += 1
                continue
            try:
                packet = decode(split)
            except FrameError as error:
                refused[error.reason] += 1
                continue
            except Exception:
                print(f"not a FrameError on frame {split.hex()}", file=sys.stderr)
                raise
            decoded[type(packet.message).__name__] += 1
            if expected[split] > 0:
                expected[split] -= 1
                good_out += 1

    pending = bytearray()
    for _ in range(args.frames):
        frame = rng.choice(seeds)
        if rng.random() < 0.5:
            changed = mutate(frame, rng)
            mutated += changed != frame
            frame = changed
        if frame in well_formed:
            good_in += 1
            expected[frame] += 1
        pending += frame
        if len(pending) > 4096:
            while pending:
                size = rng.randint(1, 4096)
                take(splitter.feed(bytes(pending[:size])))
                del pending[:size]
    take(splitter.feed(bytes(pending)))
    take(splitter.close())
    seconds = time.perf_counter() - start
    if good_out != good_in:
        raise AssertionError(f"the splitter lost good frames: {good_in} in, {good_out} out")
    print(
        json.dumps(
            {
                "benchmark": "jt808_fuzz",
                "frames": args.frames,
                "mutated": mutated,
                "seed_frames": len(seeds),
                "refused": dict(refused.most_common()),
                "decoded": dict(decoded.most_common()),
                "good_frames_in": good_in,
                "good_frames_still_decoded": good_out,
                "other_exceptions": 0,
                "seconds": round(seconds, 1),
                "command": shlex.join(
                    ["python", "benchmarks/jt808_fuzz.py", *(argv if argv is not None else sys.argv[1:])]
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
