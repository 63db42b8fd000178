"""JT/T 808 (道路运输车辆卫星定位系统 终端通讯协议及数据格式) codec, 2011/2013/2019, both directions.

Standalone: bytes in, frozen dataclasses out, and back. `FrameSplitter` cuts a TCP byte stream into
frames, `decode` reads one, `encode` writes one, `Reassembler` joins subpackaged messages. Every refusal
is a `FrameError` with a stable `reason` key and the raw bytes.
"""

from __future__ import annotations

from dthub.domains.vehicles.jt808.codec import Packet, decode, decode_body, encode, encode_packages
from dthub.domains.vehicles.jt808.codes import Load, RegisterResult, Result
from dthub.domains.vehicles.jt808.errors import FrameError
from dthub.domains.vehicles.jt808.header import Header, Version
from dthub.domains.vehicles.jt808.messages import (
    Authenticate,
    BatchLocationReport,
    Deregister,
    Extras,
    Fragment,
    Heartbeat,
    LocationQuery,
    LocationQueryResponse,
    LocationReport,
    Message,
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
    item_bytes,
)
from dthub.domains.vehicles.jt808.reassembly import Reassembler, Reassembly
from dthub.domains.vehicles.jt808.splitter import FrameSplitter

__all__ = [
    "Authenticate",
    "BatchLocationReport",
    "Deregister",
    "Extras",
    "Fragment",
    "FrameError",
    "FrameSplitter",
    "Header",
    "Heartbeat",
    "Load",
    "LocationQuery",
    "LocationQueryResponse",
    "LocationReport",
    "Message",
    "Packet",
    "Parameter",
    "ParametersResponse",
    "PlatformResponse",
    "QueryParameters",
    "Reassembler",
    "Reassembly",
    "Register",
    "RegisterResponse",
    "RegisterResult",
    "Result",
    "RetransmitRequest",
    "SetParameters",
    "TerminalControl",
    "TerminalResponse",
    "UnknownMessage",
    "Version",
    "decode",
    "decode_body",
    "encode",
    "encode_packages",
    "item_bytes",
]
