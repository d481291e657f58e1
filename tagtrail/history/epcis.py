"""One item's movement history as an EPCIS 2.0 JSON-LD document (EPCISDocument of ObjectEvents).

Identifiers: the EPC pure-identity URI where tagtrail knows it (read from an RFID tag), otherwise the
GS1 Digital Link URI built from the item key (https://id.gs1.org/01/<gtin>/21/<serial>), which is what
a barcode-only item can always produce. bizStep and disposition use the CBV 2.0 short names the 2.0
JSON-LD context defines; site-specific values that are not CBV become urn:tagtrail:... URIs (EPCIS
forbids made-up urn:epcglobal:cbv values). Read points and locations are SGLNs from the site config
(or GS1 Digital Link on request), described in the header's master data, and eventTimeZoneOffset is the
site time zone's offset at each event; epcis_places.py says how and why (urn:tagtrail:<kind>:<id> where
the site gives no GS1 id).

Leaving the building is one event: the shipping ObjectEvent at the door's read point, with disposition
in_transit and no bizLocation (CBV: after it the objects are at no business location of this site; the
door they left by is `tagtrail:shippedVia`, named as a place like bizLocation). The `departed` that histories stored before migration 0005
carry after it is hidden by movement_history, whose rule event_versions.py asks, so no export holds a
shipping and a departing event for one exit.

Any scope (one item, a time range, a location) comes out of `iter_events` as finished, hashed events in
time order, read from the stored versions in bounded pages, each revised or retracted event with its
errorDeclaration (corrections.py); `write_epcis_json` streams them into a document, head first, so an
export of any size holds one page of events, never the list. A range export's header describes all the
site's places that have a GS1 id, not only those its events use: the header is written before the first
event is read, and a second pass over the range to find the used ones would cost a second full read.
Its EPCInstance lots (one element per item of the range) are streamed the same way: read a page of items
at a time in item_key order and written into the header as they come (epcis_lots.StreamedVocabulary), in
the text json.dumps would give the listed vocabulary.
A shipment (shipment.py) is one more scope, `iter_shipment_events`, whose events are finished alike.

What an event says about business transactions and parties (bizTransactionList, sourceList,
destinationList) is epcis_transactions.py's, read a batch of event versions at a time from migration
0008's event_transactions; where lot and expiry go (ILMD on commissioning, EPCInstance master data in
the header otherwise) is epcis_lots.py's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any
from urllib.parse import quote

from tagtrail.config import SiteConfig
from tagtrail.history.corrections import declared, shown_events
from tagtrail.history.epcis_lots import (
    StreamedVocabulary,
    ilmd,
    instance_vocabulary,
    streamed_instance_vocabulary,
    with_vocabulary,
)
from tagtrail.history.epcis_places import EpcisPlaces
from tagtrail.history.epcis_transactions import attach_transactions, business_lists, groups_with_transactions
from tagtrail.history.event_hash import event_hash
from tagtrail.history.event_versions import item_version_groups, version_groups_in_range
from tagtrail.history.queries import lots_of_items
from tagtrail.history.shipment import Shipment, version_groups_in_shipment

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
TAGTRAIL_CONTEXT = {"tagtrail": "urn:tagtrail:epcis:"}
GS1_DIGITAL_LINK = "https://id.gs1.org/"

CBV_BIZ_STEPS = frozenset(
    ["accepting", "arriving", "assembling", "collecting", "commissioning", "consigning", "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying", "disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting", "installing", "killing", "loading", "other", "packing", "picking", "receiving", "removing", "repackaging", "repairing", "replacing", "reserving", "retail_selling", "shipping", "staging_outbound", "stock_taking", "stocking", "storing", "transporting", "unloading", "unpacking", "void_shipping", "sensor_reporting", "sampling"]
)
CBV_DISPOSITIONS = frozenset(
    ["active", "container_closed", "damaged", "destroyed", "dispensed", "disposed", "encoded", "expired", "in_progress", "in_transit", "inactive", "no_pedigree_match", "non_sellable_other", "partially_dispensed", "recalled", "reserved", "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen", "unknown", "available", "completeness_verified", "completeness_inferred", "conformant", "container_open", "mismatch_instance", "mismatch_class", "mismatch_quantity", "needs_replacement", "non_conformant", "unavailable"]
)
GS1_KEY_PREFIXES = ("01/", "00/", "8003/", "8004/", "414/")
EXIT_STEPS = frozenset({"shipping", "departing"})  # the processor's rule for an item that left the site


def export_epcis(client: Any, item_key: str, *, now: dt.datetime | None = None, site: SiteConfig | None = None,
                 digital_link: bool = False) -> dict:
    """The EPCISDocument for one item; an item without movements gives an empty event list. `site` names
    the places (SGLNs, master data, time zone); `digital_link` names them https://id.gs1.org/414/...
    One item's events are few, so they are listed, and the header describes just the places they use."""
    places = EpcisPlaces.of(site, digital_link=digital_link)
    events = list(iter_events(client, item_key=item_key, places=places))
    header = with_vocabulary(places.master_data(), lot_master_data(lots_of_items(client, [item_key])) if events else None)
    doc = document_head(now=now, header=header)
    doc["epcisBody"] = {"eventList": events}
    return doc


def iter_events(client: Any, *, item_key: str | None = None, since: dt.datetime | None = None,
                until: dt.datetime | None = None, location: str | None = None, site: SiteConfig | None = None,
                digital_link: bool = False, places: EpcisPlaces | None = None,
                page_size: int = 10_000) -> Iterator[dict]:
    """Finished ObjectEvents (eventID set last) in (event_time, event_id) order: one item's history, or
    the events in [since, until) at `location` (each optional), read from the stored versions (event_log)
    `page_size` at a time. An event revised or retracted since it was first exported comes again as it
    was, with an errorDeclaration, right before its correction (corrections.py). An event is the same,
    eventID and declaration included, whichever scope exported it. `places` (else made from `site` and
    `digital_link`) records the places used, for a header written after the events."""
    places = places or EpcisPlaces.of(site, digital_link=digital_link)
    if item_key is not None:
        if since is not None or until is not None or location is not None:
            raise ValueError("iter_events: give an item_key or a range (since/until/location), not both")
        groups, epc_uri = item_version_groups(client, item_key)
        attach_transactions(client, [version for group in groups for version in group])  # epcis_transactions.py
        for group in groups:
            yield from _shown(group, item_key, epc_uri, places)
        return
    for group, epc_uri in groups_with_transactions(
            client, version_groups_in_range(client, since, until, location, page_size=page_size)):
        yield from _shown(group, group[0]["item_key"], epc_uri, places)


def iter_shipment_events(client: Any, shipment: Shipment, *, places: EpcisPlaces,
                         page_size: int = 10_000) -> Iterator[dict]:
    """A shipment's events (shipment.py says which), finished as iter_events finishes every event: each is
    the same, eventID and declaration included, as the item's or a range's export gives it."""
    for group, epc_uri in groups_with_transactions(client, version_groups_in_shipment(client, shipment,
                                                                                       page_size=page_size)):
        yield from _shown(group, group[0]["item_key"], epc_uri, places)


def lot_master_data(lots: list[dict]) -> dict | None:
    """The EPCInstance vocabulary (epcis_lots.py) of the items whose lot or expiry is known, named as their
    events name them; None when none is."""
    return instance_vocabulary(lots, item_uri)


def streamed_lot_master_data(lots: Iterable[dict]) -> StreamedVocabulary | None:
    """lot_master_data for a range or shipment: `lots` come in item_key order (queries.lots_in_range,
    lots_in_transactions) and are written into the header as they are read, never held as a list."""
    return streamed_instance_vocabulary(lots, item_uri)


def _shown(versions: list[dict], item_key: str, epc_uri: str | None, places: EpcisPlaces) -> Iterator[dict]:
    """What one history event's versions show (corrections.py decides); the errorDeclaration is added after
    the eventID, which the canonical hash computes without it."""
    for shown in shown_events(versions, lambda version: with_event_id(object_event(version, item_key, epc_uri, places))):
        yield declared(shown, _time)


def site_master_data(places: EpcisPlaces) -> dict | None:
    """Master data for every place of the site with a GS1 id: a streamed header cannot wait for the events."""
    for location_id in places.locations:
        places.location(location_id)
    for read_point_id in places.read_points:
        places.read_point(read_point_id)
    return places.master_data()


def document_head(*, now: dt.datetime | None = None, header: dict | None = None,
                  parties: dict[str, str] | None = None) -> dict:
    """The document without its body. `parties`: sender, receiver and instanceIdentifier
    (document_header.DocumentHeader.json_fields()), which EPCIS 2.0 JSON-LD carries at the document root."""
    doc: dict[str, Any] = {
        "@context": [EPCIS_CONTEXT, TAGTRAIL_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(now or dt.datetime.now(dt.UTC)),
    }
    doc.update(parties or {})
    if header:
        doc["epcisHeader"] = header
    return doc


def document(events: list[dict], *, now: dt.datetime | None = None, header: dict | None = None) -> dict:
    doc = document_head(now=now, header=header)
    doc["epcisBody"] = {"eventList": [with_event_id(e) for e in events]}  # last: each hash covers its finished event
    return doc


def write_epcis_json(out: IO[str], header: dict | None, events: Iterable[dict], *,
                     now: dt.datetime | None = None, parties: dict[str, str] | None = None) -> int:
    """Streams the EPCISDocument of `events` (finished, as iter_events yields them) to `out`, each event
    written as it comes, and returns how many. The text is exactly `json.dumps(document, indent=2)` of the
    same document, so a streamed export reads like the one-item one did. A StreamedVocabulary in the header
    (epcis_lots.py: a range's EPCInstance lots) is written the same way, element by element, where it stands."""
    streamed, header = _streamed_vocabulary(header)
    head = json.dumps(document_head(now=now, header=header, parties=parties), indent=2)
    if streamed is not None:
        before, _, head = head.partition(json.dumps(STREAMED_MARK))
        out.write(before)
        line = before.rpartition("\n")[2]
        _write_json_list(out, streamed.elements, len(line) - len(line.lstrip(" ")))
    out.write(head[:-2] + ',\n  "epcisBody": {\n    "eventList": ')
    count = _write_json_list(out, events, 4)
    out.write("\n  }\n}\n")
    return count


STREAMED_MARK = "\x00streamed vocabularyElementList\x00"  # where the streamed elements go in the head's text


def _streamed_vocabulary(header: dict | None) -> tuple[StreamedVocabulary | None, dict | None]:
    """The header's streamed vocabulary (one at most), and the header with a mark in its place."""
    vocabularies = ((header or {}).get("epcisMasterData") or {}).get("vocabularyList") or []
    streamed = [v for v in vocabularies if isinstance(v, StreamedVocabulary)]
    if not streamed:
        return None, header
    if len(streamed) > 1:
        raise ValueError("epcisHeader: one streamed vocabulary at most")
    marked = [{"type": v.type, "vocabularyElementList": STREAMED_MARK} if v is streamed[0] else v for v in vocabularies]
    return streamed[0], {**header, "epcisMasterData": {**header["epcisMasterData"], "vocabularyList": marked}}


def _write_json_list(out: IO[str], items: Iterable[dict], indent: int) -> int:
    """Writes a JSON array as json.dumps(indent=2) lays it out `indent` spaces in, one member at a time;
    returns how many."""
    pad = "\n" + " " * (indent + 2)
    out.write("[")
    count = 0
    for item in items:
        out.write(("," if count else "") + pad + json.dumps(item, indent=2).replace("\n", pad))
        count += 1
    out.write("\n" + " " * indent + "]" if count else "]")
    return count


def object_event(row: dict, item_key: str, epc_uri: str | None, places: EpcisPlaces | None = None) -> dict:
    places = places or EpcisPlaces.of(None)
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": _time(row["event_time"]),
        "recordTime": _time(row["recorded_at"]),
        "eventTimeZoneOffset": places.time_zone_offset(row["event_time"]),
    }
    identifier = item_uri(item_key, epc_uri)
    if item_key.startswith("01/") and "/21/" not in item_key:
        event["epcList"] = []
        event["quantityList"] = [{"epcClass": identifier}]  # a GTIN without serial names a class, not an instance
    else:
        event["epcList"] = [identifier]
    event["action"] = row["action"]
    event["bizStep"] = vocabulary(row["biz_step"], CBV_BIZ_STEPS, "bizstep")
    event["disposition"] = vocabulary(row["disposition"], CBV_DISPOSITIONS, "disposition")
    if row["read_point"]:
        event["readPoint"] = {"id": places.read_point(row["read_point"])}
    if row["biz_step"] not in EXIT_STEPS and row["to_location"]:
        event["bizLocation"] = {"id": places.location(row["to_location"])}
    event.update(business_lists(row.get("transactions") or [], places))  # epcis_transactions.py
    if (created := ilmd(row)) is not None:  # epcis_lots.py: only on the event that commissions the item
        event["ilmd"] = created
    if row["biz_step"] in EXIT_STEPS and (row["to_location"] or row["from_location"]):
        event["tagtrail:shippedVia"] = places.location(row["to_location"] or row["from_location"])
    event["tagtrail:movementType"] = row["movement_type"]
    if row["from_location"]:
        event["tagtrail:fromLocation"] = places.location(row["from_location"])
    if row["anomaly"]:
        event["tagtrail:anomaly"] = row["anomaly"]
    return event


def item_uri(item_key: str, epc_uri: str | None = None) -> str:
    if epc_uri:
        return epc_uri
    if item_key.startswith(GS1_KEY_PREFIXES):
        # AI/value pairs; a value (a serial, an SGLN extension) may itself contain '/', so split only at pairs
        pairs = 3 if item_key.startswith(("01/", "414/")) else 1
        return GS1_DIGITAL_LINK + "/".join(quote(part, safe="") for part in item_key.split("/", pairs))
    if item_key.startswith("epc/"):
        hex_value = item_key[len("epc/"):]
        return f"urn:epc:raw:{len(hex_value) * 4}.x{hex_value}"
    return "urn:tagtrail:item:" + quote(item_key, safe="")


def vocabulary(value: str, cbv: frozenset[str], kind: str) -> str:
    return value if value in cbv else f"urn:tagtrail:{kind}:{quote(value, safe='')}"


def with_event_id(event: dict) -> dict:
    """The event with its eventID: the CBV 2.0 canonical event hash of the event as exported, so a partner
    recomputes the same ID from what it received. Called last, on finished events: a field set after it
    would make the ID disagree with the event. The stored movement event_id stays the pipeline's
    idempotency key and is not exported; anything that refers to an exported event (correctiveEventIDs)
    uses this hash."""
    identified = {"type": event["type"], "eventID": event_hash(event, TAGTRAIL_CONTEXT)}
    identified.update((key, value) for key, value in event.items() if key not in identified)
    return identified


def _time(value: dt.datetime) -> str:
    """EPCIS date-time in UTC at millisecond precision, the stored microseconds TRUNCATED to milliseconds
    (never rounded: rounding can carry into the next second, and the event hash truncates too). Every time
    in the export (eventTime, recordTime, creationDate, declarationTime) goes through here, so the eventTime
    a partner hashes is the one tagtrail hashed. ClickHouse returns naive datetimes that are UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
