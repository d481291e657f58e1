"""The emulator's LLRP encoding, checked by decoding it with sllurp (the adapter's decoder)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sllurp.llrp import LLRPMessage

from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.emulator import encoders
from tagtrail_ingest.llrp.emulator.rospec import keepalive_interval_ms, parse_add_rospec


def decode(data: bytes) -> tuple[str, dict]:
    msg = LLRPMessage(msgbytes=data)
    return msg.getName(), msg.msgdict[msg.getName()]


def test_ro_access_report_round_trips_through_sllurp_with_every_field() -> None:
    tags = [
        encoders.TagReport(epc=bytes.fromhex("3074257BF7194E4000001A85"), antenna_id=2, peak_rssi=-61, channel_index=17,
                         first_seen_us=1_764_000_000_000_001, last_seen_us=1_764_000_000_500_000, seen_count=4000),
        encoders.TagReport(epc=bytes.fromhex("E2801160600002054D5A6B7C11223344"), antenna_id=1, peak_rssi=-40,
                         first_seen_us=5, last_seen_us=6, seen_count=1),
    ]
    name, body = decode(encoders.ro_access_report(tags, msg_id=77))
    assert name == "RO_ACCESS_REPORT" and body["ID"] == 77
    first, second = body["TagReportData"]
    assert first["EPC-96"] == b"3074257bf7194e4000001a85"
    assert (first["AntennaID"], first["PeakRSSI"], first["ChannelIndex"], first["TagSeenCount"]) == (2, -61, 17, 4000)
    assert first["FirstSeenTimestampUTC"] == 1_764_000_000_000_001
    assert first["LastSeenTimestampUTC"] == 1_764_000_000_500_000
    assert second["EPC"] == b"e2801160600002054d5a6b7c11223344"  # 128 bits: EPCData, not EPC-96
    assert "ChannelIndex" not in second


def test_reader_messages_sllurp_needs_to_connect_decode() -> None:
    name, body = decode(encoders.connection_attempt_event(946_684_800_000_123, 1))
    assert name == "READER_EVENT_NOTIFICATION"
    data = body["ReaderEventNotificationData"]
    assert data["ConnectionAttemptEvent"]["Status"] == "Success"
    assert data["UTCTimestamp"]["Microseconds"] == 946_684_800_000_123

    name, caps = decode(encoders.capabilities_response(9, antennas=4))
    assert name == "GET_READER_CAPABILITIES_RESPONSE" and caps["LLRPStatus"]["StatusCode"] == "Success"
    assert caps["GeneralDeviceCapabilities"]["MaxNumberOfAntennaSupported"] == 4
    band = caps["RegulatoryCapabilities"]["UHFBandCapabilities"]
    assert len(band["TransmitPowerLevelTableEntry"]) == 81
    assert band["UHFC1G2RFModeTable"]["UHFC1G2RFModeTableEntry"][0]["ModeIdentifier"] == 1000

    for request, response_name in ((frames.SET_READER_CONFIG, "SET_READER_CONFIG_RESPONSE"),
                                   (frames.ADD_ROSPEC, "ADD_ROSPEC_RESPONSE"),
                                   (frames.DELETE_ACCESSSPEC, "DELETE_ACCESSSPEC_RESPONSE")):
        name, body = decode(encoders.response(frames.RESPONSES[request], 5))
        assert name == response_name and body["LLRPStatus"]["StatusCode"] == "Success" and body["ID"] == 5
    assert decode(encoders.keepalive(3))[0] == "KEEPALIVE"


def test_emulator_reads_what_sllurp_asks_for_in_add_rospec_and_set_reader_config() -> None:
    from sllurp.llrp import LLRPClient

    from tagtrail.config import Antenna, Reader
    from tagtrail_ingest.llrp.reader_link import reader_config

    reader = Reader(id="r", host="h", antennas=(Antenna(1, "a"), Antenna(3, "b")), report_every_n_tags=50,
                    report_every_ms=250, keepalive_s=3.0)
    sent: list[bytes] = []
    client = LLRPClient(reader_config(reader), transport_tx_write=sent.append)
    client.send_SET_READER_CONFIG(onCompletion=None)
    client.send_ADD_ROSPEC(client.getROSpec(), onCompletion=None)
    set_config, add_rospec = sent
    assert keepalive_interval_ms(set_config[frames.HEADER_LEN:]) == 3000
    spec = parse_add_rospec(add_rospec[frames.HEADER_LEN:])
    assert spec.antennas == (1, 3)
    assert (spec.tags_per_report, spec.report_timeout_ms) == (50, 250)
    wanted = {"AntennaID", "PeakRSSI", "ChannelIndex", "FirstSeenTimestamp", "LastSeenTimestamp", "TagSeenCount"}
    assert {k for k, v in spec.content.items() if v} == wanted


def test_header_and_parameter_walk_reject_what_cannot_be_framed() -> None:
    good = encoders.keepalive(1)
    assert frames.parse_header(good)[1:3] == (frames.KEEPALIVE, 10)
    with pytest.raises(frames.FrameError):
        frames.parse_header(struct.pack("!HII", 62, 4, 1))  # version 0, length shorter than a header
    with pytest.raises(frames.FrameError):
        frames.parse_header(struct.pack("!HII", (1 << 10) | 61, 1 << 30, 1))
    with pytest.raises(frames.FrameError, match="claims"):
        frames.walk(encoders.tlv(240, b"\x00" * 8)[:-3])
    params = frames.walk(encoders.tv(frames.TV_ANTENNA_ID, 3) + encoders.tlv(999, b"xy"))
    assert [(p.type, p.body) for p in params] == [(1, b"\x00\x03"), (999, b"xy")]


_TV_VALUES = {"H": st.integers(0, 65535), "Q": st.integers(0, 2**64 - 1), "b": st.integers(-128, 127),
              "I": st.integers(0, 2**32 - 1)}


@settings(max_examples=300, deadline=None)
@given(epc=st.binary(min_size=12, max_size=12), data=st.data())
def test_a_96_bit_tag_packed_in_one_struct_is_the_tv_parameters_spelled_out(epc, data) -> None:
    """The one-struct packing of the usual TagReportData (the emulators' hot path) is byte for byte the
    LLRP 1.0.1 layout: the TLV header, the EPC-96 TV, then each present TV field in order."""
    fields = {}
    for name, tv_type in encoders._TAG_FIELDS:
        if data.draw(st.booleans(), label=f"has {name}"):
            fields[name] = data.draw(_TV_VALUES[frames.TV_FORMATS[tv_type]], label=name)
    spelled_out = [encoders.tv(frames.TV_EPC_96, epc)]
    spelled_out += [encoders.tv(tv_type, fields[name]) for name, tv_type in encoders._TAG_FIELDS if name in fields]
    expected = encoders.tlv(frames.P_TAG_REPORT_DATA, b"".join(spelled_out))
    assert encoders.tag_report_data(encoders.TagReport(epc=epc, **fields)) == expected
