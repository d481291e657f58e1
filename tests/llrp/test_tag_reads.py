"""TagReport entries (as sllurp decodes them) to TagRead events."""

from __future__ import annotations

import dataclasses

import pytest

from tagtrail.config import Antenna, Reader
from tagtrail.config.config_errors import ConfigError
from tagtrail.config.loader import parse_site
from tagtrail.identity import EpcDecoder
from tagtrail_ingest.llrp.clock import ClockCorrector
from tagtrail_ingest.llrp.tag_reads import NO_ANTENNA, TagReadMapper, event_id

NOW = 1_764_000_000_000_000
READER = Reader(id="door7", host="h", antennas=(Antenna(1, "door7-outer"), Antenna(2, "door7-inner")),
                rssi_scale=0.01)


def mapper() -> TagReadMapper:
    return TagReadMapper(READER, EpcDecoder(), ClockCorrector())


def tag(epc: bytes = b"3074257bf7194e4000001a85", **fields) -> dict:
    base = {"EPC-96": epc, "EPC": epc, "AntennaID": 2, "PeakRSSI": -6150, "ChannelIndex": 12,
            "FirstSeenTimestampUTC": NOW - 300_000, "LastSeenTimestampUTC": NOW - 100_000, "TagSeenCount": 7}
    return {**base, **fields}


def test_a_gs1_tag_becomes_a_tagread_with_its_identity_read_point_and_scaled_rssi() -> None:
    (read,), problems = mapper().map_report([tag()], NOW)
    assert problems == []
    assert read.identity.item_key == "01/80614141123458/21/6789"
    assert read.epc_hex == "3074257BF7194E4000001A85"
    assert (read.reader_id, read.antenna_id, read.read_point) == ("door7", 2, "door7-inner")
    assert read.peak_rssi_dbm == -61.5
    assert (read.channel_index, read.seen_count) == (12, 7)
    assert (read.first_seen, read.last_seen, read.reader_first_seen) == (NOW - 300_000, NOW - 100_000, NOW - 300_000)
    assert (read.clock_offset_us, read.received_at) == (0, NOW)


def test_event_ids_are_stable_for_a_resent_report_and_differ_per_sighting() -> None:
    (a,), _ = mapper().map_report([tag()], NOW)
    (b,), _ = mapper().map_report([tag()], NOW + 5_000_000)  # the same report received again later
    (c,), _ = mapper().map_report([tag(AntennaID=1)], NOW)
    (d,), _ = mapper().map_report([tag(FirstSeenTimestampUTC=NOW - 1)], NOW)
    assert a.event_id == b.event_id == event_id("door7", 2, "3074257BF7194E4000001A85", NOW - 300_000)
    assert len({a.event_id, c.event_id, d.event_id}) == 3


def test_a_non_gs1_epc_is_kept_raw_with_scheme_unknown() -> None:
    (read,), problems = mapper().map_report([tag(epc=b"e2801160600002054d5a6b7c")], NOW)
    assert problems == []
    assert (read.identity.scheme, read.identity.item_key) == ("unknown", "epc/E2801160600002054D5A6B7C")


def test_bad_entries_are_problems_and_the_good_ones_in_the_report_still_map() -> None:
    entries = [
        tag(epc=b"30" * 13),  # 104 bits: not an EPC length
        tag(EPC=None, **{"EPC-96": None}),
        tag(AntennaID=4),  # no read point configured
        tag(SllurpDecodeError=[{"Type": 999, "DecodeError": "UnknownParameter", "Data": b"\x00"}]),
        tag(),
    ]
    reads, problems = mapper().map_report(entries, NOW)
    assert [p.reason for p in problems] == ["bad_epc", "missing_epc", "unknown_antenna", "unknown_parameter"]
    assert all("door7" in p.error for p in problems)
    assert len(reads) == 2  # the entry with an unknown extra parameter keeps its read


def test_an_unset_reader_clock_is_corrected_and_both_times_are_kept() -> None:
    m = mapper()
    unset = 946_684_800_000_000 + 7200 * 1_000_000
    (read,), _ = m.map_report([tag(FirstSeenTimestampUTC=unset - 200_000, LastSeenTimestampUTC=unset)], NOW)
    assert read.reader_first_seen == unset - 200_000
    assert read.clock_offset_us == NOW - unset
    assert (read.first_seen, read.last_seen) == (NOW - 200_000, NOW)


def test_a_reader_without_antenna_ids_reads_into_its_declared_default_read_point() -> None:
    no_ids = dataclasses.replace(READER, default_read_point="door7-zone")
    m = TagReadMapper(no_ids, EpcDecoder(), ClockCorrector())
    untagged = {k: v for k, v in tag().items() if k != "AntennaID"}
    (without, with_id), problems = m.map_report([untagged, tag(AntennaID=1)], NOW)
    assert problems == []
    assert (without.antenna_id, without.read_point) == (NO_ANTENNA, "door7-zone")
    assert (with_id.antenna_id, with_id.read_point) == (1, "door7-outer")  # an AntennaID still decides


def test_a_report_without_antenna_id_from_a_multi_antenna_reader_says_how_to_place_it() -> None:
    untagged = {k: v for k, v in tag().items() if k != "AntennaID"}
    reads, (problem,) = mapper().map_report([untagged], NOW)
    assert reads == [] and problem.reason == "unknown_antenna"
    assert "names no AntennaID and the reader has 2 antennas" in problem.error
    assert "default_read_point" in problem.error and "antenna None" not in problem.error


def test_the_site_file_declares_a_default_read_point_and_an_unknown_one_is_refused() -> None:
    site = """
read_points:
  - {id: door7-outer, location: dock 7, kind: dock_door_outer}
  - {id: door7-inner, location: dock 7, kind: dock_door_inner}
readers:
  - id: door7
    host: 10.0.0.7
    default_read_point: {default}
    antennas: [{port: 1, read_point: door7-outer}, {port: 2, read_point: door7-inner}]
"""
    assert parse_site(site.replace("{default}", "door7-inner")).readers[0].default_read_point == "door7-inner"
    with pytest.raises(ConfigError) as refused:
        parse_site(site.replace("{default}", "door7-innr"), source="site.yaml")
    assert "site.yaml:8: readers[0].default_read_point: unknown read point 'door7-innr'" in str(refused.value)
