"""One LLRP tag report entry (schema tagtrail.events.TagRead)."""

from __future__ import annotations

import msgspec

from tagtrail.events.identity import Identity


class TagRead(msgspec.Struct, frozen=True, kw_only=True):
    """A reader saw an EPC on one antenna. Raw and repetitive: smoothing happens downstream."""

    event_id: str
    reader_id: str
    antenna_id: int
    read_point: str
    epc_hex: str
    identity: Identity
    first_seen: int
    last_seen: int
    reader_first_seen: int
    received_at: int
    peak_rssi_dbm: float | None = None
    channel_index: int | None = None
    clock_offset_us: int = 0
    seen_count: int = 1
