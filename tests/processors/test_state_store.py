"""The changelog on the real broker: what a new owner of a partition restores."""

from __future__ import annotations

import datetime as dt

from confluent_kafka import Producer

from tagtrail.kafka import KafkaConnection
from tagtrail_processors.decisions.tracker import PartitionTracker, Rules
from tagtrail_processors.stream.state_store import EMITTED_SUFFIX, HOT_SUFFIX, changelog_records, restore
from tests.processors.changelog_before_lots import records_before_lots
from tests.processors.scenarios import T0, S, Script, identity, site

NOW = T0 + 3600 * S


def _add(tracker: PartitionTracker, reads) -> None:
    for r in reads:
        tracker.add_read(r.identity.item_key, r.identity, r.read_point, r.first_seen, r.last_seen, 1, r.peak_rssi_dbm,
                         r.event_id, NOW)
        tracker.advance(NOW)


def test_a_restored_partition_still_deletes_the_hot_part_written_before_the_restart(kafka: KafkaConnection):
    """State written as a full log record plus hot parts comes back exactly, and the new owner's next
    full log record deletes the hot part its predecessor wrote (a new item's deletes nothing)."""
    rules = Rules.from_site(site())
    tracker = PartitionTracker(rules)
    item, fresh = identity(70), identity(71)
    producer = Producer(kafka.producer_config())
    _add(tracker, Script().dwell(item, "storage-a", 0, 3, 1.0).reads)
    for r in Script().dwell(item, "storage-a", 4, 6, 1.0).reads:  # one commit per read: hot parts
        _add(tracker, [r])
        for key, value in changelog_records(tracker):
            producer.produce(kafka.topics.processor_state, value, key, partition=0)
    producer.flush(30)

    restored = restore(kafka, rules, [0])[0]
    assert restored.items == tracker.items
    assert restored.watermark.value == tracker.watermark.value

    _add(restored, Script().dwell(item, "pick-1", 30, 30).dwell(fresh, "pick-1", 30, 30).reads)
    records = dict(changelog_records(restored))
    assert records[item.item_key.encode() + HOT_SUFFIX] is None  # written before the restart: deleted
    assert fresh.item_key.encode() + HOT_SUFFIX not in records  # a new item has none: nothing to delete
    assert records[item.item_key.encode()] is not None and records[fresh.item_key.encode()] is not None


def test_a_changelog_written_before_lots_were_kept_restores_and_the_item_learns_its_lot(kafka: KafkaConnection):
    """An upgrade restores the records the previous build left (no lot fields in their arrays): the item
    comes back as it was, nothing published is re-published, and its next scan (a pick: a step of its own) carries the lot it names."""
    rules = Rules.from_site(site())
    before = PartitionTracker(rules)
    item = identity(72)
    _add(before, Script().dwell(item, "pick-1", 0, 20, 1.0).reads)
    before.add_scan(Script().scan(item, "count", 10, location="pick-face-1").scans[0], NOW)
    before.advance(NOW)
    old = before.items[item.item_key]
    log, hot, emitted = records_before_lots(old)
    producer = Producer(kafka.producer_config())
    key = item.item_key.encode()
    for k, v in ((key, log), (key + HOT_SUFFIX, hot), (key + EMITTED_SUFFIX, emitted)):
        producer.produce(kafka.topics.processor_state, v, k, partition=1)
    producer.flush(30)

    restored = restore(kafka, rules, [1])[1]
    assert restored.items == {item.item_key: old}
    expiry = (dt.datetime.fromtimestamp(T0 // S, dt.UTC) + dt.timedelta(days=400)).date()
    restored.add_scan(Script().scan(item, "pick", 100, location="pick-face-1", lot="L1", expiry=expiry).scans[0], NOW)
    out = restored.advance(NOW)
    assert [(m.movement_type, m.lot, m.expiry, retracted) for m, retracted in out] == [
        ("state_changed", "L1", expiry, False)]
