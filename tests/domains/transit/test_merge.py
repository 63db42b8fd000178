"""Several real feeds as one network: ids that collide stay apart (subway and LIRR), the same stop published
by two operators is linked (MTA New York City Transit's Brooklyn buses and MTA Bus Company), a
re-published copy of a feed under other ids collapses onto it, and walking transfers join bus stops to
subway platforms."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dthub.domains.transit.geo import distance_m
from dthub.domains.transit.gtfs import Feed, read_feed, texts
from dthub.domains.transit.merge import LinkRule, Network, merge_feeds, normalise, similarity
from dthub.domains.transit.raptor import earliest_arrival
from dthub.domains.transit.timetable import build_timetable
from fixtures.hub import REALDATA, need_realdata

from .conftest import CAIRNS_DAY, NYC_DAY

NYC = REALDATA / "gtfs" / "nyc_mta"
pytestmark = pytest.mark.realdata


def stops_of(name: str) -> Feed:
    return read_feed(need_realdata(NYC / f"{name}.zip"), name=name, files=("stops.txt",))


def raw_id(stop_id: str) -> str:
    return stop_id.split(":", 1)[1]


def test_names_are_compared_after_normalising_and_numbers_must_agree() -> None:
    assert normalise("AVENUE U / E 64 ST") == normalise("Avenue U/E 64 St") == "av u e 64 st"
    assert similarity(normalise("MORRIS PARK AV/ADAMS ST"), normalise("MORRIS PK AV/ADAMS ST")) > 0.85
    assert similarity(normalise("W 145 ST/MALCOLM X BLVD"), normalise("W 146 ST/MALCOLM X BLVD")) == 0.0
    assert similarity(normalise("WILLIS AV/E 138 ST"), normalise("E 138 ST/WILLIS AV")) < 0.85


def test_ids_that_collide_across_feeds_stay_apart() -> None:
    subway, lirr = stops_of("subway"), stops_of("lirr")
    network = merge_feeds([subway, lirr])
    colliding = set(texts(subway.column("stops.txt", "stop_id"))) & set(
        texts(lirr.column("stops.txt", "stop_id"))
    )
    assert len(colliding) > 10
    index = {str(s): n for n, s in enumerate(network.stop_ids)}
    for stop in colliding:
        a, b = index[f"subway:{stop}"], index[f"lirr:{stop}"]
        assert network.linked_to[a] != network.linked_to[b]  # e.g. subway 1 is not LIRR 1


def check_rule(network: Network, rule: LinkRule) -> None:
    """Every link keeps the rule, and a kept stop has at most one alias from each feed."""
    index = {str(s): n for n, s in enumerate(network.stop_ids)}
    per_feed: Counter[tuple[int, int]] = Counter()
    for kept, linked in network.links:
        a, b = index[kept], index[linked]
        assert network.stop_feed[a] != network.stop_feed[b]
        metres = distance_m(
            *(np.asarray([v]) for v in (network.stop_lat[a], network.stop_lon[a])),
            *(np.asarray([v]) for v in (network.stop_lat[b], network.stop_lon[b])),
        )[0]
        assert metres <= rule.radius_m
        names = normalise(str(network.stop_names[a])), normalise(str(network.stop_names[b]))
        assert similarity(*names) >= rule.min_similarity
        per_feed[(a, int(network.stop_feed[b]))] += 1
    assert max(per_feed.values()) == 1


def test_the_same_stop_of_two_operators_is_linked_not_duplicated() -> None:
    # MTA Bus Company (MTABC) republishes 239 stops of New York City Transit's Brooklyn buses under the
    # same stop ids, with coordinates up to 148 m apart and names spaced differently
    network = merge_feeds([stops_of("bus_bk"), stops_of("bus_busco")])
    check_rule(network, LinkRule())
    links = network.links
    same_id = [pair for pair in links if raw_id(pair[0]) == raw_id(pair[1])]
    shared = set(map(raw_id, network.stop_ids[network.stop_feed == 0])) & set(
        map(raw_id, network.stop_ids[network.stop_feed == 1])
    )
    assert (len(shared), len(same_id)) == (239, 238)
    # the one left apart is named for another street by each operator
    (apart,) = shared - {raw_id(a) for a, _ in same_id}
    names = sorted(
        str(n) for s, n in zip(network.stop_ids, network.stop_names, strict=True) if raw_id(s) == apart
    )
    assert similarity(*(normalise(n) for n in names)) < 0.85, names
    # 30 more links join stops of other ids with the same name at the same corner
    assert len(links) - len(same_id) == 30


def test_a_republished_copy_under_other_ids_collapses_onto_the_original(cairns: Feed) -> None:
    stops = cairns.get("stops.txt")
    rng = np.random.default_rng(7)
    moved = {  # a few metres off, names in capitals, ids renumbered
        "stop_id": pc.binary_join_element_wise("X", stops["stop_id"], ""),
        "stop_name": pc.utf8_upper(stops["stop_name"]),
        "stop_lat": pa.array([str(float(v) + rng.uniform(-2e-5, 2e-5)) for v in texts(stops["stop_lat"])]),
        "stop_lon": pa.array([str(float(v) + rng.uniform(-2e-5, 2e-5)) for v in texts(stops["stop_lon"])]),
    }
    copy_tables = dict(cairns.tables)
    copy_tables["stops.txt"] = pa.table(moved)
    stop_times = cairns.get("stop_times.txt")
    copy_tables["stop_times.txt"] = stop_times.set_column(
        stop_times.column_names.index("stop_id"),
        "stop_id",
        pc.binary_join_element_wise("X", stop_times["stop_id"], ""),
    )
    copy = Feed("copy", copy_tables)
    network = merge_feeds([cairns, copy])
    check_rule(network, LinkRule())
    assert sorted(network.links) == sorted((f"cairns:{s}", f"copy:X{s}") for s in texts(stops["stop_id"]))
    alone = build_timetable([cairns], CAIRNS_DAY)
    both = build_timetable(network, CAIRNS_DAY)
    assert both.stops == alone.stops  # not duplicated
    assert both.trips == 2 * alone.trips  # the copy's trips run on the original stops
    index = both.stop_index()
    assert index["copy:X750000"] == index["cairns:750000"]
    origin, target = index["cairns:750000"], index["cairns:750100"]
    for tt in (alone, both):
        journeys = earliest_arrival(tt, {origin: 8 * 3600}, {target: 0})
        assert journeys
    assert (
        earliest_arrival(both, {origin: 8 * 3600}, {target: 0})[0].arrival
        == earliest_arrival(alone, {origin: 8 * 3600}, {target: 0})[0].arrival
    )


def test_walking_transfers_join_bus_stops_to_subway_platforms() -> None:
    subway, bus = stops_of("subway"), stops_of("bus_m")
    network = merge_feeds([subway, bus], transfer_radius_m=300.0, walk_speed_mps=1.2)
    a, b, seconds = network.transfer_from, network.transfer_to, network.transfer_s
    assert len(a) > 1000
    assert (network.stop_feed[a] != network.stop_feed[b]).all()
    metres = distance_m(network.stop_lat[a], network.stop_lon[a], network.stop_lat[b], network.stop_lon[b])
    assert (metres <= 300.0).all()
    assert seconds.tolist() == [math.ceil(m / 1.2) for m in metres.tolist()]
    # Times Sq-42 St: every platform of the station reaches a Manhattan bus stop on foot
    platforms = {str(s) for s in network.stop_ids if str(s) in {"subway:127N", "subway:127S"}}
    assert len(platforms) == 2
    reached = {str(network.stop_ids[x]) for x, y in zip(a, b, strict=True) if network.stop_feed[y] == 1}
    assert platforms <= reached


def test_raptor_rides_a_bus_then_walks_to_the_subway_on_the_merged_network() -> None:
    need_realdata(NYC / "subway.zip")
    feeds = [read_feed(NYC / f"{name}.zip", name=name) for name in ("subway", "bus_m")]
    network = merge_feeds(feeds)
    tt = build_timetable(network, NYC_DAY)
    feed_of = np.asarray([str(s).split(":", 1)[0] for s in tt.stop_ids])
    served = np.unique(tt.position_stop)
    buses = [int(s) for s in served if feed_of[s] == "bus_m"]
    subways = [int(s) for s in served if feed_of[s] == "subway"]
    rng = np.random.default_rng(3)
    crossings = 0
    for origin, target in zip(rng.choice(buses, 40), rng.choice(subways, 40), strict=True):
        for journey in earliest_arrival(tt, {int(origin): 8 * 3600}, {int(target): 0}):
            rides = [leg for leg in journey.legs if leg.kind == "ride"]
            walks = [leg for leg in journey.legs if leg.kind == "walk"]
            if {feed_of[tt.position_stop[leg.board_position]] for leg in rides} == {
                "bus_m",
                "subway",
            } and any(feed_of[leg.from_stop] != feed_of[leg.to_stop] for leg in walks):
                crossings += 1
                for leg in walks:  # each walk takes the footpath's time
                    paths = slice(tt.footpath_start[leg.from_stop], tt.footpath_start[leg.from_stop + 1])
                    seconds = dict(
                        zip(tt.footpath_to[paths].tolist(), tt.footpath_s[paths].tolist(), strict=True)
                    )
                    assert leg.arrival - leg.departure == seconds[leg.to_stop]
    assert crossings >= 10  # bus, a walk from the bus stop to a subway platform, subway
