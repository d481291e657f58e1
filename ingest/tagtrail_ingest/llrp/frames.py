"""LLRP 1.0.1 binary framing as the adapter needs it: message and parameter types, the header, the
requests it builds itself, statuses, and a parameter walker. The frames a reader sends are built by
the emulator (`emulator.encoders`).

Message header: u16 (3 reserved bits, 3-bit version, 10-bit type), u32 length of the whole
message, u32 message id. Parameters are TLV (u16 type, u16 length incl. header) or, for the
small fixed fields of tag reports, TV (u8 0x80|type followed by a fixed-size value).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

VERSION = 1
HEADER = struct.Struct("!HII")
HEADER_LEN = HEADER.size
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # no reader sends more in one frame; beyond it the framing is broken

# message types (LLRP 1.0.1 section 16)
GET_READER_CAPABILITIES = 1
GET_READER_CONFIG = 2
SET_READER_CONFIG = 3
CLOSE_CONNECTION_RESPONSE = 4
GET_READER_CAPABILITIES_RESPONSE = 11
GET_READER_CONFIG_RESPONSE = 12
SET_READER_CONFIG_RESPONSE = 13
CLOSE_CONNECTION = 14
ADD_ROSPEC = 20
DELETE_ROSPEC = 21
START_ROSPEC = 22
STOP_ROSPEC = 23
ENABLE_ROSPEC = 24
DISABLE_ROSPEC = 25
ADD_ROSPEC_RESPONSE = 30
DELETE_ROSPEC_RESPONSE = 31
START_ROSPEC_RESPONSE = 32
STOP_ROSPEC_RESPONSE = 33
ENABLE_ROSPEC_RESPONSE = 34
DISABLE_ROSPEC_RESPONSE = 35
DELETE_ACCESSSPEC = 41
DELETE_ACCESSSPEC_RESPONSE = 51
RO_ACCESS_REPORT = 61
KEEPALIVE = 62
READER_EVENT_NOTIFICATION = 63
ENABLE_EVENTS_AND_REPORTS = 64
KEEPALIVE_ACK = 72
ERROR_MESSAGE = 100

# the response each request gets
RESPONSES = {
    GET_READER_CAPABILITIES: GET_READER_CAPABILITIES_RESPONSE,
    GET_READER_CONFIG: GET_READER_CONFIG_RESPONSE,
    SET_READER_CONFIG: SET_READER_CONFIG_RESPONSE,
    CLOSE_CONNECTION: CLOSE_CONNECTION_RESPONSE,
    ADD_ROSPEC: ADD_ROSPEC_RESPONSE,
    DELETE_ROSPEC: DELETE_ROSPEC_RESPONSE,
    START_ROSPEC: START_ROSPEC_RESPONSE,
    STOP_ROSPEC: STOP_ROSPEC_RESPONSE,
    ENABLE_ROSPEC: ENABLE_ROSPEC_RESPONSE,
    DISABLE_ROSPEC: DISABLE_ROSPEC_RESPONSE,
    DELETE_ACCESSSPEC: DELETE_ACCESSSPEC_RESPONSE,
}

# requests LLRP 1.0.1 defines no response for; a reader may still answer one with an ERROR_MESSAGE
NO_RESPONSE = {ENABLE_EVENTS_AND_REPORTS, KEEPALIVE_ACK}

# GET_READER_CONFIG RequestedData values (LLRP 1.0.1 section 12.1.3)
CONFIG_KEEPALIVE_SPEC = 8

# parameter types
P_UTC_TIMESTAMP = 128
P_GENERAL_DEVICE_CAPABILITIES = 137
P_LLRP_CAPABILITIES = 142
P_REGULATORY_CAPABILITIES = 143
P_UHF_BAND_CAPABILITIES = 144
P_TRANSMIT_POWER_LEVEL_ENTRY = 145
P_FREQUENCY_INFORMATION = 146
P_FREQUENCY_HOP_TABLE = 147
P_ROSPEC = 177
P_ROBOUNDARY_SPEC = 178
P_ROSPEC_START_TRIGGER = 179
P_AISPEC = 183
P_AISPEC_STOP_TRIGGER = 184
P_TAG_OBSERVATION_TRIGGER = 185
P_KEEPALIVE_SPEC = 220
P_ROREPORT_SPEC = 237
P_TAG_REPORT_CONTENT_SELECTOR = 238
P_TAG_REPORT_DATA = 240
P_EPC_DATA = 241
P_READER_EVENT_NOTIFICATION_DATA = 246
P_CONNECTION_ATTEMPT_EVENT = 256
P_LLRP_STATUS = 287
P_C1G2_LLRP_CAPABILITIES = 327
P_UHF_C1G2_RF_MODE_TABLE = 328
P_UHF_C1G2_RF_MODE_TABLE_ENTRY = 329

# TV parameter types and their value formats (LLRP 1.0.1 section 16.2.7.3)
TV_ANTENNA_ID = 1
TV_FIRST_SEEN_UTC = 2
TV_LAST_SEEN_UTC = 4
TV_PEAK_RSSI = 6
TV_CHANNEL_INDEX = 7
TV_TAG_SEEN_COUNT = 8
TV_ROSPEC_ID = 9
TV_EPC_96 = 13
TV_FORMATS = {1: "H", 2: "Q", 3: "Q", 4: "Q", 5: "Q", 6: "b", 7: "H", 8: "H", 9: "I", 10: "H", 11: "H", 12: "H",
              13: "12s", 14: "H", 15: "H", 16: "I", 17: "H", 18: "HH", 19: "H", 20: "H"}
TV_SIZES = {t: struct.calcsize("!" + f) for t, f in TV_FORMATS.items()}

STATUS_SUCCESS = 0
STATUS_UNSUPPORTED_MESSAGE = 109

# TagReportContentSelector flag bits, most significant first (LLRP 1.0.1 section 16.2.7.1)
CONTENT_FLAGS = ("ROSpecID", "SpecIndex", "InventoryParameterSpecID", "AntennaID", "ChannelIndex", "PeakRSSI",
                 "FirstSeenTimestamp", "LastSeenTimestamp", "TagSeenCount", "AccessSpecID")


class FrameError(ValueError):
    """Bytes that do not form an LLRP frame or parameter."""


def message(msg_type: int, body: bytes = b"", msg_id: int = 0) -> bytes:
    return HEADER.pack((VERSION << 10) | msg_type, HEADER_LEN + len(body), msg_id) + body


def parse_header(data: bytes | memoryview) -> tuple[int, int, int, int]:
    """(version, type, length, id) of the frame starting at data[0]; FrameError if it cannot be one."""
    word, length, msg_id = HEADER.unpack_from(data, 0)
    version, msg_type = (word >> 10) & 0x07, word & 0x03FF
    if version not in (1, 2) or length < HEADER_LEN or length > MAX_MESSAGE_BYTES:
        raise FrameError(f"invalid LLRP header: version {version}, type {msg_type}, length {length}")
    return version, msg_type, length, msg_id


def message_type(frame: bytes) -> int:
    """The 10-bit message type of the frame starting at frame[0]."""
    return HEADER.unpack_from(frame, 0)[0] & 0x03FF


def message_id(frame: bytes) -> int:
    return HEADER.unpack_from(frame, 0)[2]


def llrp_status(frame: bytes) -> tuple[int | None, str]:
    """(StatusCode, ErrorDescription) of a response or ERROR_MESSAGE frame; (None, why) without a readable one."""
    try:
        status_param = find(walk(frame, HEADER_LEN), P_LLRP_STATUS)
    except FrameError as exc:
        return None, f"unreadable LLRPStatus: {exc}"
    if status_param is None or len(status_param.body) < 4:
        return None, "no LLRPStatus parameter"
    code, text_len = struct.unpack_from("!HH", status_param.body)
    return code, status_param.body[4:4 + text_len].decode("utf-8", "replace")


def get_reader_config(msg_id: int, requested_data: int = CONFIG_KEEPALIVE_SPEC) -> bytes:
    """GET_READER_CONFIG for one item of the configuration (AntennaID, GPI and GPO port 0: all)."""
    return message(GET_READER_CONFIG, struct.pack("!HBHH", 0, requested_data, 0, 0), msg_id)


@dataclass(frozen=True)
class Param:
    type: int
    body: bytes  # TLV: bytes after the 4-byte header; TV: the value bytes


def walk(data: bytes, offset: int = 0) -> list[Param]:
    """The parameters laid one after another in data[offset:]; FrameError if one overruns."""
    params: list[Param] = []
    pos, end = offset, len(data)
    while pos < end:
        first = data[pos]
        if first & 0x80:
            ptype = first & 0x7F
            size = TV_SIZES.get(ptype)
            if size is None or pos + 1 + size > end:
                raise FrameError(f"unknown or truncated TV parameter {ptype} at byte {pos}")
            params.append(Param(ptype, bytes(data[pos + 1:pos + 1 + size])))
            pos += 1 + size
            continue
        if pos + 4 > end:
            raise FrameError(f"truncated parameter header at byte {pos}")
        ptype, length = struct.unpack_from("!HH", data, pos)
        if length < 4 or pos + length > end:
            raise FrameError(f"parameter {ptype & 0x3FF} at byte {pos} claims {length} bytes, {end - pos} left")
        params.append(Param(ptype & 0x3FF, bytes(data[pos + 4:pos + length])))
        pos += length
    return params


def find(params: list[Param], ptype: int) -> Param | None:
    return next((p for p in params if p.type == ptype), None)
