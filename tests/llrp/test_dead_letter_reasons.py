"""Each LLRP dead letter's reason names the fault, the docs list every code, and metrics count the code."""

from __future__ import annotations

import re
import socket
import struct
from pathlib import Path

from sllurp.llrp import LLRPReaderState

from tagtrail.config import Antenna, Reader
from tagtrail.identity import EpcDecoder
from tagtrail_ingest.llrp import frames, reasons
from tagtrail_ingest.llrp.adapter_metrics import AdapterMetrics, MetricsBridge
from tagtrail_ingest.llrp.clock import ClockCorrector
from tagtrail_ingest.llrp.emulator import encoders, sgtin96
from tagtrail_ingest.llrp.reader_link import ReaderLink
from tagtrail_ingest.llrp.tag_reads import TagReadMapper

READER = Reader(id="door8", host="127.0.0.1", port=1, antennas=(Antenna(1, "door8-outer"), Antenna(2, "door8-inner")))
NOW = 1_764_000_000_000_000
EPC = bytes.fromhex(sgtin96("0614141", "812345", 42))
README = Path(__file__).resolve().parents[2] / "docs" / "ingest-llrp.md"


class RecordingLink(ReaderLink):
    """A link fed bytes directly; what it dead-letters and the problems its reports map to."""

    def __init__(self) -> None:
        self.letters: list[tuple[str, str, bytes]] = []
        super().__init__(READER, silence_s=5.0, on_bad_frame=lambda raw, reason, error: self.letters.append(
            (reason, error, raw)))
        mapper = TagReadMapper(READER, EpcDecoder(), ClockCorrector())
        self.reads: list = []

        def on_tags(_link: ReaderLink, tags: list[dict]) -> None:
            reads, problems = mapper.map_report(tags, NOW)
            self.reads += reads
            self.letters += [(p.reason, p.error, b"") for p in problems]

        self.add_tag_report_callback(on_tags)
        self.llrp.state = LLRPReaderState.STATE_INVENTORYING

    def reasons(self) -> list[str]:
        return [reason for reason, _error, _raw in self.letters]


def report(*entries: bytes) -> bytes:
    return frames.message(frames.RO_ACCESS_REPORT, b"".join(entries), 77)


def entry(*params: bytes) -> bytes:
    return encoders.tlv(frames.P_TAG_REPORT_DATA, b"".join(params))


ANTENNA_2 = encoders.tv(frames.TV_ANTENNA_ID, 2)
GOOD = entry(encoders.tv(frames.TV_EPC_96, EPC), ANTENNA_2)


def test_whole_frames_left_behind_a_frame_that_ended_the_link_are_not_called_truncated() -> None:
    link = RecordingLink()
    link.llrp.state = LLRPReaderState.STATE_SENT_GET_CAPABILITIES  # setup: any other answer ends the link
    ender = encoders.response(frames.SET_READER_CONFIG_RESPONSE, 5)
    behind = report(GOOD)
    partial = report(GOOD)[:9]
    ours, theirs = socket.socketpair()
    link._socket = ours
    theirs.sendall(ender + behind + partial)
    link.main_loop()  # on this thread: reads the chunk, ends the link, reports what was left
    theirs.close()
    assert link.end_reason.startswith("reader configuration error")
    assert "SET_READER_CONFIG_RESPONSE" in link.end_reason
    assert [(reason, raw) for reason, _e, raw in link.letters] == [
        (reasons.UNHANDLED_REPORT, behind), (reasons.TRUNCATED_FRAME, partial)]


def test_a_96_bit_epc_cut_short_is_a_malformed_frame_not_an_unknown_antenna() -> None:
    link = RecordingLink()
    cut = entry(bytes([0x80 | frames.TV_EPC_96]) + EPC[:7], ANTENNA_2)  # sllurp took the AntennaID into the EPC
    link._handle_frame(report(cut, GOOD))
    assert link.reasons() == [reasons.MALFORMED_FRAME]
    assert "EPC-96 (TV type 13) at byte 4 of its TagReportData is cut short: it needs 12 bytes, its TagReportData has 10 left" in link.letters[0][1]
    assert "tag report entry 0" in link.letters[0][1]
    assert [r.epc_hex for r in link.reads] == [EPC.hex().upper()]  # the good entry beside it still counts


def test_zero_length_and_overrunning_parameters_are_malformed_frames_not_missing_epcs() -> None:
    zero_first = entry(struct.pack("!HH", frames.P_EPC_DATA, 0), encoders.tv(frames.TV_EPC_96, EPC), ANTENNA_2)
    overrun = entry(struct.pack("!HH", frames.P_EPC_DATA, 40) + struct.pack("!H", 96) + EPC, ANTENNA_2)
    for bad, says in ((zero_first, "EPCData (type 241) at byte 4 of its TagReportData declares 0 bytes, less than its own 4-byte header"),
                      (overrun, "EPCData (type 241) at byte 4 of its TagReportData declares 40 bytes but its TagReportData has 21 left")):
        link = RecordingLink()
        link._handle_frame(report(bad))
        assert link.reasons() == [reasons.MALFORMED_FRAME], link.letters
        assert says in link.letters[0][1]
        assert link.letters[0][2] == report(bad)  # the raw frame, for whoever looks at the dead letter


def test_a_parameter_longer_than_its_parent_says_so_instead_of_a_bit_count_mismatch() -> None:
    epc_data = encoders.tlv(frames.P_EPC_DATA, struct.pack("!H", 96) + EPC)  # 18 bytes
    parent_too_short = struct.pack("!HH", frames.P_TAG_REPORT_DATA, 4 + 10) + epc_data
    link = RecordingLink()
    link._handle_frame(report(parent_too_short))
    assert reasons.BAD_EPC not in link.reasons()
    assert link.reasons()[0] == reasons.MALFORMED_FRAME
    assert "EPCData (type 241) at byte 4 of its TagReportData declares 18 bytes but its TagReportData has 10 left" in link.letters[0][1]
    assert not link.reads


def test_dead_letters_are_counted_in_metrics_under_their_own_reason() -> None:
    calls: list[tuple[str, str, int]] = []

    class Recorder:
        def reader_known(self, _reader: str) -> None: ...
        def tag_reads(self, _reader: str, _count: int) -> None: ...
        def reader_state(self, _reader: str, _state: str, *, connected: bool) -> None: ...
        def spool_bytes(self, _value: int) -> None: ...

        def dead_letter(self, stage: str, reason: str, count: int = 1) -> None:
            calls.append((stage, reason, count))

    adapter = AdapterMetrics()
    bridge = MetricsBridge(adapter, Recorder(), ["door8"])
    door = adapter.reader("door8")
    door.dead_letter(reasons.MALFORMED_FRAME)
    door.dead_letter(reasons.MALFORMED_FRAME)
    door.dead_letter(reasons.UNKNOWN_ANTENNA)
    bridge.sync()
    door.dead_letter(reasons.UNKNOWN_ANTENNA)
    bridge.sync()
    bridge.sync()  # nothing new: nothing counted twice
    assert sorted(calls) == [("ingest.llrp", reasons.MALFORMED_FRAME, 2), ("ingest.llrp", reasons.UNKNOWN_ANTENNA, 1),
                             ("ingest.llrp", reasons.UNKNOWN_ANTENNA, 1)]
    assert door.dead_letters == 4


def test_the_readme_lists_every_reason_code_and_no_other() -> None:
    text = README.read_text()
    section = text[text.index("## LLRP dock-door adapter"):]
    section = section[:section.index("\n## ", 1)]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {code for line in table for code in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    assert documented == set(reasons.REASONS)


def test_an_entry_overrunning_the_message_is_malformed_and_the_entries_before_it_still_read() -> None:
    overrun = struct.pack("!HH", frames.P_TAG_REPORT_DATA, 60) + encoders.tv(frames.TV_EPC_96, EPC)
    link = RecordingLink()
    link._handle_frame(report(GOOD, overrun))
    assert link.reasons() == [reasons.MALFORMED_FRAME]
    assert "TagReportData (type 240) at byte 30 of the message declares 60 bytes but the message has 17 left" \
        in link.letters[0][1]
    assert [r.epc_hex for r in link.reads] == [EPC.hex().upper()]
