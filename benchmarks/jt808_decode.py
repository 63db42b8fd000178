"""Decode rate of JT/T 808 0x0200 location reports (位置信息汇报), 2013 and 2019 headers, on one core.

The frames are built from the real 0x0200 bodies of the Traccar test strings (`jt808/traccar/frames.jsonl`,
those that decode strictly): each body is re-encoded `--frames` times over with its own serial, time (one
second apart) and position, so no two frames are alike and no cache can help; the 2019 set puts the same
bodies under 2019 headers (20-digit phone, version byte 1). Each set is decoded whole (`jt808.decode`,
strict: unescape, XOR, header, body) `--runs` times; the best run is reported, with the time per stage of
one frame to say what bounds the rate. Prints one JSON line.

    .venv/bin/python benchmarks/jt808_decode.py --frames 20000
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dthub.domains.vehicles.jt808 import FrameError, Header, LocationReport, Version, decode, encode
from dthub.domains.vehicles.jt808.framing import checksum, unwrap
from dthub.domains.vehicles.jt808.header import parse_header
from dthub.hub.settings import Settings

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)


def real_reports(path: Path) -> list[tuple[Header, LocationReport]]:
    """The 0x0200 packets among the Traccar strings that decode in strict mode."""
    found = []
    for line in path.read_text().splitlines():
        try:
            packet = decode(bytes.fromhex(json.loads(line)["hex"]))
        except FrameError:
            continue
        if isinstance(packet.message, LocationReport):
            found.append((packet.header, packet.message))
    return found


def frame_set(reports: Sequence[tuple[Header, LocationReport]], count: int, version: Version) -> list[bytes]:
    """`count` distinct frames: the real bodies with their own serial, time and position."""
    frames = []
    for n in range(count):
        header, report = reports[n % len(reports)]
        if version is Version.JT2019:
            header = replace(header, version=version, protocol_version=1, phone=header.phone.rjust(20, "0"))
        moved = replace(
            report,
            time=T0 + timedelta(seconds=n),
            latitude=39.0 + (n % 9973) * 1e-5,
            longitude=117.0 + (n % 7919) * 1e-5,
        )
        frames.append(encode(replace(header, serial=n & 0xFFFF), moved))
    return frames


def best_seconds(run: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def decode_all(frames: Sequence[bytes]) -> None:
    for frame in frames:
        decode(frame)


def stages_us(frames: Sequence[bytes], runs: int) -> dict[str, float]:
    """Microseconds per frame of each stage, measured alone over the same frames."""
    contents = [unwrap(f)[0] for f in frames]
    bodies = [c[parse_header(c)[1] :] for c in contents]
    versions = [parse_header(c)[0].version for c in contents]

    def each(step: Callable[[int], object]) -> float:
        def run() -> None:
            for n in range(len(frames)):
                step(n)

        return round(best_seconds(run, runs) / len(frames) * 1e6, 3)

    loop = each(lambda n: None)
    return {
        "unwrap": round(each(lambda n: unwrap(frames[n])) - loop, 3),
        "of_which_xor": round(each(lambda n: checksum(contents[n])) - loop, 3),
        "header": round(each(lambda n: parse_header(contents[n])) - loop, 3),
        "body": round(each(lambda n: LocationReport.from_body(bodies[n], versions[n])) - loop, 3),
        "whole": round(each(lambda n: decode(frames[n])) - loop, 3),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=20_000, help="frames per version (default 20000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per set; the best counts (default 7)")
    args = parser.parse_args(argv)
    source = Settings().realdata / "jt808" / "traccar" / "frames.jsonl"
    reports = real_reports(source)
    result: dict[str, object] = {"benchmark": "jt808_decode"}
    for version in (Version.JT2013, Version.JT2019):
        frames = frame_set(reports, args.frames, version)
        decode_all(frames)  # warm-up
        seconds = best_seconds(functools.partial(decode_all, frames), args.runs)
        result[f"frames_per_s_{version.value}"] = round(len(frames) / seconds)
        result[f"stages_us_{version.value}"] = stages_us(frames[:5000], args.runs)
    result |= {
        "frames_per_version": args.frames,
        "source_bodies": len(reports),
        "mean_frame_bytes": round(
            sum(len(f) for f in frame_set(reports, len(reports), Version.JT2013)) / len(reports), 1
        ),
        "mean_items": round(sum(len(r.items) for _, r in reports) / len(reports), 2),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, one used",
        "command": shlex.join(
            ["python", "benchmarks/jt808_decode.py", *(sys.argv[1:] if argv is None else argv)]
        ),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
