"""Simulated detectors: deterministic intervals, peaks slower than nights, healthy days, honest adapters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis

from dthub.demo.city import build_network
from dthub.demo.detectors import (
    SimDetectorObservations,
    SimDetectorSegments,
    backfill,
    observations,
    place_detectors,
    segment_map,
)
from dthub.domains.roads.detector_health import HealthRules, detector_health

NIGHT = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)  # 03:00 in Beijing
PEAK = datetime(2026, 11, 24, 23, 45, tzinfo=UTC)  # 07:45


def mean_speed(lines: list[str]) -> float:
    return sum(float(line.split(",")[4]) for line in lines) / len(lines)


def test_each_expressway_segment_has_a_detector_and_an_interval_is_made_again_identically() -> None:
    network = build_network()
    detectors = place_detectors(network)
    on = {d.segment_index for d in detectors}
    assert all(i in on for i, s in enumerate(network.segments) if s.kind.road_class == "expressway")
    assert observations(detectors, PEAK) == observations(detectors, PEAK + timedelta(minutes=3))
    assert observations(detectors, PEAK) != observations(detectors, PEAK + timedelta(minutes=5))


def test_the_morning_peak_is_slower_and_busier_than_the_night() -> None:
    detectors = place_detectors(build_network())
    night, peak = observations(detectors, NIGHT), observations(detectors, PEAK)
    assert mean_speed(peak) < 0.75 * mean_speed(night)
    assert sum(int(line.split(",")[2]) for line in peak) > 3 * sum(int(line.split(",")[2]) for line in night)


def test_a_simulated_day_passes_the_detector_health_rules() -> None:
    detectors = place_detectors(build_network())[:20]
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    parsed = SimDetectorObservations().parse(
        "\n".join(backfill(detectors, start, start + timedelta(days=1))).encode()
    )
    assert parsed.rejected == ()
    assert parsed.rows.num_rows == 20 * 288
    flags = detector_health(ibis.memtable(parsed.rows.drop(["_location"])), rules=HealthRules()).to_pyarrow()
    assert flags.num_rows == 0, flags.to_pylist()[:5]


def test_the_adapters_refuse_a_bad_line_with_its_number_and_keep_the_rest() -> None:
    detectors = place_detectors(build_network())[:3]
    lines = observations(detectors, PEAK)
    data = "\n".join([lines[0], "912000x1,2026-11-24T23:45:00Z,1,0.1,50", lines[1], ""]).encode()
    parsed = SimDetectorObservations().parse(data)
    assert parsed.rows.num_rows == 2
    assert parsed.skipped == 1
    assert [(r.reason, r.location) for r in parsed.rejected] == [("sim.bad_line", 2)]
    assert SimDetectorObservations().parse_raw(lines[2]).rows.num_rows == 1
    mapping = SimDetectorSegments().parse("\n".join([*segment_map(detectors), "x,y,z"]).encode())
    assert mapping.rows.column("method").to_pylist() == ["declared"] * 3
    assert mapping.rows.column("segment_id").to_pylist()[0].startswith("geojson:tjsim-")
    assert [r.location for r in mapping.rejected] == [4]
