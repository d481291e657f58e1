"""`tagtrail epcis --shipment ID`: a shipment named by transaction id, bizTransaction id, document number or
an SSCC it lists gives the events of that transaction plus the SSCC's own events, streamed; an unknown one
exits 1 writing nothing; --sender/--receiver name the parties at the JSON-LD root and in the XML SBDH."""

from __future__ import annotations

import json

import yaml
from lxml import etree

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.events.item_master import ItemMaster
from tagtrail.history.migrations import migrate
from tagtrail.history.queries import (
    LOTS_IN_TRANSACTIONS,
    LOTS_PAGE_END_IN_TRANSACTIONS,
    find_transactions,
    lots_in_transactions,
)
from tests.history.business import DESADV, SSCC, crossing, shipment, store_item_master, store_transactions
from tests.history.conftest import store
from tests.history.scenario import HOUR, T0, item_key
from tests.history.test_cli import tagtrail
from tests.history.test_epcis import epcis_schema, validate  # noqa: F401 (the fixture)
from tests.history.test_epcis_locations import REPO
from tests.history.test_epcis_lots import MDA, instance_data
from tests.history.test_epcis_range import QueryCounter
from tests.history.test_event_hash import reference_hashes

OPEN, CLOSE = T0 + HOUR, T0 + 2 * HOUR
SENDER, RECEIVER = "0614141000005", "0614141000029"


def a_site(tmp_path, settings):
    site = yaml.safe_load((REPO / "deploy" / "site.example.yaml").read_text())
    site["clickhouse"] = {"dsn": settings.dsn, "database": settings.database}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def stored_day(settings) -> None:
    """Items 1 and 2 shipped at dock-door-2 during DA-1001 (pallet SSCC listed in it), item 3 after it
    closed, the pallet received an hour before the shipment opened (its own story, outside the window)."""
    client = connect_clickhouse(settings)
    try:
        store(client, [
            crossing(1, 0, T0, "dock-door-1", step="receiving", key=f"00/{SSCC}"),
            crossing(2, 1, OPEN + 10, "dock-door-2", step="shipping"),
            crossing(3, 2, OPEN + 20, "dock-door-2", step="shipping"),
            crossing(4, 0, OPEN + 30, "dock-door-2", step="shipping", key=f"00/{SSCC}"),
            crossing(5, 3, CLOSE + 10, "dock-door-2", step="shipping"),
        ])
        store_transactions(client, [shipment(OPEN, CLOSE, ssccs=(SSCC,))])
        store_item_master(client, [ItemMaster(event_id=f"import/ef56/{n}", item_key=item_key(n), lot=f"L-{n}",
                                              source="import", recorded_at=T0) for n in (1, 3)])
    finally:
        client.close()


def test_export_by_shipment_in_any_of_its_names_with_sender_and_receiver(clickhouse_settings, tmp_path, epcis_schema):
    site = a_site(tmp_path, clickhouse_settings)
    assert tagtrail("migrate", "--site", str(site)).returncode == 0
    stored_day(clickhouse_settings)
    out = tmp_path / "da-1001.json"
    done = tagtrail("epcis", "--shipment", "DA-1001", "--site", str(site), "--out", str(out),
                    "--sender", SENDER, "--receiver", RECEIVER)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    validate(doc, epcis_schema)
    events = doc["epcisBody"]["eventList"]
    assert [e["eventID"] for e in events] == reference_hashes(doc)
    pallet = f"https://id.gs1.org/00/{SSCC}"  # scanned by barcode: no EPC URI known
    assert [e["epcList"][0] for e in events] == [
        pallet, "urn:epc:id:sgtin:0614141.012345.1", "urn:epc:id:sgtin:0614141.012345.2", pallet]
    assert [e["bizStep"] for e in events] == ["receiving", "shipping", "shipping", "shipping"]
    assert "bizTransactionList" not in events[0]  # the pallet's receipt is its own story, not the shipment's
    assert all(e["bizTransactionList"] == [{"type": "desadv", "bizTransaction": DESADV}] for e in events[1:])
    assert (doc["sender"], doc["receiver"]) == (SENDER, RECEIVER) and doc["instanceIdentifier"]
    # item 1's imported lot in the header; item 3 (shipped after the window) is not in this document
    assert instance_data(doc) == {"urn:epc:id:sgtin:0614141.012345.1": {MDA + "lotNumber": "L-1"}}
    ranged = tagtrail("epcis", "--since", "2000-01-01T00:00:00Z", "--site", str(site))  # fixed-date: a floor before any stored time
    assert ranged.returncode == 0, ranged.stderr
    assert instance_data(json.loads(ranged.stdout)) == {
        f"urn:epc:id:sgtin:0614141.012345.{n}": {MDA + "lotNumber": f"L-{n}"} for n in (1, 3)}
    ids = [e["eventID"] for e in events]
    for name in (f"desadv:{DESADV}", DESADV, f"(00){SSCC}"):  # the same shipment by its other names
        again = tagtrail("epcis", "--shipment", name, "--site", str(site))
        assert again.returncode == 0, again.stderr
        assert [e["eventID"] for e in json.loads(again.stdout)["epcisBody"]["eventList"]] == ids, name
    xml = tagtrail("epcis", "--shipment", "DA-1001", "--site", str(site), "--format", "xml",
                   "--sender", SENDER, "--receiver", RECEIVER)
    assert xml.returncode == 0, xml.stderr
    root = etree.fromstring(xml.stdout.encode())
    assert [e.text for e in root.iter("eventID")] == ids
    assert [e.text for e in root.iter("{*}Identifier")] == [SENDER, RECEIVER]


def test_an_unknown_shipment_or_half_a_header_exits_with_a_clear_message_writing_nothing(clickhouse_settings, tmp_path):
    site = a_site(tmp_path, clickhouse_settings)
    assert tagtrail("migrate", "--site", str(site)).returncode == 0
    stored_day(clickhouse_settings)
    out = tmp_path / "nothing.json"
    unknown = tagtrail("epcis", "--shipment", "DA-9999", "--site", str(site), "--out", str(out))
    assert unknown.returncode == 1
    assert "no shipment or receipt recorded as 'DA-9999'" in unknown.stderr
    assert not out.exists() and not list(tmp_path.glob("nothing.json*"))
    lone = tagtrail("epcis", "--shipment", "DA-1001", "--site", str(site), "--sender", SENDER)
    assert lone.returncode == 2 and "--sender and --receiver together" in lone.stderr and lone.stdout == ""
    bad = tagtrail("epcis", "--shipment", "DA-1001", "--site", str(site), "--sender", "0614141000006",
                   "--receiver", RECEIVER)
    assert bad.returncode == 2 and "sender '0614141000006'" in bad.stderr
    both = tagtrail("epcis", "--shipment", "DA-1001", "--since", "2026-01-01T00:00:00Z", "--site", str(site))  # fixed-date: refused before it is read
    assert both.returncode == 2 and "not both" in both.stderr


def test_a_shipments_lots_come_a_page_of_items_at_a_time_each_item_once(clickhouse_settings):
    """The header's lots of a shipment (its events' items and its SSCC) are read a page of items at a time in
    item_key order (the engine's memory follows the page): one item per page gives the same rows as one page."""
    client = connect_clickhouse(clickhouse_settings)
    try:
        migrate(client)
        stored_day(clickhouse_settings)
        store_item_master(client, [ItemMaster(event_id=f"import/ef57/{n}", item_key=key, lot=f"P-{n}", source="import",
                                              recorded_at=T0 + 1) for n, key in enumerate([item_key(2), f"00/{SSCC}"])],
                          first_offset=2)  # after stored_day's two
        ids = [t["transaction_id"] for t in find_transactions(client, "DA-1001")]
        counted = QueryCounter(client, LOTS_PAGE_END_IN_TRANSACTIONS, LOTS_IN_TRANSACTIONS)
        rows = list(lots_in_transactions(counted, ids, [f"00/{SSCC}"], page_items=1))
        assert [(row["item_key"], row["lot"]) for row in rows] == [
            (f"00/{SSCC}", "P-1"), (item_key(1), "L-1"), (item_key(2), "P-0")]
        assert counted.ran == ["lots_page_end_in_transactions", "lots_in_transactions"] * 3 + ["lots_page_end_in_transactions"]
        assert list(lots_in_transactions(client, ids, [f"00/{SSCC}"])) == rows
    finally:
        client.close()
