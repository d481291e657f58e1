"""Movements written with an earlier release's Movement schema (no lot/expiry; before that, no provisional)
are still stored: records already on the topic at an upgrade, or from a processor not upgraded yet."""

from __future__ import annotations

import datetime as dt

from tagtrail.history.migrations import migrate
from tagtrail.wire import Codec
from tagtrail_processors.sink.batches import PartitionBatch, Record
from tagtrail_processors.sink.framing import EventFraming
from tagtrail_processors.sink.writer import EventWriter
from tagtrail_processors.sink.writer_schemas import earlier_writer_schemas
from tests.sink.helpers import movement

# Fingerprints (CRC-64-AVRO, wire byte order) of the Movement schemas earlier releases shipped: with
# provisional (migration 0004 to 0006), and before it.
RELEASED_MOVEMENT_FINGERPRINTS = ["b862d35ec3846dcc", "b09fdb321dfa0c99"]


def test_earlier_movement_writer_schemas_are_the_released_ones():
    assert [ref.fingerprint.hex() for ref in earlier_writer_schemas("Movement")] == RELEASED_MOVEMENT_FINGERPRINTS


def test_an_earlier_writers_movement_is_framed_with_the_new_fields_empty():
    previous = Codec("Movement", writer=earlier_writer_schemas("Movement")[0])
    old = previous.encode(movement(1, lot="ignored: the old schema has no lot"))
    framing = EventFraming("Movement")
    assert not framing.all_bundled([old])
    framed = Codec("Movement").decode(framing.message(old))
    assert (framed.event_id, framed.lot, framed.expiry) == ("ev-00000001", None, None)


def test_a_batch_mixing_old_and_new_writers_is_stored_whole(clickhouse):
    """Nothing from the previous schema goes to dead letters; the new fields are NULL for its rows."""
    migrate(clickhouse)
    previous = Codec("Movement", writer=earlier_writer_schemas("Movement")[0])
    before_provisional = Codec("Movement", writer=earlier_writer_schemas("Movement")[1])
    current = Codec("Movement")
    values = [previous.encode(movement(1)), before_provisional.encode(movement(2)),
              current.encode(movement(3, lot="LOT-7", expiry=dt.date(2028, 2, 29)))]  # fixed-date: a leap day stored and read back; no clock compares it
    writer = EventWriter(clickhouse, wait=lambda s: True, backoff=lambda a: 0.0)
    batch = PartitionBatch("t.movements", 0, [Record(i, b"k", v) for i, v in enumerate(values)])
    assert writer.write(batch) == []
    assert clickhouse.query("SELECT event_id, lot, expiry FROM movement_history ORDER BY event_id").result_rows == [
        ("ev-00000001", None, None), ("ev-00000002", None, None), ("ev-00000003", "LOT-7", dt.date(2028, 2, 29))]  # fixed-date: a leap day stored and read back; no clock compares it
    assert clickhouse.query("SELECT count() FROM event_log").result_rows == [(3,)]
