"""Live mode (processing.provisional_movements): where an item is being read is published before the
movement is decided, and the decided movement replaces it or a retraction takes it back."""

from __future__ import annotations

from tagtrail_processors.decisions.item_state import decode_state, encode_state
from tagtrail_processors.decisions.movement_diff import RETRACTED
from tagtrail_processors.decisions.tracker import PartitionTracker, Rules
from tests.processors.scenarios import T0, S, Script, identity, site

NOW = T0 + 3600 * S
LIVE = "  provisional_movements: true\n"


def _arrival_order(script: Script) -> list:
    return sorted(script.reads, key=lambda r: (r.last_seen, r.event_id))


def _run(tracker: PartitionTracker, reads: Script | list, item_key: str):
    """Feeds the reads (a script's: in arrival order), advancing after each; returns (watermark, movement,
    retracted) for everything published about `item_key`."""
    out = []
    for r in _arrival_order(reads) if isinstance(reads, Script) else reads:
        assert tracker.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, 1,
                                r.peak_rssi_dbm, r.event_id, NOW) is None
        out += [(tracker.watermark.value, m, retracted) for m, retracted in tracker.advance(NOW)
                if m.identity.item_key == item_key]
    return out


def _crossing(item, other) -> Script:
    s = Script().dwell(item, "door-1-outer", 0, 1, 0.1, antenna=1).dwell(item, "door-1-inner", 1.1, 2, 0.1, antenna=2)
    return s.dwell(other, "storage-a", 0, 12, 0.25, reader="r2")  # other tags keep the watermark moving


def test_a_crossing_is_published_provisionally_at_its_first_read_then_decided_under_the_same_id():
    item, other = identity(70), identity(71)
    published = _run(PartitionTracker(Rules.from_site(site(LIVE))), _crossing(item, other), item.item_key)
    assert len(published) == 2
    (early_wm, early, early_retracted), (decided_wm, decided, decided_retracted) = published
    assert early_wm == T0 and not early_retracted  # the first read's advance, not seconds later
    assert (early.provisional, early.to_location, early.direction, early.biz_step, early.disposition) == (
        True, "dock-door-1", "unknown", "arriving", "unknown")
    # Decided when the item has left the portal plus the window, as without live mode: same id, replaces it.
    assert decided_wm == T0 + 7 * S and not decided_retracted
    assert decided.event_id == early.event_id and decided.event_time == early.event_time
    assert (decided.provisional, decided.direction, decided.biz_step) == (False, "inbound", "receiving")
    assert decided.recorded_at >= early.recorded_at


def test_without_live_mode_only_the_decided_movement_is_published():
    item, other = identity(72), identity(73)
    published = _run(PartitionTracker(Rules.from_site(site())), _crossing(item, other), item.item_key)
    assert [(wm, m.provisional, m.direction) for wm, m, _ in published] == [(T0 + 7 * S, False, "inbound")]


def test_a_provisional_arrival_the_decision_overturns_is_retracted():
    """The shelf antenna reads the item stronger than the portal's outer antenna at first, so the live
    view places it at storage-a; the inner antenna then reads it far stronger, the crossing leads the
    contest and the storage-a arrival is taken back at once, before the crossing is decided."""
    item, other = identity(74), identity(75)
    s = Script().dwell(item, "storage-a", 0, 0.6, 0.1, rssi=-55, reader="r3")
    s.dwell(item, "door-1-outer", 0.05, 1, 0.1, rssi=-60, antenna=1)
    s.dwell(item, "door-1-inner", 1.1, 2, 0.1, rssi=-45, antenna=2)
    s.dwell(other, "storage-b", 0, 12, 0.25, reader="r2")
    published = _run(PartitionTracker(Rules.from_site(site(LIVE))), s, item.item_key)
    live = [(m.to_location, retracted) for wm, m, retracted in published if m.provisional and wm < T0 + 7 * S]
    assert live == [("storage-a", False), ("dock-door-1", False), ("storage-a", True)]
    early = [m for _, m, retracted in published if m.provisional and not retracted]
    history: dict[str, object] = {}
    for _, m, retracted in published:
        if retracted:
            assert m.anomaly == RETRACTED
            history.pop(m.event_id)
        else:
            history[m.event_id] = m
    assert early[0].event_id not in history
    assert [(m.to_location, m.direction, m.provisional) for m in history.values()] == [
        ("dock-door-1", "inbound", False)]


def test_a_restart_between_the_provisional_and_the_decision_still_decides_once():
    """The changelog keeps what was published provisionally: a restored tracker replaces it, not repeats it."""
    item, other = identity(76), identity(77)
    script = _crossing(item, other)
    reads = _arrival_order(script)
    first = PartitionTracker(Rules.from_site(site(LIVE)))
    cut = next(i for i, r in enumerate(reads) if r.last_seen > T0 + 1.5 * S)
    early = [m for _, m, _ in _run(first, reads[:cut], item.item_key)]
    assert [m.provisional for m in early] == [True]
    restored = PartitionTracker(Rules.from_site(site(LIVE)), first.watermark.value)
    for key, state in first.items.items():
        restored.restore_item(key, decode_state(encode_state(state)))
    later = [m for _, m, _ in _run(restored, reads[cut:], item.item_key)]
    assert [(m.event_id, m.provisional, m.direction) for m in later] == [(early[0].event_id, False, "inbound")]
