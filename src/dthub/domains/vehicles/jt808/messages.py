"""JT/T 808 message bodies (消息体, clause 8 数据格式) as frozen dataclasses, decoded and encoded.

Fixed layouts are tables of `Field`s in the standard's order (reference §1.3-§1.9); the code reads them
through one precompiled `struct.Struct` each. Byte order is big-endian; STRING is GBK (bytes GBK cannot
read are kept as surrogate escapes, so every body encodes back to the bytes it came from). Fixed-width text
fields are padded with 0x00, which decoding strips and encoding puts back.

Unknown message ids decode to `UnknownMessage`, RSA-encrypted bodies too; one package of a subpackaged
message is a `Fragment` until `reassembly.Reassembler` has them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from struct import Struct
from typing import ClassVar, Self

from dthub.domains.vehicles.jt808 import codes
from dthub.domains.vehicles.jt808._build import fast_constructor
from dthub.domains.vehicles.jt808.errors import BadBcd, BadBody, BadTime, Truncated
from dthub.domains.vehicles.jt808.header import Version

TERMINAL_TIME_ZONE = timedelta(hours=8)
"""Times in bodies are BCD[6] YYMMDDhhmmss in GMT+8 (reference §1.5); decoded times are UTC."""


@dataclass(frozen=True)
class Field:
    """One field of a fixed layout: name, `struct` code (B BYTE, H WORD, I DWORD, h signed WORD, Ns
    BYTE[N]), the standard's name and the unit."""

    name: str
    code: str
    zh: str
    unit: str = ""


class Layout:
    """Fields in spec order, compiled to one big-endian `Struct`."""

    def __init__(self, *fields: Field) -> None:
        self.fields = fields
        self.struct = Struct(">" + "".join(f.code for f in fields))
        self.size = self.struct.size
        self.names = tuple(f.name for f in fields)


# --- helpers -----------------------------------------------------------------------------------------


def string(raw: bytes) -> str:
    """GBK text of a variable STRING, byte for byte (a 2011 terminating 0x00 stays in it)."""
    return raw.decode("gbk", "surrogateescape")


def text(raw: bytes) -> str:
    """GBK text of a fixed-width field, its trailing 0x00 padding stripped."""
    return raw.rstrip(b"\x00").decode("gbk", "surrogateescape")


def text_bytes(value: str, width: int | None = None, name: str = "text") -> bytes:
    """GBK bytes of `value`, padded with 0x00 to `width` when given; too long raises ValueError."""
    raw = value.encode("gbk", "surrogateescape")
    if width is None:
        return raw
    if len(raw) > width:
        raise ValueError(f"{name} {value!r} is {len(raw)} bytes in GBK, over its {width}")
    return raw.ljust(width, b"\x00")


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise Truncated(f"{what} needs {size} bytes, got {len(body)}")


def _exactly(body: bytes, size: int, what: str) -> None:
    _need(body, size, what)
    if len(body) > size:
        raise BadBody(f"{what} is {size} bytes, got {len(body)}")


_NOT_BCD = 10_000
"""Stands for a BCD byte with a nibble above 9: no datetime field accepts it (year 12000 included)."""
_BCD: tuple[int, ...] = tuple(
    (b >> 4) * 10 + (b & 0xF) if (b >> 4) < 10 and (b & 0xF) < 10 else _NOT_BCD for b in range(256)
)
"""Value of each BCD byte."""
_NO_TIME = bytes(6)


def bcd_time(raw: bytes) -> datetime | None:
    """BCD[6] YYMMDDhhmmss, GMT+8 -> an aware UTC datetime; all zeros (no fix yet) -> None."""
    year, month, day, hour, minute, second = raw
    hour = _BCD[hour]
    try:
        if 8 <= hour <= 23:  # the same day in UTC: one datetime instead of two
            return datetime(
                2000 + _BCD[year], _BCD[month], _BCD[day], hour - 8, _BCD[minute], _BCD[second], 0, UTC
            )
        return (
            datetime(2000 + _BCD[year], _BCD[month], _BCD[day], hour, _BCD[minute], _BCD[second], 0, UTC)
            - TERMINAL_TIME_ZONE
        )
    except ValueError:
        if raw == _NO_TIME:
            return None
        if any(_BCD[b] == _NOT_BCD for b in raw):
            raise BadBcd(f"time {raw.hex()} has a nibble above 9") from None
        raise BadTime(f"time {raw.hex()} is no calendar time (YYMMDDhhmmss, GMT+8)") from None


def bcd_time_bytes(time: datetime | None) -> bytes:
    """An aware datetime -> BCD[6] in GMT+8; None -> six zero bytes."""
    if time is None:
        return _NO_TIME
    if time.tzinfo is None:
        raise ValueError(f"time {time} has no time zone")
    local = time.astimezone(UTC) + TERMINAL_TIME_ZONE
    if not 2000 <= local.year <= 2099:
        raise ValueError(f"time {time} is outside 2000-2099 (GMT+8), which BCD[6] can hold")
    return bytes.fromhex(local.strftime("%y%m%d%H%M%S"))


# --- the message classes -------------------------------------------------------------------------------


class Message:
    """A message body. Known ones carry `MESSAGE_ID` and `NAME_ZH`, and decode with `from_body`."""

    __slots__ = ()
    MESSAGE_ID: ClassVar[int]
    NAME_ZH: ClassVar[str]

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Message:
        raise NotImplementedError

    def to_body(self) -> bytes:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class UnknownMessage(Message):
    """A message the codec does not read (an unknown id, or an RSA-encrypted body): the raw body, kept."""

    message_id: int
    body: bytes

    def to_body(self) -> bytes:
        return self.body


@dataclass(frozen=True, slots=True)
class Fragment(Message):
    """One package (分包) of a subpackaged message: a slice of the whole body, read once reassembled."""

    body: bytes

    def to_body(self) -> bytes:
        return self.body


class _Empty(Message):
    """A message whose body is empty."""

    __slots__ = ()

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _exactly(body, 0, f"{cls.MESSAGE_ID:#06x} body")
        return cls()

    def to_body(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class Heartbeat(_Empty):
    """终端心跳 (0x0002): empty body; the platform answers 0x8001."""

    MESSAGE_ID = 0x0002
    NAME_ZH = "终端心跳"


@dataclass(frozen=True, slots=True)
class Deregister(_Empty):
    """终端注销 (0x0003): empty body."""

    MESSAGE_ID = 0x0003
    NAME_ZH = "终端注销"


@dataclass(frozen=True, slots=True)
class QueryParameters(_Empty):
    """查询终端参数 (0x8104): empty body; the terminal answers 0x0104."""

    MESSAGE_ID = 0x8104
    NAME_ZH = "查询终端参数"


@dataclass(frozen=True, slots=True)
class LocationQuery(_Empty):
    """位置信息查询 (0x8201): empty body; the terminal answers 0x0201."""

    MESSAGE_ID = 0x8201
    NAME_ZH = "位置信息查询"


GENERAL_RESPONSE = Layout(
    Field("reply_serial", "H", "应答流水号"),
    Field("reply_id", "H", "应答ID"),
    Field("result", "B", "结果", "codes.Result"),
)


@dataclass(frozen=True, slots=True)
class _GeneralResponse(Message):
    reply_serial: int
    reply_id: int
    result: int

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _exactly(body, GENERAL_RESPONSE.size, f"{cls.MESSAGE_ID:#06x} body")
        return cls(*GENERAL_RESPONSE.struct.unpack(body))

    def to_body(self) -> bytes:
        return GENERAL_RESPONSE.struct.pack(self.reply_serial, self.reply_id, self.result)


@dataclass(frozen=True, slots=True)
class TerminalResponse(_GeneralResponse):
    """终端通用应答 (0x0001): the serial and id answered, and a `codes.Result`."""

    MESSAGE_ID = 0x0001
    NAME_ZH = "终端通用应答"


@dataclass(frozen=True, slots=True)
class PlatformResponse(_GeneralResponse):
    """平台通用应答 (0x8001): the serial and id answered, and a `codes.Result` (4 = alarm acknowledged)."""

    MESSAGE_ID = 0x8001
    NAME_ZH = "平台通用应答"


@dataclass(frozen=True, slots=True)
class RetransmitRequest(Message):
    """补传分包请求 (0x8003): the serial of the first package of a subpackaged message, and the package
    numbers to send again (each a WORD). The count before them is a BYTE up to 2013 and a WORD in 2019
    (`layout`; yezhihao/jt808-server `T8003`)."""

    MESSAGE_ID = 0x8003
    NAME_ZH = "补传分包请求"
    reply_serial: int
    packages: tuple[int, ...]
    layout: Version = Version.JT2013

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        wide = version is Version.JT2019
        head = 4 if wide else 3
        _need(body, head, "0x8003 body")
        count = _SERIAL.unpack_from(body, 2)[0] if wide else body[2]
        _exactly(body, head + 2 * count, f"0x8003 body of {count} packages")
        packages = tuple(_SERIAL.unpack_from(body, head + 2 * n)[0] for n in range(count))
        return cls(_SERIAL.unpack_from(body)[0], packages, version if wide else Version.JT2013)

    def to_body(self) -> bytes:
        count = len(self.packages)
        head = _SERIAL.pack(count) if self.layout is Version.JT2019 else bytes((count,))
        return _SERIAL.pack(self.reply_serial) + head + b"".join(_SERIAL.pack(n) for n in self.packages)


REGISTER_LAYOUTS: Mapping[Version, Layout] = {
    version: Layout(
        Field("province_id", "H", "省域ID", "GB/T 2260 first 2 digits"),
        Field("city_id", "H", "市县域ID", "GB/T 2260 last 4 digits"),
        Field("manufacturer_id", f"{maker}s", "制造商ID"),
        Field("model", f"{model}s", "终端型号"),
        Field("terminal_id", f"{terminal}s", "终端ID"),
        Field("plate_colour", "B", "车牌颜色", "JT/T 697.7; 0 = not plated, plate holds the VIN"),
    )
    for version, (maker, model, terminal) in {
        Version.JT2011: (5, 8, 7),
        Version.JT2013: (5, 20, 7),
        Version.JT2019: (11, 30, 30),
    }.items()
}
"""The 0x0100 head before the plate (STRING to the end): 25 bytes in 2011, 37 in 2013, 76 in 2019."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Register(Message):
    """终端注册 (0x0100). `layout` is the edition of the body: 2019 from the header's version flag; else
    2011 when the body is shorter than 37 bytes (the 2013 head), 2013 otherwise."""

    MESSAGE_ID = 0x0100
    NAME_ZH = "终端注册"
    province_id: int
    city_id: int
    manufacturer_id: str
    model: str
    terminal_id: str
    plate_colour: int
    plate: str
    layout: Version = Version.JT2013

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        if version is not Version.JT2019:
            version = Version.JT2011 if len(body) < REGISTER_LAYOUTS[Version.JT2013].size else Version.JT2013
        layout = REGISTER_LAYOUTS[version]
        _need(body, layout.size, f"{version.value} register body")
        province, city, maker, model, terminal, colour = layout.struct.unpack_from(body)
        return cls(
            province_id=province,
            city_id=city,
            manufacturer_id=text(maker),
            model=text(model),
            terminal_id=text(terminal),
            plate_colour=colour,
            plate=string(body[layout.size :]),
            layout=version,
        )

    def to_body(self) -> bytes:
        layout = REGISTER_LAYOUTS[self.layout]
        maker, model, terminal = (int(f.code[:-1]) for f in layout.fields[2:5])
        return layout.struct.pack(
            self.province_id,
            self.city_id,
            text_bytes(self.manufacturer_id, maker, "manufacturer_id"),
            text_bytes(self.model, model, "model"),
            text_bytes(self.terminal_id, terminal, "terminal_id"),
            self.plate_colour,
        ) + text_bytes(self.plate)


REGISTER_RESPONSE = Layout(Field("reply_serial", "H", "应答流水号"), Field("result", "B", "结果"))


@dataclass(frozen=True, slots=True)
class RegisterResponse(Message):
    """终端注册应答 (0x8100): serial answered, a `codes.RegisterResult`, and the auth code (鉴权码, the
    rest of the body) on success; None when the body ends after the result."""

    MESSAGE_ID = 0x8100
    NAME_ZH = "终端注册应答"
    reply_serial: int
    result: int
    auth_code: str | None = None

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _need(body, REGISTER_RESPONSE.size, "0x8100 body")
        serial, result = REGISTER_RESPONSE.struct.unpack_from(body)
        code = body[REGISTER_RESPONSE.size :]
        return cls(serial, result, string(code) if code else None)

    def to_body(self) -> bytes:
        head = REGISTER_RESPONSE.struct.pack(self.reply_serial, self.result)
        return head if self.auth_code is None else head + text_bytes(self.auth_code)


AUTHENTICATE_2019_TAIL = Layout(
    Field("imei", "15s", "终端IMEI"),
    Field("software_version", "20s", "软件版本号"),
)


@dataclass(frozen=True, slots=True)
class Authenticate(Message):
    """终端鉴权 (0x0102). 2013: the auth code is the whole body. 2019: code length BYTE, the code,
    IMEI BYTE[15], software version BYTE[20]; `imei` and `software_version` are None in 2013."""

    MESSAGE_ID = 0x0102
    NAME_ZH = "终端鉴权"
    auth_code: str
    imei: str | None = None
    software_version: str | None = None

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        if version is not Version.JT2019:
            return cls(string(body))
        _need(body, 1, "2019 authentication body")
        end = 1 + body[0]
        _exactly(body, end + AUTHENTICATE_2019_TAIL.size, "2019 authentication body")
        imei, software = AUTHENTICATE_2019_TAIL.struct.unpack_from(body, end)
        return cls(string(body[1:end]), text(imei), text(software))

    def to_body(self) -> bytes:
        code = text_bytes(self.auth_code)
        if self.imei is None and self.software_version is None:
            return code
        if len(code) > 255:
            raise ValueError(f"auth code of {len(code)} bytes does not fit its length BYTE")
        return (
            bytes((len(code),))
            + code
            + text_bytes(self.imei or "", 15, "imei")
            + text_bytes(self.software_version or "", 20, "software_version")
        )


LOCATION_BLOCK = Layout(
    Field("alarm", "I", "报警标志", "codes.ALARM_BITS"),
    Field("status", "I", "状态", "codes.STATUS_BITS"),
    Field("latitude", "I", "纬度", "1e-6 degree; south when status bit 2"),
    Field("longitude", "I", "经度", "1e-6 degree; west when status bit 3"),
    Field("altitude_m", "h", "高程", "m; the standard says WORD, read signed as Traccar does"),
    Field("speed", "H", "速度", "1/10 km/h"),
    Field("direction", "H", "方向", "degree, 0-359, north 0, clockwise"),
    Field("time", "6s", "时间", "BCD YYMMDDhhmmss, GMT+8"),
)
"""The 28-byte basic block of 0x0200 (位置基本信息); additional items (位置附加信息项) follow."""
_BLOCK = LOCATION_BLOCK.struct
_BLOCK_SIZE = LOCATION_BLOCK.size
_SOUTH, _WEST = 1 << 2, 1 << 3

Item = tuple[int, bytes]
"""An additional item: id BYTE and the value bytes (its length BYTE is implied)."""


@dataclass(frozen=True, slots=True)
class Overspeed:
    """Item 0x11, overspeed detail: location type (0 none, 1 circle, 2 rectangle, 3 polygon, 4 route
    section) and the area or section id, absent for type 0."""

    location_type: int
    area_id: int | None


@dataclass(frozen=True, slots=True)
class AreaAlarm:
    """Item 0x12, in/out of an area or route: location type (1 circle, 2 rectangle, 3 polygon, 4 route),
    its id, and the direction (0 in, 1 out)."""

    location_type: int
    area_id: int
    direction: int


@dataclass(frozen=True, slots=True)
class SectionTime:
    """Item 0x13, route-section travel time: section id, time driven (s), result (0 too short, 1 too long)."""

    section_id: int
    driving_time_s: int
    result: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Extras:
    """The common additional items typed (reference §1.8); None where the item is absent or its length
    is not the standard's. Vendor items (0xE1-0xFF, 苏标 0x64-0x67, ...) stay in `LocationReport.items`."""

    mileage_km: float | None = None
    """0x01 里程, DWORD 1/10 km."""
    fuel_l: float | None = None
    """0x02 油量, WORD 1/10 L."""
    tachograph_speed_kmh: float | None = None
    """0x03 行驶记录功能获取的速度, WORD 1/10 km/h."""
    alarm_event_id: int | None = None
    """0x04 需要人工确认报警事件的ID, WORD."""
    tyre_pressures_pa: tuple[int | None, ...] | None = None
    """0x05 胎压 (2019), BYTE[30] Pa front to back, left to right; 0xFF (invalid) -> None."""
    compartment_temperature_c: int | None = None
    """0x06 车厢温度 (2019), WORD, sign and magnitude (high bit set = below zero)."""
    overspeed: Overspeed | None = None
    """0x11 超速报警附加信息."""
    area_alarm: AreaAlarm | None = None
    """0x12 进出区域/路线报警附加信息."""
    section_time: SectionTime | None = None
    """0x13 路段行驶时间不足/过长报警附加信息."""
    signals: frozenset[str] | None = None
    """0x25 扩展车辆信号状态位, DWORD, named by `codes.SIGNAL_BITS`."""
    io: frozenset[str] | None = None
    """0x2A IO状态位, WORD, named by `codes.IO_BITS`."""
    analog: tuple[int, int] | None = None
    """0x2B 模拟量, DWORD: AD0 (bits 0-15), AD1 (bits 16-31)."""
    rssi: int | None = None
    """0x30 无线通信网络信号强度, BYTE."""
    satellites: int | None = None
    """0x31 GNSS定位卫星数, BYTE."""


def _u(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def _sign_magnitude(raw: bytes) -> int:
    value = _u(raw)
    return -(value & 0x7FFF) if value & 0x8000 else value


ITEM_DECODERS: Mapping[int, tuple[str, Callable[[bytes], object], Callable[[int], bool]]] = {
    0x01: ("mileage_km", lambda r: _u(r) / 10, lambda n: n == 4),
    0x02: ("fuel_l", lambda r: _u(r) / 10, lambda n: n == 2),
    0x03: ("tachograph_speed_kmh", lambda r: _u(r) / 10, lambda n: n == 2),
    0x04: ("alarm_event_id", _u, lambda n: n == 2),
    0x05: ("tyre_pressures_pa", lambda r: tuple(None if b == 0xFF else b for b in r), lambda n: n > 0),
    0x06: ("compartment_temperature_c", _sign_magnitude, lambda n: n == 2),
    0x11: ("overspeed", lambda r: Overspeed(r[0], _u(r[1:]) if len(r) == 5 else None), lambda n: n in (1, 5)),
    0x12: ("area_alarm", lambda r: AreaAlarm(r[0], _u(r[1:5]), r[5]), lambda n: n == 6),
    0x13: ("section_time", lambda r: SectionTime(_u(r[:4]), _u(r[4:6]), r[6]), lambda n: n == 7),
    0x25: ("signals", lambda r: codes.signal_flags(_u(r)), lambda n: n == 4),
    0x2A: ("io", lambda r: codes.io_flags(_u(r)), lambda n: n == 2),
    0x2B: ("analog", lambda r: (_u(r[2:]), _u(r[:2])), lambda n: n == 4),
    0x30: ("rssi", _u, lambda n: n == 1),
    0x31: ("satellites", _u, lambda n: n == 1),
}
"""Additional item id -> (`Extras` field, decoder, accepted length): the typed reading of §1.8's table."""


def item_bytes(items: Iterable[Item]) -> bytes:
    """Additional items -> their bytes: id BYTE, length BYTE, value, repeated."""
    parts = []
    for ident, value in items:
        if not 0 <= ident <= 0xFF or len(value) > 0xFF:
            raise ValueError(f"additional item {ident:#04x} of {len(value)} bytes: id and length are BYTEs")
        parts.append(bytes((ident, len(value))) + value)
    return b"".join(parts)


def split_items(extra: bytes) -> tuple[Item, ...]:
    """The additional items in `extra`; a last item that runs past the end raises `Truncated`."""
    items = []
    at, end = 0, len(extra)
    while at < end:
        value_end = at + 2 + extra[at + 1] if at + 1 < end else end + 1
        if value_end > end:
            raise Truncated(f"additional item at offset {_BLOCK_SIZE + at} runs past the body's end")
        items.append((extra[at], extra[at + 2 : value_end]))
        at = value_end
    return tuple(items)


@dataclass(frozen=True, slots=True)
class LocationReport(Message):
    """位置信息汇报 (0x0200): the 28-byte basic block and the additional items (位置附加信息项).

    `alarm` and `status` are the raw DWORDs (`alarms`, `status_flags`, `load` name them per `version`, the
    header's edition); `latitude`/`longitude` are degrees with the south/west status bits applied;
    `time` is UTC (None when the terminal sent zeros: no fix yet). Encoding sets the south/west bits from
    the signs of `latitude`/`longitude` (-0.0 counts as south/west, so decoded reports round-trip).

    `extra` is the additional items as sent (id BYTE, length BYTE, value, repeated; build it with
    `item_bytes`): decoding checks that the lengths chain to the end of the body, and `items` splits them
    into (id, value) pairs when asked, so a report read only for its basic block costs no object per item.
    """

    MESSAGE_ID = 0x0200
    NAME_ZH = "位置信息汇报"
    alarm: int
    status: int
    latitude: float
    longitude: float
    altitude_m: int
    speed_kmh: float
    direction: int
    time: datetime | None
    extra: bytes = b""
    version: Version = Version.JT2013

    def __post_init__(self) -> None:
        split_items(self.extra)  # a hand-built report must chain; decoding checks it on the way in

    @staticmethod
    def from_body(body: bytes, version: Version, start: int = 0, end: int = -1) -> LocationReport:
        """The report in `body`, or in `body[start:end]` (0x0201 and 0x0704 embed reports)."""
        if end < 0:
            end = len(body)
        if end - start < _BLOCK_SIZE:
            raise Truncated(f"location report needs {_BLOCK_SIZE} bytes, got {end - start}")
        alarm, status, lat, lon, altitude, speed, direction, when = _BLOCK.unpack_from(body, start)
        at = first = start + _BLOCK_SIZE
        while at + 1 < end:  # walk the item lengths: id BYTE, length BYTE, value
            at += 2 + body[at + 1]
        if at != end:
            split_items(body[first:end])  # raises Truncated, naming the item that runs past the end
        return _new_report(
            alarm,
            status,
            -(lat / 1e6) if status & _SOUTH else lat / 1e6,
            -(lon / 1e6) if status & _WEST else lon / 1e6,
            altitude,
            speed / 10,
            direction,
            bcd_time(when),
            body[first:end],
            version,
        )

    @property
    def items(self) -> tuple[Item, ...]:
        """The additional items as (id, value) pairs, in order; unknown ids are kept as they are."""
        return split_items(self.extra)

    def to_body(self) -> bytes:
        status = self.status & ~(_SOUTH | _WEST)
        if math.copysign(1.0, self.latitude) < 0:
            status |= _SOUTH
        if math.copysign(1.0, self.longitude) < 0:
            status |= _WEST
        block = _BLOCK.pack(
            self.alarm,
            status,
            round(abs(self.latitude) * 1e6),
            round(abs(self.longitude) * 1e6),
            self.altitude_m,
            round(self.speed_kmh * 10),
            self.direction,
            bcd_time_bytes(self.time),
        )
        return block + self.extra

    @property
    def alarms(self) -> frozenset[str]:
        """Alarm flags set, named per `version` (`codes.ALARM_BITS`); reserved bits set -> `bitN`."""
        return codes.alarm_flags(self.alarm, self.version)

    @property
    def status_flags(self) -> frozenset[str]:
        """Status flags set, named per `version` (`codes.STATUS_BITS`); the load field is `load`."""
        return codes.status_flags(self.status, self.version)

    @property
    def load(self) -> codes.Load | None:
        """Status bits 8-9 (2013+): empty, half, reserved or full."""
        return codes.load(self.status, self.version)

    @property
    def extras(self) -> Extras:
        """The common additional items, typed; the first of a repeated id wins."""
        found: dict[str, object] = {}
        for ident, value in self.items:
            decoder = ITEM_DECODERS.get(ident)
            if decoder is not None and decoder[0] not in found and decoder[2](len(value)):
                found[decoder[0]] = decoder[1](value)
        return Extras(**found)  # type: ignore[arg-type]


_new_report = fast_constructor(LocationReport)
_SERIAL = Struct(">H")


@dataclass(frozen=True, slots=True)
class LocationQueryResponse(Message):
    """位置信息查询应答 (0x0201): the serial of the 0x8201 answered, then a 0x0200 body."""

    MESSAGE_ID = 0x0201
    NAME_ZH = "位置信息查询应答"
    reply_serial: int
    report: LocationReport

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _need(body, 2, "0x0201 body")
        return cls(_SERIAL.unpack_from(body)[0], LocationReport.from_body(body, version, 2))

    def to_body(self) -> bytes:
        return _SERIAL.pack(self.reply_serial) + self.report.to_body()


BATCH_HEAD = Layout(
    Field("count", "H", "数据项个数"),
    Field("kind", "B", "位置数据类型", "0 normal batch, 1 blind-area backfill (盲区补报)"),
)


@dataclass(frozen=True, slots=True)
class BatchLocationReport(Message):
    """定位数据批量上传 (0x0704): item count WORD, kind BYTE (0 normal, 1 盲区补报), then per report a
    length WORD and a 0x0200 body. A count that disagrees with the reports is refused."""

    MESSAGE_ID = 0x0704
    NAME_ZH = "定位数据批量上传"
    kind: int
    reports: tuple[LocationReport, ...]

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _need(body, BATCH_HEAD.size, "0x0704 body")
        count, kind = BATCH_HEAD.struct.unpack_from(body)
        reports = []
        at, end = BATCH_HEAD.size, len(body)
        for n in range(count):
            if at + 2 > end:
                raise Truncated(f"0x0704 says {count} reports, the body ends after {n}")
            length = (body[at] << 8) | body[at + 1]
            if at + 2 + length > end:
                raise Truncated(f"0x0704 report {n + 1} needs {length} bytes, {end - at - 2} left")
            reports.append(LocationReport.from_body(body, version, at + 2, at + 2 + length))
            at += 2 + length
        if at != end:
            raise BadBody(f"0x0704 says {count} reports, {end - at} bytes follow them")
        return cls(kind, tuple(reports))

    def to_body(self) -> bytes:
        parts = [BATCH_HEAD.struct.pack(len(self.reports), self.kind)]
        for report in self.reports:
            encoded = report.to_body()
            parts.append(_SERIAL.pack(len(encoded)) + encoded)
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Parameter:
    """One terminal parameter (终端参数项): id DWORD and its value bytes; `value` types the ids of
    `codes.PARAMETERS` (integers by their length, STRING as GBK, BYTES as bytes), others stay bytes."""

    id: int
    raw: bytes

    @property
    def spec(self) -> codes.ParameterSpec | None:
        return codes.PARAMETER_SPECS.get(self.id)

    @property
    def value(self) -> int | str | bytes:
        spec = codes.PARAMETER_SPECS.get(self.id)
        if spec is None or spec.kind == "BYTES":
            return self.raw
        if spec.kind == "STRING":
            return string(self.raw)
        return _u(self.raw)

    @classmethod
    def of(cls, ident: int, value: int | str | bytes) -> Parameter:
        """A parameter from a typed value: integers take the width of the id's type (DWORD for unknown)."""
        if isinstance(value, bytes):
            return cls(ident, value)
        if isinstance(value, str):
            return cls(ident, text_bytes(value))
        spec = codes.PARAMETER_SPECS.get(ident)
        width = codes.INTEGER_WIDTHS.get(spec.kind if spec else "DWORD", 4)
        return cls(ident, value.to_bytes(width, "big"))


_PARAMETER_HEAD = Struct(">IB")


def _parameters(body: bytes, start: int, count: int, what: str) -> tuple[Parameter, ...]:
    found = []
    at, end = start, len(body)
    for n in range(count):
        if at + 5 > end:
            raise Truncated(f"{what} says {count} parameters, the body ends after {n}")
        ident, length = _PARAMETER_HEAD.unpack_from(body, at)
        if at + 5 + length > end:
            raise Truncated(f"{what} parameter {ident:#06x} needs {length} bytes, {end - at - 5} left")
        found.append(Parameter(ident, body[at + 5 : at + 5 + length]))
        at += 5 + length
    if at != end:
        raise BadBody(f"{what} says {count} parameters, {end - at} bytes follow them")
    return tuple(found)


def _parameters_bytes(parameters: tuple[Parameter, ...]) -> bytes:
    if len(parameters) > 255:
        raise ValueError(f"{len(parameters)} parameters do not fit the count BYTE")
    parts = [bytes((len(parameters),))]
    for p in parameters:
        if len(p.raw) > 255:
            raise ValueError(f"parameter {p.id:#06x} of {len(p.raw)} bytes is over 255")
        parts.append(_PARAMETER_HEAD.pack(p.id, len(p.raw)) + p.raw)
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class SetParameters(Message):
    """设置终端参数 (0x8103): count BYTE, then per parameter id DWORD, length BYTE, value."""

    MESSAGE_ID = 0x8103
    NAME_ZH = "设置终端参数"
    parameters: tuple[Parameter, ...]

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _need(body, 1, "0x8103 body")
        return cls(_parameters(body, 1, body[0], "0x8103"))

    def to_body(self) -> bytes:
        return _parameters_bytes(self.parameters)


_PARAMETERS_RESPONSE_HEAD = Struct(">HB")


@dataclass(frozen=True, slots=True)
class ParametersResponse(Message):
    """查询终端参数应答 (0x0104): serial answered WORD, count BYTE, then the parameters as in 0x8103."""

    MESSAGE_ID = 0x0104
    NAME_ZH = "查询终端参数应答"
    reply_serial: int
    parameters: tuple[Parameter, ...]

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _need(body, 3, "0x0104 body")
        serial, count = _PARAMETERS_RESPONSE_HEAD.unpack_from(body)
        return cls(serial, _parameters(body, 3, count, "0x0104"))

    def to_body(self) -> bytes:
        return _SERIAL.pack(self.reply_serial) + _parameters_bytes(self.parameters)


@dataclass(frozen=True, slots=True)
class TerminalControl(Message):
    """终端控制 (0x8105): command word BYTE (1 wireless upgrade, 2 connect to a server, 3 power off,
    4 reset, 5 factory reset, 6 close data link, 7 close all links) and its arguments, a GBK STRING with
    fields separated by semicolons (empty for most commands)."""

    MESSAGE_ID = 0x8105
    NAME_ZH = "终端控制"
    command: int
    arguments: str = ""

    @classmethod
    def from_body(cls, body: bytes, version: Version) -> Self:
        _need(body, 1, "0x8105 body")
        return cls(body[0], string(body[1:]))

    def to_body(self) -> bytes:
        return bytes((self.command,)) + text_bytes(self.arguments)


KNOWN: tuple[type[Message], ...] = (
    TerminalResponse,
    PlatformResponse,
    Heartbeat,
    Deregister,
    Register,
    RegisterResponse,
    Authenticate,
    LocationReport,
    LocationQuery,
    LocationQueryResponse,
    BatchLocationReport,
    SetParameters,
    QueryParameters,
    ParametersResponse,
    TerminalControl,
    RetransmitRequest,
)
"""The messages the codec reads and writes; any other id is an `UnknownMessage`."""

DECODERS: Mapping[int, Callable[[bytes, Version], Message]] = {cls.MESSAGE_ID: cls.from_body for cls in KNOWN}
