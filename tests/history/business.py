"""Shipments, receipts and item master data stored the way the sink stores them (Avro through its writer
into the ingest tables), and the movements a shipment test needs: items shipped or received at a door."""

from __future__ import annotations

import datetime as dt

from tagtrail.events import Identity, Movement
from tagtrail.events.business_transaction import BusinessTransaction, PartyOrPlace, transaction_key
from tagtrail.events.item_master import ItemMaster
from tagtrail.wire import Codec
from tagtrail_processors.sink.batches import PartitionBatch, Record
from tagtrail_processors.sink.streams import ITEM_MASTER, TRANSACTIONS, SinkStream
from tagtrail_processors.sink.writer import EventWriter
from tests.history.scenario import GTIN, item_key

DESADV = "urn:epcglobal:cbv:bt:0614141000005:DA-1001"
CUSTOMER = "https://id.gs1.org/417/0614141000029"  # the partner's party GLN (417) and ship-to location (414)
CUSTOMER_DC = "https://id.gs1.org/414/0614141000036"
SUPPLIER = "https://id.gs1.org/417/0614141000043"
SSCC = "106141411234567897"


def _write(client, stream: SinkStream, event_type: str, values: list, keys: list[str], first_offset: int) -> None:
    codec = Codec(event_type)
    records = [Record(first_offset + i, key.encode(), codec.encode(v)) for i, (key, v) in enumerate(zip(keys, values))]
    writer = EventWriter(client, wait=lambda s: True, backoff=lambda a: 0.1, stream=stream)
    assert writer.write(PartitionBatch(f"test.{stream.name}", 0, records)) == []


def store_transactions(client, transactions: list[BusinessTransaction], *, first_offset: int = 0) -> None:
    _write(client, TRANSACTIONS, "BusinessTransaction", transactions, [t.transaction_id for t in transactions], first_offset)


def store_item_master(client, records: list[ItemMaster], *, first_offset: int = 0) -> None:
    _write(client, ITEM_MASTER, "ItemMaster", records, [r.item_key for r in records], first_offset)


def shipment(opened_at: int, closed_at: int | None, *, location: str = "dock-door-2", ssccs: tuple[str, ...] = (),
             recorded_at: int | None = None) -> BusinessTransaction:
    """Despatch advice DA-1001 to the customer, at `location`, open [opened_at, closed_at)."""
    return BusinessTransaction(
        event_id="api/test-desadv", transaction_id=transaction_key("desadv", DESADV), type="desadv", id=DESADV,
        direction="outbound", location=location, status="open" if closed_at is None else "closed",
        opened_at=opened_at, closed_at=closed_at, recorded_at=recorded_at or (closed_at or opened_at) + 1,
        destinations=[PartyOrPlace(type="owning_party", id=CUSTOMER), PartyOrPlace(type="location", id=CUSTOMER_DC)],
        ssccs=list(ssccs))


def receipt(opened_at: int, *, location: str = "dock-door-1", po: str = "PO-77") -> BusinessTransaction:
    """An open receipt against purchase order `po` from the supplier, at `location`."""
    bt = f"urn:epcglobal:cbv:bt:0614141000005:{po}"
    return BusinessTransaction(
        event_id="api/test-po", transaction_id=transaction_key("po", bt), type="po", id=bt, direction="inbound",
        location=location, status="open", opened_at=opened_at, recorded_at=opened_at + 1,
        sources=[PartyOrPlace(type="owning_party", id=SUPPLIER)])


def crossing(n: int, item: int, at_us: int, door: str, *, step: str, lot: str | None = None,
             expiry: dt.date | None = None, action: str = "OBSERVE", key: str | None = None) -> Movement:
    """Item `item` (or the unit `key`) at `door`: a shipping crossing (outbound) or a receiving one (inbound)."""
    outbound = step in ("shipping", "staging_outbound", "loading", "packing")
    identity = (Identity(item_key=key, scheme="sscc", sscc=key[3:]) if key else
                Identity(item_key=item_key(item), scheme="sgtin", gtin=GTIN, serial=str(item),
                         epc_uri=f"urn:epc:id:sgtin:0614141.012345.{item}"))
    return Movement(
        event_id=f"ev-{n}", identity=identity, movement_type="state_changed" if outbound else "arrived",
        biz_step=step, disposition="in_transit" if outbound else "in_progress", event_time=at_us,
        recorded_at=at_us + 1000, from_location=door if outbound else None, to_location=door,
        read_point=f"{door.replace('dock-door', 'door')}-{'outer' if outbound else 'inner'}",
        direction="outbound" if outbound else "inbound", action=action, source_event_ids=[f"read-{n}"],
        lot=lot, expiry=expiry)
