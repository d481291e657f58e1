"""Processor state backed by the compacted changelog topic, keyed by item key.

The changelog has as many partitions as the input topics and partition p holds the state of
the items of input partition p, so a new owner of p restores exactly what it needs by reading
changelog partition p to its end. Records are written in the same transaction as the movements
and input offsets they belong to (read_committed restores never see a half-done batch).

Record layout (MessagePack values; a null value deletes the record):
  <item key>            the item's log (ItemState without its emitted movements), rewritten when
                        its shape changes: a new observation, a merge, a scan, a fold;
  <item key>\0hot       the open observations and scalars (HotPart), what a read that only
                        extends an observation changes: a few hundred bytes however long the log;
                        relative to the latest log record, which deletes it when rewritten;
  <item key>\0emitted   what was published for the item, rewritten only when that changes;
  \0watermark           the partition's event-time watermark, 8-byte big-endian.
Restoring applies them in offset order, which compaction preserves for the latest of each key.
"""

from __future__ import annotations

import time

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from tagtrail.kafka import KafkaConnection
from tagtrail.processors.item_state import (
    apply_hot,
    decode_emitted,
    decode_hot,
    decode_state,
    encode_emitted,
    encode_hot,
    encode_log,
)
from tagtrail.processors.tracker import PartitionTracker, Rules

log = structlog.get_logger(__name__)

WATERMARK_KEY = b"\x00watermark"
EMITTED_SUFFIX = b"\x00emitted"
HOT_SUFFIX = b"\x00hot"


class RestoreError(RuntimeError):
    pass


def restore(conn: KafkaConnection, rules: Rules, partitions: list[int], timeout_s: float = 120.0) -> dict[int, PartitionTracker]:
    """Reads changelog partitions to their (last stable) end and rebuilds one tracker each."""
    trackers = {p: PartitionTracker(rules) for p in partitions}
    if not partitions:
        return trackers
    topic = conn.topics.processor_state
    consumer = Consumer(conn.consumer_config(f"{conn.topics.prefix}.processor-restore", **{"enable.auto.offset.store": False}))
    try:
        ends: dict[int, int] = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)
            if high > low:
                ends[p] = high
        if not ends:
            return trackers
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        started = time.monotonic()
        records = 0
        remaining = dict(ends)
        emitted: dict[int, dict[str, bytes | None]] = {p: {} for p in partitions}
        while remaining:
            for msg in consumer.consume(10_000, timeout=0.5):
                if msg.error():
                    raise RestoreError(f"reading changelog {topic}[{msg.partition()}]: {msg.error().str()}")
                records += 1
                key = msg.key()
                if key.endswith(EMITTED_SUFFIX):
                    emitted[msg.partition()][key[:-len(EMITTED_SUFFIX)].decode()] = msg.value()
                elif key.endswith(HOT_SUFFIX):
                    tracker = trackers[msg.partition()]
                    item = tracker.items.get(key[:-len(HOT_SUFFIX)].decode())
                    if item is not None and msg.value() is not None:
                        apply_hot(item, decode_hot(msg.value()))
                else:
                    _apply(trackers[msg.partition()], key, msg.value())
            positions = consumer.position([TopicPartition(topic, p) for p in remaining])
            for tp in positions:
                if tp.offset >= remaining[tp.partition]:
                    del remaining[tp.partition]
            if remaining and time.monotonic() - started > timeout_s:
                raise RestoreError(f"changelog {topic} partitions {sorted(remaining)} not read to the end in "
                                   f"{timeout_s} s "
                                   "(an open transaction of a dead instance blocks it until its timeout)")
        for tracker in trackers.values():
            for item_key, item in tracker.items.items():
                tracker.restore_item(item_key, item)  # timers and due decisions from the final state
        for p, found in emitted.items():
            items = trackers[p].items
            for item_key, value in found.items():
                if value is not None and item_key in items:
                    items[item_key].emitted = decode_emitted(value)
        log.info("state_restored", partitions=sorted(partitions), records=records,
                 items=sum(len(t.items) for t in trackers.values()), seconds=round(time.monotonic() - started, 2))
        return trackers
    finally:
        consumer.close()


def _apply(tracker: PartitionTracker, key: bytes, value: bytes | None) -> None:
    if key == WATERMARK_KEY:
        if value is not None:
            tracker.watermark.value = int.from_bytes(value, "big", signed=True)
        return
    item_key = key.decode()
    if value is None:
        tracker.items.pop(item_key, None)
        return
    tracker.items[item_key] = decode_state(value)


def changelog_records(tracker: PartitionTracker) -> list[tuple[bytes, bytes | None]]:
    """The records that bring the changelog up to date with the tracker; clears its dirty set."""
    out: list[tuple[bytes, bytes | None]] = []
    for key in tracker.dirty:
        item = tracker.items.get(key)
        out.append((key.encode(), None if item is None else encode_log(item)))
        out.append((key.encode() + HOT_SUFFIX, None))  # the full record above supersedes it
    for key in tracker.dirty_hot - tracker.dirty:
        item = tracker.items.get(key)
        if item is not None:
            out.append((key.encode() + HOT_SUFFIX, encode_hot(item)))
    for key in tracker.dirty_emitted:
        item = tracker.items.get(key)
        out.append((key.encode() + EMITTED_SUFFIX, None if item is None else encode_emitted(item)))
    tracker.dirty.clear()
    tracker.dirty_hot.clear()
    tracker.dirty_emitted.clear()
    out.append((WATERMARK_KEY, tracker.watermark.value.to_bytes(8, "big", signed=True)))
    return out
