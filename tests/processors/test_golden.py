"""Golden scenarios on the real broker: exact movements for situations a warehouse has daily."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.processors.conftest import is_sentinel, movements, sentinels, summary
from tests.processors.scenarios import T0, S, Script, identity, pallet_journey

pytestmark = pytest.mark.kafka


def _run(kafka, events_out, processor_thread, script: Script, settle_s: float, expected_count: int):
    sentinels(kafka, settle_s, script)
    events_out.send(script.events())
    proc = processor_thread()
    got = movements(kafka, until=lambda ms: sum(not is_sentinel(m) for m in ms) >= expected_count, idle_s=8)
    proc.close()
    return [m for m in got if not is_sentinel(m)]


def _rows(ms):
    return [summary(m)[2:] for m in ms]


def test_pallet_inbound_putaway_pick_pack_outbound(kafka, events_out, processor_thread):
    pallet = identity(1)
    got = _run(kafka, events_out, processor_thread, pallet_journey(pallet), 2000, 5)
    assert _rows(got) == [
        ("arrived", 0.0, None, "dock-door-1", "door-1-outer", "receiving", "in_progress", "inbound", None),
        ("moved", 60.0, "dock-door-1", "storage-a", "storage-a", "storing", "sellable_not_accessible", "none", None),
        ("moved", 300.0, "storage-a", "pick-face-1", "pick-1", "picking", "in_progress", "none", None),
        ("moved", 400.0, "pick-face-1", "pack-station-1", "pack-1", "packing", "in_progress", "none", None),
        # the outbound crossing is the shipping event: nothing follows it for the same exit
        ("moved", 500.0, "pack-station-1", "dock-door-1", "door-1-inner", "shipping", "in_transit", "outbound", None),
    ]
    assert all(m.identity == pallet for m in got)
    assert len({m.event_id for m in got}) == 5
    # every movement names the reads it came from
    assert all(m.source_event_ids and all(s.startswith("r") for s in m.source_event_ids) for m in got)


def test_tag_seen_by_two_read_points_at_once_goes_to_the_stronger(kafka, events_out, processor_thread):
    item = identity(2)
    s = Script()
    s.dwell(item, "pick-1", 0.0, 30, 0.2, rssi=-65, reader="r3")  # weaker, and first by 0.1 s
    s.dwell(item, "storage-a", 0.1, 40, 0.2, rssi=-50, reader="r2")
    got = _run(kafka, events_out, processor_thread, s, 500, 1)
    assert _rows(got) == [
        ("arrived", 0.0, None, "storage-a", "storage-a", "storing", "sellable_not_accessible", "none", None),
    ]


def test_flapping_tag_at_a_zone_boundary_does_not_flip_flop(kafka, events_out, processor_thread):
    item = identity(3)
    s = Script()
    s.dwell(item, "storage-a", 0, 120, 0.5, rssi=-60, reader="r2")
    # storage-b catches it too, as strong give or take noise, continuously and in bursts
    for k, start in enumerate(range(10, 110, 10)):
        s.dwell(item, "storage-b", start, start + 1.5, 0.3, rssi=-62 + (k % 3) * 2, reader="r5")
    s.dwell(item, "storage-b", 112, 130, 0.4, rssi=-59, reader="r5")
    # then someone really takes it to the pick face: a much stronger signal wins while storage-b still reads
    s.dwell(item, "pick-1", 128, 140, 0.2, rssi=-45, reader="r3")
    got = _run(kafka, events_out, processor_thread, s, 500, 3)
    assert _rows(got) == [
        ("arrived", 0.0, None, "storage-a", "storage-a", "storing", "sellable_not_accessible", "none", None),
        # storage-a stops reading it at 120 while storage-b still does: storage-b takes over then
        ("moved", 120.0, "storage-a", "storage-b", "storage-b", "storing", "sellable_not_accessible", "none", None),
        ("moved", 128.0, "storage-b", "pick-face-1", "pick-1", "picking", "in_progress", "none", None),
    ]


def test_scans_uploaded_six_hours_late_take_their_place_in_history(kafka, events_out, processor_thread):
    item = identity(4)
    s = Script()
    s.dwell(item, "door-1-outer", 0, 2, 0.1, rssi=-58)
    s.dwell(item, "door-1-inner", 1.5, 4, 0.1, rssi=-57, antenna=2)
    s.dwell(item, "storage-a", 60, 120, 1.0, rssi=-55, reader="r2")
    s.dwell(item, "storage-b", 300, 310, 1.0, rssi=-55, reader="r5")
    late = 6 * 3600
    s.scan(item, "receive", 30, location="dock-door-1", uploaded_s=late, n=0)
    s.scan(item, "putaway", 90, location="storage-a", uploaded_s=late, n=1)
    s.scan(item, "ship", 200, location="dock-door-1", uploaded_s=late, n=2)
    sentinels(kafka, late - 600, s)  # the site kept reading other tags meanwhile
    uploads, s.scans = s.scans, []
    events_out.send(s.events())
    proc = processor_thread()
    movements(kafka, until=lambda ms: sum(not is_sentinel(m) for m in ms) >= 3, idle_s=8)
    events_out.send(uploads)
    got = [m for m in movements(kafka, until=lambda ms: sum(not is_sentinel(m) for m in ms) >= 7, idle_s=8)
           if not is_sentinel(m)]
    proc.close()
    rows = [summary(m) for m in got]
    first_pass = [
        ("arrived", 0.0, None, "dock-door-1", "door-1-outer", "receiving", "in_progress", "inbound", None),
        ("moved", 60.0, "dock-door-1", "storage-a", "storage-a", "storing", "sellable_not_accessible", "none", None),
        ("moved", 300.0, "storage-a", "storage-b", "storage-b", "storing", "sellable_not_accessible", "none", None),
    ]
    after_upload = [
        ("state_changed", 30.0, "dock-door-1", "dock-door-1", None, "receiving", "in_progress", "none", None),
        ("state_changed", 90.0, "storage-a", "storage-a", None, "storing", "sellable_not_accessible", "none", None),
        ("moved", 200.0, "storage-a", "dock-door-1", None, "shipping", "in_transit", "none", None),
        # the storage-b sighting now follows a shipment: same movement (same id), updated and flagged
        ("moved", 300.0, "dock-door-1", "storage-b", "storage-b", "storing", "sellable_not_accessible", "none",
         "storing after shipping without receiving"),
    ]
    assert [r[2:] for r in rows] == first_pass + after_upload
    assert rows[2][0] == rows[6][0], "an update keeps the movement's id"
    assert got[3].source_event_ids == [uploads[0].event_id]


def test_lots_scanned_offline_reach_every_movement_and_a_second_lot_is_flagged(kafka, events_out, processor_thread):
    """Through the real broker and the Avro wire: the receive scan names the lot and expiry hours late;
    the movement decided before it is revised to carry them, and a count scan naming another lot is an
    anomaly that leaves the known lot in place."""
    expiry = (dt.datetime.fromtimestamp(T0 // S, dt.UTC) + dt.timedelta(days=400)).date()
    item = identity(5)
    s = Script()
    s.dwell(item, "door-1-outer", 0, 2, 0.1, rssi=-58)
    s.dwell(item, "door-1-inner", 1.5, 4, 0.1, rssi=-57, antenna=2)
    s.dwell(item, "storage-a", 60, 120, 1.0, rssi=-55, reader="r2")
    late = 6 * 3600
    s.scan(item, "receive", 30, location="dock-door-1", uploaded_s=late, n=0, lot="L1", expiry=expiry)
    s.scan(item, "count", 90, location="storage-a", uploaded_s=late, n=1, lot="L2", expiry=expiry)
    sentinels(kafka, late - 600, s)
    uploads, s.scans = s.scans, []
    events_out.send(s.events())
    proc = processor_thread()
    movements(kafka, until=lambda ms: sum(not is_sentinel(m) for m in ms) >= 2, idle_s=8)
    events_out.send(uploads)
    got = [m for m in movements(kafka, until=lambda ms: sum(not is_sentinel(m) for m in ms) >= 5, idle_s=8)
           if not is_sentinel(m)]
    proc.close()
    assert [(m.movement_type, round((m.event_time - T0) / S), m.lot, m.expiry, m.anomaly) for m in got] == [
        ("arrived", 0, None, None, None),
        ("moved", 60, None, None, None),
        ("state_changed", 30, "L1", expiry, None),
        ("moved", 60, "L1", expiry, None),  # revised under its own id
        ("state_changed", 90, "L1", expiry, 'lot_mismatch: scanned "L2", known "L1"'),
    ]
    assert got[1].event_id == got[3].event_id
