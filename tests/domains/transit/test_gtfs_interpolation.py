"""Stop times without times between timepoints: interpolated by shape_dist_traveled or by stop distance, on
named cases and on every blank time of two real feeds (Amazon shuttles: 840 blank of 1,861, with
shape_dist_traveled, 66 of them between timepoints; Cairns: 65 blank, without), checked against a plain
per-trip reference."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dthub.domains.transit.geo import distance_m
from dthub.domains.transit.gtfs import numbers, read_feed, seconds, texts
from dthub.domains.transit.timetable import active_services, build_timetable, interpolate_times
from fixtures.hub import REALDATA, need_realdata

# four stops due north of each other: 0, 1, 3 and 4 km from the first (0.008993 degrees per km)
LAT = np.asarray([30.0, 30.008993, 30.026979, 30.035972])
LON = np.full(4, 120.0)


def run(arrival: list[int], travelled: list[float]) -> list[int]:
    count = len(arrival)
    times = np.asarray(arrival, dtype=np.int32)
    result, _ = interpolate_times(
        np.zeros(count, np.int64),
        np.arange(count, dtype=np.int64),
        np.arange(count, dtype=np.int32),
        times,
        times,
        np.asarray(travelled, dtype=np.float64),
        LAT,
        LON,
    )
    return [int(t) for t in result]


def test_blank_times_follow_shape_dist_traveled() -> None:
    # the shape says the stops are at 0, 2, 3 and 4 units: 08:00, 08:05, 08:07:30, 08:10
    assert run([28800, -1, -1, 29400], [0, 2, 3, 4]) == [28800, 29100, 29250, 29400]


def test_without_shape_dist_the_distance_between_stops_decides() -> None:
    # 0, 1, 3, 4 km: 08:00, 08:02:30, 08:07:30, 08:10 (to the second, within rounding of the degrees)
    times = run([28800, -1, -1, 29400], [math.nan] * 4)
    assert times[0] == 28800
    assert times[3] == 29400
    assert abs(times[1] - 28950) <= 1
    assert abs(times[2] - 29250) <= 1


def test_stops_before_the_first_or_after_the_last_timepoint_stay_untimed() -> None:
    assert run([-1, 28800, -1, -1], [math.nan] * 4) == [-1, 28800, -1, -1]


def test_rows_in_any_order_and_two_trips_apart() -> None:
    trip = np.asarray([1, 0, 1, 0, 0, 1], np.int64)
    sequence = np.asarray([3, 2, 1, 1, 3, 2], np.int64)
    stop = np.asarray([2, 1, 0, 0, 2, 1], np.int32)
    times = np.asarray([1200, -1, 0, 100, 300, -1], np.int32)
    travelled = np.asarray([2, 1, 0, 0, 2, 1], np.float64)
    result, _ = interpolate_times(trip, sequence, stop, times, times, travelled, LAT, LON)
    assert result.tolist() == [1200, 200, 0, 100, 300, 600]


def reference(
    arrival: list[int], departure: list[int], travelled: list[float], metres: list[float]
) -> list[int]:
    """The plain reading of the rule for one trip, stop by stop."""
    out = list(arrival)
    timed = [n for n, t in enumerate(arrival) if t >= 0]
    along = [sum(metres[1 : n + 1]) for n in range(len(metres))]
    for n, value in enumerate(arrival):
        if value >= 0 or not timed or n < timed[0] or n > timed[-1]:
            continue
        p = max(k for k in timed if k < n)
        q = min(k for k in timed if k > n)
        shape = [travelled[p], travelled[n], travelled[q]]
        if all(math.isfinite(v) for v in shape) and travelled[q] > travelled[p]:
            fraction = (travelled[n] - travelled[p]) / (travelled[q] - travelled[p])
        elif along[q] > along[p]:
            fraction = (along[n] - along[p]) / (along[q] - along[p])
        else:
            fraction = (n - p) / (q - p)
        out[n] = round(departure[p] + fraction * (arrival[q] - departure[p]))
    return out


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("path", "blank", "edges"),
    [("partridge/amazon-2017-08-06", 840, 774), ("gtfs_kit/cairns_gtfs.zip", 65, 0)],
)
def test_every_blank_time_of_a_real_feed_equals_the_reference(path: str, blank: int, edges: int) -> None:
    """`edges`: blank times before a trip's first or after its last timepoint, which stay untimed: Amazon
    leaves the last stops of 369 trips and the first of 6 without times (`missing_trip_edge`), so 66 of
    its 840 blank times lie between two timepoints."""
    feed = read_feed(need_realdata(REALDATA / "gtfs" / path), name="feed")
    st = feed.get("stop_times.txt")
    stops = texts(feed.column("stops.txt", "stop_id"))
    where = {s: n for n, s in enumerate(stops)}
    lat, lon = numbers(feed.column("stops.txt", "stop_lat")), numbers(feed.column("stops.txt", "stop_lon"))
    trip_text = texts(st["trip_id"])
    trips = {t: n for n, t in enumerate(dict.fromkeys(trip_text))}
    trip = np.asarray([trips[t] for t in trip_text], np.int64)
    sequence = numbers(st["stop_sequence"]).astype(np.int64)
    stop = np.asarray([where[s] for s in texts(st["stop_id"])], np.int32)
    arrival, departure = seconds(st["arrival_time"]), seconds(st["departure_time"])
    travelled = numbers(feed.column("stop_times.txt", "shape_dist_traveled"))
    assert int((arrival < 0).sum()) == blank
    got, _ = interpolate_times(trip, sequence, stop, arrival, departure, travelled, lat, lon)
    checked = 0
    for number in range(len(trips)):
        rows = np.flatnonzero(trip == number)
        rows = rows[np.argsort(sequence[rows])]
        s = stop[rows]
        metres = [0.0, *distance_m(lat[s[:-1]], lon[s[:-1]], lat[s[1:]], lon[s[1:]]).tolist()]
        want = reference(arrival[rows].tolist(), departure[rows].tolist(), travelled[rows].tolist(), metres)
        assert got[rows].tolist() == want
        checked += int((arrival[rows] < 0).sum())
    assert checked == blank
    assert int((got < 0).sum()) == edges


@pytest.mark.realdata
def test_the_timetable_keeps_every_stop_time_of_the_day() -> None:
    feed = read_feed(need_realdata(REALDATA / "gtfs" / "gtfs_kit" / "cairns_gtfs.zip"), name="cairns")
    day = date(2014, 6, 4)
    tt = build_timetable([feed], day)
    trips = feed.get("trips.txt")
    running = trips.filter(pc.is_in(trips["service_id"], pa.array(sorted(active_services(feed, day)))))
    st = feed.get("stop_times.txt")
    today = st.filter(pc.is_in(st["trip_id"], running["trip_id"]))
    assert today["arrival_time"].null_count > 0  # blank times run today ...
    lengths = np.diff(tt.pattern_start)
    per_trip = np.repeat(lengths, np.diff(tt.pattern_trip_start))
    of_today = np.asarray([not str(t).endswith("@-1") for t in tt.trip_ids])
    assert int(per_trip[of_today].sum()) == today.num_rows  # ... and each is in the timetable, with a time
    assert int(of_today.sum()) == running.num_rows
