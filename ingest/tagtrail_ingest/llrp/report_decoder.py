"""RO_ACCESS_REPORT decoded with one struct call per tag, for the usual tag report layouts.

Why hand-written: sllurp decodes a report parameter by parameter in Python (decode_param,
param_header_decode and a dict lookup per TV field), one of the adapter's largest costs per tag
(benchmarks/llrp_adapter.py; the figures are in docs/benchmarks.md).
A reader sends the same TagReportData layout over and over (the fields the ROSpec's
TagReportContentSelector asks for), so this decoder learns a layout once - a struct format for
the whole entry and the parameter types it expects - and then checks and unpacks an entry with
a single `unpack_from`, several times cheaper per tag.

It is strict and falls back rather than interprets: only a report made of TagReportData entries
holding EPC-96 or EPCData and the TV fields sllurp knows is decoded here; anything else (unknown,
custom or repeated parameters, truncation, reserved bits) returns None and the caller lets sllurp
decode the frame, so odd frames get sllurp's result or sllurp's error (a dead letter). For what it
accepts the message equals sllurp's, EPCData's declared bit length included (epc_data.EpcHex);
tests/llrp/test_report_decoder.py checks that over generated and mutated frames.
"""

from __future__ import annotations

import struct
from binascii import hexlify
from operator import itemgetter
from typing import Any, NamedTuple

from sllurp.llrp import LLRPMessage
from sllurp.llrp_decoder import TVE_PARAM_FORMATS

from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.epc_data import EpcHex

NAME = "RO_ACCESS_REPORT"
_TLV_HEADER = struct.Struct("!HH")
_EPC_96 = 13
_EPC_96_KEY = "EPC-96"
_EPC_KEY = "EPC"
# TV parameter type -> (sllurp's key, struct format); EPC-96 is unpacked raw and hexlified after
_TV = {t: (name, fmt.format.lstrip("!")) for t, (name, fmt) in TVE_PARAM_FORMATS.items()}


class Layout(NamedTuple):
    """One TagReportData byte layout: check `markers(values) == expected`, then build the dict."""

    unpack: Any  # Struct.unpack_from of the whole entry, headers included
    markers: Any  # itemgetter of the header values in the unpacked tuple
    expected: tuple
    values: Any  # itemgetter of the field values in parameter order, then EPCData's bit length (or a pad)
    keys: tuple[str, ...]
    epc: str  # "96": EPC-96 TV (raw bytes, hexlified after); "data": EPCData TLV


class ReportDecoder:
    """One per reader link (not shared: the layout cache is small and per reader anyway)."""

    def __init__(self, max_layouts: int = 64) -> None:
        self.max_layouts = max_layouts
        self._layouts: dict[int, Layout] = {}  # entry length -> the layout last seen at that length

    def decode(self, frame: bytes) -> LLRPMessage | None:
        """The sllurp message for an RO_ACCESS_REPORT frame in a known layout, else None."""
        if len(frame) < frames.HEADER_LEN:
            return None
        word, length, msg_id = frames.HEADER.unpack_from(frame, 0)
        if word & 0xE3FF != frames.RO_ACCESS_REPORT or length != len(frame):
            return None  # reserved bits set, another message, or a length sllurp would read otherwise
        tags = self.tag_reports(frame, frames.HEADER_LEN)
        if tags is None:
            return None
        msg = LLRPMessage(msgdict={NAME: {"TagReportData": tags, "Ver": (word >> 10) & 0x07,
                                          "Type": frames.RO_ACCESS_REPORT, "ID": msg_id}}, msgbytes=frame)
        msg.msgname = NAME  # what deserialize() would have set
        return msg

    def tag_reports(self, data: bytes, pos: int) -> list[dict[str, Any]] | None:
        tags: list[dict[str, Any]] = []
        end = len(data)
        unpack_header = _TLV_HEADER.unpack_from
        layouts = self._layouts
        while pos < end:
            if end - pos < 4:
                return None
            ptype, plen = unpack_header(data, pos)
            if ptype != frames.P_TAG_REPORT_DATA or plen < 4 or pos + plen > end:
                return None
            layout = layouts.get(plen)
            values = layout.unpack(data, pos) if layout is not None else None
            if values is None or layout.markers(values) != layout.expected:
                layout = self._learn(data, pos, plen)
                if layout is None:
                    return None
                values = layout.unpack(data, pos)
            fields = layout.values(values)
            tag = dict(zip(layout.keys, fields))
            if layout.epc == "96":
                epc = hexlify(tag[_EPC_96_KEY])
                tag[_EPC_96_KEY] = epc
            else:
                epc = EpcHex(hexlify(tag[_EPC_KEY]), fields[-1])
            tag[_EPC_KEY] = epc
            tags.append(tag)
            pos += plen
        return tags

    def _learn(self, data: bytes, pos: int, plen: int) -> Layout | None:
        """Walks one entry; its Layout if every parameter is one this decoder handles, else None."""
        fmt = ["!HH"]
        markers: list[int] = [0, 1]
        expected: list[int] = [frames.P_TAG_REPORT_DATA, plen]
        values: list[int] = []
        keys: list[str] = []
        epc = ""
        epc_bits_index = -1
        index = 2  # next position in the unpacked tuple
        at, end = pos + 4, pos + plen
        while at < end:
            first = data[at]
            if first & 0x80:
                tv = _TV.get(first & 0x7F)
                if tv is None:
                    return None
                name, value_fmt = tv
                size = struct.calcsize("!" + value_fmt)
                if at + 1 + size > end or name in keys or len(value_fmt) != 1 and value_fmt != "12s":
                    return None  # truncated, repeated, or several values (sllurp keeps only the first)
                fmt.append("B" + value_fmt)
                markers.append(index)
                expected.append(first)
                values.append(index + 1)
                keys.append(name)
                if first & 0x7F == _EPC_96:
                    epc = "96"
                index += 2
                at += 1 + size
                continue
            if end - at < 6:
                return None
            ptype, length = _TLV_HEADER.unpack_from(data, at)
            if ptype != frames.P_EPC_DATA or length < 6 or at + length > end or _EPC_KEY in keys:
                return None
            fmt.append(f"HHH{length - 6}s")
            markers += [index, index + 1]
            expected += [ptype, length]
            values.append(index + 3)
            keys.append(_EPC_KEY)
            epc_bits_index = index + 2
            epc = epc or "data"
            index += 4
            at += length
        if not epc or (epc == "96" and _EPC_KEY in keys):
            return None  # no EPC (the mapper's missing_epc), or both kinds: leave it to sllurp
        # EPCData's declared bit length rides last (zip stops before it); otherwise a pad keeps
        # the getter returning a tuple even for a single field
        values.append(epc_bits_index if epc == "data" else 0)
        layout = Layout(struct.Struct("".join(fmt)).unpack_from, itemgetter(*markers), tuple(expected),
                        itemgetter(*values), tuple(keys), epc)
        if len(self._layouts) >= self.max_layouts:
            self._layouts.clear()
        self._layouts[plen] = layout
        return layout
