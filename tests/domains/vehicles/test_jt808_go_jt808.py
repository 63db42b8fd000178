"""Conformance on go-jt808's annotated vectors (`jt808/go-jt808/`, constructed 2011/2013/2019 frames).

Each annotation line is `[raw] 名称:[value]`: raw bytes in hex, except the body attributes and the 0x25/0x2A
item words, which are printed in binary; `[bitN]` lines are bits of the line above. Our decoded record is
rendered under go-jt808's names in go-jt808's order and compared line by line. Where go-jt808 and the
standard part ways, the tests say so:

- the 2011 files say `JT2013`: a 2011 header is a 2013 header, only the register body tells 2011 apart;
- 0x0704 prints its report list twice (4 reports and a doubled body for a count of 2); the count and each
  printed report are checked, the doubled body is not;
- the platform replies written after each exchange with an empty body (0x8001, 0x8100) carry no annotation
  and are refused as `jt808.truncated`: those bodies have 5 and 3 fixed bytes;
- 0x0200 "纬度" holds 116.307629: the vectors swap latitude and longitude; we read the wire as the standard
  lays it out (latitude first) and keep the value, out of range as it is;
- alarm bit 31: go-jt808 names it 非法开门报警 in 2019 too; we leave it reserved in 2019 (`codes`);
  status bit 22 (车辆状态 是否运行, 2019): not corroborated, left unnamed; go-jt808's wording of status
  bits 10, 12 and 18-20 inverts the standard's (1 = cut, locked, used): bits are compared, not wording;
- additional items 0x05 (length 30, 3 bytes printed) and 0x11 in `addition_1` (length 1, 5 bytes printed)
  are inconsistent vectors and are skipped; parameters 0x005B and 0x0101 (WORD) declare 2 bytes
  and print 4, 0x0093 (DWORD) declares 1 and prints 4, and 0x0083 declares its GBK length and prints UTF-8.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from dthub.domains.vehicles.jt808 import (
    Authenticate,
    BatchLocationReport,
    FrameError,
    FrameSplitter,
    Header,
    LocationReport,
    Packet,
    Parameter,
    PlatformResponse,
    Reassembler,
    Register,
    RegisterResponse,
    TerminalResponse,
    UnknownMessage,
    Version,
    decode,
    encode,
    encode_packages,
)
from dthub.domains.vehicles.jt808.codes import ALARM_BITS, STATUS_BITS, Load
from dthub.domains.vehicles.jt808.framing import checksum, unwrap
from dthub.domains.vehicles.jt808.header import header_bytes, parse_header
from dthub.domains.vehicles.jt808.messages import REGISTER_LAYOUTS, item_bytes
from fixtures.hub import REALDATA, need_realdata

GO = REALDATA / "jt808" / "go-jt808"
TERMINAL = sorted((GO / "terminal" / "testdata").glob("*.txt")) if GO.exists() else []
_FIELD = re.compile(r"^\s*\[([0-9a-fA-F]+)\]\s*([^\s:\[\]]+)\s*:\s*\[(.*?)\]")
_BIT = re.compile(r"^\s*\[(bit[\d-]+(?:bit\d+)?)\]\s*([^:\[]*?)\s*:?\s*\[(.*?)\]")
_VERSION = re.compile(r"^\s*版本号:\[(JT\d+)\]")
_BODY = re.compile(r"^\s*(?:终端|平台)-[^:\[]+:(?:\[([0-9a-f]*)\]|null)")
_PLAIN = re.compile(r"^\s*([^\s:\[\]]+):\[(.*?)\]\s*$")


def annotated(lines: list[str]) -> list[tuple[str, str]]:
    """(name, value) of every annotated field, in order; the body line is named `body`."""
    fields = []
    for line in lines:
        if m := _FIELD.match(line):
            fields.append((m[2], m[3]))
        elif m := _BIT.match(line):
            fields.append((m[1], m[3]))
        elif m := _VERSION.match(line):
            fields.append(("版本号", m[1]))
        elif m := _BODY.match(line):
            fields.append(("body", m[1] or ""))
        elif m := _PLAIN.match(line):  # a field printed without its raw bytes (2013 鉴权码)
            fields.append((m[1], m[2]))
    return fields


def report_fields(report: LocationReport) -> list[tuple[str, str]]:
    assert report.time is not None
    return [
        ("报警标志", str(report.alarm)),
        ("状态标志", str(report.status)),
        ("纬度", str(round(abs(report.latitude) * 1e6))),
        ("经度", str(round(abs(report.longitude) * 1e6))),
        ("海拔高度", str(report.altitude_m)),
        ("速度", str(round(report.speed_kmh * 10))),
        ("方向", str(report.direction)),
        ("时间", (report.time + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")),
    ]


def ours(packet: Packet, frame: bytes, printed_reports: int) -> list[tuple[str, str]]:
    """Our record under go-jt808's names, in its order."""
    h, m = packet.header, packet.message
    body = m.to_body()
    attributes = int.from_bytes(header_bytes(h, len(body))[2:4], "big")
    fields = [
        ("消息ID", str(h.message_id)),
        ("消息体属性对象", str(attributes)),
        ("版本号", "JT2019" if h.version is Version.JT2019 else "JT2013"),
        ("bit15", str(int(h.reserved_bit))),
        ("bit14", str(int(h.version is Version.JT2019))),
        ("bit13", str(h.subpackaged).lower()),
        ("bit10-12", str(h.encryption)),
        ("bit0-bit9", str(len(body))),
    ]
    if h.version is Version.JT2019:
        fields.append(("协议版本号(2019)", str(h.protocol_version)))
    fields += [("终端手机号", h.phone), ("消息流水号", str(h.serial))]
    if not isinstance(m, BatchLocationReport):
        fields.append(("body", body.hex()))
    if isinstance(m, TerminalResponse | PlatformResponse):
        fields += [
            ("应答消息流水号", str(m.reply_serial)),
            ("应答消息ID", str(m.reply_id)),
            ("结果", str(m.result)),
        ]
    elif isinstance(m, RegisterResponse):
        fields += [
            ("应答流水号", str(m.reply_serial)),
            ("结果", str(m.result)),
            ("鉴权码", m.auth_code or ""),
        ]
    elif isinstance(m, Register):
        widths = [int(f.code[:-1]) for f in REGISTER_LAYOUTS[m.layout].fields[2:5]]
        fields += [
            ("省域ID", str(m.province_id)),
            ("市县域ID", str(m.city_id)),
            (f"制造商ID({widths[0]})", m.manufacturer_id),
            (f"终端型号({widths[1]})", m.model),
            (f"终端ID({widths[2]})", m.terminal_id),
            ("车牌颜色", str(m.plate_colour)),
            ("车牌号", m.plate),
        ]
    elif isinstance(m, Authenticate):
        if m.imei is None:
            fields.append(("鉴权码", m.auth_code))
        else:
            code = m.auth_code.encode("gbk")
            fields += [("鉴权码长度", str(len(code))), ("鉴权码", m.auth_code), ("终端IMEI", m.imei)]
            fields.append(("软件版本", m.software_version or ""))
    elif isinstance(m, LocationReport):
        fields += report_fields(m)
    elif isinstance(m, BatchLocationReport):
        fields += [("数据项个数", str(len(m.reports))), ("位置汇报类型", str(m.kind))]
        for n in range(printed_reports):
            fields += report_fields(m.reports[n % len(m.reports)])
    return [*fields, ("校验码", str(frame[-2]))]


def vectors() -> list[tuple[str, list[str]]]:
    found = []
    for path in TERMINAL:
        for n, block in enumerate(path.read_text().split("-----------")):
            lines = block.strip().splitlines()
            found.append((f"{path.stem}#{n}", lines))
    return found


@pytest.mark.parametrize(("name", "lines"), vectors() or [("absent", [])], ids=lambda v: str(v)[:40])
def test_annotated_terminal_vector_matches_field_by_field(name: str, lines: list[str]) -> None:
    need_realdata(GO)
    frame = bytes.fromhex(lines[0])
    if len(lines) == 1:  # an unannotated empty-body reply
        with pytest.raises(FrameError, match=r"jt808\.truncated"):
            decode(frame)
        return
    packet = decode(frame)
    theirs = annotated(lines[1:])
    printed_reports = sum(name == "报警标志" for name, _ in theirs)
    if isinstance(packet.message, BatchLocationReport):  # go-jt808 prints the reports twice
        body = packet.message.to_body()
        assert ("body", body.hex() + body[3:].hex()) in theirs
        theirs.remove(("body", body.hex() + body[3:].hex()))
    assert theirs == ours(packet, frame, printed_reports)
    assert encode(packet.header, packet.message) == frame


def test_every_terminal_file_was_read() -> None:
    need_realdata(GO)
    assert len(TERMINAL) == 21
    assert sum(len(lines) == 1 for _, lines in vectors()) == 6


@pytest.mark.parametrize(
    ("file", "version", "phone"),
    [("head_2013", Version.JT2013, "12345678901"), ("head_2019", Version.JT2019, "17299841738")],
)
def test_annotated_headers_decode(file: str, version: Version, phone: str) -> None:
    lines = need_realdata(GO / "protocol" / "jt808" / "testdata" / f"{file}.txt").read_text().splitlines()
    raw = {m[2]: m[1] for line in lines if (m := _FIELD.match(line))}
    content = bytes.fromhex(raw["消息ID"]) + int(raw["消息体属性对象"], 2).to_bytes(2, "big")
    content += bytes.fromhex(raw.get("协议版本号(2019)", "") + raw["终端手机号"] + raw["消息流水号"])
    protocol = 1 if version is Version.JT2019 else 0
    want = Header(message_id=2, phone=phone, serial=0, version=version, protocol_version=protocol)
    assert parse_header(content) == (want, len(content))


def _bits(path: Path) -> dict[int, str]:
    """`[bitN]...:[value]` lines -> {N: value}."""
    text = path.read_text()
    return {int(m[1]): m[2] for m in re.finditer(r"\[bit(\d+)\][^\[\n]*\[(\w+)\]", text)}


def test_annotated_alarm_bits_are_all_named_in_2019_but_bit_31() -> None:
    bits = _bits(need_realdata(GO / "protocol" / "model" / "testdata" / "0x0200_alarm_sign.txt"))
    assert set(bits) == set(range(32))
    assert set(bits.values()) == {"true"}
    named = {b.bit for b in ALARM_BITS if Version.JT2019 in b.versions}
    assert set(bits) - named == {31}
    report = LocationReport(0xFFFF_FFFF, 0, 0.0, 0.0, 0, 0.0, 0, None, version=Version.JT2019)
    assert len(report.alarms) == 32
    assert "bit31" in report.alarms


@pytest.mark.parametrize("load", [0, 1, 2, 3])
def test_annotated_status_bits_and_load(load: int) -> None:
    path = need_realdata(GO / "protocol" / "model" / "testdata" / f"0x0200_status_sign_0{load}.txt")
    bits = _bits(path)
    loaded = re.search(r"\[bit8-bit9\][^\n]*:\[(\d\d)\]", path.read_text())
    assert loaded is not None
    assert int(loaded[1], 2) == load
    word = sum(1 << bit for bit, value in bits.items() if value == "true") | load << 8
    report = LocationReport(0, word, 0.0, 0.0, 0, 0.0, 0, None, version=Version.JT2019)
    named = {b.bit for b in STATUS_BITS if Version.JT2019 in b.versions}
    assert set(bits) - named == {22}
    assert report.load is Load(load)
    assert len(report.status_flags) == len(bits)
    assert "bit22" in report.status_flags


INCONSISTENT = {("0x0200_addition_1", 0x05), ("0x0200_addition_1", 0x11), ("0x0200_addition_2", 0x05)}


def _addition_blocks(path: Path) -> list[list[str]]:
    return [block.strip().splitlines() for block in path.read_text().split("{")[1:]]


def _typed(ident: int, value: bytes) -> list[str]:
    """Our typed reading of one item, rendered as go-jt808 prints its value lines."""
    extras = LocationReport(0, 0, 0.0, 0.0, 0, 0.0, 0, None, item_bytes([(ident, value)])).extras
    match ident:
        case 0x01 if extras.mileage_km is not None:
            return [str(round(extras.mileage_km * 10))]
        case 0x02 if extras.fuel_l is not None:
            return [str(round(extras.fuel_l * 10))]
        case 0x03 if extras.tachograph_speed_kmh is not None:
            return [str(round(extras.tachograph_speed_kmh * 10))]
        case 0x04:
            return [str(extras.alarm_event_id)]
        case 0x06:
            return [str(extras.compartment_temperature_c)]
        case 0x11 if extras.overspeed is not None:
            area = [] if extras.overspeed.area_id is None else [str(extras.overspeed.area_id)]
            return [str(extras.overspeed.location_type), *area]
        case 0x12 if extras.area_alarm is not None:
            a = extras.area_alarm
            return [str(a.location_type), str(a.area_id), str(a.direction)]
        case 0x13 if extras.section_time is not None:
            s = extras.section_time
            return [str(s.section_id), str(s.driving_time_s), str(s.result)]
        case 0x25 | 0x2A:
            return [str(int.from_bytes(value, "big"))]
        case 0x2B if extras.analog is not None:
            return [str(extras.analog[1] << 16 | extras.analog[0])]
        case 0x30:
            return [str(extras.rssi)]
        case 0x31:
            return [str(extras.satellites)]
    raise AssertionError(f"no typed reading of item {ident:#04x}")


@pytest.mark.parametrize(("file", "typed"), [("0x0200_addition_1", 12), ("0x0200_addition_2", 13)])
def test_annotated_additional_items_match_their_typed_values(file: str, typed: int) -> None:
    path = need_realdata(GO / "protocol" / "model" / "testdata" / f"{file}.txt")
    checked = 0
    for block in _addition_blocks(path):
        text = "\n".join(block)
        if m := re.match(r"\[([0-9a-f]{2})\]未知附加信息", text):  # an unknown id: kept raw, untyped
            item = (int(m[1], 16), b"\x20")
            report = LocationReport(0, 0, 0.0, 0.0, 0, 0.0, 0, None, item_bytes([item]))
            assert report.items == (item,)
            assert report.extras == LocationReport(0, 0, 0.0, 0.0, 0, 0.0, 0, None).extras
            continue
        ident = re.search(r"\[([0-9a-fA-F]{2})\]附加信息ID", text)
        length = re.search(r"\[([0-9a-fA-F]{2})\]附加信息长度", text)
        assert ident is not None
        assert length is not None
        values = re.findall(r"\[([0-9a-fA-F]+)\]([^\[\]\n]*?):\[([^\]\n]*)\]", text)
        raw = b"".join(
            int(hex_or_bits, 2).to_bytes(len(hex_or_bits) // 8, "big")
            if len(hex_or_bits) >= 16 and set(hex_or_bits) <= {"0", "1"}  # the 0x25 and 0x2A words, in binary
            else bytes.fromhex(hex_or_bits)
            for hex_or_bits, _, _ in values
        )
        key = (file, int(ident[1], 16))
        if key in INCONSISTENT:
            assert len(raw) != int(length[1], 16)
            continue
        assert len(raw) == int(length[1], 16), key
        assert _typed(key[1], raw) == [value for _, _, value in values], key
        for bit in re.finditer(r"\[bit(\d+)\][^\[]*\[(true|false)\]", text):
            assert (int.from_bytes(raw, "big") >> int(bit[1]) & 1 == 1) == (bit[2] == "true"), key
        checked += 1
    assert checked == typed


def test_annotated_parameters_match_their_typed_values() -> None:
    text = need_realdata(GO / "protocol" / "model" / "testdata" / "0x0200_terminal_param_1.txt").read_text()
    pattern = (
        r"\[([0-9a-fA-F]{4})\]终端参数ID[^\n]*\n"
        r"\s*参数长度\[(\d+)\] 是否存在\[(\w+)\]\n"
        r"\s*\[([0-9a-f]*)\]参数值:\[(.*)\]"
    )
    checked = 0
    for m in re.finditer(pattern, text):
        ident, length, present, raw, value = (
            int(m[1], 16),
            int(m[2]),
            m[3] == "true",
            bytes.fromhex(m[4]),
            m[5],
        )
        if not present:
            continue
        if ident == 0x0083:  # declared as the GBK plate's 8 bytes, printed in UTF-8 (9 bytes)
            assert raw.decode("utf-8") == value
            assert len(value.encode("gbk")) == length
            raw = value.encode("gbk")
        if len(raw) != length:  # declared and printed lengths disagree: the typed value is the same
            assert (ident, length, len(raw)) in {(0x005B, 2, 4), (0x0101, 2, 4), (0x0093, 1, 4)}
        typed = Parameter(ident, raw).value
        rendered = "[" + " ".join(map(str, typed)) + "]" if isinstance(typed, bytes) else str(typed)
        assert rendered == value, hex(ident)
        checked += 1
    assert checked == 83


def test_subpackaged_message_splits_and_joins_as_go_jt808_does() -> None:
    folder = need_realdata(GO / "protocol" / "jt808" / "testdata")
    whole = bytes.fromhex((folder / "0x1205_src.txt").read_text().strip())
    stream = bytes.fromhex((folder / "0x1205_dst.txt").read_text().strip())
    splitter, joiner = FrameSplitter(), Reassembler(timeout_s=30)
    frames = splitter.feed(stream)
    assert all(isinstance(f, bytes) for f in frames)
    assert len(frames) == 6
    results = [joiner.add(decode(f), now=0.0) for f in frames if isinstance(f, bytes)]
    assert [r.packet is None for r in results] == [True] * 5 + [False]
    packet = results[-1].packet
    assert packet is not None
    first = Header(
        message_id=0x1205, phone="17299841738", serial=0x42FC, version=Version.JT2019, protocol_version=1
    )
    assert packet == Packet(first, UnknownMessage(0x1205, whole))
    assert b"".join(encode_packages(first, packet.message, package_size=1000)) == stream


def test_su_biao_attachment_frames_are_unknown_and_their_replies_read() -> None:
    text = need_realdata(GO / "attachment" / "testdata" / "su_biao" / "说明.log").read_text()
    packets = [decode(bytes.fromhex(m)) for m in re.findall(r"7e[0-9a-f]+?7e", text)]
    assert [p.header.message_id for p in packets] == [0x1210, 0x8001, 0x1211, 0x8001, 0x1212, 0x1212, 0x9212]
    assert packets[1].message == PlatformResponse(reply_serial=1, reply_id=0x1210, result=0)
    assert all(isinstance(p.message, UnknownMessage) for p in packets if p.header.message_id != 0x8001)
    assert checksum(unwrap(bytes.fromhex("7e8001000500000000100100000001121000967e"))[0]) == 0x96
