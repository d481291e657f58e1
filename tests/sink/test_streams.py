"""The transactions and item-master topics reach business_transactions and item_master exactly once, as
movements do: refused records go to dead letters naming the fault, offsets are committed only after the
insert, and neither a restart nor a crash replay stores a record twice."""

from __future__ import annotations

import datetime as dt

import pytest

from tagtrail.events import BusinessTransaction, ItemMaster, PartyOrPlace
from tagtrail.history.migrations import migrate
from tagtrail.wire import Codec
from tagtrail_processors.sink.offset_checkpoint import before_offsets
from tagtrail_processors.sink.streams import ITEM_MASTER, MOVEMENTS, TRANSACTIONS
from tagtrail_processors.sink.writer import EventWriter
from tests.sink.helpers import (
    MOVEMENTS as MOVEMENT_CODEC,
)
from tests.sink.helpers import (
    T0,
    SinkThread,
    committed_lag,
    count,
    movement,
    produce,
    read_as_the_sink,
    read_dead_letters,
    site_for,
    wait_until,
)

# An expiry some way ahead of today, so nothing here ever reads as an expired item.
EXPIRY = (dt.datetime.now(dt.UTC) + dt.timedelta(days=730)).date()

pytestmark = pytest.mark.kafka

TRANSACTIONS_CODEC = Codec("BusinessTransaction")
ITEM_MASTER_CODEC = Codec("ItemMaster")
COMPANY = "https://id.gs1.org/417/0614141000005"
PARTNER = "https://id.gs1.org/417/0012345000058"


def shipment(n: int, *, status: str = "open", recorded_us: int | None = None, **fields) -> BusinessTransaction:
    doc = f"urn:epcglobal:cbv:bt:0614141000005:DA-{n}"
    opened = T0 + n * 1_000_000
    return BusinessTransaction(
        event_id=f"api/{n:04d}-{status}", transaction_id=f"desadv:{doc}", type="desadv", id=doc,
        direction=fields.pop("direction", "outbound"), location="dock-door-2", status=status, opened_at=opened,
        closed_at=opened + 3_600_000_000 if status == "closed" else None,
        sources=[PartyOrPlace(type="owning_party", id=COMPANY)],
        destinations=[PartyOrPlace(type="owning_party", id=PARTNER)],
        ssccs=["106141411234567897"], recorded_at=recorded_us or opened, **fields)


def lot_of(item: int, lot: str, *, source: str = "import", recorded_us: int) -> ItemMaster:
    return ItemMaster(event_id=f"import/0123456789abcdef/{item}-{recorded_us}", item_key=f"01/00614141123452/21/{item}",
                      lot=lot, expiry=EXPIRY, source=source, recorded_at=recorded_us)


def produce_transactions(kafka, transactions: list[BusinessTransaction]) -> None:
    produce(kafka, [(t.transaction_id.encode(), TRANSACTIONS_CODEC.encode(t)) for t in transactions], kafka.topics.transactions)


def produce_lots(kafka, records: list[ItemMaster]) -> None:
    produce(kafka, [(r.item_key.encode(), ITEM_MASTER_CODEC.encode(r)) for r in records], kafka.topics.item_master)


def all_committed(kafka) -> bool:
    return all(committed_lag(kafka, stream) == 0 for stream in (MOVEMENTS, TRANSACTIONS, ITEM_MASTER))


def physical_rows(clickhouse, table: str) -> int:
    """Rows as inserted: merges are stopped, so a record stored twice would show as two."""
    return count(clickhouse, f"SELECT count() FROM {table}")


def stop_merges(clickhouse) -> None:
    migrate(clickhouse)
    for table in ("business_transactions", "item_master"):
        clickhouse.command(f"SYSTEM STOP MERGES {table}")


def test_transactions_and_lots_stored_once_refused_ones_dead_lettered_and_a_restart_adds_nothing(
        kafka, clickhouse_target, clickhouse):
    stop_merges(clickhouse)
    opened, other = shipment(1), shipment(2, direction="inbound")
    closed = shipment(1, status="closed", recorded_us=opened.recorded_at + 3_600_000_000)
    bad_status = shipment(3, status="pending")  # valid Avro, refused by the table's known_status constraint
    a_movement = movement(1)  # a Movement on the transactions topic
    produce_transactions(kafka, [opened, other])
    produce(kafka, [(b"garbage", b"not avro at all"), (b"mv", MOVEMENT_CODEC.encode(a_movement))], kafka.topics.transactions)
    produce_transactions(kafka, [bad_status, closed])
    imported = lot_of(7, "LOT-A", recorded_us=T0)
    scanned = lot_of(7, "LOT-B", source="scan", recorded_us=T0 + 60_000_000)
    guessed = lot_of(8, "LOT-C", source="guess", recorded_us=T0)
    produce_lots(kafka, [imported, guessed, scanned, lot_of(9, "LOT-9", recorded_us=T0)])

    with SinkThread(site_for(kafka, clickhouse_target.settings), kafka, clickhouse):
        wait_until(lambda: all_committed(kafka), 60, "every stream stored and committed")

    assert physical_rows(clickhouse, "business_transactions") == 3
    latest = clickhouse.query(
        "SELECT transaction_id, status, closed_at IS NOT NULL, direction, arrayZip(sources.type, sources.id), "
        "arrayZip(destinations.type, destinations.id), ssccs, event_id "
        "FROM business_transactions FINAL ORDER BY transaction_id").result_rows
    assert latest == [
        (closed.transaction_id, "closed", True, "outbound", [("owning_party", COMPANY)], [("owning_party", PARTNER)],
         ["106141411234567897"], closed.event_id),
        (other.transaction_id, "open", False, "inbound", [("owning_party", COMPANY)], [("owning_party", PARTNER)],
         ["106141411234567897"], other.event_id)]
    assert physical_rows(clickhouse, "item_master") == 3
    assert clickhouse.query("SELECT item_key, lot, expiry, source FROM item_master FINAL ORDER BY item_key").result_rows == [
        (imported.item_key, "LOT-B", EXPIRY, "scan"), ("01/00614141123452/21/9", "LOT-9", EXPIRY, "import")]

    letters = {bytes(letter.payload): letter for letter in read_dead_letters(kafka, expected=4)}
    assert len(letters) == 4
    assert letters[b"not avro at all"].reason == "undecodable"
    assert "written as tagtrail.events.Movement" in letters[MOVEMENT_CODEC.encode(a_movement)].error
    refused = letters[TRANSACTIONS_CODEC.encode(bad_status)]
    assert refused.reason == "rejected_by_clickhouse" and "known_status" in refused.error
    assert refused.context["topic"] == kafka.topics.transactions
    refused_lot = letters[ITEM_MASTER_CODEC.encode(guessed)]
    assert refused_lot.reason == "rejected_by_clickhouse" and "known_source" in refused_lot.error
    assert refused_lot.context["topic"] == kafka.topics.item_master

    # a restart reads on from the committed offsets: the new record only, nothing stored twice
    reopened = shipment(2, status="closed", direction="inbound", recorded_us=other.recorded_at + 60_000_000)
    produce_transactions(kafka, [reopened])
    with SinkThread(site_for(kafka, clickhouse_target.settings), kafka, clickhouse):
        wait_until(lambda: all_committed(kafka), 60, "the new record stored and committed")
    assert physical_rows(clickhouse, "business_transactions") == 4
    assert physical_rows(clickhouse, "item_master") == 3
    assert clickhouse.query(f"SELECT status FROM business_transactions FINAL WHERE transaction_id = '{other.transaction_id}'"
                            ).result_rows == [("closed",)]
    assert len(read_dead_letters(kafka, expected=4)) == 4


def test_a_transactions_batch_pending_at_a_crash_is_stored_once(kafka, clickhouse_target, clickhouse):
    """The state a crash leaves: BEFORE committed, the batch inserted, AFTER not. The restarted sink
    rebuilds the same batch (same token) and ClickHouse drops the repeat."""
    stop_merges(clickhouse)
    transactions = [shipment(n) for n in range(60)]
    produce_transactions(kafka, transactions)
    consumer, batches = read_as_the_sink(kafka, len(transactions), per_partition=10, stream=TRANSACTIONS)
    consumer.commit(offsets=before_offsets([[b] for b in batches]), asynchronous=False)
    writer = EventWriter(clickhouse, wait=lambda s: True, backoff=lambda a: 0.0, stream=TRANSACTIONS)
    for batch in batches:
        assert writer.write(batch) == []
    consumer.close()
    assert physical_rows(clickhouse, "business_transactions") == sum(len(b.records) for b in batches)

    with SinkThread(site_for(kafka, clickhouse_target.settings, batch_rows=7), kafka, clickhouse):
        wait_until(lambda: committed_lag(kafka, TRANSACTIONS) == 0, 60, "transactions committed")
    assert physical_rows(clickhouse, "business_transactions") == len(transactions)
    assert count(clickhouse, "SELECT uniqExact(transaction_id) FROM business_transactions") == len(transactions)
