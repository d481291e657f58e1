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
                        relative to the latest log record, which deletes it when rewritten (only
                        when one was written: a new item's first log record deletes nothing);
  <item key>\0emitted   what was published for the item, rewritten only when that changes;
  \0watermark           the partition's event-time watermark, 8-byte big-endian.
Restoring applies them in offset order, which compaction preserves for the latest of each key.
"""

from __future__ import annotations

import time

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from tagtrail.kafka import KafkaConnection
from tagtrail_processors.decisions.item_state import (
    apply_hot,
    decode_emitted,
    decode_hot,
    decode_state,
    encode_emitted,
    encode_hot,
    encode_log,
)
from tagtrail_processors.decisions.tracker import PartitionTracker, Rules

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
        deadline = time.monotonic() + timeout_s
        for p in partitions:
            low, high = _offsets(consumer, TopicPartition(topic, p), deadline)
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
                    item_key = key[:-len(HOT_SUFFIX)].decode()
                    if msg.value() is None:
                        tracker.hot_written.discard(item_key)
                        continue
                    tracker.hot_written.add(item_key)  # the next full log record deletes it
                    item = tracker.items.get(item_key)
                    if item is not None:
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


# Answers a broker gives while a partition's leadership settles, e.g. right after the topics were
# created on start: asking again shortly succeeds.
_SETTLING = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART,
             KafkaError._TIMED_OUT, KafkaError._TRANSPORT}


def _offsets(consumer: Consumer, tp: TopicPartition, deadline: float) -> tuple[int, int]:
    """The partition's low and high offsets, asking again while its leadership settles (seen as a
    crash on start: NOT_LEADER_FOR_PARTITION for changelog topics created a moment before)."""
    while True:
        try:
            return consumer.get_watermark_offsets(tp, timeout=30, cached=False)
        except KafkaException as exc:
            err = exc.args[0]
            if not (err.retriable() or err.code() in _SETTLING) or time.monotonic() > deadline:
                raise
            log.info("changelog_offsets_retry", partition=tp.partition, error=err.str())
            time.sleep(0.2)


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
    hot_written = tracker.hot_written
    for key in tracker.dirty:
        item = tracker.items.get(key)
        out.append((key.encode(), None if item is None else encode_log(item)))
        if key in hot_written:  # the full record above supersedes it (a new item has none to delete)
            hot_written.discard(key)
            out.append((key.encode() + HOT_SUFFIX, None))
    for key in tracker.dirty_hot - tracker.dirty:
        item = tracker.items.get(key)
        if item is not None:
            out.append((key.encode() + HOT_SUFFIX, encode_hot(item)))
            hot_written.add(key)
    for key in tracker.dirty_emitted:
        item = tracker.items.get(key)
        out.append((key.encode() + EMITTED_SUFFIX, None if item is None else encode_emitted(item)))
    tracker.dirty.clear()
    tracker.dirty_hot.clear()
    tracker.dirty_emitted.clear()
    out.append((WATERMARK_KEY, tracker.watermark.value.to_bytes(8, "big", signed=True)))
    return out
