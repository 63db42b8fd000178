"""RAPTOR on the New York city network (the subway and the six MTA bus feeds merged, Wed 2026-10-07, about
64k trips and 2M stop times) against the independent connection scan of `test_raptor`: 1,000 seeded random
queries between stops served that day, leaving at any time of the day (night services and the trips of the
day before that run past midnight included); every itinerary feasible."""

from __future__ import annotations

import numpy as np

from domains.transit.conftest import NYC_BUSES
from domains.transit.test_raptor import QUERIES_PER_FEED, check_random_queries
from dthub.domains.transit.timetable import DAY_S, Timetable


def feed_of(tt: Timetable, stops: np.ndarray) -> np.ndarray:
    return np.asarray([str(tt.stop_ids[s]).split(":", 1)[0] for s in stops.tolist()], dtype=object)


def test_city_network_is_the_subway_and_six_bus_feeds_with_walks_between_them(
    nyc_city_timetable: Timetable,
) -> None:
    tt = nyc_city_timetable
    assert set(feed_of(tt, np.unique(tt.position_stop))) == {"subway", *NYC_BUSES}
    assert 60_000 < tt.trips < 70_000
    assert len(tt.arrival) > 1_900_000
    walker = np.repeat(np.arange(tt.stops), np.diff(tt.footpath_start))
    ends = feed_of(tt, walker), feed_of(tt, tt.footpath_to)
    assert ((ends[0] == "subway") & (ends[1] != "subway")).sum() > 1_000  # subway → bus
    assert ((ends[0] != "subway") & (ends[1] == "subway")).sum() > 1_000  # bus → subway


def test_earliest_arrival_equals_connection_scan_on_the_nyc_city_network(
    nyc_city_timetable: Timetable,
) -> None:
    tt = nyc_city_timetable
    journeys = check_random_queries(tt, seed=64, leave=(0, DAY_S))
    found = [j for j in journeys if j is not None]
    ridden = [
        {str(tt.trip_ids[leg.trip]).split(":", 1)[0] for leg in j.legs if leg.kind == "ride"} for j in found
    ]
    by_both = sum("subway" in feeds and len(feeds) > 1 for feeds in ridden)
    night = sum(j.departure < 5 * 3600 for j in found)
    yesterday = sum(
        any(str(tt.trip_ids[leg.trip]).endswith("@-1") for leg in j.legs if leg.kind == "ride") for j in found
    )
    print(
        f"NYC city network: {len(found)} of {len(journeys)} random queries had a journey; "
        f"{by_both} ride bus and subway, {night} leave before 05:00, {yesterday} ride a trip of yesterday"
    )
    assert len(found) > QUERIES_PER_FEED * 0.6
    assert by_both > len(found) // 10
    assert night > 50
    assert yesterday > 0
