"""JT/T 808 message bodies: real frames decoded to whole records, every message encoded and read back."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from dthub.domains.vehicles.jt808 import (
    Authenticate,
    BatchLocationReport,
    Deregister,
    Extras,
    Header,
    Heartbeat,
    Load,
    LocationQuery,
    LocationQueryResponse,
    LocationReport,
    Message,
    Packet,
    Parameter,
    ParametersResponse,
    PlatformResponse,
    QueryParameters,
    Register,
    RegisterResponse,
    RetransmitRequest,
    SetParameters,
    TerminalControl,
    TerminalResponse,
    UnknownMessage,
    Version,
    decode,
    encode,
)
from dthub.domains.vehicles.jt808._build import fast_constructor
from dthub.domains.vehicles.jt808.errors import BadBcd, BadBody, BadTime, FrameError, Truncated
from dthub.domains.vehicles.jt808.framing import wrap
from dthub.domains.vehicles.jt808.messages import (
    AreaAlarm,
    Overspeed,
    SectionTime,
    bcd_time_bytes,
    item_bytes,
)

REPORT_2013 = bytes.fromhex(
    "7e0200002c00160128561400030000000000040007005de13c065c6cdb00160000000017011710054201040000a900"
    "2a02000030011b310104e47e"
)
"""Traccar's frame 47: a 2013 location report from 1601285614 with items 0x01, 0x2A, 0x30, 0x31."""
H2013 = Header(message_id=0x0200, phone="13912345678", serial=7)
H2019 = Header(message_id=0x0200, phone="13912345678", serial=7, version=Version.JT2019, protocol_version=1)
T = datetime(2024, 10, 1, 15, 59, 59, tzinfo=UTC)


def test_real_location_report_decodes_to_a_whole_record() -> None:
    packet = decode(REPORT_2013)
    assert packet == Packet(
        Header(message_id=0x0200, phone="1601285614", serial=3),
        LocationReport(
            alarm=0,
            status=0x00040007,
            latitude=-6.152508,
            longitude=106.720475,
            altitude_m=22,
            speed_kmh=0.0,
            direction=0,
            time=datetime(2017, 1, 17, 2, 5, 42, tzinfo=UTC),  # 10:05:42 GMT+8
            extra=bytes.fromhex("01040000a9002a02000030011b310104"),
        ),
    )
    report = packet.message
    assert isinstance(report, LocationReport)
    assert report.items == (
        (0x01, bytes.fromhex("0000a900")),
        (0x2A, b"\x00\x00"),
        (0x30, b"\x1b"),
        (0x31, b"\x04"),
    )
    assert report.extras == Extras(mileage_km=4326.4, io=frozenset(), rssi=27, satellites=4)
    assert report.alarms == frozenset()
    assert report.status_flags == {"acc_on", "positioned", "south_latitude", "gps_used"}
    assert report.load is Load.EMPTY


def test_flags_are_named_per_version_and_unknown_bits_kept() -> None:
    report = LocationReport(0x8000_8002 | 1 << 29, 0xC0 | 0x300 | 1 << 22, 0.0, 0.0, 0, 0.0, 0, None)
    assert report.alarms == {"overspeed", "bit15", "collision_warning", "illegal_door_open"}
    assert report.status_flags == {"bit6", "bit7", "bit22"}
    assert report.load is Load.FULL
    in_2019 = replace(report, version=Version.JT2019)
    assert in_2019.alarms == {"overspeed", "violation_driving", "collision_warning", "bit31"}
    assert in_2019.status_flags == {"forward_collision_warning", "lane_departure_warning", "bit22"}
    in_2011 = replace(report, version=Version.JT2011)
    assert in_2011.alarms == {"overspeed", "bit15", "collision_rollover", "bit31"}
    assert in_2011.status_flags == {"bit6", "bit7", "bit8", "bit9", "bit22"}
    assert in_2011.load is None


def test_standard_items_are_typed_and_odd_lengths_left_raw() -> None:
    extra = item_bytes(
        [
            (0x02, (887).to_bytes(2, "big")),
            (0x03, (605).to_bytes(2, "big")),
            (0x04, b"\x00\x2c"),
            (0x05, bytes([55, 55, 0xFF])),
            (0x06, b"\x80\x0f"),
            (0x11, bytes.fromhex("0142000000")),
            (0x12, bytes.fromhex("020000004d01")),
            (0x13, bytes.fromhex("00000058005801")),
            (0x25, (0b1100011).to_bytes(4, "big")),
            (0x2B, bytes.fromhex("00140005")),
            (0x30, b"\x1e"),
            (0x31, b"\x01\x02"),  # satellites is one BYTE: this one stays raw
            (0xE1, b"\x00\x72"),  # vendor item: kept, untyped
        ]
    )
    report = LocationReport(0, 0, 0.0, 0.0, 0, 0.0, 0, None, extra)
    assert report.extras == Extras(
        fuel_l=88.7,
        tachograph_speed_kmh=60.5,
        alarm_event_id=44,
        tyre_pressures_pa=(55, 55, None),
        compartment_temperature_c=-15,
        overspeed=Overspeed(location_type=1, area_id=0x42000000),
        area_alarm=AreaAlarm(location_type=2, area_id=77, direction=1),
        section_time=SectionTime(section_id=88, driving_time_s=88, result=1),
        signals=frozenset({"low_beam", "high_beam", "reverse", "fog_lamp"}),
        analog=(5, 20),
        rssi=30,
    )
    assert report.items[-1] == (0xE1, b"\x00\x72")


def test_real_register_bodies_of_2011_and_2013() -> None:
    r2011 = decode(
        bytes.fromhex(
            "7e01000021013345678906000f002c012f373031313142534a2d4d3742203030303030303001d4c1423838383838b47e"
        )
    ).message
    assert r2011 == Register(
        province_id=44,  # 广东
        city_id=303,
        manufacturer_id="70111",
        model="BSJ-M7B ",
        terminal_id="0000000",
        plate_colour=1,
        plate="粤B88888",
        layout=Version.JT2011,
    )
    r2013 = decode(
        bytes.fromhex(
            "7e0100002d007089994489002800000000000000000048422d5230334742440000000000000000000000"
            "31393036373531024142433030303030d17e"
        )
    ).message
    assert r2013 == Register(
        province_id=0,
        city_id=0,
        manufacturer_id="",
        model="HB-R03GBD",
        terminal_id="1906751",
        plate_colour=2,
        plate="ABC00000",
        layout=Version.JT2013,
    )


def test_real_batch_report_carries_a_blind_area_backfill() -> None:
    frame = bytes.fromhex(
        "7e070400510144503762020002000101004c00040100000800030202301006f893e8001d0000009526081722181214"
        "0400000000170200000104000036c9030200002504000000002a02000030011f31010eea04020c8300ef0400000000037e"
    )
    batch = decode(frame).message
    assert isinstance(batch, BatchLocationReport)
    assert batch.kind == 1  # 盲区补报
    (report,) = batch.reports
    assert (report.latitude, report.longitude, report.direction) == (33.697808, 116.954088, 149)
    assert report.alarms == {"main_power_off", "daily_driving_overtime"}
    assert report.extras.satellites == 14


SAMPLES: list[tuple[Header, Message]] = [
    (replace(H2013, message_id=0x0001), TerminalResponse(reply_serial=9, reply_id=0x8103, result=0)),
    (replace(H2013, message_id=0x8001), PlatformResponse(reply_serial=9, reply_id=0x0200, result=4)),
    (replace(H2013, message_id=0x0002), Heartbeat()),
    (replace(H2019, message_id=0x0003), Deregister()),
    (
        replace(H2013, message_id=0x0100),
        Register(
            province_id=12,
            city_id=101,
            manufacturer_id="70111",
            model="BSJ-M7B",
            terminal_id="0000001",
            plate_colour=2,
            plate="津A12345",
        ),
    ),
    (
        replace(H2019, message_id=0x0100),
        Register(
            province_id=12,
            city_id=101,
            manufacturer_id="cd123456789",
            model="www.808.com",
            terminal_id="7654321",
            plate_colour=0,
            plate="LSVAU2180N2123456",
            layout=Version.JT2019,
        ),
    ),
    (replace(H2013, message_id=0x8100), RegisterResponse(reply_serial=1, result=0, auth_code="1234567890")),
    (replace(H2013, message_id=0x8100), RegisterResponse(reply_serial=1, result=3)),
    (replace(H2013, message_id=0x0102), Authenticate("1234567890")),
    (replace(H2019, message_id=0x0102), Authenticate("987654321", "123456789012345", "3.7.15")),
    (H2013, LocationReport(1, 2, 39.1, 117.2, -3, 60.5, 359, T, item_bytes([(0x31, b"\x0c")]))),
    (replace(H2013, message_id=0x8201), LocationQuery()),
    (
        replace(H2019, message_id=0x0201),
        LocationQueryResponse(5, LocationReport(0, 2, 39.1, 117.2, 3, 0.0, 0, T, version=Version.JT2019)),
    ),
    (
        replace(H2013, message_id=0x0704),
        BatchLocationReport(0, (LocationReport(0, 2, 39.1, 117.2, 3, 0.0, 0, T),) * 3),
    ),
    (
        replace(H2013, message_id=0x8103),
        SetParameters(
            (Parameter.of(0x0057, 14_400), Parameter.of(0x0083, "津A12345"), Parameter(0xF001, b"\x01"))
        ),
    ),
    (replace(H2013, message_id=0x8104), QueryParameters()),
    (replace(H2013, message_id=0x0104), ParametersResponse(3, (Parameter.of(0x0059, 1_200),))),
    (replace(H2013, message_id=0x8105), TerminalControl(command=4)),
    (replace(H2013, message_id=0x8105), TerminalControl(1, "URL;APN;user;pw;host;7000;8000;M;H;F;S;H;60")),
    (replace(H2013, message_id=0x0F01), UnknownMessage(0x0F01, b"\x7e\x7d vendor")),
]


@pytest.mark.parametrize(("header", "message"), SAMPLES, ids=[type(m).__name__ for _, m in SAMPLES])
def test_every_message_encodes_and_reads_back(header: Header, message: Message) -> None:
    frame = encode(header, message)
    assert decode(frame) == Packet(header, message)


def test_typed_parameters_read_back() -> None:
    params = SetParameters(
        (Parameter.of(0x0057, 14_400), Parameter.of(0x0083, "津A12345"), Parameter(0xF001, b"\x01"))
    )
    assert [p.value for p in params.parameters] == [14_400, "津A12345", b"\x01"]
    assert params.parameters[0].raw == (14_400).to_bytes(4, "big")


def test_encrypted_body_is_kept_raw() -> None:
    frame = encode(replace(H2013, encryption=1), UnknownMessage(0x0200, b"rsa ciphertext"))
    assert decode(frame).message == UnknownMessage(0x0200, b"rsa ciphertext")


@pytest.mark.parametrize(
    ("name", "message_id", "body", "error", "message"),
    [
        ("general_response_too_long", 0x8001, bytes(6), BadBody, "0x8001 body is 5 bytes, got 6"),
        ("heartbeat_with_body", 0x0002, b"\x00", BadBody, "0x0002 body is 0 bytes, got 1"),
        ("report_truncated", 0x0200, bytes(27), Truncated, "needs 28 bytes, got 27"),
        (
            "item_past_end",
            0x0200,
            bytes(22) + bytes.fromhex("241001235959") + b"\x01\x04\x00",
            Truncated,
            "offset 28",
        ),
        ("time_bad_bcd", 0x0200, bytes(22) + bytes.fromhex("2410012359a9"), BadBcd, "2410012359a9"),
        ("time_month_13", 0x0200, bytes(22) + bytes.fromhex("241301235959"), BadTime, "241301235959"),
        (
            "batch_count_short",
            0x0704,
            bytes.fromhex("000300"),
            Truncated,
            "says 3 reports, the body ends after 0",
        ),
        ("batch_bytes_left", 0x0704, bytes.fromhex("000000ff"), BadBody, "1 bytes follow them"),
        ("parameters_left", 0x8103, bytes.fromhex("00ff"), BadBody, "1 bytes follow them"),
    ],
)
def test_bodies_that_break_their_layout_are_refused(
    name: str, message_id: int, body: bytes, error: type[FrameError], message: str
) -> None:
    frame = encode(replace(H2013, message_id=message_id), UnknownMessage(message_id, body))
    with pytest.raises(error, match=message) as caught:
        decode(frame)
    assert caught.value.raw == frame


def test_zero_time_means_no_fix_yet() -> None:
    report = LocationReport(0, 0, 0.0, 0.0, 0, 0.0, 0, None)
    assert decode(encode(H2013, report)).message == report
    assert report.to_body()[22:28] == bytes(6)


def test_encode_refuses_a_body_of_another_message_or_edition() -> None:
    with pytest.raises(ValueError, match="header says message 0x0002, the body is 0x0200"):
        encode(replace(H2013, message_id=0x0002), LocationReport(0, 0, 0.0, 0.0, 0, 0.0, 0, None))
    with pytest.raises(ValueError, match="a 2013 register body in a 2019 header"):
        encode(replace(H2019, message_id=0x0100), SAMPLES[4][1])


def test_fast_constructors_build_what_the_dataclass_builds() -> None:
    values = (1, 2, 39.1, -117.2, -3, 60.5, 359, T, b"\x31\x01\x0c", Version.JT2019)
    assert fast_constructor(LocationReport)(*values) == LocationReport(*values)
    header = (0x0200, "1", 2, Version.JT2019, 1, 0, True, 3, 1)
    assert fast_constructor(Header)(*header) == Header(
        message_id=0x0200,
        phone="1",
        serial=2,
        version=Version.JT2019,
        protocol_version=1,
        encryption=0,
        reserved_bit=True,
        package_total=3,
        package_seq=1,
    )


_GMT8_RANGE = st.datetimes(
    min_value=datetime(2000, 1, 1, 8), max_value=datetime(2099, 12, 31, 8), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))
_DEGREES = st.tuples(st.integers(0, 0xFFFF_FFFF), st.booleans()).map(
    lambda v: -(v[0] / 1e6) if v[1] else v[0] / 1e6
)
_ITEMS = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=12)), max_size=8).map(item_bytes)


@settings(max_examples=300)
@given(
    version=st.sampled_from([Version.JT2013, Version.JT2019]),
    alarm=st.integers(0, 0xFFFF_FFFF),
    status=st.integers(0, 0xFFFF_FFFF),
    latitude=_DEGREES,
    longitude=_DEGREES,
    altitude=st.integers(-32768, 32767),
    speed=st.integers(0, 0xFFFF),
    direction=st.integers(0, 0xFFFF),
    time=st.none() | _GMT8_RANGE,
    extra=_ITEMS,
    serial=st.integers(0, 0xFFFF),
)
def test_generated_location_reports_encode_and_decode_back(
    version: Version,
    alarm: int,
    status: int,
    latitude: float,
    longitude: float,
    altitude: int,
    speed: int,
    direction: int,
    time: datetime | None,
    extra: bytes,
    serial: int,
) -> None:
    header = replace(H2019 if version is Version.JT2019 else H2013, serial=serial)
    south, west = math.copysign(1, latitude) < 0, math.copysign(1, longitude) < 0
    status = status & ~0b1100 | south << 2 | west << 3  # the hemisphere bits follow the signs
    report = LocationReport(
        alarm, status, latitude, longitude, altitude, speed / 10, direction, time, extra, version
    )
    assert decode(encode(header, report)) == Packet(header, report)


_IDS = st.sampled_from(
    [0x0001, 0x8001, 0x0002, 0x0100, 0x8100, 0x0102, 0x0200, 0x0201, 0x0704, 0x8103, 0x0104, 0x8105]
)
_REPORT_BODY = st.builds(
    lambda words, time, extra: words + bcd_time_bytes(time) + extra,
    st.binary(min_size=22, max_size=22),
    st.none() | _GMT8_RANGE,
    _ITEMS,
)
"""A 0x0200 body: any words, a valid (or no-fix) time, well-chained items."""


def _body(message_id: int, data: st.DataObject) -> bytes:
    report: bytes = data.draw(_REPORT_BODY)
    if message_id == 0x0200:
        return report
    if message_id == 0x0201:
        return b"\x00\x07" + report
    if message_id == 0x0704:
        reports: list[bytes] = data.draw(st.lists(_REPORT_BODY, max_size=4))
        head = len(reports).to_bytes(2, "big") + data.draw(st.sampled_from([b"\x00", b"\x01"]))
        return head + b"".join(len(r).to_bytes(2, "big") + r for r in reports)
    other: bytes = data.draw(st.binary(max_size=120))
    return other


@settings(max_examples=300)
@given(
    message_id=_IDS,
    attributes=st.sampled_from([0, 0, 0x4000, 0x4000, 0x8000, 0x2000, 0x6000, 0x0400]),
    phone=st.binary(min_size=10, max_size=10),
    serial=st.integers(0, 0xFFFF),
    packages=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    data=st.data(),
)
def test_every_frame_that_decodes_strictly_encodes_back_byte_for_byte(
    message_id: int,
    attributes: int,
    phone: bytes,
    serial: int,
    packages: tuple[int, int],
    data: st.DataObject,
) -> None:
    body = _body(message_id, data)[:1023]
    head = message_id.to_bytes(2, "big") + (attributes | len(body)).to_bytes(2, "big")
    head += (b"\x01" + phone if attributes & 0x4000 else phone[:6]) + serial.to_bytes(2, "big")
    if attributes & 0x2000:
        head += max(packages).to_bytes(2, "big") + min(packages).to_bytes(2, "big")
    frame = wrap(head + body)
    try:
        packet = decode(frame)
    except FrameError as error:
        event(error.reason)
        return
    event(type(packet.message).__name__)
    assert encode(packet.header, packet.message) == frame


@pytest.mark.parametrize(
    ("version", "body"),
    [(Version.JT2013, "00640200020005"), (Version.JT2019, "0064000200020005")],
)
def test_retransmit_request_0x8003_counts_in_a_byte_up_to_2013_and_a_word_in_2019(
    version: Version, body: str
) -> None:
    request = RetransmitRequest(100, (2, 5), version)
    assert request.to_body().hex() == body
    assert RetransmitRequest.from_body(bytes.fromhex(body), version) == request
    with pytest.raises(FrameError):
        RetransmitRequest.from_body(bytes.fromhex(body)[:-1], version)
    with pytest.raises(ValueError, match="a 2013 0x8003 body in a 2019 header"):
        encode(Header(message_id=0x8003, phone="1", serial=1, version=Version.JT2019, protocol_version=1),
               RetransmitRequest(100, (2,)))  # fmt: skip
