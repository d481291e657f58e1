"""The per-partition core: dead-letter reasons, missing timer, duplicate scans, state round trip."""

from __future__ import annotations

import msgspec

from tagtrail_processors.decisions.item_state import decode_hot, decode_state, encode_hot, encode_state
from tagtrail_processors.decisions.tracker import UNKNOWN_READ_POINT, PartitionTracker, Rules
from tests.processors.scenarios import T0, S, Script, identity, site

NOW = T0 + 3600 * S


def _feed(tracker, script, now=NOW):
    out = []
    for r in script.reads:
        assert tracker.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, r.seen_count,
                                r.peak_rssi_dbm, r.event_id, now) is None
    for sc in script.scans:
        assert tracker.add_scan(sc, now) is None
    out += tracker.advance(now)
    return out


def test_unknown_read_point_and_too_late_are_dead_letter_reasons():
    t = PartitionTracker(Rules.from_site(site()))
    item = identity(50)
    assert t.add_read(item.item_key, item, "nowhere", T0, T0, 1, -50.0, "x", NOW) == UNKNOWN_READ_POINT
    assert t.add_read(item.item_key, item, "storage-a", T0 + 30 * 3600 * S, T0 + 30 * 3600 * S, 1, -50.0, "y",
                      T0 + 30 * 3600 * S) is None
    assert t.add_read(item.item_key, item, "storage-a", T0, T0, 1, -50.0, "z", NOW) == "too_late"


def test_an_item_not_seen_for_missing_after_gets_a_missing_movement_on_the_processing_clock():
    t = PartitionTracker(Rules.from_site(site()))
    item, other = identity(51), identity(52)
    s = Script().dwell(item, "storage-a", 0, 10, 1.0).dwell(other, "storage-b", 0, 10, 1.0)
    s.dwell(other, "pack-1", 100, 110, 1.0)
    s.dwell(other, "door-1-inner", 200, 202, 0.2).dwell(other, "door-1-outer", 201, 204, 0.2)
    _feed(t, s)
    before = t.advance(NOW + 3599 * S)  # missing_after is 3600 s of processing time
    assert not [m for m, _ in before if m.movement_type == "missing"]
    fired = t.advance(NOW + 3601 * S)
    missing = [m for m, _ in fired if m.movement_type == "missing"]
    assert [(m.identity.item_key, m.from_location, m.to_location, m.event_time) for m in missing] == [
        (item.item_key, "storage-a", None, T0 + 10 * S + 3600 * S)]
    # the shipped item is not missing: it left
    assert t.advance(NOW + 99_999 * S) == []


def test_the_same_scan_uploaded_twice_is_one_movement():
    t = PartitionTracker(Rules.from_site(site()))
    item = identity(53)
    s = Script().scan(item, "receive", 10, location="dock-door-1").scan(item, "receive", 10, location="dock-door-1")
    out = _feed(t, s)
    assert [m.biz_step for m, _ in out] == ["receiving"]


def test_item_state_survives_a_round_trip_through_the_changelog_encoding():
    t = PartitionTracker(Rules.from_site(site()))
    item = identity(54)
    _feed(t, Script().dwell(item, "storage-a", 0, 10, 1.0).scan(item, "count", 5))
    state = t.items[item.item_key]
    assert decode_state(encode_state(state)) == state


def test_old_log_entries_are_folded_into_the_base_state_and_history_continues():
    t = PartitionTracker(Rules.from_site(site()))
    item = identity(55)
    _feed(t, Script().dwell(item, "storage-a", 0, 10, 1.0).dwell(item, "pick-1", 100, 110, 1.0))
    day = 24 * 3600
    later = Script().dwell(item, "pack-1", 2 * day, 2 * day + 10, 1.0).dwell(identity(56), "storage-b", 2 * day + 100, 2 * day + 100)
    out = _feed(t, later, now=T0 + 3 * day * S)
    state = t.items[item.item_key]
    assert "storage-a" not in state.observations and state.base.location == "pick-face-1"
    assert [(m.movement_type, m.from_location, m.to_location) for m, _ in out if m.identity == item] == [
        ("moved", "pick-face-1", "pack-station-1")]


def test_an_idle_partition_decides_what_waits_for_the_watermark_after_idle_advance():
    item = identity(57)
    s = Script().dwell(item, "storage-a", 0, 10, 1.0).dwell(item, "pick-1", 30, 30.5, 0.5)
    cfg = site("  idle_advance_s: 30\n")
    t = PartitionTracker(Rules.from_site(cfg))
    out = _feed(t, s)
    assert [m.to_location for m, _ in out] == ["storage-a"]  # the move to the pick face waits for the watermark
    assert t.advance(NOW + 29 * S) == []
    assert [m.to_location for m, _ in t.advance(NOW + 31 * S)] == ["pick-face-1"]
    never = PartitionTracker(Rules.from_site(site("  idle_advance_s: 0\n")))
    _feed(never, s)
    assert never.advance(NOW + 1000 * S) == []  # (before missing_after, which would settle it too)


def test_settings_the_core_cannot_honour_are_a_config_error():
    import pytest

    from tagtrail.config import ConfigError

    with pytest.raises(ConfigError, match="location_hold_off_s"):
        Rules.from_site(site("  location_hold_off_s: 12\n"))
    with pytest.raises(ConfigError, match="processing.steps.storage"):
        Rules.from_site(site("  steps: {storage: storing}\n"))


def test_the_changelog_records_rebuild_the_same_state_after_reads_only_extended_observations():
    """Full log record, then hot-part records for reads that only extended observations: restoring
    them in changelog order gives back exactly the tracker's state."""
    from tagtrail_processors.decisions.item_state import apply_hot, decode_emitted, decode_hot, decode_state
    from tagtrail_processors.stream.state_store import EMITTED_SUFFIX, HOT_SUFFIX, WATERMARK_KEY, changelog_records

    t = PartitionTracker(Rules.from_site(site()))
    item = identity(58)
    log = []
    s = Script().dwell(item, "storage-a", 0, 30, 1.0).dwell(item, "pick-1", 40, 60, 1.0)
    for r in s.reads:
        t.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, 1, r.peak_rssi_dbm,
                   r.event_id, NOW)
        t.advance(NOW)
        log += changelog_records(t)
    kinds = {k[len(item.item_key):] for k, v in log if k.startswith(item.item_key.encode()) and v is not None}
    assert kinds == {b"", HOT_SUFFIX, EMITTED_SUFFIX}  # most commits wrote only the hot part
    state, emitted = None, None
    for k, v in log:
        if k == WATERMARK_KEY or v is None:
            continue
        if k.endswith(HOT_SUFFIX):
            apply_hot(state, decode_hot(v))
        elif k.endswith(EMITTED_SUFFIX):
            emitted = decode_emitted(v)
        else:
            state = decode_state(v)
    state.emitted = emitted
    assert state == t.items[item.item_key]


def test_a_crossing_read_in_order_is_decided_as_soon_as_the_watermark_passes_its_end_plus_the_window():
    """Live traffic at a dock door: the arrival is published at the first advance whose watermark
    reaches the crossing's last read plus the smoothing window (5 s), not one commit later."""
    t = PartitionTracker(Rules.from_site(site()))
    item, other = identity(60), identity(61)
    s = Script().dwell(item, "door-1-outer", 0, 1, 0.1, antenna=1).dwell(item, "door-1-inner", 1.1, 2, 0.1, antenna=2)
    s.dwell(other, "storage-a", 0, 12, 0.25, reader="r2")  # other tags keep the watermark moving
    decided_at = None
    for r in sorted(s.reads, key=lambda r: (r.last_seen, r.event_id)):
        t.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, 1, r.peak_rssi_dbm,
                   r.event_id, NOW)
        published = [m for m, _ in t.advance(NOW) if m.identity.item_key == item.item_key]
        if published and decided_at is None:
            decided_at = t.watermark.value
            assert [(m.movement_type, m.to_location, m.direction) for m in published] == [
                ("arrived", "dock-door-1", "inbound")]
    assert decided_at == T0 + 7 * S  # last inner read at 2 s + 5 s window: the first watermark that shows it


def test_a_hot_part_is_deleted_by_the_next_log_record_only_when_one_was_written():
    """A new item's first log record has no hot part to delete; once reads wrote one, the next full
    log record deletes it (so compaction does not keep a stale one)."""
    from tagtrail_processors.stream.state_store import HOT_SUFFIX, changelog_records

    t = PartitionTracker(Rules.from_site(site()))
    item = identity(62)
    hot_key = item.item_key.encode() + HOT_SUFFIX
    s = Script().dwell(item, "storage-a", 0, 3, 1.0).dwell(item, "pick-1", 20, 21, 1.0)
    commits = []
    for r in s.reads:
        t.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, 1, r.peak_rssi_dbm,
                   r.event_id, NOW)
        commits.append(dict(changelog_records(t)))
    assert item.item_key.encode() in commits[0] and hot_key not in commits[0]  # new item: log only
    assert commits[1][hot_key] is not None  # the read extended the observation: hot part only
    assert item.item_key.encode() not in commits[1]
    moved = commits[4]  # the first read at pick-1: a new observation, the whole log again
    assert item.item_key.encode() in moved and moved[hot_key] is None


def test_changelog_records_written_before_the_entry_span_still_restore():
    """Observations used to carry clock-slot peaks (slot, e0, e1): a restart after the upgrade restores them."""
    item = identity(70)
    t = PartitionTracker(Rules.from_site(site()))
    _feed(t, Script().dwell(item, "storage-a", 0, 10, 1.0, rssi=-55))
    state = t.items[item.item_key]
    raw = msgspec.msgpack.decode(encode_state(state))
    (obs,) = raw["observations"]["storage-a"]
    raw["observations"]["storage-a"] = [obs[:5] + [obs[1] // (S // 2), -61.0, -55.0] + obs[6:]]
    old = msgspec.msgpack.encode(raw)
    restored = decode_state(old)
    assert restored.observations["storage-a"][0].entry == [(T0, -55.0)]
    assert restored.observations["storage-a"][0].count == 11 and restored.identity == item
    hot = msgspec.msgpack.decode(encode_hot(state))
    hot[0]["storage-a"] = raw["observations"]["storage-a"][0]
    assert decode_hot(msgspec.msgpack.encode(hot)).tails["storage-a"].entry_rssi == -55.0
