"""Runs the pure core over scenario events the way the service would, and folds published
movements into a history – the definition of "history" the order tests compare:

    for each event id, the latest published version; retracted ones left out;
    per item, ordered by (event time, event id).
"""

from __future__ import annotations

import zlib

from tagtrail.events import Movement, TagRead
from tagtrail_processors.decisions.movement_diff import RETRACTED
from tagtrail_processors.decisions.tracker import PartitionTracker, Rules
from tests.processors.scenarios import T0, S


def run_core(site, events, *, partitions: int = 3, now: int = T0 + 10 * 24 * 3600 * S, advance_every: int = 1):
    """Publishes in the order the service would; returns [(movement, retracted)] and dead-letter reasons."""
    rules = Rules.from_site(site)
    trackers = [PartitionTracker(rules) for _ in range(partitions)]
    published: list[tuple[Movement, bool]] = []
    dead: list[str] = []
    for n, e in enumerate(events, 1):
        tracker = trackers[zlib.crc32(e.identity.item_key.encode()) % partitions]
        if isinstance(e, TagRead):
            reason = tracker.add_read(e.identity.item_key, e.identity, e.read_point, e.first_seen, e.last_seen,
                                      e.seen_count, e.peak_rssi_dbm, e.event_id, now)
        else:
            reason = tracker.add_scan(e, now)
        if reason:
            dead.append(reason)
        if n % advance_every == 0:
            for t in trackers:
                published += t.advance(now)
    for t in trackers:
        published += t.advance(now)
    return published, dead


def fold(published) -> dict[str, list[tuple]]:
    latest: dict[str, tuple[Movement, bool]] = {}
    for m, retracted in published:
        latest[m.event_id] = (m, retracted or (m.anomaly or "").startswith(RETRACTED))
    out: dict[str, list[tuple]] = {}
    for m, retracted in latest.values():
        if not retracted:
            out.setdefault(m.identity.item_key, []).append(key_fields(m))
    return {k: sorted(v, key=lambda r: (r[2], r[0])) for k, v in out.items()}


def key_fields(m: Movement) -> tuple:
    return (m.event_id, m.movement_type, m.event_time, m.from_location, m.to_location, m.read_point, m.biz_step,
            m.disposition, m.direction, m.anomaly, tuple(m.source_event_ids), m.lot, m.expiry)
