"""Real GTFS feeds and their timetables, parsed once per test session."""

from __future__ import annotations

from datetime import date

import pytest

from dthub.domains.transit.gtfs import Feed, read_feed
from dthub.domains.transit.timetable import Timetable, build_timetable
from fixtures.hub import REALDATA, need_realdata

GTFS = REALDATA / "gtfs"
CAIRNS_DAY = date(2014, 6, 4)
"""A Wednesday of the Cairns feed (gtfs_kit, 2014)."""
NYC_DAY = date(2026, 10, 7)
"""Wednesday 2026-10-07, within the MTA subway feed published 2026-09-23."""


@pytest.fixture(scope="session")
def cairns() -> Feed:
    return read_feed(need_realdata(GTFS / "gtfs_kit" / "cairns_gtfs.zip"), name="cairns")


@pytest.fixture(scope="session")
def nyc_subway() -> Feed:
    return read_feed(need_realdata(GTFS / "nyc_mta" / "subway.zip"), name="subway")


@pytest.fixture(scope="session")
def caltrain() -> Feed:
    return read_feed(need_realdata(GTFS / "partridge" / "caltrain-2017-07-24"), name="caltrain")


@pytest.fixture(scope="session")
def cairns_timetable(cairns: Feed) -> Timetable:
    return build_timetable([cairns], CAIRNS_DAY)


@pytest.fixture(scope="session")
def nyc_timetable(nyc_subway: Feed) -> Timetable:
    return build_timetable([nyc_subway], NYC_DAY)


NYC_BUSES = ("bus_bk", "bus_bx", "bus_m", "bus_qns", "bus_si", "bus_busco")
"""The six MTA bus feeds (Brooklyn, Bronx, Manhattan, Queens, Staten Island, MTA Bus Company)."""


@pytest.fixture(scope="session")
def nyc_city_timetable(nyc_subway: Feed) -> Timetable:
    """The New York city network of NYC_DAY: the subway and the six bus feeds merged (linked stops, walking
    transfers bus ↔ subway), as `benchmarks/raptor_nyc.py --buses` builds it. The bus feeds are dropped
    once it is built (about 1.6 GB while they are read)."""
    folder = need_realdata(GTFS / "nyc_mta")
    buses = [read_feed(folder / f"{name}.zip", name=name) for name in NYC_BUSES]
    return build_timetable([nyc_subway, *buses], NYC_DAY)
