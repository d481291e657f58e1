"""Where an EPCIS export puts an item's lot (AI 10) and expiry (AI 17): the places GS1's standards give them.

* ILMD, on the event that commissions the item (ObjectEvent, action ADD, bizStep commissioning): EPCIS 2.0
  defines `ilmd` as the instance/lot master data of objects CREATED by the event, so it goes there and
  nowhere else (a receiving ADD at this site creates nothing). The lot and expiry are the ones that event
  carried when it was decided (event_log), so its eventID, which covers ILMD, does not change when an
  import names a lot later. Attributes are CBV 2.0's `cbvmda:lotNumber` and `cbvmda:itemExpirationDate`
  (the `cbvmda` prefix the EPCIS 2.0 JSON-LD context defines; the event hash keeps the prefixed name as
  written, as GS1's reference implementation does, so the document adds no context of its own for it).
* Otherwise, master data of the EPC instance in the document header: a vocabulary of type
  `urn:epcglobal:epcis:vtype:EPCInstance` whose element id is the item's identifier exactly as its events
  name it in epcList, with the CBV attributes `urn:epcglobal:cbv:mda#lotNumber` and `#itemExpirationDate`.
  Header master data takes no part in any event's hash, so the known lot (item_lots, migration 0008) can
  be given, and corrected by a later import, without changing an eventID partners hold. Only serialized
  instances get one; a GTIN without serial (an epcClass in quantityList) is no instance.

One item's export lists its element; a range's or shipment's may hold millions of items, so their elements
stream (StreamedVocabulary) from pages of items in item_key order (tagtrail/history/queries.py
lots_in_range), and the writers put them in the header as they come: in item_key order, not sorted by id
(the order of a vocabulary's elements carries no meaning in EPCIS; item_key order is the one the engine
can page through without holding the range's items).

A documented `tagtrail:` extension was the other choice; the standard places were preferred, so a
partner's EPCIS system reads the lot without knowing tagtrail.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MDA = "urn:epcglobal:cbv:mda#"
VTYPE_EPC_INSTANCE = "urn:epcglobal:epcis:vtype:EPCInstance"


def ilmd(row: dict) -> dict | None:
    """The event's ILMD when it commissions the item and carried a lot or expiry; else None."""
    if row.get("action") != "ADD" or row.get("biz_step") != "commissioning":
        return None
    found: dict[str, str] = {}
    if row.get("lot"):
        found["cbvmda:lotNumber"] = row["lot"]
    if row.get("expiry"):
        found["cbvmda:itemExpirationDate"] = _date(row["expiry"])
    return found or None


def instance_vocabulary(lots: Iterable[dict], identifier: Any) -> dict | None:
    """The EPCInstance vocabulary for rows (item_key, epc_uri, lot, expiry); `identifier(item_key, epc_uri)`
    names the item as its events do. None when no row has a lot or expiry. A list: for one item's export;
    a range or shipment streams its vocabulary (streamed_instance_vocabulary)."""
    elements = sorted(_elements(lots, identifier), key=lambda e: e["id"])
    if not elements:
        return None
    return {"type": VTYPE_EPC_INSTANCE, "vocabularyElementList": elements}


@dataclass
class StreamedVocabulary:
    """A vocabulary whose elements are written as they are read (a range's items may be millions), where
    the header names it. The document writers (epcis.py's JSON, epcis_xml.py) pull `elements` once, in the
    order given, and give the text a listed vocabulary of the same elements would have. Never empty."""

    type: str
    elements: Iterator[dict]
    source: Iterator[dict] | None = None  # the rows the elements are made of (a query's stream)

    def close(self) -> None:
        """Ends the query behind the elements if the document was not written to the end."""
        for pulled in (self.elements, self.source):
            close = getattr(pulled, "close", None)
            if close is not None:
                close()


def streamed_instance_vocabulary(lots: Iterable[dict], identifier: Any) -> StreamedVocabulary | None:
    """instance_vocabulary's elements, for rows that come in item_key order (queries.lots_in_range), pulled
    as the writer needs them. The first is read now: None when there is none, as a listed vocabulary would
    be left out. A row out of order (or repeated) is an error naming it: pages that overlap or skip would
    list an item twice or miss one."""
    source = iter(lots)
    elements = _elements(_in_key_order(source), identifier)
    first = next(elements, None)
    if first is None:
        return None
    return StreamedVocabulary(VTYPE_EPC_INSTANCE, itertools.chain([first], elements), source)


def _elements(lots: Iterable[dict], identifier: Any) -> Iterator[dict]:
    for row in lots:
        if row["item_key"].startswith("01/") and "/21/" not in row["item_key"]:
            continue  # a class, not an instance
        attributes = []
        if row.get("lot"):
            attributes.append({"id": MDA + "lotNumber", "attribute": row["lot"]})
        if row.get("expiry"):
            attributes.append({"id": MDA + "itemExpirationDate", "attribute": _date(row["expiry"])})
        if attributes:
            yield {"id": identifier(row["item_key"], row.get("epc_uri")), "attributes": attributes}


def _in_key_order(rows: Iterator[dict]) -> Iterator[dict]:
    """The rows, checked to come in strictly increasing item_key (the order the lot pages are read in)."""
    previous: str | None = None
    for row in rows:
        if previous is not None and row["item_key"] <= previous:
            raise ValueError(f"EPCInstance vocabulary: item {row['item_key']!r} came after {previous!r}; the lot "
                             "pages (tagtrail/history/queries.py lots_in_range) must come in item_key order")
        previous = row["item_key"]
        yield row


def with_vocabulary(header: dict | None, vocabulary: dict | StreamedVocabulary | None) -> dict | None:
    """The epcisHeader with one more vocabulary in its master data (a new header when there was none)."""
    if vocabulary is None:
        return header
    header = dict(header or {})
    master = dict(header.get("epcisMasterData") or {})
    master["vocabularyList"] = [*master.get("vocabularyList", []), vocabulary]
    header["epcisMasterData"] = master
    return header


def _date(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)
