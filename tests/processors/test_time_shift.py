"""A decision does not depend on where the clock's slot boundaries fall (pure core).

The same reads and scans, shifted in time by any offset, give the same history shifted by that
offset: every window is measured from the reads' own event times.
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagtrail.config import parse_site
from tagtrail.events import Scan, TagRead
from tests.processors.reference import fold, run_core
from tests.processors.scenarios import SITE_YAML, T0, S, Script, identity, sentinels

HOLD_OFF_US = S // 2  # location_hold_off_s of the test site: the old slot width
SECOND_DOOR = """  - {id: door-2-outer, location: dock-door-2, zone: dock, kind: dock_door_outer, portal: door-2}
  - {id: door-2-inner, location: dock-door-2, zone: dock, kind: dock_door_inner, portal: door-2}
processing:"""
TWO_DOORS = parse_site(SITE_YAML.replace("processing:", SECOND_DOOR, 1))
POINTS = ["storage-a", "storage-b", "pick-1", "pack-1", "door-1-inner", "door-1-outer", "door-2-inner", "door-2-outer"]


def shifted(events: list[TagRead | Scan], by_us: int) -> list[TagRead | Scan]:
    """The same events, each stamped `by_us` later (ids kept: they name the same reads)."""
    out: list[TagRead | Scan] = []
    for e in events:
        if isinstance(e, TagRead):
            out.append(msgspec.structs.replace(e, first_seen=e.first_seen + by_us, last_seen=e.last_seen + by_us,
                                               reader_first_seen=e.reader_first_seen + by_us,
                                               received_at=e.received_at + by_us))
        else:
            out.append(msgspec.structs.replace(e, scanned_at=e.scanned_at + by_us, uploaded_at=e.uploaded_at + by_us))
    return out


def history_without_ids(events, by_us: int = 0) -> dict[str, list[tuple]]:
    """Per item: (type, event time minus `by_us`, from, to, read point, step, disposition, direction,
    anomaly, sources, lot, expiry), by event time. Event ids are left out: they hash the event time, which the shift
    changes (and with it the order of two movements at the same time, which the history sorts by id)."""
    folded = fold(run_core(TWO_DOORS, events)[0])
    return {item: sorted(((r[1], r[2] - by_us, *r[3:]) for r in rows), key=lambda r: (r[1], repr(r)))
            for item, rows in folded.items()}


segment = st.tuples(
    st.sampled_from(POINTS),
    st.integers(0, 800),  # start, in hundredths of a second after the previous segment's start
    st.integers(0, 60),  # length, in tenths of a second
    st.sampled_from([1, 2, 5]),  # a read every that many tenths
    st.integers(-84, -45),  # RSSI
)
scan = st.tuples(st.sampled_from(["receive", "putaway", "pick", "pack", "ship", "count"]), st.integers(0, 300),
                 st.sampled_from([None, "storage-a", "dock-door-1"]),
                 st.sampled_from([None, "L1", "L2"]))  # the lot it names: learned, repeated or a mismatch
item_plan = st.tuples(st.lists(segment, min_size=1, max_size=6), st.lists(scan, max_size=3))


def build(plans) -> Script:
    """Items read by random read points: fields that overlap, follow each other closely or after a
    gap, faint and strong, plus scans uploaded later."""
    s = Script()
    for n, (segments, scans) in enumerate(plans):
        item = identity(300 + n)
        start = end = 0.0
        for rp, after, length, every, rssi in segments:
            start += after / 100
            s.dwell(item, rp, start, start + length / 10, every / 10, rssi=rssi, reader=rp)
            end = max(end, start + length / 10)
        for k, (action, at, location, lot) in enumerate(scans):
            s.scan(item, action, at / 10, location=location, uploaded_s=end + 60, n=k, lot=lot)
    return sentinels(3, 5000, s)


@settings(max_examples=500, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(item_plan, min_size=1, max_size=3), shift=st.integers(1, HOLD_OFF_US - 1))
def test_shifting_every_event_shifts_the_history_and_changes_nothing_else(plans, shift):
    events = build(plans).events()
    assert history_without_ids(shifted(events, shift), shift) == history_without_ids(events)


# The field report: a faint read at the neighbouring door's antenna, then the item's strong reads at its
# own door 0.79-0.91 s later. Whether the faint read won depended on where it fell in its 0.5 s slot.
@pytest.mark.parametrize("gap_s", [0.79, 0.85, 0.91, 2.5, 4.9])
@pytest.mark.parametrize("phase_s", [0.05, 0.25, 0.45])
def test_a_weak_cross_read_outvoted_within_the_window_never_becomes_a_movement(phase_s, gap_s):
    item = identity(50)
    s = Script()
    s.dwell(item, "door-2-outer", phase_s, phase_s, rssi=-80, reader="door-2")
    start = phase_s + gap_s
    s.dwell(item, "door-1-outer", start, start + 1.2, 0.1, rssi=-58, reader="door-1", antenna=1)
    s.dwell(item, "door-1-inner", start + 1.5, start + 2.7, 0.1, rssi=-56, reader="door-1", antenna=2)
    s.dwell(item, "storage-a", start + 9, start + 14, 0.5, rssi=-52, reader="zone")
    rows = history_without_ids(sentinels(3, 5000, s).events())[item.item_key]
    assert [(r[0], r[2], r[3], r[5], r[7]) for r in rows] == [
        ("arrived", None, "dock-door-1", "receiving", "inbound"),
        ("moved", "dock-door-1", "storage-a", "storing", "none"),
    ]
    assert rows[0][1] == T0 + round(phase_s * S)  # the contest's first read dates the arrival


def test_a_cross_read_that_stays_unanswered_for_the_window_is_still_a_sighting():
    """The window bounds the contest: a field that starts reading the item only after it is a move."""
    item = identity(51)
    s = Script()
    s.dwell(item, "storage-b", 0.2, 1.0, 0.2, rssi=-80, reader="r5")
    s.dwell(item, "storage-a", 5.3, 20, 0.5, rssi=-50, reader="r2")
    rows = history_without_ids(sentinels(3, 5000, s).events())[item.item_key]
    assert [(r[0], r[2], r[3]) for r in rows] == [("arrived", None, "storage-b"), ("moved", "storage-b", "storage-a")]
