"""Events carry the business transaction they belong to (bizTransactionList, sourceList, destinationList),
by the one matching rule of migration 0008's event_transactions: at the transaction's door, in its
half-open window [opened_at, closed_at), going its way. Schema-valid, and the reference hash reproduces
every eventID."""

from __future__ import annotations

import io
import json

import msgspec

from tagtrail.events import PartyOrPlace
from tagtrail.history.epcis import export_epcis, iter_events, iter_shipment_events, write_epcis_json
from tagtrail.history.epcis_places import EpcisPlaces
from tagtrail.history.migrations import migrate
from tagtrail.history.shipment import find_shipment
from tests.history.business import (
    CUSTOMER,
    CUSTOMER_DC,
    DESADV,
    SUPPLIER,
    crossing,
    receipt,
    shipment,
    store_transactions,
)
from tests.history.conftest import store
from tests.history.revisions import version
from tests.history.scenario import HOUR, T0, item_key, mv
from tests.history.test_epcis import epcis_schema, validate  # noqa: F401 (the fixture)
from tests.history.test_epcis_locations import SGLN, example_site
from tests.history.test_event_hash import reference_hashes

OPEN, CLOSE = T0 + HOUR, T0 + 2 * HOUR
COMPANY = "urn:epc:id:pgln:0614141.00000"  # the example site's company GLN 0614141000005


def the_edges() -> list:
    """Crossings around the shipment's window at dock-door-2 [OPEN, CLOSE), and elsewhere inside it."""
    return [
        crossing(1, 1, OPEN - 1, "dock-door-2", step="shipping"),   # just before opened_at
        crossing(2, 2, OPEN, "dock-door-2", step="shipping"),       # at opened_at: in
        crossing(3, 3, CLOSE - 1, "dock-door-2", step="shipping"),  # just before closed_at: in
        crossing(4, 4, CLOSE, "dock-door-2", step="shipping"),      # at closed_at: after it
        crossing(5, 5, OPEN + 10, "dock-door-1", step="shipping"),  # another door
        crossing(6, 6, OPEN + 20, "dock-door-2", step="receiving"),  # the door, but the other way
        mv(7, 7, OPEN + 30, "dock-door-2", "storage-a", step="storing", disp="sellable_not_accessible",
           rp="aisle-a-storage"),                                   # leaving the door into storage: no shipping
    ]


def exported(client, site=None) -> dict:
    places = EpcisPlaces.of(site)
    out = io.StringIO()
    write_epcis_json(out, places.master_data(), iter_events(client, places=places))
    return json.loads(out.getvalue())


def test_the_matching_rule_at_its_edges(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, the_edges())
    store_transactions(clickhouse, [shipment(OPEN, CLOSE)])
    doc = exported(clickhouse, example_site())
    validate(doc, epcis_schema)
    events = doc["epcisBody"]["eventList"]
    assert [e["eventID"] for e in events] == reference_hashes(doc)
    carrying = {e["epcList"][0] for e in events if "bizTransactionList" in e}
    assert carrying == {"urn:epc:id:sgtin:0614141.012345.2", "urn:epc:id:sgtin:0614141.012345.3"}
    inside = next(e for e in events if e["epcList"] == ["urn:epc:id:sgtin:0614141.012345.2"])
    assert inside["bizTransactionList"] == [{"type": "desadv", "bizTransaction": DESADV}]
    assert inside["destinationList"] == [{"type": "owning_party", "destination": CUSTOMER},
                                         {"type": "location", "destination": CUSTOMER_DC}]
    # the shipment names no source: the site's own company (its GLN from the site file) is the owner shipping
    assert inside["sourceList"] == [{"type": "owning_party", "source": COMPANY}]
    # the door an exit left by is a GS1 place too, not the site's id for it
    assert inside["tagtrail:shippedVia"] == SGLN + "dock-2"
    assert inside["tagtrail:fromLocation"] == SGLN + "dock-2"
    rows = clickhouse.query("SELECT event_id FROM event_transactions ORDER BY event_id").result_rows
    assert rows == [("ev-2",), ("ev-3",)]


def test_a_receipt_gives_source_supplier_and_destination_the_site_and_an_item_export_agrees(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, [crossing(1, 1, OPEN + 5, "dock-door-1", step="receiving", action="ADD"),
                       mv(2, 1, OPEN + HOUR, "dock-door-1", "storage-a", step="storing", disp="sellable_not_accessible",
                          rp="aisle-a-storage")])
    store_transactions(clickhouse, [receipt(OPEN)])  # still open: no end
    doc = export_epcis(clickhouse, item_key(1), site=example_site())
    validate(doc, epcis_schema)
    received, stored = doc["epcisBody"]["eventList"]
    assert [received["eventID"], stored["eventID"]] == reference_hashes(doc)
    assert received["bizTransactionList"] == [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-77"}]
    assert received["sourceList"] == [{"type": "owning_party", "source": SUPPLIER}]
    assert received["destinationList"] == [{"type": "owning_party", "destination": COMPANY}]
    assert not {"bizTransactionList", "sourceList", "destinationList"} & set(stored)  # storing is not receiving
    # the range export gives the same event, eventID included
    assert exported(clickhouse, example_site())["epcisBody"]["eventList"][0] == received


def test_two_transactions_in_effect_are_both_listed_and_a_digital_link_site_names_its_party_so(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, [crossing(1, 1, OPEN + 5, "dock-door-2", step="shipping")])
    store_transactions(clickhouse, [shipment(OPEN, None), receipt(OPEN, location="dock-door-2", po="PO-9")])
    po_out = receipt(OPEN, location="dock-door-2", po="PO-10")
    store_transactions(clickhouse, [msgspec.structs.replace(po_out, direction="outbound", sources=[])], first_offset=2)
    doc = export_epcis(clickhouse, item_key(1), site=example_site(), digital_link=True)
    validate(doc, epcis_schema)
    (event,) = doc["epcisBody"]["eventList"]
    assert [event["eventID"]] == reference_hashes(doc)
    # the inbound PO-9 at that door does not cover a shipping crossing; desadv and the outbound PO-10 do
    assert event["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": DESADV},
        {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:PO-10"}]
    assert event["sourceList"] == [{"type": "owning_party", "source": "https://id.gs1.org/417/0614141000005"}]


def test_a_shipment_closed_later_keeps_covering_what_happened_while_it_was_open(clickhouse):
    migrate(clickhouse)
    store(clickhouse, [crossing(1, 1, OPEN + 5, "dock-door-2", step="shipping"),
                       crossing(2, 2, CLOSE + 5, "dock-door-2", step="shipping")])
    store_transactions(clickhouse, [shipment(OPEN, None)])
    before = exported(clickhouse)["epcisBody"]["eventList"]
    assert ["bizTransactionList" in e for e in before] == [True, True]  # open: no end yet
    store_transactions(clickhouse, [shipment(OPEN, CLOSE)], first_offset=1)  # the close: latest record wins
    after = exported(clickhouse)["epcisBody"]["eventList"]
    assert ["bizTransactionList" in e for e in after] == [True, False]
    assert after[0] == before[0]


def test_each_version_carries_the_context_of_its_own_place_and_a_shipment_export_shows_the_correction(clickhouse, epcis_schema):
    migrate(clickhouse)
    first = crossing(1, 1, OPEN + 5, "dock-door-2", step="shipping")
    # a late read: the crossing was at dock-door-1, where no shipment was open
    late = version(first, recorded_at=first.recorded_at + HOUR, to_location="dock-door-1", from_location="dock-door-1",
                   read_point="door-1-outer")
    store(clickhouse, [first])
    store(clickhouse, [late], first_offset=1)
    store_transactions(clickhouse, [shipment(OPEN, CLOSE)])
    doc = export_epcis(clickhouse, item_key(1), site=example_site())
    validate(doc, epcis_schema)
    original, corrected = doc["epcisBody"]["eventList"]
    assert [original["eventID"], corrected["eventID"]] == reference_hashes(doc)
    # the original was exported (and hashed) with the shipment: it keeps it, declared wrong, naming its correction
    assert original["bizTransactionList"] == [{"type": "desadv", "bizTransaction": DESADV}]
    assert original["errorDeclaration"]["correctiveEventIDs"] == [corrected["eventID"]]
    assert "bizTransactionList" not in corrected and "errorDeclaration" not in corrected
    found = find_shipment(clickhouse, "DA-1001")
    shown = list(iter_shipment_events(clickhouse, found, places=EpcisPlaces.of(example_site())))
    assert shown == [original, corrected]  # the event is in the shipment by a version: shown whole


def test_the_sites_own_party_and_door_recorded_as_digital_links_are_named_as_the_export_names_them(clickhouse, epcis_schema):
    """The scan service records this site's side of a shipment as Digital Links; an export in EPC URIs
    names them as its readPoint, bizLocation and header do, so a partner finds them in the master data."""
    migrate(clickhouse)
    store(clickhouse, [crossing(1, 1, OPEN + 5, "dock-door-2", step="shipping")])
    own = [PartyOrPlace(type="owning_party", id="https://id.gs1.org/417/0614141000005"),
           PartyOrPlace(type="location", id="https://id.gs1.org/414/0614141000012/254/dock-2")]
    store_transactions(clickhouse, [msgspec.structs.replace(shipment(OPEN, None), sources=own)])
    for digital_link, party, door in ((False, COMPANY, SGLN + "dock-2"),
                                      (True, own[0].id, own[1].id)):
        doc = export_epcis(clickhouse, item_key(1), site=example_site(), digital_link=digital_link)
        validate(doc, epcis_schema)
        (event,) = doc["epcisBody"]["eventList"]
        assert [event["eventID"]] == reference_hashes(doc)
        assert event["sourceList"] == [{"type": "owning_party", "source": party}, {"type": "location", "source": door}]
        assert event["destinationList"] == [{"type": "owning_party", "destination": CUSTOMER},
                                            {"type": "location", "destination": CUSTOMER_DC}]
        described = {e["id"] for v in doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
                     for e in v["vocabularyElementList"]}
        assert door in described
