"""The adapter against emulated readers over TCP and a real Kafka broker."""

from __future__ import annotations

import time

from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.emulator import Quirks, Sighting, encoders, pallet_through_dock_door, sgtin96
from tagtrail_ingest.llrp.tag_reads import event_id
from tests.llrp.conftest import dock_reader, read_topic


def now_us() -> int:
    return time.time_ns() // 1000


def gs1_check_digit(digits: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def expected_ids(reader_id: str, emulator) -> list[str]:
    return [event_id(reader_id, s.sighting.antenna, s.sighting.epc_hex.upper(), s.reader_first_seen_us)
            for s in emulator.sent]


def test_a_pallet_through_a_dock_door_arrives_on_kafka_with_every_field_right(
        kafka, emulators, start_adapter, read_codec) -> None:
    emu = emulators()
    adapter = start_adapter(kafka, [dock_reader("door1-reader", emu.port, "door1")])
    assert emu.inventorying.wait(10), "the adapter never started inventory on the reader"
    sightings = pallet_through_dock_door(now_us(), cases=40)
    odd = Sighting(epc_hex="E2801160600002054D5A6B7C", antenna=1, peak_rssi=-48, channel_index=3, seen_count=2,
                   first_seen_us=now_us() - 50_000, last_seen_us=now_us())
    emu.queue([odd, *sightings])
    total = len(sightings) + 1
    adapter.wait(lambda: adapter.metrics.delivered_reads >= total, 30, "every read confirmed by Kafka")

    messages = read_topic(kafka.bootstrap_servers, kafka.topics.reads, expect=total)
    reads = {r.event_id: (r, m.key()) for m in messages for r in [read_codec.decode(m.value())]}
    assert len(messages) == total == len(reads)
    assert len(emu.sent) == total
    for sent in emu.sent:
        s = sent.sighting
        read, key = reads[event_id("door1-reader", s.antenna, s.epc_hex.upper(), sent.reader_first_seen_us)]
        assert key == read.identity.item_key.encode()
        assert (read.reader_id, read.antenna_id) == ("door1-reader", s.antenna)
        assert read.read_point == ("door1-outer" if s.antenna == 1 else "door1-inner")
        assert read.epc_hex == s.epc_hex.upper()
        assert (read.peak_rssi_dbm, read.channel_index, read.seen_count) == (s.peak_rssi, s.channel_index, s.seen_count)
        assert (read.first_seen, read.last_seen) == (s.first_seen_us, s.last_seen_us)  # clock in sync: no offset
        assert (read.reader_first_seen, read.clock_offset_us) == (s.first_seen_us, 0)
        assert read.received_at >= read.last_seen
    by_epc = {r.epc_hex: r for r, _key in reads.values()}
    case = by_epc[sgtin96("0614141", "812345", 1)]
    assert (case.identity.scheme, case.identity.item_key) == ("sgtin", "01/80614141123458/21/1")
    pallet = next(r for r in by_epc.values() if r.identity.scheme == "sscc")
    sscc = pallet.identity.item_key.removeprefix("00/")
    assert len(sscc) == 18 and sscc[-1] == gs1_check_digit(sscc[:-1])
    assert by_epc["E2801160600002054D5A6B7C"].identity.item_key == "epc/E2801160600002054D5A6B7C"
    assert adapter.reader("door1-reader").state == "inventorying"


def test_a_restarted_reader_is_reconnected_and_no_read_is_lost(kafka, emulators, start_adapter, read_codec) -> None:
    emu = emulators()
    adapter = start_adapter(kafka, [dock_reader("door2-reader", emu.port, "door2")])
    assert emu.inventorying.wait(10)
    first = pallet_through_dock_door(now_us(), cases=20, first_serial=1)
    emu.queue(first)
    adapter.wait(lambda: adapter.metrics.delivered_reads >= len(first), 30, "the first pallet")
    emu.restart(down_s=2.0)
    time.sleep(0.3)
    second = pallet_through_dock_door(now_us(), cases=20, first_serial=1000)  # read while the link is down
    emu.queue(second)
    adapter.wait(lambda: adapter.reader("door2-reader").connects >= 2, 20, "a reconnect")
    total = len(first) + len(second)
    adapter.wait(lambda: adapter.metrics.delivered_reads >= total and not emu.pending(), 30, "the second pallet")
    ids = [read_codec.decode(m.value()).event_id for m in read_topic(kafka.bootstrap_servers, kafka.topics.reads, expect=total)]
    assert sorted(ids) == sorted(expected_ids("door2-reader", emu))
    assert len(ids) == total == len(set(ids))
    assert adapter.reader("door2-reader").disconnects >= 1


def test_a_reader_that_goes_silent_is_detected_within_10_s_and_reads_resume(
        kafka, emulators, start_adapter, read_codec) -> None:
    emu = emulators()
    reader = dock_reader("door3-reader", emu.port, "door3", keepalive_s=3.0)  # Impinj-like 3 s keepalives
    adapter = start_adapter(kafka, [reader])
    assert emu.inventorying.wait(10)
    time.sleep(3.5)
    assert emu.keepalive_acks >= 1, "the adapter should answer the reader's keepalives"
    emu.go_silent()  # the TCP link stays up; nothing more arrives, not even keepalives
    silent_at = time.monotonic()
    emu.queue(pallet_through_dock_door(now_us(), cases=10))
    adapter.wait(lambda: adapter.reader("door3-reader").silent_disconnects >= 1, 12, "the silence to be noticed")
    assert time.monotonic() - silent_at <= 10.0
    adapter.wait(lambda: adapter.reader("door3-reader").state == "inventorying" and not emu.pending(), 15, "a reconnect")
    expected = expected_ids("door3-reader", emu)
    adapter.wait(lambda: adapter.metrics.delivered_reads >= len(expected), 20, "the reads")
    ids = [read_codec.decode(m.value()).event_id
           for m in read_topic(kafka.bootstrap_servers, kafka.topics.reads, expect=len(expected))]
    assert sorted(ids) == sorted(expected) and len(expected) == 11 * 2 * 3  # 10 cases and the pallet, 2 antennas, 3 reads each


def test_malformed_frames_become_dead_letters_and_other_readers_keep_serving(
        kafka, emulators, start_adapter, read_codec, dead_letter_codec) -> None:
    bad_reader, good_reader = emulators(), emulators()
    adapter = start_adapter(kafka, [dock_reader("door4-reader", bad_reader.port, "door4"),
                                    dock_reader("door5-reader", good_reader.port, "door5")])
    assert bad_reader.inventorying.wait(10) and good_reader.inventorying.wait(10)

    t = now_us()
    good_frame = encoders.ro_access_report([encoders.TagReport(
        epc=bytes.fromhex(sgtin96("0614141", "812345", 777)), antenna_id=1, peak_rssi=-50, channel_index=1,
        first_seen_us=t, last_seen_us=t, seen_count=1)])
    # a TagReportData whose AntennaID field is cut short: framing intact, body undecodable
    broken_body = encoders.tlv(frames.P_TAG_REPORT_DATA, encoders.tv(frames.TV_EPC_96, b"\x30" * 12) + b"\x81\x00")
    malformed = frames.message(frames.RO_ACCESS_REPORT, broken_body, 4242)
    bad_reader.send_raw(malformed + good_frame)  # one TCP write: the good frame after the bad one must survive
    bad_reader.queue([
        Sighting(epc_hex=sgtin96("0614141", "812345", 778), antenna=1, extra=encoders.tlv(999, b"\x00\x01")),
        Sighting(epc_hex="30" * 13, antenna=2),  # 104-bit EPC
    ])
    good_reader.queue(pallet_through_dock_door(now_us(), cases=30))
    adapter.wait(lambda: not bad_reader.pending(), 10, "the bad reader's tags to go out")
    adapter.wait(lambda: adapter.metrics.delivered_dead_letters >= 3, 10, "three dead letters")
    assert adapter.reader("door4-reader").connects == 1  # framing intact: the link was kept
    broken_header = b"\x00\x3d\x00\x00\x00\x05\x00\x00\x00\x01garbage"  # version 0, length 5: no frame boundary left
    bad_reader.send_raw(broken_header)
    adapter.wait(lambda: adapter.reader("door4-reader").connects >= 2, 15, "a reconnect after broken framing")
    later = Sighting(epc_hex=sgtin96("0614141", "812345", 779), antenna=2)
    bad_reader.queue([later])

    adapter.wait(lambda: not good_reader.pending(), 20, "the good reader's pallet to pass")
    adapter.wait(lambda: adapter.reader("door5-reader").reads >= len(good_reader.sent), 20, "the good reader's reads")
    adapter.wait(lambda: adapter.metrics.delivered_dead_letters >= 4, 20, "four dead letters")
    letters = [dead_letter_codec.decode(m.value())
               for m in read_topic(kafka.bootstrap_servers, kafka.topics.dead_letters, expect=4)]
    by_reason = {d.reason: d for d in letters}
    assert set(by_reason) == {"malformed_frame", "unknown_parameter", "bad_epc", "broken_framing"}
    assert all(d.source == "door4-reader" and d.stage == "ingest.llrp" for d in letters)
    assert by_reason["malformed_frame"].payload == malformed
    assert by_reason["broken_framing"].payload.startswith(broken_header[:10])
    assert "999" in by_reason["unknown_parameter"].error
    assert by_reason["bad_epc"].context["epc_hex"] == "30" * 13

    expected_good = len(good_reader.sent) + 3  # + the frame after the bad one, the unknown-parameter read, the later one
    adapter.wait(lambda: adapter.metrics.delivered_reads >= expected_good, 20, "all good reads")
    reads = [read_codec.decode(m.value()) for m in read_topic(kafka.bootstrap_servers, kafka.topics.reads, expect=expected_good)]
    serials = {r.identity.serial for r in reads if r.reader_id == "door4-reader"}
    assert serials == {"777", "778", "779"}
    assert sum(r.reader_id == "door5-reader" for r in reads) == len(good_reader.sent)
    assert adapter.reader("door5-reader").disconnects == 0


def test_a_reader_with_an_unset_clock_gets_corrected_times(kafka, emulators, start_adapter, read_codec) -> None:
    emu = emulators()
    emu.unset_clock()
    adapter = start_adapter(kafka, [dock_reader("door6-reader", emu.port, "door6")])
    assert emu.inventorying.wait(10)
    sightings = pallet_through_dock_door(now_us(), cases=5)
    emu.queue(sightings)
    adapter.wait(lambda: adapter.metrics.delivered_reads >= len(sightings), 20, "the reads")
    reads = [read_codec.decode(m.value()) for m in read_topic(kafka.bootstrap_servers, kafka.topics.reads, expect=len(sightings))]
    true_first = {(s.sighting.epc_hex.upper(), s.sighting.antenna, s.reader_first_seen_us): s.sighting.first_seen_us
                  for s in emu.sent}
    for r in reads:
        assert r.reader_first_seen < 1_000_000_000_000_000  # the reader said: about the year 2000
        truth = true_first[(r.epc_hex, r.antenna_id, r.reader_first_seen)]
        assert abs(r.first_seen - truth) < 500_000  # corrected to within the measurement's delay
        assert r.clock_offset_us == r.first_seen - r.reader_first_seen
    assert adapter.reader("door6-reader").clock_unset


def test_a_reader_like_edgexs_simulator_inventories_on_one_connection(kafka, emulators, start_adapter, read_codec) -> None:
    """It refuses ENABLE_EVENTS_AND_REPORTS, sends no keepalives and no AntennaID: legal, and every read arrives."""
    emu = emulators(quirks=Quirks(refuse_enable_events=True, keepalives=False, antenna_ids=False))
    reader = dock_reader("door10-reader", emu.port, "door10", keepalive_s=1.0, default_read_point="door10-inner")
    adapter = start_adapter(kafka, [reader])
    assert emu.inventorying.wait(10), "setup never finished"
    sightings = pallet_through_dock_door(now_us(), cases=5)
    emu.queue(sightings)
    adapter.wait(lambda: adapter.metrics.delivered_reads >= len(sightings), 30, "every read")
    adapter.wait(lambda: adapter.reader("door10-reader").liveness_probes >= 3, 30, "three probes of the quiet link")
    door = adapter.reader("door10-reader")
    assert (door.connects, door.disconnects, door.silent_disconnects) == (1, 0, 0)
    assert door.dead_letters == 0
    reads = [read_codec.decode(m.value()) for m in read_topic(kafka.bootstrap_servers, kafka.topics.reads,
                                                                expect=len(sightings))]
    assert len(reads) == len(sightings)
    assert {(r.read_point, r.antenna_id) for r in reads} == {("door10-inner", 0)}
