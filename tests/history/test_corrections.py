"""Corrections the EPCIS way: a movement revised or retracted after it was exported comes again in later
exports with an errorDeclaration under the eventID partners have, and the corrected event with its own."""

from __future__ import annotations

import datetime as dt
import io
import json

from tagtrail.history.corrections import DID_NOT_OCCUR, INCORRECT_DATA, declared, shown_events
from tagtrail.history.epcis import _time, export_epcis, iter_events, object_event, with_event_id, write_epcis_json
from tagtrail.history.epcis_places import EpcisPlaces
from tagtrail.history.migrations import migrate
from tests.history.conftest import store
from tests.history.revisions import retraction, version
from tests.history.scenario import HOUR, T0, item_key, mv, warehouse_day
from tests.history.test_epcis import epcis_schema, validate  # noqa: F401 (the fixture)
from tests.history.test_epcis_xml import (  # noqa: F401 (schemas: the fixture)
    SBDH,
    assert_valid,
    etree,
    reference_xml,
    render,
    schemas,
)
from tests.history.test_event_hash import a_document, reference_hashes

MINUTE = 60_000_000


def at(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC)


# -- the decision, on hand-made event_log rows ---------------------------------------------------------------
def row(recorded_us: int, *, retracted: int = 0, **changes) -> dict:
    """One event_log version of item 1's put-away at T0 + 1 h (dock-door-1 -> storage-a)."""
    base = {"event_id": "ev-4", "event_time": at(T0 + HOUR), "recorded_at": at(recorded_us), "retracted": retracted,
            "item_key": item_key(1), "epc_uri": "urn:epc:id:sgtin:0614141.012345.1", "action": "OBSERVE",
            "biz_step": "storing", "disposition": "sellable_not_accessible", "read_point": "aisle-a-storage",
            "to_location": "storage-a", "from_location": "dock-door-1", "movement_type": "moved", "anomaly": None,
            "direction": "none", "source_event_ids": ["read-4"]}
    return base | changes


def build(version: dict) -> dict:
    return with_event_id(object_event(version, version["item_key"], version["epc_uri"], EpcisPlaces.of(None)))


def exported(versions: list[dict]) -> list[dict]:
    return [declared(shown, _time) for shown in shown_events(versions, build)]


R = T0 + HOUR + 1000  # the first version's recorded_at


def test_a_revised_event_is_declared_incorrect_and_names_its_correction():
    first, revised = row(R, to_location="storage-b", read_point="aisle-b-storage"), row(R + 5 * MINUTE)
    original, correction = exported([first, revised])
    assert original == {**build(first), "errorDeclaration": {
        "declarationTime": _time(at(R + 5 * MINUTE)), "reason": INCORRECT_DATA,
        "correctiveEventIDs": [correction["eventID"]]}}
    assert correction == build(revised) and "errorDeclaration" not in correction
    assert list(original)[:6] == ["type", "eventID", "eventTime", "recordTime", "eventTimeZoneOffset",
                                  "errorDeclaration"]
    # the reference hashes the declared event to the eventID it had before, and the correction to its own
    assert reference_hashes(a_document([original, correction])) == [build(first)["eventID"], build(revised)["eventID"]]


def test_a_retracted_event_is_declared_did_not_occur_without_corrective_events():
    first = row(R)
    (original,) = exported([first, row(R + HOUR, retracted=1, anomaly="retracted: superseded by late input")])
    assert original["eventID"] == build(first)["eventID"]
    assert original["errorDeclaration"] == {"declarationTime": _time(at(R + HOUR)), "reason": DID_NOT_OCCUR}
    assert exported([row(R, retracted=1)]) == []  # nothing exported, nothing to declare


def test_a_revision_of_fields_the_export_does_not_carry_is_no_correction():
    only = exported([row(R), row(R + MINUTE, source_event_ids=["read-4", "read-9"], direction="inbound")])
    assert only == [build(row(R + MINUTE))]  # one event, recordTime of its latest version
    assert only[0]["recordTime"] == _time(at(R + MINUTE))


def test_an_event_that_comes_back_is_not_declared_and_the_one_in_between_is():
    a, b = row(R), row(R + MINUTE, to_location="storage-b")
    assert exported([a, row(R + 2 * MINUTE, retracted=1), row(R + 3 * MINUTE)]) == [build(row(R + 3 * MINUTE))]
    between, back = exported([a, b, row(R + 2 * MINUTE)])
    assert between["eventID"] == build(b)["eventID"] and back["eventID"] == build(a)["eventID"]
    assert between["errorDeclaration"]["correctiveEventIDs"] == [back["eventID"]]
    # revised, then retracted: each exported version did not occur, declared when it stopped holding
    first, second = exported([a, b, row(R + 2 * MINUTE, retracted=1, to_location="storage-b")])
    assert (first["eventID"], second["eventID"]) == (build(a)["eventID"], build(b)["eventID"])
    assert first["errorDeclaration"] == {"declarationTime": _time(at(R + MINUTE)), "reason": DID_NOT_OCCUR}
    assert second["errorDeclaration"] == {"declarationTime": _time(at(R + 2 * MINUTE)), "reason": DID_NOT_OCCUR}


# -- exports of stored history ------------------------------------------------------------------------------
def late_read_day():
    """The warehouse day as first published (item 1's put-away to storage-b; a pick of item 2 at 5 h), and
    what late reads published after: the put-away was to storage-a, the pick never happened."""
    day = warehouse_day()
    putaway = day[3]
    assert putaway.event_id == "ev-4"
    wrong = version(putaway, recorded_at=putaway.recorded_at, to_location="storage-b", read_point="aisle-b-storage")
    pick = mv(8, 2, T0 + 5 * HOUR, "storage-a", "pick-face-1", step="picking", disp="sellable_accessible",
              rp="pick-face-1")
    noop = version(day[0], recorded_at=day[0].recorded_at + MINUTE, source_event_ids=["read-1", "read-1b"])
    first = [*day[:3], wrong, *day[4:], pick]
    later = [version(putaway, recorded_at=putaway.recorded_at + 10 * MINUTE),
             retraction(pick, recorded_at=pick.recorded_at + HOUR), noop]
    return first, later


def streamed(events) -> dict:
    out = io.StringIO()
    write_epcis_json(out, None, events)
    return json.loads(out.getvalue())


def test_exports_before_and_after_late_reads_carry_the_corrections(clickhouse, epcis_schema):
    migrate(clickhouse)
    first, later = late_read_day()
    store(clickhouse, first)
    before = {n: export_epcis(clickhouse, item_key(n))["epcisBody"]["eventList"] for n in (1, 2, 3)}
    store(clickhouse, later, first_offset=1000)
    after = {n: export_epcis(clickhouse, item_key(n)) for n in (1, 2, 3)}

    # item 1: the put-away partners have (to storage-b) again, declared incorrect, right before its correction
    events = after[1]["epcisBody"]["eventList"]
    assert [e["eventID"] for e in events[:2]] == [e["eventID"] for e in before[1][:2]]
    original, correction = events[1], events[2]
    assert original == {**before[1][1], "errorDeclaration": {
        "declarationTime": _time(at(first[3].recorded_at + 10 * MINUTE)), "reason": INCORRECT_DATA,
        "correctiveEventIDs": [correction["eventID"]]}}
    assert original["bizLocation"] == {"id": "urn:tagtrail:location:storage-b"}
    assert correction["bizLocation"] == {"id": "urn:tagtrail:location:storage-a"}
    assert "errorDeclaration" not in correction
    assert correction["eventTime"] == original["eventTime"] and correction["eventID"] != original["eventID"]
    # the receiving's revision changed no exported field: the same event, no declaration
    assert events[0] == {**before[1][0], "recordTime": _time(at(first[0].recorded_at + MINUTE))}
    assert [e["eventID"] for e in events[3:]] == [e["eventID"] for e in before[1][2:]]

    # item 2: its pick did not occur; the declared event keeps the eventID partners have
    *kept, ghost = after[2]["epcisBody"]["eventList"]
    assert kept == before[2][:-1]
    assert ghost == {**before[2][-1], "errorDeclaration": {
        "declarationTime": _time(at(first[-1].recorded_at + HOUR)), "reason": DID_NOT_OCCUR}}
    assert after[3]["epcisBody"]["eventList"] == before[3]

    for n, doc in after.items():
        validate(doc, epcis_schema)
        assert [e["eventID"] for e in doc["epcisBody"]["eventList"]] == reference_hashes(doc), item_key(n)


def test_an_item_export_and_a_range_export_show_the_same_corrections(clickhouse, epcis_schema):
    migrate(clickhouse)
    first, later = late_read_day()
    store(clickhouse, first)
    store(clickhouse, later, first_offset=1000)
    items = {n: export_epcis(clickhouse, item_key(n))["epcisBody"]["eventList"] for n in (1, 2, 3)}
    # page_size 1: the two versions of the put-away are never split across pages
    doc = streamed(iter_events(clickhouse, since=at(T0 + HOUR), until=at(T0 + 6 * HOUR), page_size=1))
    validate(doc, epcis_schema)
    events = doc["epcisBody"]["eventList"]
    assert events == sorted(events, key=lambda e: e["eventTime"])
    for item in items.values():
        in_range = [e for e in item if e["eventTime"] >= _time(at(T0 + HOUR))]
        assert [e for e in events if e["epcList"] == item[0]["epcList"]] == in_range
    assert [e["eventID"] for e in events] == reference_hashes(doc)
    declared_here = [e for e in events if "errorDeclaration" in e]
    assert [e["errorDeclaration"]["reason"] for e in declared_here] == [INCORRECT_DATA, DID_NOT_OCCUR]
    # by location: the put-away was exported at storage-b; that export now declares it and shows its correction
    at_b = streamed(iter_events(clickhouse, location="storage-b"))["epcisBody"]["eventList"]
    assert at_b == items[1][1:3]
    at_pick_face = streamed(iter_events(clickhouse, location="pick-face-1"))["epcisBody"]["eventList"]
    assert at_pick_face == [items[1][-1], items[2][-1]]


def test_the_xml_export_of_the_range_carries_the_same_events_ids_and_declarations(clickhouse, schemas):
    migrate(clickhouse)
    first, later = late_read_day()
    store(clickhouse, first)
    store(clickhouse, later, first_offset=1000)
    events = list(iter_events(clickhouse, since=at(T0), until=at(T0 + 6 * HOUR), page_size=2))
    assert sum("errorDeclaration" in e for e in events) == 2

    def said(e: dict) -> tuple:
        declaration = e.get("errorDeclaration") or {}
        reason = declaration.get("reason")
        return (e["eventID"], e["eventTime"], declaration.get("declarationTime"),
                reason and "urn:epcglobal:cbv:er:" + reason, declaration.get("correctiveEventIDs", []))

    for version, extension in (("2.0", ""), ("1.2", "baseExtension/")):
        xml = render({}, iter(events), version, sbdh=SBDH)
        assert_valid(xml, schemas[version])
        body = etree.fromstring(xml.encode()).find("EPCISBody/EventList")
        parsed = [(e.findtext(extension + "eventID"), e.findtext("eventTime"),
                   e.findtext(extension + "errorDeclaration/declarationTime"),
                   e.findtext(extension + "errorDeclaration/reason"),
                   [i.text for i in e.findall(extension + "errorDeclaration/correctiveEventIDs/correctiveEventID")])
                  for e in body]
        assert parsed == [said(e) for e in events], version
        hashes, _ = reference_xml(xml)  # a partner re-hashing the XML gets the eventIDs, declared ones included
        assert hashes == [e["eventID"] for e in events], version
