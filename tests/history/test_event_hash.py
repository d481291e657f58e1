"""EPCIS eventIDs are CBV 2.0 canonical event hashes that GS1's reference implementation reproduces."""

from __future__ import annotations

import copy
import json
import re

import pytest

from tagtrail.history.epcis import EPCIS_CONTEXT, TAGTRAIL_CONTEXT, export_epcis
from tagtrail.history.event_hash import canonical_time, event_hash, pre_hash
from tagtrail.history.migrations import migrate
from tests.history.conftest import store
from tests.history.scenario import T0, item_key, mv, warehouse_day

HASH_ID = re.compile(r"^ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0$")


def reference_hashes(document: dict) -> list[str]:
    """The reference implementation (PyPI epcis-event-hash-generator, the dev extra) over the document as
    a partner receives it: serialised JSON, parsed back."""
    try:
        from epcis_event_hash_generator import hash_generator, json_to_py
    except ImportError as missing:
        pytest.skip(f"the reference hash implementation is not importable ({missing}): pip install -e '.[dev]'")
    events = json_to_py.event_list_from_epcis_document_json(json.loads(json.dumps(document)))
    hashes = hash_generator.epcis_hashes_from_events(events)
    assert len(hashes) == len(document["epcisBody"]["eventList"]), "the reference dropped an event (see its log)"
    return hashes


def a_document(events: list[dict]) -> dict:
    return {"@context": [EPCIS_CONTEXT, TAGTRAIL_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00.000Z", "epcisBody": {"eventList": events}}


def test_every_exported_event_id_is_the_reference_hash_of_the_exported_event(clickhouse):
    migrate(clickhouse)
    # item 9's crossing at .999966 s: the stored microseconds the reference cannot round (it asks for
    # microsecond 1000000); the export truncates them to .999 s, so both agree
    odd = mv(9, 9, T0 + 999_966, None, "dock-door-1", step="receiving", disp="in_progress", rp="door-1-inner", action="ADD")
    store(clickhouse, warehouse_day() + [odd])
    for n in (1, 2, 3, 9):
        doc = export_epcis(clickhouse, item_key(n))
        events = doc["epcisBody"]["eventList"]
        assert events, item_key(n)
        ids = [e["eventID"] for e in events]
        assert all(HASH_ID.match(i) for i in ids), ids
        assert ids == reference_hashes(doc), item_key(n)
        assert len(set(ids)) == len(ids)
    (late,) = export_epcis(clickhouse, item_key(9))["epcisBody"]["eventList"]
    assert late["eventTime"] == "2026-01-01T00:00:00.999Z"


def test_a_document_exported_parsed_back_and_rehashed_keeps_its_ids(clickhouse):
    migrate(clickhouse)
    store(clickhouse, warehouse_day())
    doc = export_epcis(clickhouse, item_key(1))
    received = json.loads(json.dumps(doc))
    for event in received["epcisBody"]["eventList"]:
        assert event_hash(event, TAGTRAIL_CONTEXT) == event["eventID"]
    assert [e["eventID"] for e in received["epcisBody"]["eventList"]] == reference_hashes(received)
    again = export_epcis(clickhouse, item_key(1))
    assert [e["eventID"] for e in again["epcisBody"]["eventList"]] == [e["eventID"] for e in doc["epcisBody"]["eventList"]]


def shapes() -> list[dict]:
    """Event shapes the export produces or will (SGLN read points, class-level quantities, site offsets,
    CBV URNs, extensions), to compare the normalisation with the reference without a database."""
    return [
        {"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00.123Z", "recordTime": "2026-01-01T00:00:01.000Z",
         "eventTimeZoneOffset": "+00:00", "eventID": "urn:uuid:ignored",
         "epcList": ["urn:epc:id:sgtin:0614141.012345.1", "https://id.gs1.org/01/00614141123452/21/4"],
         "action": "ADD", "bizStep": "receiving", "disposition": "in_progress",
         "readPoint": {"id": "urn:epc:id:sgln:0614141.00001.door2"}, "bizLocation": {"id": "urn:epc:id:sgln:0614141.00002.0"},
         "tagtrail:movementType": "arrived", "tagtrail:fromLocation": "storage-b"},
        {"type": "ObjectEvent", "eventTime": "2026-07-01T02:00:00.120+02:00", "eventTimeZoneOffset": "+02:00",
         "epcList": [], "quantityList": [{"epcClass": "https://id.gs1.org/01/00614141123452"}],
         "action": "OBSERVE", "bizStep": "urn:tagtrail:bizstep:quarantine", "disposition": "urn:epcglobal:cbv:disp:in_transit",
         "readPoint": {"id": "https://id.gs1.org/414/0614141000012/254/door2"},
         "tagtrail:shippedVia": "door-2", "tagtrail:anomaly": "skipped_packing"},
        {"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00.000Z", "eventTimeZoneOffset": "-05:00",
         "epcList": ["urn:epc:id:sscc:0614141.1234567890"], "action": "OBSERVE", "bizStep": "shipping",
         "disposition": "in_transit", "readPoint": {"id": "urn:tagtrail:readpoint:door-2-outer"}},
        {"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00.500-08:00", "eventTimeZoneOffset": "-08:00",
         "epcList": ["https://example.com/01/614141123452/10/LOT1/21/A1?linkType=all",
                     "https://id.gs1.org/gtin/00614141123452/ser/B%2F2", "urn:epc:id:sgtin:0614141.012345.A%2FB"],
         "quantityList": [{"epcClass": "urn:epc:class:lgtin:0614141.012345.LOT-7", "quantity": 2.50, "uom": "KGM"}],
         "action": "DELETE", "bizStep": "urn:epcglobal:cbv:bizstep:decommissioning", "disposition": "inactive",
         "bizLocation": {"id": "https://id.gs1.org/414/0614141000029"},
         "tagtrail:party": "urn:epc:id:pgln:0614141.00002", "tagtrail:count": "007",
         "tagtrail:detail": {"tagtrail:zone": "storage", "tagtrail:since": "2026-01-01T00:00:00.000Z"}},
    ]


def test_the_hash_normalises_as_the_reference_does():
    events = shapes()
    assert [event_hash(e, TAGTRAIL_CONTEXT) for e in events] == reference_hashes(a_document(copy.deepcopy(events)))
    assert "readPointid=https://id.gs1.org/414/0614141000012/254/door2" in pre_hash(events[0], TAGTRAIL_CONTEXT)
    assert "{urn:tagtrail:epcis:}movementType=arrived" in pre_hash(events[0], TAGTRAIL_CONTEXT)


def test_the_hash_ignores_ids_and_record_times_but_not_what_happened():
    event = shapes()[0]
    same = dict(event, eventID="ni:///other", recordTime="2030-01-01T00:00:00.000Z",
                errorDeclaration={"declarationTime": "2030-01-01T00:00:00.000Z", "reason": "incorrect_data"})
    assert event_hash(same, TAGTRAIL_CONTEXT) == event_hash(event, TAGTRAIL_CONTEXT)
    assert event_hash(dict(event, epcList=list(reversed(event["epcList"]))), TAGTRAIL_CONTEXT) == event_hash(event, TAGTRAIL_CONTEXT)
    moved = dict(event, bizLocation={"id": "urn:epc:id:sgln:0614141.00003.0"})
    later = dict(event, eventTime="2026-01-01T00:00:00.124Z")
    assert len({event_hash(e, TAGTRAIL_CONTEXT) for e in (event, moved, later)}) == 3


def test_times_hash_in_utc_at_milliseconds_truncated():
    assert canonical_time("2026-01-01T01:00:00.999966+01:00") == "2026-01-01T00:00:00.999Z"
    assert canonical_time("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00.000Z"
    assert canonical_time("not a time") == "not a time"
