"""Validation findings on named hand-made edge cases and on real feeds."""

from __future__ import annotations

from datetime import date

from dthub.domains.transit.gtfs import Feed, read_table
from dthub.domains.transit.validate import Finding, counts, validate

TODAY = date(2026, 10, 7)
GOOD = {
    "agency.txt": "agency_name,agency_url,agency_timezone\nDemo,https://example.org,Asia/Shanghai\n",
    "stops.txt": "stop_id,stop_lat,stop_lon\nA, 39.10,117.20\nB,39.11,117.21\n",
    "routes.txt": "route_id,route_type\nR1,3\n",
    "trips.txt": "route_id,service_id,trip_id\nR1,WK,T1\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
    "T1,08:00:00,08:00:00,A,1\nT1,08:05:00,08:05:00,B,2\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,"
    "start_date,end_date\n"
    "WK,1,1,1,1,1,0,0,20260101,20261231\n",
}


def feed(**files: str | None) -> Feed:
    texts = {**GOOD, **{name.replace("_txt", ".txt"): text for name, text in files.items()}}
    return Feed("demo", {name: read_table(text.encode()) for name, text in texts.items() if text is not None})


def test_a_good_feed_has_no_finding() -> None:
    assert validate(feed(), today=TODAY) == []


def test_empty_feed_misses_every_required_file() -> None:
    empty = Feed("empty", {})
    assert counts(validate(empty, today=TODAY)) == {
        "missing_calendar_and_calendar_date_files": 1,
        "missing_required_file": 5,
    }


def test_feed_without_stop_times_is_missing_a_required_file() -> None:
    assert validate(feed(stop_times_txt=None), today=TODAY) == [
        Finding(code="missing_required_file", severity="ERROR", file="stop_times.txt")
    ]


def test_unknown_stop_reference_is_a_foreign_key_violation() -> None:
    bad = GOOD["stop_times.txt"].replace(",B,2", ",Z,2")
    assert validate(feed(stop_times_txt=bad), today=TODAY) == [
        Finding(
            code="foreign_key_violation",
            severity="ERROR",
            file="stop_times.txt",
            row=2,
            field="stop_id",
            detail="Z is not a stop_id of stops.txt",
        )
    ]


def test_times_out_of_order_are_an_error() -> None:
    bad = GOOD["stop_times.txt"].replace("08:05:00,08:05:00", "07:55:00,07:55:00")
    assert validate(feed(stop_times_txt=bad), today=TODAY) == [
        Finding(
            code="stop_time_with_arrival_before_previous_departure_time",
            severity="ERROR",
            file="stop_times.txt",
            row=2,
            field="arrival_time",
            detail="trip T1",
        )
    ]


def test_one_minute_across_town_is_impossibly_fast() -> None:
    far = GOOD["stops.txt"].replace("39.11,117.21", "39.40,117.21")
    found = validate(feed(stops_txt=far), today=TODAY)
    assert [(f.code, f.row) for f in found] == [("fast_travel_between_consecutive_stops", 2)]


def test_service_that_ended_is_expired_and_a_gap_is_found() -> None:
    calendar = GOOD["calendar.txt"].replace(
        "1,1,1,1,1,0,0,20260101,20261231", "0,0,0,0,0,0,0,20200101,20200131"
    )
    dates = "service_id,date,exception_type\nWK,20200101,1\nWK,20200120,1\n"
    assert counts(validate(feed(calendar_txt=calendar, calendar_dates_txt=dates), today=TODAY)) == {
        "calendar_gap": 1,
        "expired_calendar": 1,
    }


def test_real_feeds_findings_by_code(caltrain: Feed, cairns: Feed) -> None:
    assert counts(validate(caltrain, today=TODAY)) == {"expired_calendar": 1}
    assert counts(validate(cairns, today=TODAY)) == {"expired_calendar": 1}
    assert counts(validate(cairns, today=date(2014, 6, 4))) == {}
