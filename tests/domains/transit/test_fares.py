"""Fare tables and charges: Beijing's distance scale at its band edges, transfer windows, the daily cap, bad
tables refused with the file and field named, and a real NYC itinerary priced in the plan response."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dthub.domains.transit.fares import (
    Charge,
    FareError,
    Ride,
    charge_rides,
    distance_fare,
    fare_systems,
    itinerary_fare,
    load_system,
    money,
)
from dthub.domains.transit.plan import plan
from dthub.domains.transit.timetable import Timetable

DAY = date(2026, 10, 7)
BEIJING = fare_systems()["beijing"]


def ride(mode: str, operator: str, start_s: int, end_s: int | None, km: float | None) -> Ride:
    return Ride(
        mode=mode,
        operator=operator,
        start_s=start_s,
        end_s=end_s,
        distance_m=None if km is None else km * 1000,
        day=DAY,
    )


@pytest.mark.parametrize(
    ("km", "cents"),
    [(0.5, 300), (6, 300), (6.001, 400), (12, 400), (22, 500), (22.001, 600), (32, 600), (32.001, 700),
     (52, 700), (52.001, 800), (72.001, 900)],
)  # fmt: skip
def test_beijing_subway_scale_holds_at_its_band_edges(km: float, cents: int) -> None:
    subway = BEIJING.product("SUBWAY", "beijing_subway")
    assert subway is not None
    assert distance_fare(subway, km * 1000) == cents


def test_transfer_within_window_is_discounted_and_one_second_later_is_not() -> None:
    rides = [
        ride("BICYCLE", "meituan", 0, 1200, None),  # 20 min: one 30-min block
        ride("SUBWAY", "beijing_subway", 1200 + 5400, 9000, 15.2),  # boards exactly 90 min after
        ride("BUS", "bj_bus", 9000 + 5401, 15000, 9),  # one second too late
    ]
    assert [(c.fare_cents, c.transfer_discount_cents, c.cents) for c in charge_rides(BEIJING, rides)] == [
        (150, 0, 150),
        (500, 100, 400),
        (200, 0, 200),
    ]


def test_a_chain_discounts_at_most_two_transfers_then_starts_again() -> None:
    rides = [ride("BUS", "bj_bus", 600 * n, 600 * n + 300, 5) for n in range(5)]
    assert [c.transfer_discount_cents for c in charge_rides(BEIJING, rides)] == [0, 100, 100, 0, 100]


def test_daily_cap_charges_the_rest_then_nothing() -> None:
    rides = [ride("SUBWAY", "beijing_subway", 10_000 * n, 10_000 * n + 3600, 80) for n in range(4)]
    charges = charge_rides(BEIJING, rides)
    # 80 km: 600 + 3 x 100 = 900 each, no transfer (2 h 46 min apart); cap 2,000
    assert [(c.fare_cents, c.cap_discount_cents, c.cents) for c in charges] == [
        (900, 0, 900),
        (900, 0, 900),
        (900, 700, 200),
        (900, 900, 0),
    ]


def test_a_ride_of_no_product_is_unpriced_and_free() -> None:
    assert charge_rides(BEIJING, [ride("FERRY", "somewhere", 0, 60, 1)]) == [
        Charge(ride=0, product=None, currency="CNY", fare_cents=0, transfer_discount_cents=0, transfer=None,
               cap_discount_cents=0, cents=0)
    ]  # fmt: skip


def test_tap_in_without_tap_out_is_charged_the_incomplete_fare() -> None:
    (charge,) = charge_rides(BEIJING, [ride("SUBWAY", "beijing_subway", 0, None, None)])
    assert (charge.cents, charge.incomplete) == (900, True)


def test_bad_fare_table_is_refused_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        'name = "x"\ntitle = "x"\ncurrency = "CNY"\ntimezone = "Asia/Shanghai"\n'
        '[[products]]\nid = "p"\nname = "p"\nmodes = ["BUS"]\nkind = "distance"\n'
        "bands = [{ up_to_km = 10, cents = 200 }, { up_to_km = 5, cents = 100 }]\n"
    )
    with pytest.raises(FareError) as refused:
        load_system(path)
    assert refused.value.reason == "fares.invalid"
    assert str(path) in str(refused.value)
    assert "bands must ascend" in str(refused.value)


def test_nyc_itinerary_is_priced_one_fare_for_subway_transfers(nyc_timetable: Timetable) -> None:
    times_square, barclays_center = (40.7557, -73.9870), (40.6840, -73.9776)
    for hour in (8, 13, 18):
        answer = plan(nyc_timetable, times_square, barclays_center, hour * 3600, access_radius_m=400)
        itineraries = answer["plan"]["itineraries"]
        assert itineraries
        for itinerary in itineraries:
            fare = itinerary["fare"]
            assert fare["system"] == "nyc_mta"
            # the subway is gated: its legs are one ride at the base fare, however many transfers
            assert fare["fare"]["regular"]["cents"] == 290
            assert fare["fare"]["regular"]["currency"]["currencyCode"] == "USD"
            transit = [n for n, leg in enumerate(itinerary["legs"]) if leg["transitLeg"]]
            assert fare["details"]["regular"][0]["legIndices"] == transit
            leg_cents = [itinerary["legs"][n]["fare"]["cents"] for n in transit]
            assert leg_cents == [290] + [0] * (len(transit) - 1)


def leg(mode: str, operator: str, start: int, end: int, lat0: float, lat1: float) -> dict[str, Any]:
    coordinates = [[116.4, lat0], [116.4, lat1]]
    if mode == "BICYCLE":
        return {"mode": mode, "operator": operator, "transitLeg": False, "startTime": start, "endTime": end,
                "legGeometry": {"coordinates": coordinates}}  # fmt: skip
    return {"mode": mode, "routeId": f"{operator}:r", "transitLeg": True, "startTime": start, "endTime": end,
            "legGeometry": {"coordinates": coordinates}}  # fmt: skip


def test_beijing_itinerary_rides_the_metro_as_one_ride_across_an_inside_transfer() -> None:
    legs = [
        leg("BICYCLE", "meituan_bike", 0, 600, 39.80, 39.81),
        leg("SUBWAY", "beijing_subway", 600, 1200, 39.81, 39.86),  # 0.05 degree: 5,560 m
        {"mode": "WALK", "transitLeg": False, "startTime": 1200, "endTime": 1320},
        leg("SUBWAY", "beijing_subway", 1320, 1800, 39.86, 39.89),  # 3,336 m more: 8,896 m, 6-12 km band
        leg("BUS", "bj_bus", 1900, 3000, 39.89, 39.99),  # 11,119 m: one 5 km step beyond 10 km
    ]
    fare = itinerary_fare(legs, DAY, fare_systems())
    assert fare is not None
    assert fare["system"] == "beijing"
    assert [(d["legIndices"], d["fareCents"], d["transferDiscountCents"], d["price"]["cents"])
            for d in fare["details"]["regular"]] == [([0], 150, 0, 150), ([1, 3], 400, 100, 300),
                                                     ([4], 300, 100, 200)]  # fmt: skip
    assert fare["fare"]["regular"]["cents"] == 650
    assert [legs[n]["fare"]["cents"] for n in (0, 1, 3, 4)] == [150, 300, 0, 200]
    assert "fare" not in legs[2]


def test_nyc_bus_bus_subway_pays_twice_one_free_transfer_each_two_hours() -> None:
    legs = [
        leg("BUS", "bus_bk", 0, 900, 40.60, 40.62),
        leg("BUS", "bus_bk", 1000, 1800, 40.62, 40.64),  # free: the chain's one transfer
        leg("SUBWAY", "subway", 2000, 3600, 40.64, 40.70),  # pays: the transfer was used
        leg("SUBWAY", "subway", 3700, 4200, 40.70, 40.75),  # inside the stations: the same ride
    ]
    fare = itinerary_fare(legs, DAY, fare_systems())
    assert fare is not None
    assert [(d["fareId"], d["legIndices"], d["price"]["cents"]) for d in fare["details"]["regular"]] == [
        ("mta.local_bus", [0], 290),
        ("mta.local_bus", [1], 0),
        ("mta.subway", [2, 3], 290),
    ]
    assert fare["fare"]["regular"] == money(580, "USD")
