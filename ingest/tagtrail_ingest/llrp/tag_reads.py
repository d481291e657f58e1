"""Turns sllurp's decoded TagReportData entries into TagRead events (pure: no I/O).

Also says what is wrong with an entry it cannot use, so the caller can dead-letter it: a bad
entry never stops the good ones in the same report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from tagtrail.config import Reader
from tagtrail.events import TagRead
from tagtrail.identity import EpcDecoder
from tagtrail.identity.epc import EpcError
from tagtrail_ingest.llrp import reasons
from tagtrail_ingest.llrp.clock import ClockCorrector, ClockVerdict
from tagtrail_ingest.llrp.epc_data import declared_length_problem

UNKNOWN_PARAMETERS = "SllurpDecodeError"  # where sllurp puts parameters it could not decode
NO_ANTENNA = 0  # the AntennaID a read gets from a report without one (LLRP numbers antennas from 1)


@dataclass(frozen=True)
class Problem:
    """An entry (or part of one) that could not be used as it came."""

    reason: str
    error: str
    context: dict[str, str] = field(default_factory=dict)


def event_id(reader_id: str, antenna: int, epc_hex: str, reader_first_seen_us: int) -> str:
    """Stable across retries and re-sent reports: the same sighting always gets the same id."""
    text = f"{reader_id}|{antenna}|{epc_hex}|{reader_first_seen_us}".encode()
    return hashlib.blake2b(text, digest_size=16).hexdigest()


class TagReadMapper:
    """One per reader: knows its antennas' read points, its RSSI scale and its clock."""

    def __init__(self, reader: Reader, decoder: EpcDecoder, clock: ClockCorrector) -> None:
        self.reader = reader
        self.decoder = decoder
        self.clock = clock
        self.read_points = {a.port: a.read_point for a in reader.antennas}
        if reader.default_read_point is not None:
            self.read_points[NO_ANTENNA] = reader.default_read_point
        self.last_verdict: ClockVerdict | None = None

    def map_report(self, tags: list[dict[str, Any]], received_at_us: int) -> tuple[list[TagRead], list[Problem]]:
        newest = max((t.get("LastSeenTimestampUTC") or t.get("FirstSeenTimestampUTC") or 0 for t in tags), default=0)
        if newest:
            self.last_verdict = self.clock.observe(newest, received_at_us)
        offset = self.clock.offset_us
        reads: list[TagRead] = []
        problems: list[Problem] = []
        for index, tag in enumerate(tags):
            read, problem = self._map_tag(tag, index, received_at_us, offset)
            if read is not None:
                reads.append(read)
            if problem is not None:
                problems.append(problem)
        return reads, problems

    def _map_tag(self, tag: dict[str, Any], index: int, received_at_us: int, offset: int) -> tuple[TagRead | None, Problem | None]:
        # The hot path (one call per tag sighting): plain locals, and the context dict of a
        # Problem is only built when there is one.
        reader_id = self.reader.id
        get = tag.get
        raw_epc = get("EPC") or get("EPC-96")
        if not raw_epc:
            return None, Problem(reasons.MISSING_EPC, f"reader {reader_id}: tag report entry {index} has no EPC",
                                 self._where(index))
        epc_hex = (raw_epc.decode("ascii") if isinstance(raw_epc, bytes) else str(raw_epc)).upper()
        length_problem = declared_length_problem(raw_epc)
        if length_problem is not None:
            return None, Problem(reasons.BAD_EPC, f"reader {reader_id}: {length_problem}", self._where(index, epc_hex=epc_hex))
        try:
            identity = self.decoder.decode(epc_hex)
        except EpcError as exc:
            return None, Problem(reasons.BAD_EPC, f"reader {reader_id}: {exc}", self._where(index, epc_hex=epc_hex))
        antenna = get("AntennaID")
        if antenna is None:
            antenna = self._antenna_without_id()
            if antenna is None:
                return None, Problem(reasons.UNKNOWN_ANTENNA, f"reader {reader_id}: tag report entry {index} names no "
                                     f"AntennaID and the reader has {len(self.reader.antennas)} antennas; set the "
                                     "reader's default_read_point for reports without one",
                                     self._where(index, epc_hex=epc_hex, antenna="none"))
        read_point = self.read_points.get(antenna)
        if read_point is None:
            return None, Problem(reasons.UNKNOWN_ANTENNA, f"reader {reader_id}: antenna {antenna} is not in the site config",
                                 self._where(index, epc_hex=epc_hex, antenna=str(antenna)))
        reader_first = get("FirstSeenTimestampUTC") or get("LastSeenTimestampUTC") or received_at_us - offset
        reader_last = get("LastSeenTimestampUTC") or reader_first
        rssi = get("PeakRSSI")
        read = TagRead(
            event_id=event_id(reader_id, antenna, epc_hex, reader_first),
            reader_id=reader_id,
            antenna_id=antenna,
            read_point=read_point,
            epc_hex=epc_hex,
            identity=identity,
            first_seen=reader_first + offset,
            last_seen=reader_last + offset,
            reader_first_seen=reader_first,
            received_at=received_at_us,
            peak_rssi_dbm=None if rssi is None else rssi * self.reader.rssi_scale,
            channel_index=get("ChannelIndex"),
            clock_offset_us=offset,
            seen_count=get("TagSeenCount") or 1,
        )
        if UNKNOWN_PARAMETERS not in tag:
            return read, None
        unknown = tag.get(UNKNOWN_PARAMETERS)
        if unknown:
            types = ", ".join(str(u.get("Type")) for u in unknown)
            return read, Problem(reasons.UNKNOWN_PARAMETER, f"reader {reader_id}: tag report entry {index} carries "
                                 f"parameter type(s) {types} that LLRP 1.0.1 does not define; the read was kept",
                                 self._where(index, epc_hex=epc_hex, parameter_types=types))
        return read, None

    def _antenna_without_id(self) -> int | None:
        """Where a report without AntennaID was read: the reader's declared default read point, else
        its only antenna; None when it has several and declares none."""
        if self.reader.default_read_point is not None:
            return NO_ANTENNA
        if len(self.reader.antennas) == 1:
            return self.reader.antennas[0].port
        return None

    def _where(self, index: int, **context: str) -> dict[str, str]:
        return {"reader_id": self.reader.id, "tag_index": str(index), **context}
