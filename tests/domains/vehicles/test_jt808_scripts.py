"""The JT/T 808 benchmark scripts run, small, and print their one JSON line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from fixtures.hub import REALDATA, need_realdata

BENCHMARKS = Path(__file__).parents[3] / "benchmarks"


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fuzz_of_5000_frames_finds_only_frame_errors_and_loses_no_good_frame(
    capsys: pytest.CaptureFixture[str],
) -> None:
    need_realdata(REALDATA / "jt808")
    script("jt808_fuzz").main(["--frames", "5000", "--seed", "1"])
    line = json.loads(capsys.readouterr().out)
    assert line["frames"] == 5000
    assert line["good_frames_still_decoded"] == line["good_frames_in"] > 1000
    assert set(line["refused"]) <= {
        "jt808.bad_checksum",
        "jt808.bad_escape",
        "jt808.bad_flag",
        "jt808.garbage",
        "jt808.truncated",
        "jt808.body_length_mismatch",
        "jt808.bad_body",
        "jt808.bad_bcd",
        "jt808.bad_time",
        "jt808.bad_package",
        "jt808.frame_too_long",
    }


def test_decode_benchmark_prints_rates_for_both_editions(capsys: pytest.CaptureFixture[str]) -> None:
    need_realdata(REALDATA / "jt808")
    script("jt808_decode").main(["--frames", "300", "--runs", "1"])
    line = json.loads(capsys.readouterr().out)
    assert line["frames_per_s_2013"] > 0
    assert line["frames_per_s_2019"] > 0
    assert line["source_bodies"] == 32


def test_writer_benchmark_lands_every_report_once(capsys: pytest.CaptureFixture[str]) -> None:
    script("jt808_writer").main(["--terminals", "20", "--rounds", "3", "--lines", "7", "--batch", "2"])
    line = json.loads(capsys.readouterr().out)
    assert (line["rows_landed"], line["batches"]) == (60, 5)  # 9 messages of up to 7 lines, 2 a batch
    assert line["cpu_us_per_row"] > 0
