"""JT/T 808 code tables: alarm (报警标志) and status (状态位) bits per version, vehicle signals, IO, results,
plate colours and terminal parameters (终端参数), all as data; set bits no table names are kept as `bitN`.

Sources (reference §1.6, §1.7, §1.8, §1.9): SmallChi/JT808 `JT808Alarm.cs` and `JT808Status.cs` for 2013;
the 2019 bits from several implementations. ⚠️ 2019 alarm bits 3 and 29-31 are disputed: here 2019 keeps bit
29 (collision) and 30 (rollover) apart, as most 2019 implementations do, and leaves bit 31 reserved. ⚠️ The
2011 rows (alarm bits 12-17 and 29-31, status bits 6-9 and 13-31 reserved; bit 29 collision-rollover) are
from the 2011 text as remembered, not a cited copy. Status bit 22 ("vehicle moving", one 2019 source) is
not corroborated and stays unnamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from dthub.domains.vehicles.jt808.header import Version

ALL = frozenset(Version)
SINCE_2013 = frozenset({Version.JT2013, Version.JT2019})
ONLY_2011 = frozenset({Version.JT2011})
ONLY_2019 = frozenset({Version.JT2019})


@dataclass(frozen=True)
class Bit:
    """One named bit of a flag word, and the versions that define it."""

    bit: int
    key: str
    zh: str
    versions: frozenset[Version] = ALL


ALARM_BITS: tuple[Bit, ...] = (
    Bit(0, "emergency", "紧急报警(触动报警开关后触发)"),
    Bit(1, "overspeed", "超速报警"),
    Bit(2, "fatigue_driving", "疲劳驾驶"),
    Bit(3, "danger_warning", "危险预警 (2019: 危险驾驶行为报警 ⚠️)"),
    Bit(4, "gnss_module_fault", "GNSS模块发生故障"),
    Bit(5, "gnss_antenna_disconnected", "GNSS天线未接或被剪断"),
    Bit(6, "gnss_antenna_short_circuit", "GNSS天线短路"),
    Bit(7, "main_power_undervoltage", "终端主电源欠压"),
    Bit(8, "main_power_off", "终端主电源掉电"),
    Bit(9, "display_fault", "终端LCD或显示器故障"),
    Bit(10, "tts_fault", "TTS模块故障"),
    Bit(11, "camera_fault", "摄像头故障"),
    Bit(12, "ic_card_module_fault", "道路运输证IC卡模块故障", SINCE_2013),
    Bit(13, "overspeed_warning", "超速预警", SINCE_2013),
    Bit(14, "fatigue_warning", "疲劳驾驶预警", SINCE_2013),
    Bit(15, "violation_driving", "违规行驶报警", ONLY_2019),
    Bit(16, "tyre_pressure_warning", "胎压预警", ONLY_2019),
    Bit(17, "right_turn_blind_zone", "右转盲区异常报警", ONLY_2019),
    Bit(18, "daily_driving_overtime", "当天累计驾驶超时"),
    Bit(19, "overtime_parking", "超时停车"),
    Bit(20, "area_in_out", "进出区域"),
    Bit(21, "route_in_out", "进出路线"),
    Bit(22, "section_time", "路段行驶时间不足/过长"),
    Bit(23, "route_deviation", "路线偏离报警"),
    Bit(24, "vss_fault", "车辆VSS故障"),
    Bit(25, "fuel_abnormal", "车辆油量异常"),
    Bit(26, "theft", "车辆被盗(通过车辆防盗器)"),
    Bit(27, "illegal_ignition", "车辆非法点火"),
    Bit(28, "illegal_displacement", "车辆非法位移"),
    Bit(29, "collision_rollover", "碰撞侧翻报警", ONLY_2011),
    Bit(29, "collision_warning", "碰撞预警", SINCE_2013),
    Bit(30, "rollover_warning", "侧翻预警", SINCE_2013),
    Bit(31, "illegal_door_open", "非法开门报警", frozenset({Version.JT2013})),
)
"""Alarm flags of the 0x0200 report, 2011/2013/2019."""

STATUS_BITS: tuple[Bit, ...] = (
    Bit(0, "acc_on", "ACC开"),
    Bit(1, "positioned", "定位"),
    Bit(2, "south_latitude", "南纬"),
    Bit(3, "west_longitude", "西经"),
    Bit(4, "out_of_service", "停运状态"),
    Bit(5, "coordinates_encrypted", "经纬度已经保密插件加密"),
    Bit(6, "forward_collision_warning", "紧急刹车系统采集的前撞预警", ONLY_2019),
    Bit(7, "lane_departure_warning", "车道偏移预警", ONLY_2019),
    Bit(10, "fuel_circuit_cut", "车辆油路断开"),
    Bit(11, "electric_circuit_cut", "车辆电路断开"),
    Bit(12, "doors_locked", "车门加锁"),
    Bit(13, "door1_open", "门1开(前门)", SINCE_2013),
    Bit(14, "door2_open", "门2开(中门)", SINCE_2013),
    Bit(15, "door3_open", "门3开(后门)", SINCE_2013),
    Bit(16, "door4_open", "门4开(驾驶席门)", SINCE_2013),
    Bit(17, "door5_open", "门5开(自定义)", SINCE_2013),
    Bit(18, "gps_used", "使用GPS卫星进行定位", SINCE_2013),
    Bit(19, "beidou_used", "使用北斗卫星进行定位", SINCE_2013),
    Bit(20, "glonass_used", "使用GLONASS卫星进行定位", SINCE_2013),
    Bit(21, "galileo_used", "使用Galileo卫星进行定位", SINCE_2013),
)
"""Status flags of the 0x0200 report; bits 8-9 (2013+) are the load field, see `Load`."""

LOAD_SHIFT, LOAD_MASK = 8, 0b11
LOAD_VERSIONS = SINCE_2013


class Load(IntEnum):
    """Status bits 8-9 (2013+): 00 empty (空车), 01 half (半载), 10 reserved (保留), 11 full (满载)."""

    EMPTY = 0
    HALF = 1
    RESERVED = 2
    FULL = 3


SIGNAL_BITS: tuple[Bit, ...] = (
    Bit(0, "low_beam", "近光灯信号"),
    Bit(1, "high_beam", "远光灯信号"),
    Bit(2, "right_turn_signal", "右转向灯信号"),
    Bit(3, "left_turn_signal", "左转向灯信号"),
    Bit(4, "brake", "制动信号"),
    Bit(5, "reverse", "倒档信号"),
    Bit(6, "fog_lamp", "雾灯信号"),
    Bit(7, "marker_lamps", "示廓灯"),
    Bit(8, "horn", "喇叭信号"),
    Bit(9, "air_conditioner", "空调状态"),
    Bit(10, "neutral", "空挡信号"),
    Bit(11, "retarder", "缓速器工作"),
    Bit(12, "abs", "ABS工作"),
    Bit(13, "heater", "加热器工作"),
    Bit(14, "clutch", "离合器状态"),
)
"""Extended vehicle signals (扩展车辆信号状态位), additional item 0x25."""

IO_BITS: tuple[Bit, ...] = (
    Bit(0, "deep_sleep", "深度休眠状态"),
    Bit(1, "sleep", "休眠状态"),
)
"""IO status (IO状态位), additional item 0x2A."""


def _by_version(bits: tuple[Bit, ...]) -> Mapping[Version, Mapping[int, str]]:
    return {v: {b.bit: b.key for b in bits if v in b.versions} for v in Version}


_ALARMS = _by_version(ALARM_BITS)
_STATUS = _by_version(STATUS_BITS)
_SIGNALS = {b.bit: b.key for b in SIGNAL_BITS}
_IO = {b.bit: b.key for b in IO_BITS}


def _names(word: int, table: Mapping[int, str], skip: int = 0) -> frozenset[str]:
    names = []
    word &= ~skip
    bit = 0
    while word:
        if word & 1:
            names.append(table.get(bit, f"bit{bit}"))
        word >>= 1
        bit += 1
    return frozenset(names)


@lru_cache(maxsize=4096)
def alarm_flags(word: int, version: Version) -> frozenset[str]:
    """The alarm flags set in `word`, named per `version`; set bits the version leaves reserved -> `bitN`."""
    return _names(word, _ALARMS[version])


@lru_cache(maxsize=4096)
def status_flags(word: int, version: Version) -> frozenset[str]:
    """The status flags set in `word` (the load field excluded), named per `version`; others -> `bitN`."""
    skip = LOAD_MASK << LOAD_SHIFT if version in LOAD_VERSIONS else 0
    return _names(word, _STATUS[version], skip)


def load(word: int, version: Version) -> Load | None:
    """Status bits 8-9 as the load state (2013+); None for 2011, which reserves them."""
    return Load((word >> LOAD_SHIFT) & LOAD_MASK) if version in LOAD_VERSIONS else None


def signal_flags(word: int) -> frozenset[str]:
    """Extended vehicle signals set in the 0x25 item's DWORD; bits 15-31 are reserved -> `bitN`."""
    return _names(word, _SIGNALS)


def io_flags(word: int) -> frozenset[str]:
    """IO states set in the 0x2A item's WORD; bits 2-15 are reserved -> `bitN`."""
    return _names(word, _IO)


class Result(IntEnum):
    """Result of a general response, 0x0001/0x8001 (通用应答结果)."""

    SUCCESS = 0
    FAILURE = 1
    MESSAGE_ERROR = 2
    UNSUPPORTED = 3
    ALARM_ACKNOWLEDGED = 4
    """报警处理确认: 0x8001 only."""


class RegisterResult(IntEnum):
    """Result of the register response, 0x8100 (注册结果); an auth code follows only on SUCCESS."""

    SUCCESS = 0
    VEHICLE_REGISTERED = 1
    VEHICLE_UNKNOWN = 2
    TERMINAL_REGISTERED = 3
    TERMINAL_UNKNOWN = 4


PLATE_COLOURS: Mapping[int, str] = {
    0: "未上牌 (the plate field holds the VIN)",
    1: "蓝色",
    2: "黄色",
    3: "黑色",
    4: "白色",
    5: "绿色",
    9: "其他",
}
"""Plate colours of JT/T 697.7-2014, used by 0x0100 and parameter 0x0084."""


@dataclass(frozen=True)
class ParameterSpec:
    """A terminal parameter: id, wire type (DWORD, WORD, BYTE, STRING or BYTES), key with unit, name."""

    id: int
    kind: str
    key: str
    zh: str


_P = ParameterSpec
PARAMETERS: tuple[ParameterSpec, ...] = (
    _P(0x0001, "DWORD", "heartbeat_interval_s", "终端心跳发送间隔"),
    _P(0x0002, "DWORD", "tcp_reply_timeout_s", "TCP消息应答超时时间"),
    _P(0x0003, "DWORD", "tcp_retransmissions", "TCP消息重传次数"),
    _P(0x0004, "DWORD", "udp_reply_timeout_s", "UDP消息应答超时时间"),
    _P(0x0005, "DWORD", "udp_retransmissions", "UDP消息重传次数"),
    _P(0x0006, "DWORD", "sms_reply_timeout_s", "SMS消息应答超时时间"),
    _P(0x0007, "DWORD", "sms_retransmissions", "SMS消息重传次数"),
    _P(0x0010, "STRING", "main_server_apn", "主服务器APN"),
    _P(0x0011, "STRING", "main_server_user", "主服务器无线通信拨号用户名"),
    _P(0x0012, "STRING", "main_server_password", "主服务器无线通信拨号密码"),
    _P(0x0013, "STRING", "main_server_address", "主服务器地址,IP或域名"),
    _P(0x0014, "STRING", "backup_server_apn", "备份服务器APN"),
    _P(0x0015, "STRING", "backup_server_user", "备份服务器无线通信拨号用户名"),
    _P(0x0016, "STRING", "backup_server_password", "备份服务器无线通信拨号密码"),
    _P(0x0017, "STRING", "backup_server_address", "备份服务器地址,IP或域名"),
    _P(0x0018, "DWORD", "server_tcp_port", "服务器TCP端口 (2013)"),
    _P(0x0019, "DWORD", "server_udp_port", "服务器UDP端口 (2013)"),
    _P(0x001A, "STRING", "ic_auth_main_server_address", "道路运输证IC卡认证主服务器IP地址或域名"),
    _P(0x001B, "DWORD", "ic_auth_server_tcp_port", "道路运输证IC卡认证主服务器TCP端口"),
    _P(0x001C, "DWORD", "ic_auth_server_udp_port", "道路运输证IC卡认证主服务器UDP端口"),
    _P(0x001D, "STRING", "ic_auth_backup_server_address", "道路运输证IC卡认证备份服务器IP地址或域名"),
    _P(0x0020, "DWORD", "location_report_strategy", "位置汇报策略"),
    _P(0x0021, "DWORD", "location_report_scheme", "位置汇报方案"),
    _P(0x0022, "DWORD", "driver_absent_report_interval_s", "驾驶员未登录汇报时间间隔"),
    _P(0x0023, "STRING", "secondary_server_apn", "从服务器APN (2019)"),
    _P(0x0024, "STRING", "secondary_server_user", "从服务器无线通信拨号用户名 (2019)"),
    _P(0x0025, "STRING", "secondary_server_password", "从服务器无线通信拨号密码 (2019)"),
    _P(0x0026, "STRING", "secondary_server_address", "从服务器备份地址,IP或域名 (2019)"),
    _P(0x0027, "DWORD", "sleep_report_interval_s", "休眠时汇报时间间隔"),
    _P(0x0028, "DWORD", "emergency_report_interval_s", "紧急报警时汇报时间间隔"),
    _P(0x0029, "DWORD", "default_report_interval_s", "缺省时间汇报间隔"),
    _P(0x002C, "DWORD", "default_report_distance_m", "缺省距离汇报间隔"),
    _P(0x002D, "DWORD", "driver_absent_report_distance_m", "驾驶员未登录汇报距离间隔"),
    _P(0x002E, "DWORD", "sleep_report_distance_m", "休眠时汇报距离间隔"),
    _P(0x002F, "DWORD", "emergency_report_distance_m", "紧急报警时汇报距离间隔"),
    _P(0x0030, "DWORD", "corner_resend_angle_deg", "拐点补传角度"),
    _P(0x0031, "WORD", "geofence_radius_m", "电子围栏半径(非法位移阈值)"),
    _P(0x0032, "BYTES", "violation_driving_period", "违规行驶时段范围 (2019, BYTE[4] hh mm hh mm)"),
    _P(0x0040, "STRING", "platform_phone", "监控平台电话号码"),
    _P(0x0041, "STRING", "reset_phone", "复位电话号码"),
    _P(0x0042, "STRING", "factory_reset_phone", "恢复出厂设置电话号码"),
    _P(0x0043, "STRING", "platform_sms_phone", "监控平台SMS电话号码"),
    _P(0x0044, "STRING", "sms_alarm_phone", "接收终端SMS文本报警号码"),
    _P(0x0045, "DWORD", "answer_strategy", "终端电话接听策略"),
    _P(0x0046, "DWORD", "max_call_s", "每次最长通话时间"),
    _P(0x0047, "DWORD", "max_month_call_s", "当月最长通话时间"),
    _P(0x0048, "STRING", "monitor_phone", "监听电话号码"),
    _P(0x0049, "STRING", "privileged_sms_phone", "监管平台特权短信号码"),
    _P(0x0050, "DWORD", "alarm_mask", "报警屏蔽字"),
    _P(0x0051, "DWORD", "alarm_sms_switch", "报警发送文本SMS开关"),
    _P(0x0052, "DWORD", "alarm_photo_switch", "报警拍摄开关"),
    _P(0x0053, "DWORD", "alarm_photo_store", "报警拍摄存储标志"),
    _P(0x0054, "DWORD", "key_alarm_flags", "关键标志"),
    _P(0x0055, "DWORD", "max_speed_kmh", "最高速度"),
    _P(0x0056, "DWORD", "overspeed_duration_s", "超速持续时间"),
    _P(0x0057, "DWORD", "continuous_driving_s", "连续驾驶时间门限"),
    _P(0x0058, "DWORD", "daily_driving_s", "当天累计驾驶时间门限"),
    _P(0x0059, "DWORD", "min_rest_s", "最小休息时间"),
    _P(0x005A, "DWORD", "max_parking_s", "最长停车时间"),
    _P(0x005B, "WORD", "overspeed_warning_margin_dkmh", "超速报警预警差值 (1/10 km/h)"),
    _P(0x005C, "WORD", "fatigue_warning_margin_s", "疲劳驾驶预警差值"),
    _P(0x005D, "WORD", "collision_alarm_setting", "碰撞报警参数设置"),
    _P(0x005E, "WORD", "rollover_angle_deg", "侧翻报警参数设置"),
    _P(0x0064, "DWORD", "timed_photo", "定时拍照控制"),
    _P(0x0065, "DWORD", "distance_photo", "定距拍照控制"),
    _P(0x0070, "DWORD", "image_quality", "图像/视频质量"),
    _P(0x0071, "DWORD", "brightness", "亮度"),
    _P(0x0072, "DWORD", "contrast", "对比度"),
    _P(0x0073, "DWORD", "saturation", "饱和度"),
    _P(0x0074, "DWORD", "chroma", "色度"),
    _P(0x0080, "DWORD", "odometer_hm", "车辆里程表读数 (1/10 km)"),
    _P(0x0081, "WORD", "province_id", "车辆所在的省域ID"),
    _P(0x0082, "WORD", "city_id", "车辆所在的市域ID"),
    _P(0x0083, "STRING", "plate", "公安交通管理部门颁发的机动车号牌"),
    _P(0x0084, "BYTE", "plate_colour", "车牌颜色"),
    _P(0x0090, "BYTE", "gnss_mode", "GNSS定位模式"),
    _P(0x0091, "BYTE", "gnss_baud_rate", "GNSS波特率"),
    _P(0x0092, "BYTE", "gnss_output_frequency", "GNSS模块详细定位数据输出频率"),
    _P(0x0093, "DWORD", "gnss_sampling_s", "GNSS模块详细定位数据采集频率"),
    _P(0x0094, "BYTE", "gnss_upload_mode", "GNSS模块详细定位数据上传方式"),
    _P(0x0095, "DWORD", "gnss_upload_setting", "GNSS模块详细定位数据上传设置"),
    _P(0x0100, "DWORD", "can1_sampling_ms", "CAN总线通道1采集时间间隔"),
    _P(0x0101, "WORD", "can1_upload_s", "CAN总线通道1上传时间间隔"),
    _P(0x0102, "DWORD", "can2_sampling_ms", "CAN总线通道2采集时间间隔"),
    _P(0x0103, "WORD", "can2_upload_s", "CAN总线通道2上传时间间隔"),
    _P(0x0110, "BYTES", "can_id_sampling", "CAN总线ID单独采集设置 (BYTE[8])"),
)
"""Terminal parameters of 0x8103/0x0104 (JT/T 808-2013 table 12, with the 2019 additions)."""

PARAMETER_SPECS: Mapping[int, ParameterSpec] = {p.id: p for p in PARAMETERS}
INTEGER_WIDTHS: Mapping[str, int] = {"DWORD": 4, "WORD": 2, "BYTE": 1}
