"""GTFS-Realtime on the real samples (Metro Transit Minneapolis 2019, USF Bull Runner Tampa 2017) and
their static feeds: decoding, matching to scheduled trips, landing as datasets.

Neither sample has TripUpdates (both publish VehiclePositions only), so TripUpdates here are constructed
from the real static feed's trips; `test_realtime_apply.py` applies them to the timetable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.transit import gtfs_realtime_pb2 as rt

from dthub.api import create_app
from dthub.domains.transit.gtfs import Feed, read_feed
from dthub.domains.transit.realtime import (
    RealtimeError,
    RealtimeFeed,
    Schedule,
    TripRef,
    match_positions,
    match_trip,
    parse_feed,
)
from dthub.domains.transit.realtime_ingest import (
    CapMetricsPositions,
    GtfsRtTripUpdates,
    GtfsRtVehiclePositions,
)
from dthub.hub import identity
from dthub.hub.classification import Level
from dthub.hub.core import Hub
from dthub.hub.engine import to_arrow
from dthub.hub.identity import Role
from dthub.hub.ingest import ingest_bytes, ingest_file
from dthub.hub.settings import Settings
from fixtures.hub import REALDATA, need_realdata

RT = REALDATA / "gtfs_rt"
AVL = REALDATA / "transit_avl" / "capmetro_austin" / "2017-04-18.csv"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def metro() -> tuple[RealtimeFeed, Feed]:
    data = need_realdata(RT / "speedrt" / "vehiclePositions").read_bytes()
    return parse_feed(data), read_feed(need_realdata(RT / "speedrt" / "gtfs.zip"), name="metro")


@pytest.fixture(scope="module")
def bullrunner() -> tuple[RealtimeFeed, Feed]:
    data = need_realdata(RT / "cutr" / "bullrunner-vehicle-positions").read_bytes()
    return parse_feed(data), read_feed(need_realdata(RT / "cutr" / "bullrunner-gtfs.zip"), name="bullrunner")


def test_metro_transit_positions_decode_and_all_match_their_trips(metro: tuple[RealtimeFeed, Feed]) -> None:
    realtime, static = metro
    assert (realtime.version, realtime.incrementality, realtime.timestamp) == (
        "2.0",
        "FULL_DATASET",
        1556740312,
    )
    assert len(realtime.positions) == 11
    assert not realtime.trip_updates
    first = realtime.positions[0]
    assert (first.vehicle_id, first.current_stop_sequence, first.stop_id) == ("1011", 13, "13211")
    assert first.current_status == "IN_TRANSIT_TO"
    assert first.lat == pytest.approx(44.9733086)
    assert first.lon == pytest.approx(-93.2387466)
    report = match_positions(Schedule(static), realtime)
    assert report.matched == 11
    assert report.unmatched == {}
    assert {m.how for m in report.matches} == {"trip_id"}
    assert {str(m.service_date) for m in report.matches} == {"2019-05-01"}


def test_bull_runner_positions_carry_only_a_route_and_match_the_routes_trip_of_the_day(
    bullrunner: tuple[RealtimeFeed, Feed],
) -> None:
    realtime, static = bullrunner
    assert len(realtime.positions) == 10
    assert all(p.trip is not None and p.trip.trip_id is None for p in realtime.positions)
    report = match_positions(Schedule(static), realtime)
    # 2017-09-13 10:52 in Tampa is a Wednesday: service "Mo" (Mon-Thu), one frequency trip per route
    assert report.matched == 10
    assert report.unmatched == {}
    by_route = {
        p.trip.route_id: m.trip_id for p, m in zip(realtime.positions, report.matches, strict=True) if p.trip
    }
    assert by_route == {"A": "1", "B": "3", "C": "5", "D": "8", "E": "11", "F": "13"}
    assert {m.how for m in report.matches} == {"route_only_trip"}


def test_unmatched_entities_are_counted_with_a_reason(
    metro: tuple[RealtimeFeed, Feed], bullrunner: tuple[RealtimeFeed, Feed]
) -> None:
    realtime, static = metro
    schedule = Schedule(static)
    trip = realtime.positions[0].trip
    assert trip is not None
    stamp = realtime.timestamp
    cases = {
        "unknown_trip_id": dataclasses.replace(trip, trip_id="no-such-trip"),
        "trip_not_running": dataclasses.replace(trip, start_date="20190504"),  # a Saturday
        "bad_start_date": dataclasses.replace(trip, start_date="2019-05-01"),
        "unknown_route_id": TripRef(route_id="999"),
        "no_trip_descriptor": None,
        "ambiguous_route": TripRef(route_id=trip.route_id),
        "no_trip_at_start_time": TripRef(route_id=trip.route_id, start_time="03:17:00"),
    }
    for reason, ref in cases.items():
        match = match_trip(schedule, "e", ref, stamp)
        assert (match.trip_id, match.reason) == (None, reason), reason
    runner_realtime, runner_static = bullrunner
    sunday = realtime_at(runner_realtime, "20170917")
    report = match_positions(Schedule(runner_static), sunday)
    # on Sunday only routes C, D and F run ("Su"): the positions on A, B and E (one each) match nothing
    assert (report.matched, report.unmatched) == (7, {"route_not_running": 3})


def realtime_at(feed: RealtimeFeed, start_date: str) -> RealtimeFeed:
    positions = tuple(
        dataclasses.replace(p, trip=dataclasses.replace(p.trip, start_date=start_date)) if p.trip else p
        for p in feed.positions
    )
    return dataclasses.replace(feed, positions=positions)


def test_route_and_start_time_find_the_trip_when_trip_id_is_missing(metro: tuple[RealtimeFeed, Feed]) -> None:
    realtime, static = metro
    schedule = Schedule(static)
    for position in realtime.positions:
        assert position.trip is not None
        assert position.trip.trip_id is not None
        route, direction, _ = schedule.trips[position.trip.trip_id]
        first = schedule.first_last[position.trip.trip_id][0]
        start = f"{first // 3600:02d}:{first // 60 % 60:02d}:{first % 60:02d}"
        ref = TripRef(route_id=route, direction_id=direction, start_time=start, start_date="20190501")
        match = match_trip(schedule, position.entity_id, ref, None)
        assert (match.trip_id, match.how) == (position.trip.trip_id, "route_start_time")


def test_bytes_that_are_no_feed_message_are_refused() -> None:
    with pytest.raises(RealtimeError):
        parse_feed(b"\xff\xfe not protobuf")


def test_positions_land_as_a_dataset_and_bad_messages_are_quarantined(hub: Hub) -> None:
    result = ingest_file(
        hub, GtfsRtVehiclePositions(source="metro"), need_realdata(RT / "speedrt" / "vehiclePositions")
    )
    assert (result.read, result.landed, result.quarantined) == (11, 11, 0)
    rows = to_arrow(hub.table("transit.vehicle_positions", hub.connect())).to_pylist()
    assert {r["trip_id"] for r in rows} >= {"14497343-MAR19-MVS-BUS-Weekday-01"}
    assert all(r["source"] == "metro" and r["route_id"] == "2-110" for r in rows)
    bad = ingest_bytes(hub, GtfsRtVehiclePositions(), b"\x00garbage\xff", source="garbage.pb")
    assert (bad.landed, bad.quarantined) == (0, 1)


def test_a_position_without_coordinates_is_refused_and_replays_from_its_json(hub: Hub) -> None:
    message = rt.FeedMessage()
    message.ParseFromString(need_realdata(RT / "cutr" / "bullrunner-vehicle-positions").read_bytes())
    message.entity[2].vehicle.ClearField("position")
    adapter = GtfsRtVehiclePositions(source="bullrunner")
    parsed = adapter.parse(message.SerializeToString())
    assert parsed.rows.num_rows == 9
    assert [(r.reason, r.location) for r in parsed.rejected] == [("gtfsrt.no_position", 2)]
    raw = parsed.rejected[0].raw
    assert adapter.parse_raw(raw).rejected[0].reason == "gtfsrt.no_position"
    fixed = raw.replace(
        '"vehicle": {', '"vehicle": {"position": {"latitude": 28.06, "longitude": -82.41}, ', 1
    )
    assert adapter.parse_raw(fixed).rows.num_rows == 1


def test_trip_updates_land_one_row_per_stop_time_update(hub: Hub) -> None:
    message = rt.FeedMessage()
    message.header.gtfs_realtime_version = "2.0"
    message.header.timestamp = 1556740312
    update = message.entity.add(id="u1").trip_update
    update.trip.trip_id = "14497343-MAR19-MVS-BUS-Weekday-01"
    update.trip.start_date = "20190501"
    stop = update.stop_time_update.add(stop_sequence=13, stop_id="13211")
    stop.arrival.delay = 240
    cancelled = message.entity.add(id="u2").trip_update
    cancelled.trip.trip_id = "14497268-MAR19-MVS-BUS-Weekday-01"
    cancelled.trip.schedule_relationship = rt.TripDescriptor.CANCELED
    anonymous = message.entity.add(id="u3").trip_update
    anonymous.trip.SetInParent()  # a descriptor with neither trip_id nor route_id
    anonymous.stop_time_update.add(stop_sequence=1)
    data = message.SerializeToString()
    decoded = parse_feed(data)
    assert [u.trip.schedule_relationship for u in decoded.trip_updates] == [
        "SCHEDULED",
        "CANCELED",
        "SCHEDULED",
    ]
    assert decoded.trip_updates[0].updates[0].arrival is not None
    assert decoded.trip_updates[0].updates[0].arrival.delay == 240
    result = ingest_bytes(hub, GtfsRtTripUpdates(source="metro"), data, source="tripupdates.pb")
    assert (result.landed, result.quarantined) == (2, 1)
    rows = to_arrow(hub.table("transit.stop_time_updates", hub.connect())).to_pylist()
    by_entity = {r["entity_id"]: r for r in rows}
    assert by_entity["u1"]["arrival_delay_s"] == 240
    assert by_entity["u1"]["stop_sequence"] == 13
    assert by_entity["u2"]["trip_relationship"] == "CANCELED"
    assert by_entity["u2"]["update_index"] == -1


def test_capmetro_positions_land_and_fixes_at_zero_are_quarantined(hub: Hub) -> None:
    path: Path = need_realdata(AVL)
    result = ingest_file(hub, CapMetricsPositions(), path)
    assert result.read == 44_300
    assert result.landed + result.quarantined + result.duplicate == 44_300
    assert result.quarantined >= 1
    parsed = CapMetricsPositions().parse(path.read_bytes())
    assert {r.reason for r in parsed.rejected} == {"capmetrics.no_position"}
    assert parsed.rows.num_rows + len(parsed.rejected) == 44_300


def test_matching_route_reports_matched_and_unmatched_fixes(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        hub: Hub = app.state.hub
        ingest_file(
            hub, GtfsRtVehiclePositions(source="metro"), need_realdata(RT / "speedrt" / "vehiclePositions")
        )
        message = rt.FeedMessage()
        message.ParseFromString(need_realdata(RT / "cutr" / "bullrunner-vehicle-positions").read_bytes())
        message.entity[0].vehicle.trip.route_id = "Z"  # no such route
        message.entity[1].vehicle.ClearField("trip")  # no descriptor
        ingest_bytes(
            hub, GtfsRtVehiclePositions(source="bullrunner"), message.SerializeToString(), source="t.pb"
        )
        identity.add_person(hub.store, "ops", name="ops", password=PASSWORD, role=Role.ADMIN,
                            clearance=Level.CORE, by="cli")  # fmt: skip
        token = client.post("/api/v1/auth/login", json={"username": "ops", "password": PASSWORD}).json()[
            "token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        route = "/api/v1/transit/realtime/matching"
        metro = client.get(route, params={"source": "metro", "feed": "gtfs_rt/speedrt/gtfs"}, headers=headers)
        runner = client.get(
            route, params={"source": "bullrunner", "feed": "gtfs_rt/cutr/bullrunner-gtfs"}, headers=headers
        )
        missing = client.get(route, params={"source": "metro", "feed": "gtfs_rt/none"}, headers=headers)
        anonymous = client.get(route, params={"source": "metro", "feed": "gtfs_rt/speedrt/gtfs"})
    assert metro.status_code == 200, metro.text
    assert (metro.json()["fixes"], metro.json()["matched"], metro.json()["how"]) == (11, 11, {"trip_id": 11})
    body = runner.json()
    assert (body["fixes"], body["matched"]) == (10, 8)
    assert body["how"] == {"route_only_trip": 8}
    assert body["unmatched"] == {"no_trip_descriptor": 1, "unknown_route_id": 1}
    assert {e["reason"] for e in body["examples"]} == {"no_trip_descriptor", "unknown_route_id"}
    assert (missing.status_code, missing.json()["error"]) == (404, "feed.not_found")
    assert anonymous.status_code == 401
