"""Lot (AI 10) and expiry (AI 17): known per item from its scans, carried on every movement (pure core).

The known lot is the one of the item's earliest scan in event time that names one, whatever order the
scans were uploaded in; a scan naming another lot is an anomaly in the history, never an overwrite.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

from tagtrail.events import Identity, Movement
from tagtrail.wire import Codec
from tagtrail.wire.schema_store import LocalSchemaStore
from tagtrail.wire.schemas import SchemaRef, bundled_schema
from tagtrail_processors.decisions.item_state import (
    HotPart,
    decode_emitted,
    decode_hot,
    decode_state,
    encode_emitted,
    encode_log,
)
from tagtrail_processors.decisions.tracker import PartitionTracker, Rules
from tests.processors.changelog_before_lots import records_before_lots
from tests.processors.reference import fold, run_core
from tests.processors.scenarios import T0, S, Script, identity, sentinels, site

NOW = T0 + 3600 * S
# Expiries are plain dates nothing compares with the clock; derived from T0 so no calendar date is written.
EXPIRY = (dt.datetime.fromtimestamp(T0 // S, dt.UTC) + dt.timedelta(days=400)).date()
OTHER_EXPIRY = EXPIRY + dt.timedelta(days=31)


def _feed(tracker: PartitionTracker, script: Script, now: int = NOW) -> list[tuple[Movement, bool]]:
    for e in script.events():
        if e in script.scans:
            assert tracker.add_scan(e, now) is None
        else:
            assert tracker.add_read(e.identity.item_key, e.identity, e.read_point, e.first_seen, e.last_seen,
                                    e.seen_count, e.peak_rssi_dbm, e.event_id, now) is None
    return tracker.advance(now)


def _history(events) -> dict[str, list[tuple]]:
    """Per item: (type, seconds after T0, to, step, anomaly, lot, expiry) of the folded history."""
    return {k: [(r[1], (r[2] - T0) / S, r[4], r[6], r[9], r[11], r[12]) for r in rows]
            for k, rows in fold(run_core(site(), events)[0]).items()}


def test_every_movement_carries_the_lot_and_expiry_known_at_its_time():
    item, rfid_only = identity(60), identity(61)
    s = Script().dwell(item, "door-1-outer", 0, 2, 0.1, rssi=-58).dwell(item, "door-1-inner", 1.5, 4, 0.1, rssi=-57)
    s.scan(item, "receive", 20, location="dock-door-1", uploaded_s=30, lot="L1", expiry=EXPIRY)
    s.dwell(item, "storage-a", 60, 120, 1.0, rssi=-55, reader="r2")
    s.dwell(rfid_only, "storage-b", 0, 10, 1.0)
    got = _history(sentinels(3, 5000, s).events())
    assert got[item.item_key] == [
        ("arrived", 0.0, "dock-door-1", "receiving", None, None, None),  # before the scan named its lot
        ("state_changed", 20.0, "dock-door-1", "receiving", None, "L1", EXPIRY),
        ("moved", 60.0, "storage-a", "storing", None, "L1", EXPIRY),
    ]
    assert got[rfid_only.item_key] == [("arrived", 0.0, "storage-b", "storing", None, None, None)]


def test_a_scan_that_only_names_the_lot_is_no_event_and_the_next_movement_carries_it():
    """A count scan at the item's pick face that changes nothing but teaches the expiry is no event: the
    export would show the same event twice (the lot is master data, not part of the event). The item
    knows it from then on, and its next movement carries it."""
    item = identity(62)
    s = Script().dwell(item, "pick-1", 0, 100, 1.0, reader="r3")
    s.scan(item, "count", 10, location="pick-face-1", lot="L1", n=0).scan(item, "count", 10.5, location="pick-face-1", n=1)
    s.scan(item, "count", 30, location="pick-face-1", lot="L1", expiry=EXPIRY, n=2)
    s.scan(item, "count", 40, location="pick-face-1", lot="L1", expiry=EXPIRY, n=3)
    s.dwell(item, "pack-1", 200, 220, 0.5, reader="r4")
    got = _history(sentinels(3, 5000, s).events())[item.item_key]
    assert [(r[0], r[1], r[5], r[6]) for r in got] == [
        ("arrived", 0.0, None, None),
        ("state_changed", 10.0, "L1", None),  # the count scan changes the step, and carries the lot it named
        ("moved", 200.0, "L1", EXPIRY),  # the expiry learned at 30 s, with no event of its own
    ]


def test_a_scan_naming_another_lot_is_an_anomaly_and_the_known_lot_stays():
    item = identity(63)
    s = Script().dwell(item, "pick-1", 0, 100, 1.0, reader="r3")
    s.scan(item, "count", 10, location="pick-face-1", lot="L1", expiry=EXPIRY, n=0)
    s.scan(item, "count", 30, location="pick-face-1", lot="L9", expiry=OTHER_EXPIRY, n=1)  # changes nothing else
    s.dwell(item, "pack-1", 200, 220, 0.5, reader="r4")
    got = _history(sentinels(3, 5000, s).events())[item.item_key]
    assert [(r[0], r[1], r[4], r[5], r[6]) for r in got] == [
        ("arrived", 0.0, None, None, None),
        ("state_changed", 10.0, None, "L1", EXPIRY),
        ("state_changed", 30.0, (f'lot_mismatch: scanned "L9", known "L1"; expiry_mismatch: scanned '
                                 f"{OTHER_EXPIRY.isoformat()}, known {EXPIRY.isoformat()}"), "L1", EXPIRY),
        ("moved", 200.0, None, "L1", EXPIRY),  # never overwritten
    ]


def test_a_late_earlier_scan_revises_the_lot_of_the_movements_after_it():
    """Devices work offline: the scan naming the item's first lot may be uploaded hours after a later one.
    The history is the same as if they had arrived in event-time order, and the movements published
    before the late scan came are revised under their own ids."""
    item = identity(64)
    s = Script().dwell(item, "pick-1", 0, 100, 1.0, reader="r3")
    s.scan(item, "count", 50, location="pick-face-1", lot="L2", uploaded_s=60, n=1)
    s.scan(item, "count", 20, location="pick-face-1", lot="L1", expiry=EXPIRY, uploaded_s=2 * 3600, n=0)
    s.dwell(item, "pack-1", 200, 220, 0.5, reader="r4")
    events = sentinels(3, 5000, s).events()
    published, dead = run_core(site(), events)
    assert not dead
    got = [(r[1], (r[2] - T0) / S, r[9], r[11], r[12]) for r in fold(published)[item.item_key]]
    assert got == [
        ("arrived", 0.0, None, None, None),
        ("state_changed", 20.0, None, "L1", EXPIRY),
        ("state_changed", 50.0, 'lot_mismatch: scanned "L2", known "L1"', "L1", EXPIRY),
        ("moved", 200.0, None, "L1", EXPIRY),
    ]
    ours = [m for m, _ in published if m.identity == item]
    scan_50 = [m for m in ours if m.event_time == T0 + 50 * S]
    assert [(m.lot, m.anomaly) for m in scan_50] == [("L2", None), ("L1", 'lot_mismatch: scanned "L2", known "L1"')]
    assert len({m.event_id for m in scan_50}) == 1  # a revision, not a second event
    in_order = sorted(events, key=lambda e: getattr(e, "scanned_at", None) or e.last_seen)
    assert _history(in_order)[item.item_key] == _history(events)[item.item_key]


def test_state_written_before_lots_were_kept_restores_and_learns_a_lot():
    rules = Rules.from_site(site())
    before = PartitionTracker(rules)
    item = identity(65)
    _feed(before, Script().dwell(item, "pick-1", 0, 100, 1.0, reader="r3").scan(item, "count", 10, location="pick-face-1"))
    old = before.items[item.item_key]
    assert old.emitted and old.scans
    log, hot, emitted = records_before_lots(old)
    restored = decode_state(log)
    restored.emitted = decode_emitted(emitted)
    assert isinstance(decode_hot(hot), HotPart)
    assert restored == old  # the missing fields take their defaults: no lot known
    after = PartitionTracker(rules)
    after.restore_item(item.item_key, restored)
    out = _feed(after, Script().scan(item, "count", 150, location="pick-face-1", lot="L1", expiry=EXPIRY)
                .dwell(item, "pack-1", 200, 220, 0.5, reader="r4"))
    assert [(m.movement_type, m.lot, m.expiry) for m, retracted in out if not retracted] == [
        ("moved", "L1", EXPIRY)]  # nothing published before is re-published; the lot learned rides on the move
    # and the new layout round-trips with the lot in it
    state = after.items[item.item_key]
    again = decode_state(encode_log(state))
    again.emitted = decode_emitted(encode_emitted(state))
    assert again == state and any(e.lot == "L1" for e in again.emitted.values())


def test_folded_scans_keep_the_known_lot_for_the_history_that_follows():
    """After the lateness bound the scans are folded into the base state; the lot they named stays known."""
    t = PartitionTracker(Rules.from_site(site()))
    item = identity(66)
    _feed(t, Script().dwell(item, "storage-a", 0, 10, 1.0).scan(item, "count", 5, location="storage-a", lot="L1"))
    day = 24 * 3600
    later = Script().dwell(item, "pack-1", 2 * day, 2 * day + 10, 1.0)
    later.scan(item, "count", 2 * day + 20, location="pack-station-1", lot="L7")
    later.dwell(identity(67), "storage-b", 2 * day + 100, 2 * day + 100)
    out = _feed(t, later, now=T0 + 3 * day * S)
    state = t.items[item.item_key]
    assert not [sc for sc in state.scans if sc.time < T0 + day * S] and state.base.lot == "L1"
    assert [(m.movement_type, m.lot, m.anomaly) for m, _ in out if m.identity == item] == [
        ("moved", "L1", None), ("state_changed", "L1", 'lot_mismatch: scanned "L7", known "L1"')]


def _movement_schema_before_lots() -> dict:
    schema = copy.deepcopy(bundled_schema("Movement").schema)
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in ("lot", "expiry")]
    return schema


def test_movements_written_with_the_schema_before_lots_still_decode():
    """Records a processor wrote before the upgrade may still be in the movements topic: the build ships
    that schema (avro/previous/), so a reader with no registry decodes them, with no lot."""
    old = SchemaRef.from_schema(_movement_schema_before_lots())
    assert LocalSchemaStore().lookup(old.fingerprint) is not None
    ident = Identity(item_key="01/80614141123458/21/6789", scheme="sgtin")
    record = {k: v for k, v in Codec("Movement").to_record(Movement(
        event_id="m-1", identity=ident, movement_type="arrived", biz_step="receiving", disposition="in_progress",
        event_time=T0, recorded_at=T0 + 1, to_location="dock-door-1", lot="dropped")).items()
        if k not in ("lot", "expiry")}
    data = Codec("Movement", writer=old).encode_record(record)
    decoded = Codec("Movement").decode(data)
    assert (decoded.event_id, decoded.to_location, decoded.lot, decoded.expiry) == ("m-1", "dock-door-1", None, None)


def test_a_mismatch_names_lots_with_commas_and_quotes_unambiguously():
    """AI 10 allows `,` `;` and `"`: each lot is a JSON string in the anomaly, so a reader gets both back."""
    item = identity(68)
    known, scanned = 'A,1"; known', "B;2, scanned"
    s = Script().dwell(item, "pick-1", 0, 100, 1.0, reader="r3")
    s.scan(item, "count", 10, location="pick-face-1", lot=known, n=0).scan(item, "count", 30, location="pick-face-1", lot=scanned, n=1)
    flagged = [r for r in _history(sentinels(3, 5000, s).events())[item.item_key] if r[4]]
    assert len(flagged) == 1 and flagged[0][5] == known
    decoder = json.JSONDecoder()
    text = flagged[0][4]
    assert text.startswith("lot_mismatch: scanned ")
    got_scanned, end = decoder.raw_decode(text, len("lot_mismatch: scanned "))
    assert text[end:].startswith(", known ")
    got_known, end = decoder.raw_decode(text, end + len(", known "))
    assert (got_scanned, got_known, end) == (scanned, known, len(text))
