"""The reader side of LLRP 1.0.1 framing, which sllurp lacks: the frames the emulator sends (responses,
event notifications, keepalives, capabilities, RO_ACCESS_REPORT with its TagReportData entries) and the
TLV/TV parameter encoders they are built from. Tests and benchmarks use them to play a reader too.

The adapter reads frames only, with `frames` (header, message types, parameter walker): nothing
on the adapter's side imports this module.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tagtrail_ingest.llrp.frames import (
    GET_READER_CAPABILITIES_RESPONSE,
    KEEPALIVE,
    P_C1G2_LLRP_CAPABILITIES,
    P_CONNECTION_ATTEMPT_EVENT,
    P_EPC_DATA,
    P_FREQUENCY_HOP_TABLE,
    P_FREQUENCY_INFORMATION,
    P_GENERAL_DEVICE_CAPABILITIES,
    P_LLRP_CAPABILITIES,
    P_LLRP_STATUS,
    P_READER_EVENT_NOTIFICATION_DATA,
    P_REGULATORY_CAPABILITIES,
    P_TAG_REPORT_DATA,
    P_TRANSMIT_POWER_LEVEL_ENTRY,
    P_UHF_BAND_CAPABILITIES,
    P_UHF_C1G2_RF_MODE_TABLE,
    P_UHF_C1G2_RF_MODE_TABLE_ENTRY,
    P_UTC_TIMESTAMP,
    READER_EVENT_NOTIFICATION,
    RO_ACCESS_REPORT,
    STATUS_SUCCESS,
    TV_ANTENNA_ID,
    TV_CHANNEL_INDEX,
    TV_EPC_96,
    TV_FIRST_SEEN_UTC,
    TV_FORMATS,
    TV_LAST_SEEN_UTC,
    TV_PEAK_RSSI,
    TV_ROSPEC_ID,
    TV_TAG_SEEN_COUNT,
    message,
)


def tlv(param_type: int, body: bytes = b"") -> bytes:
    return struct.pack("!HH", param_type, 4 + len(body)) + body


def tv(param_type: int, *values: object) -> bytes:
    return struct.pack("!B" + TV_FORMATS[param_type], 0x80 | param_type, *values)


def status(code: int = STATUS_SUCCESS, description: str = "") -> bytes:
    text = description.encode()
    return tlv(P_LLRP_STATUS, struct.pack("!HH", code, len(text)) + text)


def response(msg_type: int, msg_id: int, code: int = STATUS_SUCCESS, description: str = "") -> bytes:
    return message(msg_type, status(code, description), msg_id)


def connection_attempt_event(utc_us: int, msg_id: int = 0) -> bytes:
    data = tlv(P_UTC_TIMESTAMP, struct.pack("!Q", utc_us)) + tlv(P_CONNECTION_ATTEMPT_EVENT, struct.pack("!H", 0))
    return message(READER_EVENT_NOTIFICATION, tlv(P_READER_EVENT_NOTIFICATION_DATA, data), msg_id)


def keepalive(msg_id: int) -> bytes:
    return message(KEEPALIVE, b"", msg_id)


def capabilities_response(msg_id: int, *, antennas: int, manufacturer: int = 0, model: int = 1,
                          firmware: str = "tagtrail-emulator") -> bytes:
    """What sllurp's parseCapabilities reads: antenna count, power table, one RF mode."""
    fw = firmware.encode()
    general = tlv(P_GENERAL_DEVICE_CAPABILITIES,
                  struct.pack("!HHIIH", antennas, 1 << 14, manufacturer, model, len(fw)) + fw)
    llrp = tlv(P_LLRP_CAPABILITIES, struct.pack("!BBHIIIII", 0, 7, 0, 1, 1, 1, 1, 1))
    powers = b"".join(tlv(P_TRANSMIT_POWER_LEVEL_ENTRY, struct.pack("!HH", i + 1, 1000 + 25 * i)) for i in range(81))
    hop = tlv(P_FREQUENCY_HOP_TABLE, struct.pack("!BBH", 1, 0, 1) + struct.pack("!I", 902750))
    freq = tlv(P_FREQUENCY_INFORMATION, struct.pack("!B", 0x80) + hop)
    mode = tlv(P_UHF_C1G2_RF_MODE_TABLE_ENTRY, struct.pack("!IBBBBIIIII", 1000, 0x80, 0, 0, 1, 640000, 1500, 6250, 6250, 0))
    band = tlv(P_UHF_BAND_CAPABILITIES, powers + freq + tlv(P_UHF_C1G2_RF_MODE_TABLE, mode))
    regulatory = tlv(P_REGULATORY_CAPABILITIES, struct.pack("!HH", 840, 1) + band)
    c1g2 = tlv(P_C1G2_LLRP_CAPABILITIES, struct.pack("!BH", 0, 2))
    body = status() + general + llrp + regulatory + c1g2
    return message(GET_READER_CAPABILITIES_RESPONSE, body, msg_id)


@dataclass(frozen=True)
class TagReport:
    """One TagReportData entry as a reader would send it; None fields are left out of the frame."""

    epc: bytes
    antenna_id: int | None = None
    peak_rssi: int | None = None
    channel_index: int | None = None
    first_seen_us: int | None = None
    last_seen_us: int | None = None
    seen_count: int | None = None
    rospec_id: int | None = None
    epc_bits: int | None = None  # EPCData's bit count; None means len(epc) * 8
    extra: bytes = b""  # raw parameters appended as they are (used to inject unknown ones)


# The optional TV fields of a TagReportData in frame order: (attribute, TV type).
_TAG_FIELDS = (("rospec_id", TV_ROSPEC_ID), ("antenna_id", TV_ANTENNA_ID), ("peak_rssi", TV_PEAK_RSSI),
               ("channel_index", TV_CHANNEL_INDEX), ("first_seen_us", TV_FIRST_SEEN_UTC),
               ("last_seen_us", TV_LAST_SEEN_UTC), ("seen_count", TV_TAG_SEEN_COUNT))
_EPC96_SHAPES: dict[tuple[int, ...], struct.Struct] = {}


def _epc96_shape(present: tuple[int, ...]) -> struct.Struct:
    """One struct for a whole TagReportData with a 96-bit EPC and the given TV fields."""
    shape = _EPC96_SHAPES.get(present)
    if shape is None:
        fmt = "!HHB12s" + "".join("B" + TV_FORMATS[tv_type] for tv_type in present)
        shape = _EPC96_SHAPES[present] = struct.Struct(fmt)
    return shape


def tag_report_data(tag: TagReport) -> bytes:
    """The frame bytes of one tag. The usual entry (96-bit EPC, TV fields only) is packed with one struct
    call: the reader emulators build every read of the benchmarks' traffic here, on the cores the
    pipeline is measured on (figures in docs/benchmarks.md); anything else takes the general path below."""
    if len(tag.epc) == 12 and tag.epc_bits is None and not tag.extra:
        present, values = [], []
        for name, tv_type in _TAG_FIELDS:
            value = getattr(tag, name)
            if value is not None:
                present.append(tv_type)
                values += (0x80 | tv_type, value)
        shape = _epc96_shape(tuple(present))
        return shape.pack(P_TAG_REPORT_DATA, shape.size, 0x80 | TV_EPC_96, tag.epc, *values)
    if len(tag.epc) == 12 and tag.epc_bits is None:
        parts = [tv(TV_EPC_96, tag.epc)]
    else:
        bits = len(tag.epc) * 8 if tag.epc_bits is None else tag.epc_bits
        parts = [tlv(P_EPC_DATA, struct.pack("!H", bits) + tag.epc)]
    for name, tv_type in _TAG_FIELDS:
        value = getattr(tag, name)
        if value is not None:
            parts.append(tv(tv_type, value))
    parts.append(tag.extra)
    return tlv(P_TAG_REPORT_DATA, b"".join(parts))


def ro_access_report(tags: list[TagReport], msg_id: int = 0) -> bytes:
    return message(RO_ACCESS_REPORT, b"".join(tag_report_data(t) for t in tags), msg_id)
