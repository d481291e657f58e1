"""One CBV-consistent story of leaving the building, and no event that changes nothing (pure core)."""

from __future__ import annotations

import random

import msgspec

from tagtrail_processors.decisions.item_state import GONE
from tagtrail_processors.decisions.tracker import PartitionTracker, Rules
from tests.processors.reference import fold, run_core
from tests.processors.scenarios import T0, S, Script, identity, pallet_journey, sentinels, site

NOW = T0 + 3600 * S


def _rows(script: Script, item, cfg=None):
    published, dead = run_core(cfg or site(), sentinels(3, 10_000, script).events())
    assert not dead
    return [(r[1], (r[2] - T0) / S, r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in fold(published)[item.item_key]]


def test_an_outbound_crossing_is_the_one_shipping_event_at_the_door():
    pallet = identity(60)
    rows = _rows(pallet_journey(pallet), pallet)
    assert rows[-1] == ("moved", 500.0, "pack-station-1", "dock-door-1", "door-1-inner", "shipping", "in_transit",
                        "outbound", None)
    assert len(rows) == 5  # inbound, storage, pick, pack, shipping: nothing follows the exit
    steps = [r[5] for r in rows]
    assert "departing" not in steps and "staging_outbound" not in steps  # CBV: exclusive with shipping
    assert not {r[0] for r in rows} & {"departed", "missing"}


def test_a_shipped_item_leaves_at_the_crossing_and_is_never_missing():
    t = PartitionTracker(Rules.from_site(site()))
    pallet = identity(61)
    s = sentinels(3, 600, pallet_journey(pallet))
    for r in s.reads:
        assert t.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, r.seen_count,
                          r.peak_rssi_dbm, r.event_id, NOW) is None
    t.advance(NOW)
    assert t.items[pallet.item_key].status == GONE
    later = t.advance(NOW + 2 * 3600 * S)  # twice missing_after of processing time
    assert not [m for m, _ in later if m.identity == pallet]


def test_an_item_that_vanishes_without_an_outbound_crossing_is_missing_not_shipped():
    t = PartitionTracker(Rules.from_site(site()))
    item = identity(62)
    s = Script().dwell(item, "door-1-outer", 0, 2, 0.1, rssi=-58).dwell(item, "door-1-inner", 1.5, 4, 0.1, rssi=-57)
    s.dwell(item, "pack-1", 100, 110, 1.0)
    for r in s.reads:
        t.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, r.seen_count,
                   r.peak_rssi_dbm, r.event_id, NOW)
    t.advance(NOW)
    fired = [m for m, _ in t.advance(NOW + 3601 * S) if m.identity == item]
    assert [(m.movement_type, m.from_location, m.to_location, m.disposition) for m in fired] == [
        ("missing", "pack-station-1", None, "unknown")]


def _pick_scan(item, at_s: float, n: int = 0):
    """A pick scan at the pick face, by read point: where the RFID side places the item too."""
    (scan,) = Script().scan(item, "pick", at_s, uploaded_s=at_s, n=n).scans
    return msgspec.structs.replace(scan, location="pick-face-1", read_point="pick-1")


def test_a_scan_that_repeats_the_items_state_is_not_an_event():
    item = identity(63)
    s = Script().dwell(item, "storage-a", 0, 20, 1.0, rssi=-55)
    s.dwell(item, "pick-1", 40, 50, 0.5, rssi=-50)
    s.scans.append(_pick_scan(item, 45))
    rows = _rows(s, item)
    assert [(r[0], r[3], r[4], r[5]) for r in rows] == [
        ("arrived", "storage-a", "storage-a", "storing"), ("moved", "pick-face-1", "pick-1", "picking")]
    # a scan that does change something still is one: another read point, or another step
    s.scans.append(Script().scan(item, "count", 47, location="pick-face-1", uploaded_s=47, n=1).scans[0])
    assert [(r[0], r[1], r[4], r[5]) for r in _rows(s, item)][2:] == [("state_changed", 47.0, None, "cycle_counting")]


def test_late_reads_that_make_a_published_movement_a_repeat_retract_it_whatever_the_order():
    item = identity(64)
    s = Script().dwell(item, "storage-a", 0, 20, 1.0, rssi=-55)
    s.scans.append(_pick_scan(item, 30))  # nothing read it at the pick face yet: the scan moves it there
    s.dwell(item, "storage-b", 60, 70, 1.0, rssi=-55, reader="r5")
    sentinels(3, 10_000, s)
    events = s.events()
    late = Script().dwell(item, "pick-1", 25, 40, 0.5, rssi=-50).events()  # the pick face was reading it first
    published, _ = run_core(site(), events + late)
    scan_moves = [(m.movement_type, r) for m, r in published if m.identity == item and m.read_point == "pick-1"
                  and m.source_event_ids == [s.scans[0].event_id]]
    assert scan_moves == [("moved", False), ("moved", True)]  # published, then retracted
    history = fold(published)
    assert [(r[1], r[4], r[5]) for r in history[item.item_key]] == [
        ("arrived", "storage-a", "storage-a"), ("moved", "pick-face-1", "pick-1"), ("moved", "storage-b", "storage-b")]
    for seed in range(3):
        shuffled = events + late
        random.Random(seed).shuffle(shuffled)
        assert fold(run_core(site(), shuffled, advance_every=3)[0]) == history
