"""Checks an RO_ACCESS_REPORT's parameter lengths before sllurp decodes it (pure: no I/O).

sllurp (3.0.5) trusts whatever a parameter's length says: a zero-length or overrunning parameter
ends its decoding loop and the fields after it vanish (the entry then looks like a missing EPC), a
cut-short EPC-96 swallows the AntennaID after it (an unknown antenna, or a read of an EPC the tag
never sent), and an EPCData longer than its TagReportData is decoded from what the parent holds (a
wrong bit length). Each of those is a frame that does not add up, so this walk checks every
TagReportData by the lengths LLRP gives its parameters; an entry that does not add up is taken out
of the frame and reported with the parameter, its byte offset and the lengths at fault, and sllurp
decodes the rest.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from sllurp.llrp_decoder import TVE_PARAM_FORMATS

from tagtrail_ingest.llrp import frames

_TLV_HEADER = struct.Struct("!HH")
_TV_NAMES = {t: name for t, (name, _fmt) in TVE_PARAM_FORMATS.items()}
_TLV_NAMES = {frames.P_TAG_REPORT_DATA: "TagReportData", frames.P_EPC_DATA: "EPCData"}


def parameter_name(ptype: int) -> str:
    name = _TLV_NAMES.get(ptype)
    return f"{name} (type {ptype})" if name else f"parameter type {ptype}"


@dataclass(frozen=True)
class BrokenEntry:
    """A TagReportData entry (its position among the report's entries) whose lengths do not add up."""

    index: int
    error: str


@dataclass(frozen=True)
class CheckedReport:
    frame: bytes  # the report without its broken entries (the input itself when there are none)
    broken: tuple[BrokenEntry, ...]
    entries: int  # TagReportData entries left in `frame`


def check_report(frame: bytes) -> CheckedReport:
    """The report's entries split into those sllurp may decode and those that are broken.

    A parameter at the top level that overruns the message (or is not a TLV) leaves no way to
    find the next one, so everything from there on is one broken entry."""
    end = len(frame)
    pos = frames.HEADER_LEN
    kept: list[bytes] = []
    broken: list[BrokenEntry] = []
    index = entries = 0
    while pos < end:
        error = _top_level_problem(frame, pos, end)
        if error is not None:
            broken.append(BrokenEntry(index, error))
            break
        ptype, length = _TLV_HEADER.unpack_from(frame, pos)
        ptype &= 0x3FF
        if ptype == frames.P_TAG_REPORT_DATA:
            error = entry_problem(frame, pos + 4, pos + length)
            if error is None:
                kept.append(frame[pos:pos + length])
                entries += 1
            else:
                broken.append(BrokenEntry(index, f"tag report entry {index}: {error}"))
            index += 1
        else:
            kept.append(frame[pos:pos + length])
        pos += length
    if not broken:
        return CheckedReport(frame, (), entries)
    word, _length, msg_id = frames.HEADER.unpack_from(frame, 0)
    body = b"".join(kept)
    return CheckedReport(frames.HEADER.pack(word, frames.HEADER_LEN + len(body), msg_id) + body, tuple(broken), entries)


def _top_level_problem(frame: bytes, pos: int, end: int) -> str | None:
    where = f"at byte {pos} of the message"
    if frame[pos] & 0x80:
        return (f"a TV parameter (type {frame[pos] & 0x7F}) {where} stands outside any TagReportData, where "
                f"only TLV parameters may; {end - pos} bytes from there cannot be read")
    return _tlv_header(frame, pos, end, where, "the message")[0]


def _tlv_header(data: bytes, at: int, end: int, where: str, within: str) -> tuple[str | None, int, int]:
    """(why the TLV parameter header at `at` does not fit before `end`, or None; its type; its length).

    One check for a top-level parameter and a parameter inside a TagReportData; `within` names the
    container whose remaining bytes the length is measured against."""
    if end - at < 4:
        return f"{end - at} stray byte(s) {where}: too short for a parameter header", 0, 0
    ptype, length = _TLV_HEADER.unpack_from(data, at)
    if length < 4:
        return (f"{parameter_name(ptype & 0x3FF)} {where} declares {length} bytes, less than its own 4-byte header",
                ptype, length)
    if at + length > end:
        return (f"{parameter_name(ptype & 0x3FF)} {where} declares {length} bytes but {within} has {end - at} left",
                ptype, length)
    return None, ptype, length


def entry_problem(data: bytes, start: int, end: int) -> str | None:
    """Why the parameters in data[start:end] (one TagReportData's body) do not add up, else None."""
    at = start
    while at < end:
        where = f"at byte {at - start + 4} of its TagReportData"
        first = data[at]
        if first & 0x80:
            tv_type = first & 0x7F
            size = frames.TV_SIZES.get(tv_type)
            if size is None:
                return (f"TV parameter type {tv_type} {where} is not one LLRP 1.0.1 defines, so its size "
                        f"and everything after it in the entry are unknown")
            if at + 1 + size > end:
                return (f"{_TV_NAMES[tv_type]} (TV type {tv_type}) {where} is cut short: it needs {size} "
                        f"bytes, its TagReportData has {end - at - 1} left")
            at += 1 + size
            continue
        problem, ptype, length = _tlv_header(data, at, end, where, "its TagReportData")
        if problem is not None:
            return problem
        if ptype & 0x3FF == frames.P_EPC_DATA and length < 6:
            return (f"{parameter_name(ptype & 0x3FF)} {where} is {length} bytes: "
                    "no room for its 2-byte EPCLengthBits field")
        at += length
    return None
