"""The fast RO_ACCESS_REPORT decoder gives the adapter exactly what sllurp gives it, or steps aside."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from sllurp.llrp import LLRPMessage

from tagtrail.config import Antenna, Reader
from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.emulator import encoders
from tagtrail_ingest.llrp.emulator.scenarios import flood
from tagtrail_ingest.llrp.epc_data import keep_epc_bit_length
from tagtrail_ingest.llrp.reader_link import ReaderLink
from tagtrail_ingest.llrp.report_decoder import ReportDecoder

READER = Reader(id="door7", host="127.0.0.1", port=1, antennas=(Antenna(1, "door7-outer"), Antenna(2, "door7-inner")))

u8, u16, u32, u64 = (st.integers(0, 2**b - 1) for b in (8, 16, 32, 64))
# parameters a TagReportData may carry: the usual ones, rarer TV ones, and ones only sllurp decodes
usual = st.one_of(
    st.builds(lambda v: encoders.tv(frames.TV_ANTENNA_ID, v), u16),
    st.builds(lambda v: encoders.tv(frames.TV_PEAK_RSSI, v), st.integers(-128, 127)),
    st.builds(lambda v: encoders.tv(frames.TV_CHANNEL_INDEX, v), u16),
    st.builds(lambda v: encoders.tv(frames.TV_FIRST_SEEN_UTC, v), u64),
    st.builds(lambda v: encoders.tv(frames.TV_LAST_SEEN_UTC, v), u64),
    st.builds(lambda v: encoders.tv(frames.TV_TAG_SEEN_COUNT, v), u16),
    st.builds(lambda v: encoders.tv(frames.TV_ROSPEC_ID, v), u32),
    st.builds(lambda t, v: encoders.tv(t, v), st.sampled_from([3, 5, 10, 11, 12, 14, 15, 17, 19, 20]), u16),
    st.builds(lambda v: encoders.tv(16, v), u32),
)
rare = st.one_of(
    st.builds(lambda a, b: encoders.tv(18, a, b), u16, u16),  # two values: sllurp keeps the first
    st.builds(lambda t, body: encoders.tlv(t, body), st.integers(128, 1023), st.binary(max_size=12)),  # unknown TLV
    st.builds(lambda t, body: bytes([0x80 | t]) + body, st.integers(21, 127), st.binary(max_size=4)),  # unknown TV
    st.builds(lambda body: encoders.tlv(1023, body), st.binary(min_size=8, max_size=16)),  # custom parameter
)

@st.composite
def epc_data(draw: st.DrawFn) -> bytes:
    epc = draw(st.binary(max_size=40))
    bits = draw(st.one_of(st.just(len(epc) * 8), u16))
    return encoders.tlv(frames.P_EPC_DATA, struct.pack("!H", bits) + epc)


@st.composite
def tag_report_data(draw: st.DrawFn, *, odd: bool) -> bytes:
    params = [draw(st.one_of(st.builds(lambda e: encoders.tv(frames.TV_EPC_96, e), st.binary(min_size=12, max_size=12)),
                             epc_data()))]
    params += draw(st.lists(usual, max_size=8, unique_by=lambda p: p[0]))
    if odd:
        params += draw(st.lists(st.one_of(rare, usual, epc_data()), max_size=3))
    params = draw(st.permutations(params))
    return encoders.tlv(frames.P_TAG_REPORT_DATA, b"".join(params))


@st.composite
def reports(draw: st.DrawFn, *, odd: bool) -> bytes:
    entries = draw(st.lists(tag_report_data(odd=odd), max_size=6))
    if odd and draw(st.booleans()):
        entries.insert(draw(st.integers(0, len(entries))), draw(rare))  # something beside the entries
    return frames.message(frames.RO_ACCESS_REPORT, b"".join(entries), draw(u32))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A report with bytes flipped, cut or inserted; the header length then fixed or left wrong."""
    data = bytearray(draw(reports(odd=True)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 8))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    if len(data) >= frames.HEADER_LEN and draw(st.booleans()):
        struct.pack_into("!I", data, 2, len(data))
    return bytes(data)


def sllurp_decode(frame: bytes) -> tuple[str, object]:
    keep_epc_bit_length()
    try:
        msg = LLRPMessage(msgbytes=frame)
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        return "error", type(exc)
    return msg.getName(), msg.msgdict


def assert_same_message(fast: LLRPMessage, frame: bytes) -> None:
    name, expected = sllurp_decode(frame)
    assert fast.getName() == name
    assert fast.msgdict == expected
    for ours, theirs in zip(fast.msgdict[name]["TagReportData"], expected[name]["TagReportData"], strict=True):
        assert list(ours) == list(theirs)  # same keys in the same order
        assert [(type(v), getattr(v, "length_bits", None)) for v in ours.values()] == \
               [(type(v), getattr(v, "length_bits", None)) for v in theirs.values()]


@settings(max_examples=400, deadline=None)
@given(frame=reports(odd=False))
def test_usual_reports_are_decoded_fast_and_equal_to_sllurp(frame: bytes) -> None:
    fast = ReportDecoder().decode(frame)
    assert fast is not None
    assert_same_message(fast, frame)


@settings(max_examples=600, deadline=None)
@given(frame=st.one_of(reports(odd=True), mutated()))
def test_odd_or_broken_reports_are_equal_to_sllurp_or_left_to_it(frame: bytes) -> None:
    decoder = ReportDecoder()
    for _ in range(2):  # the second time through a learnt layout
        fast = decoder.decode(frame)
        if fast is not None:
            assert_same_message(fast, frame)


class RecordingLink(ReaderLink):
    """A link fed frames directly (no socket), recording what the adapter would get."""

    def __init__(self, *, fast: bool) -> None:
        self.seen: list[tuple] = []
        super().__init__(READER, silence_s=5.0, on_bad_frame=lambda raw, reason, error: self.seen.append(
            ("bad_frame", raw, reason)))
        self.add_tag_report_callback(lambda _link, tags: self.seen.append(("tags", tags)))
        if not fast:
            self._reports.decode = lambda frame: None


@settings(max_examples=300, deadline=None)
@given(stream=st.lists(st.one_of(reports(odd=False), reports(odd=True), mutated()), min_size=1, max_size=4))
def test_the_link_hands_the_adapter_the_same_tags_and_dead_letters_either_way(stream: list[bytes]) -> None:
    """Malformed frames still end up dead-lettered with a reason, never as an exception."""
    fast, slow = RecordingLink(fast=True), RecordingLink(fast=False)
    for link in (fast, slow):
        for frame in stream:
            link._handle_frame(frame)
    assert fast.seen == slow.seen
    for (_, a, *_), (_, b, *_) in zip(fast.seen, slow.seen, strict=True):
        assert [getattr(v, "length_bits", None) for t in (a if isinstance(a, list) else []) for v in t.values()] == \
               [getattr(v, "length_bits", None) for t in (b if isinstance(b, list) else []) for v in t.values()]


def test_the_benchmark_flood_and_the_emulator_reports_take_the_fast_path() -> None:
    body, count = next(flood(lambda: 1_764_000_000_000_000, tags_per_report=50))
    frame = frames.message(frames.RO_ACCESS_REPORT, body, 9)
    fast = ReportDecoder().decode(frame)
    assert fast is not None and len(fast.msgdict["RO_ACCESS_REPORT"]["TagReportData"]) == count == 50
    assert_same_message(fast, frame)
    emulated = encoders.ro_access_report([
        encoders.TagReport(epc=bytes.fromhex("3074257BF7194E4000001A85"), antenna_id=2, peak_rssi=-61, channel_index=3,
                         first_seen_us=1, last_seen_us=2, seen_count=4),
        encoders.TagReport(epc=bytes.fromhex("3074257BF7194E4000001A85"), antenna_id=1, epc_bits=90),
    ])
    fast = ReportDecoder().decode(emulated)
    assert fast is not None
    assert fast.msgdict["RO_ACCESS_REPORT"]["TagReportData"][1]["EPC"].length_bits == 90
    assert_same_message(fast, emulated)
