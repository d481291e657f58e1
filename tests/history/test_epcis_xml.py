"""EPCIS XML export (2.0 and 1.2): valid against GS1's XSDs, the same events as the JSON-LD export, streamed."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from tagtrail.config import load_site
from tagtrail.history.document_header import DocumentHeaderError, document_header
from tagtrail.history.epcis import TAGTRAIL_CONTEXT, _time, document_head, export_epcis, with_event_id
from tagtrail.history.epcis_xml import EpcisXmlError, write_epcis_xml
from tagtrail.history.event_hash import pre_hash
from tagtrail.history.migrations import migrate
from tests.history import test_epcis as json_ld
from tests.history.conftest import store
from tests.history.scenario import item_key, seen_now, warehouse_day

epcis_schema = json_ld.epcis_schema  # the JSON-LD tests' fixture: GS1's EPCIS 2.0 JSON schema
validate = json_ld.validate
etree = pytest.importorskip("lxml.etree", reason="lxml is needed to write and validate EPCIS XML")

REPO = Path(__file__).resolve().parents[2]
XSD = REPO.parent / "shared" / "standards" / "epcis" / "xsd"
MAIN_XSD = {"2.0": XSD / "2.0" / "EPCglobal-epcis-2_0.xsd", "1.2": XSD / "1.2" / "EPCglobal-epcis-1_2.xsd"}
NS = {"2.0": "urn:epcglobal:epcis:xsd:2", "1.2": "urn:epcglobal:epcis:xsd:1"}
SBDH = document_header("urn:epc:id:sgln:0614141.00000.0", "0614141999996", instance_identifier="tagtrail-test-1")


@pytest.fixture(scope="module")
def schemas() -> dict:
    """GS1's EPCIS XSDs beside the repository (CI lays shared/ there); skip, naming the path, without them."""
    missing = [str(path) for path in MAIN_XSD.values() if not path.is_file()]
    if missing:
        pytest.skip(f"GS1's EPCIS XSDs not found: {', '.join(missing)} (expected under {XSD})")
    return {version: etree.XMLSchema(etree.parse(str(path))) for version, path in MAIN_XSD.items()}


def assert_valid(xml: str, schema) -> None:
    doc = etree.fromstring(xml.encode())
    assert schema.validate(doc), "\n".join(str(e) for e in list(schema.error_log)[:10])


def render(header: dict, events, version: str, **kw) -> str:
    out = io.StringIO()
    write_epcis_xml(out, header, events, version=version, **kw)
    return out.getvalue()


@pytest.fixture
def exported(clickhouse) -> dict:
    """The JSON-LD document of test_epcis.py's scenario, with the example site's SGLNs and master data."""
    migrate(clickhouse)
    store(clickhouse, warehouse_day() + [seen_now(100, 4)])
    doc = export_epcis(clickhouse, item_key(1), site=load_site(REPO / "deploy" / "site.example.yaml"))
    assert doc["epcisHeader"]["epcisMasterData"]["vocabularyList"], "the scenario should carry master data"
    return doc


def test_xml_2_0_and_1_2_are_valid_against_gs1_xsds(exported, schemas):
    header, events = exported["epcisHeader"], exported["epcisBody"]["eventList"]
    xml_2 = render(header, iter(events), "2.0")
    assert_valid(xml_2, schemas["2.0"])
    xml_1 = render(header, iter(events), "1.2", sbdh=SBDH)
    assert_valid(xml_1, schemas["1.2"])
    for version, xml in (("2.0", xml_2), ("1.2", xml_1)):
        broken = xml.replace("<action>ADD</action>", "<action>MOVE</action>", 1)
        assert broken != xml
        assert not schemas[version].validate(etree.fromstring(broken.encode()))
    # 2.0 puts eventID at the event root, 1.2 in baseExtension; the master data travel in both
    root_2, root_1 = etree.fromstring(xml_2.encode()), etree.fromstring(xml_1.encode())
    assert root_2.find("EPCISBody/EventList/ObjectEvent/eventID") is not None
    assert root_1.find("EPCISBody/EventList/ObjectEvent/eventID") is None
    assert root_1.find("EPCISBody/EventList/ObjectEvent/baseExtension/eventID") is not None
    for root in (root_2, root_1):
        assert root.findall("EPCISHeader/extension/EPCISMasterData/VocabularyList/Vocabulary")
        assert root.find("EPCISBody/EventList/ObjectEvent/{urn:tagtrail:epcis:}movementType") is not None
    sender = root_1.find(".//{http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader}Sender/")
    assert (sender.text, sender.get("Authority")) == ("urn:epc:id:sgln:0614141.00000.0", "SGLN")


def test_xml_carries_the_json_ld_events_with_the_same_ids(exported, schemas):
    events = exported["epcisBody"]["eventList"]
    for version, where_id in (("2.0", "eventID"), ("1.2", "baseExtension/eventID")):
        root = etree.fromstring(render(exported["epcisHeader"], iter(events), version, sbdh=SBDH).encode())
        assert root.tag == f"{{{NS[version]}}}EPCISDocument" and root.get("schemaVersion") == version
        parsed = [(e.findtext(where_id), [epc.text for epc in e.findall("epcList/epc")], e.findtext("eventTime"),
                   e.findtext("bizStep"), e.findtext("disposition"), e.findtext("readPoint/id"))
                  for e in root.find("EPCISBody/EventList")]
        assert parsed == [(e["eventID"], e["epcList"], e["eventTime"], "urn:epcglobal:cbv:bizstep:" + e["bizStep"],
                           "urn:epcglobal:cbv:disp:" + e["disposition"], e["readPoint"]["id"]) for e in events]
        assert all(e["eventID"].startswith("ni:///sha-256;") for e in events)
        hashes, _ = reference_xml(etree.tostring(root, encoding="unicode"))  # what a partner re-hashing gets
        assert [h for h, e in zip(hashes, events, strict=True) if "ilmd" not in e] == \
            [e["eventID"] for e in events if "ilmd" not in e]


def synthetic_event(n: int, start: dt.datetime) -> dict:
    at = (start + dt.timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"type": "ObjectEvent", "eventID": f"ni:///sha-256;{n:064x}?ver=CBV2.0", "eventTime": at,
            "eventTimeZoneOffset": "+00:00", "epcList": [f"urn:epc:id:sgtin:0614141.012345.{n}"], "action": "OBSERVE",
            "bizStep": "storing", "disposition": "sellable_not_accessible", "tagtrail:movementType": "arrived"}


class FirstWrite(io.StringIO):
    """A file that notes how many events had been yielded when the first event bytes reached it."""

    def __init__(self, yielded: list[int]) -> None:
        super().__init__()
        self.yielded = yielded
        self.at_first_event: int | None = None

    def write(self, text: str) -> int:
        if self.at_first_event is None and "<ObjectEvent" in text:
            self.at_first_event = self.yielded[0]
        return super().write(text)


def test_events_are_streamed_not_collected(schemas):
    yielded = [0]
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def events():
        for n in range(20_000):
            yielded[0] += 1
            yield synthetic_event(n, start)

    out = FirstWrite(yielded)
    assert write_epcis_xml(out, {}, events(), version="2.0", now=start) == 20_000
    assert out.at_first_event is not None and out.at_first_event < 1_000, out.at_first_event
    xml = out.getvalue()
    assert xml.count("<ObjectEvent") == 20_000
    assert_valid(xml, schemas["2.0"])


def test_1_2_keeps_2_0_only_fields_as_foreign_extensions_and_refuses_what_it_cannot_say(schemas):
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    event = synthetic_event(1, start) | {
        "persistentDisposition": {"set": ["completeness_verified"]},
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00000"}],
        "errorDeclaration": {"declarationTime": synthetic_event(2, start)["eventTime"], "reason": "incorrect_data",
                             "correctiveEventIDs": ["ni:///sha-256;" + "0" * 64 + "?ver=CBV2.0"]}}
    xml_1 = render({}, [event], "1.2")
    assert_valid(xml_1, schemas["1.2"])
    root = etree.fromstring(xml_1.encode())
    kept = root.find("EPCISBody/EventList/ObjectEvent/{urn:epcglobal:epcis:xsd:2}persistentDisposition/set")
    assert kept.text == "urn:epcglobal:cbv:disp:completeness_verified"
    assert root.find("EPCISBody/EventList/ObjectEvent/extension/sourceList/source").get("type") == \
        "urn:epcglobal:cbv:sdt:owning_party"
    assert root.findtext("EPCISBody/EventList/ObjectEvent/baseExtension/errorDeclaration/reason") == \
        "urn:epcglobal:cbv:er:incorrect_data"
    assert_valid(render({}, [event], "2.0"), schemas["2.0"])
    with pytest.raises(EpcisXmlError, match="AssociationEvent"):
        render({}, [{"type": "AssociationEvent", "eventTime": event["eventTime"]}], "1.2")
    with pytest.raises(EpcisXmlError, match="'madeUp'"):
        render({}, [event | {"madeUp": 1}], "2.0")
    with pytest.raises(EpcisXmlError, match="eventTimeZoneOffset"):
        render({}, [{k: v for k, v in event.items() if k != "eventTimeZoneOffset"}], "2.0")


def test_document_header_checks_each_party_and_names_it_alike_in_json_ld_and_sbdh(schemas):
    header = document_header("https://id.gs1.org/417/0614141000005", "urn:epc:id:sgln:0614141.00001.door2",
                             new_id=lambda: "doc-1")
    assert header.json_fields() == {"instanceIdentifier": "doc-1", "sender": "0614141000005",
                                    "receiver": "urn:epc:id:sgln:0614141.00001.door2"}
    assert document_header("urn:epc:id:pgln:0614141.00000", "0614141999996").sender.identifier == "0614141000005"
    assert document_header("0614141000005", "0614141999996").instance_identifier != \
        document_header("0614141000005", "0614141999996").instance_identifier  # a new document, a new id
    with pytest.raises(DocumentHeaderError, match=r"receiver '0614141000006'.*check digit"):
        document_header("0614141000005", "0614141000006")
    with pytest.raises(DocumentHeaderError, match=r"sender 'door-2'.*13 digits"):
        document_header("door-2", "0614141000005")
    with pytest.raises(DocumentHeaderError, match=r"sender 'urn:epc:id:sgln:0614141.0000.0'"):
        document_header("urn:epc:id:sgln:0614141.0000.0", "0614141000005")
    sbdh_ns = "{http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader}"
    for version in ("2.0", "1.2"):
        xml = render({}, [synthetic_event(1, dt.datetime.now(dt.UTC))], version, sbdh=header)
        assert_valid(xml, schemas[version])
        root = etree.fromstring(xml.encode())
        found = [(e.text, e.get("Authority")) for e in root.iter(f"{sbdh_ns}Identifier")]
        assert found == [("0614141000005", "GS1"), ("urn:epc:id:sgln:0614141.00001.door2", "SGLN")]
        assert root.findtext(f".//{sbdh_ns}InstanceIdentifier") == "doc-1"
        assert root.findtext(f".//{sbdh_ns}TypeVersion") == "1.0"  # the SBDH document type's, in either version
        assert root.get("schemaVersion") == version


def test_json_ld_document_with_sender_and_receiver_is_schema_valid(epcis_schema):
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    doc = document_head(now=start) | document_header("0614141000005", "0614141999996").json_fields()
    doc["epcisBody"] = {"eventList": [with_event_id(synthetic_event(1, start))]}
    validate(doc, epcis_schema)
    with pytest.raises(AssertionError):  # the schema admits them at the root only, not in epcisHeader
        validate(document_head(now=start, header={"sender": "0614141000005"}) | {"epcisBody": doc["epcisBody"]},
                 epcis_schema)


SSCC = "urn:epc:id:sscc:0614141.1234567890"
LOT_CLASS = "urn:epc:class:lgtin:0614141.012345.LOT-42"
DESADV = {"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:DA-1001"}
PO = {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141999996:PO-7"}
SOURCES = [{"type": "owning_party", "source": "https://id.gs1.org/417/0614141000005"},
           {"type": "location", "source": "urn:epc:id:sgln:0614141.00001.0"}]
DESTINATIONS = [{"type": "owning_party", "destination": "https://id.gs1.org/417/0614141999996"},
                {"type": "location", "destination": "https://id.gs1.org/414/0614141999996"}]


def every_field_events(start: dt.datetime) -> list[dict]:
    """Hand-built finished events carrying everything the JSON-LD export is about to (contract shapes): ILMD on
    commissioning, business transactions with source/destination, a revised event (incorrect_data, with its
    correction's eventID) and a retracted one (did_not_occur), class-level quantities, an AggregationEvent and
    TransactionEvents. eventIDs as the JSON-LD export gives them; errorDeclarations added after, as there."""
    def at(seconds: int) -> str:
        return _time(start + dt.timedelta(seconds=seconds))

    def base(seconds: int) -> dict:
        return {"eventTime": at(seconds), "recordTime": at(seconds + 1), "eventTimeZoneOffset": "-05:00"}

    shipped = {"type": "ObjectEvent", **base(20), "epcList": ["urn:epc:id:sgtin:0614141.012345.2"],
               "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
               "readPoint": {"id": "urn:epc:id:sgln:0614141.00001.door2"}, "bizTransactionList": [DESADV, PO],
               "sourceList": SOURCES, "destinationList": DESTINATIONS, "tagtrail:movementType": "departed"}
    corrected = with_event_id(shipped)
    original = with_event_id(shipped | {"destinationList": DESTINATIONS[:1]}) | {"errorDeclaration": {
        "declarationTime": at(60), "reason": "incorrect_data", "correctiveEventIDs": [corrected["eventID"]]}}
    retracted = with_event_id({
        "type": "ObjectEvent", **base(30), "epcList": [],
        "quantityList": [{"epcClass": "https://id.gs1.org/01/00614141123452", "quantity": 12.5, "uom": "KGM"},
                         {"epcClass": LOT_CLASS, "quantity": 3}],
        "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress"}) | {
        "errorDeclaration": {"declarationTime": at(61), "reason": "did_not_occur"}}
    return [
        with_event_id({"type": "ObjectEvent", **base(0), "epcList": ["urn:epc:id:sgtin:0614141.012345.1"],
                       "action": "ADD", "bizStep": "commissioning", "disposition": "active",
                       "readPoint": {"id": "urn:epc:id:sgln:0614141.00001.door2"},
                       "bizLocation": {"id": "urn:epc:id:sgln:0614141.00001.0"},
                       "ilmd": {"cbvmda:lotNumber": "LOT-42",
                                "cbvmda:itemExpirationDate": (start + dt.timedelta(days=400)).date().isoformat()},
                       "tagtrail:movementType": "arrived"}),
        original, corrected, retracted,
        with_event_id({"type": "AggregationEvent", **base(40), "parentID": SSCC,
                       "childEPCs": ["urn:epc:id:sgtin:0614141.012345.1", "urn:epc:id:sgtin:0614141.012345.2"],
                       "action": "ADD", "bizStep": "packing", "disposition": "in_progress",
                       "readPoint": {"id": "urn:epc:id:sgln:0614141.00001.pack"}, "bizTransactionList": [DESADV],
                       "childQuantityList": [{"epcClass": LOT_CLASS, "quantity": 5}], "sourceList": SOURCES}),
        with_event_id({"type": "TransactionEvent", **base(50), "bizTransactionList": [DESADV, PO],
                       "parentID": SSCC, "epcList": ["urn:epc:id:sgtin:0614141.012345.1"], "action": "ADD",
                       "bizStep": "shipping", "disposition": "in_transit",
                       "quantityList": [{"epcClass": LOT_CLASS, "quantity": 5}], "destinationList": DESTINATIONS}),
        with_event_id({"type": "TransactionEvent", **base(51), "action": "OBSERVE",  # no parentID; a web-URI type
                       "bizTransactionList": [{"type": "https://ref.gs1.org/cbv/BTT-po", "bizTransaction": PO["bizTransaction"]}],
                       "epcList": ["urn:epc:id:sgtin:0614141.012345.3"]}),
    ]


ILMD_EVENT = 0
MDA = "{urn:epcglobal:cbv:mda}"
BTT, SDT, ER = "urn:epcglobal:cbv:btt:", "urn:epcglobal:cbv:sdt:", "urn:epcglobal:cbv:er:"
# (event index, path under the event in 2.0, the same in 1.2, attribute or None for the text, expected)
PLACES = [
    (0, f"ilmd/{MDA}lotNumber", f"extension/ilmd/{MDA}lotNumber", None, "LOT-42"),
    (0, "eventID", "baseExtension/eventID", None, "{id0}"),
    (1, "bizTransactionList/bizTransaction[1]", "bizTransactionList/bizTransaction[1]", "type", BTT + "desadv"),
    (1, "bizTransactionList/bizTransaction[2]", "bizTransactionList/bizTransaction[2]", None, PO["bizTransaction"]),
    (1, "sourceList/source[1]", "extension/sourceList/source[1]", "type", SDT + "owning_party"),
    (1, "destinationList/destination", "extension/destinationList/destination", None, DESTINATIONS[0]["destination"]),
    (1, "errorDeclaration/reason", "baseExtension/errorDeclaration/reason", None, ER + "incorrect_data"),
    (1, "errorDeclaration/correctiveEventIDs/correctiveEventID",
     "baseExtension/errorDeclaration/correctiveEventIDs/correctiveEventID", None, "{id2}"),
    (2, "destinationList/destination[2]", "extension/destinationList/destination[2]", "type", SDT + "location"),
    (3, "errorDeclaration/reason", "baseExtension/errorDeclaration/reason", None, ER + "did_not_occur"),
    (3, "quantityList/quantityElement[1]/quantity", "extension/quantityList/quantityElement[1]/quantity", None, "12.5"),
    (3, "quantityList/quantityElement[1]/uom", "extension/quantityList/quantityElement[1]/uom", None, "KGM"),
    (4, "parentID", "parentID", None, SSCC),
    (4, "childEPCs/epc[2]", "childEPCs/epc[2]", None, "urn:epc:id:sgtin:0614141.012345.2"),
    (4, "childQuantityList/quantityElement/epcClass", "extension/childQuantityList/quantityElement/epcClass", None,
     LOT_CLASS),
    (4, "sourceList/source[2]", "extension/sourceList/source[2]", None, SOURCES[1]["source"]),
    (5, "parentID", "parentID", None, SSCC),
    (5, "quantityList/quantityElement/quantity", "extension/quantityList/quantityElement/quantity", None, "5"),
    (6, "bizTransactionList/bizTransaction", "bizTransactionList/bizTransaction", "type", BTT + "po"),
]


def test_every_field_the_json_export_carries_is_in_its_place_in_2_0_and_1_2(schemas):
    events = every_field_events(dt.datetime.now(dt.UTC))
    for version, column in (("2.0", 1), ("1.2", 2)):
        xml = render({}, iter(events), version, sbdh=SBDH)
        assert_valid(xml, schemas[version])
        written = list(etree.fromstring(xml.encode()).find("EPCISBody/EventList"))
        assert [e.tag for e in written] == [e["type"] for e in events]
        for place in PLACES:
            index, path, attribute, expected = place[0], place[column], place[3], place[4]
            found = written[index].find(path)
            assert found is not None, (version, index, path)
            expected = expected.format(id0=events[0]["eventID"], id2=events[2]["eventID"])
            assert (found.get(attribute) if attribute else found.text) == expected, (version, index, path)
        assert written[0].find("{urn:tagtrail:epcis:}movementType").text == "arrived"
        assert written[6].find("parentID") is None  # a TransactionEvent's parentID is optional


def reference_xml(xml: str) -> tuple[list[str], list[str]]:
    """The reference implementation's eventIDs and pre-hash strings of an EPCIS XML document (it reads XML too)."""
    try:
        from epcis_event_hash_generator import hash_generator, xml_to_py
    except ImportError as missing:
        pytest.skip(f"the reference hash implementation is not importable ({missing}): pip install -e '.[dev]'")
    events = xml_to_py.event_list_from_epcis_document_str(xml)
    return hash_generator.epcis_hashes_from_events(events), hash_generator.derive_prehashes_from_events(events)


def test_reference_rehashes_the_xml_to_the_json_ld_eventids(epcis_schema):
    events = every_field_events(dt.datetime.now(dt.UTC))
    ids = [e["eventID"] for e in events]
    json_doc = document_head() | {"epcisBody": {"eventList": events}}
    validate(json_doc, epcis_schema)
    from tests.history.test_event_hash import reference_hashes

    assert reference_hashes(json_doc) == ids  # the JSON-LD export's eventIDs are the reference's
    for version in ("2.0", "1.2"):  # the reference strips <extension>/<baseExtension>, so it reads 1.2 as well
        hashes, pre_hashes = reference_xml(render({}, iter(events), version, sbdh=SBDH))
        assert len(hashes) == len(events), version
        assert [h for n, h in enumerate(hashes) if n != ILMD_EVENT] == \
            [i for n, i in enumerate(ids) if n != ILMD_EVENT], version
        # ILMD: XML names the attributes in their XML namespace, {urn:epcglobal:cbv:mda}lotNumber; the reference
        # keeps the JSON-LD prefix (cbvmda:lotNumber: it expands only prefixes the document's own @context
        # declares), so it cannot give the XML of an ILMD event its JSON-LD eventID. Nothing else differs:
        ilmd = events[ILMD_EVENT]
        assert hashes[ILMD_EVENT] != ilmd["eventID"]
        assert pre_hashes[ILMD_EVENT] == pre_hash(ilmd, {**TAGTRAIL_CONTEXT, "cbvmda": "urn:epcglobal:cbv:mda"})


def test_xml_refuses_what_the_standard_forbids_naming_event_and_field(schemas):
    start = dt.datetime.now(dt.UTC)
    events = every_field_events(start)
    transaction, aggregation, shipped = events[5], events[4], events[2]
    for broken, message in (
            ({k: v for k, v in transaction.items() if k != "bizTransactionList"}, r"event 0 .*'bizTransactionList'"),
            (transaction | {"bizTransactionList": []}, "'bizTransactionList' is missing or empty"),
            ({k: v for k, v in aggregation.items() if k != "parentID"}, "AggregationEvent ADD .*'parentID'"),
            (shipped | {"bizTransactionList": [{"type": "despatch", "bizTransaction": "urn:x:1"}]},
             r"bizTransactionList type: 'despatch' is not a CBV 2.0 name"),
            (shipped | {"sourceList": [{"type": "owner", "source": "urn:x:1"}]}, "sourceList type: 'owner'"),
            (shipped | {"sourceList": [{"source": "urn:x:1"}]}, "sourceList: 'type' is missing"),
            (shipped | {"destinationList": [{"type": None, "destination": "urn:x:1"}]}, "destinationList type: None"),
            (shipped | {"bizTransactionList": ["urn:x:1"]}, "bizTransactionList: 'bizTransaction' is missing"),
            (shipped | {"sourceList": {"type": "location", "source": "urn:x:1"}}, "'sourceList' must be a JSON array"),
            (events[0] | {"ilmd": "LOT-42"}, "'ilmd' must be a JSON object, got str"),
            (events[3] | {"errorDeclaration": {"declarationTime": _time(start), "reason": "wrong"}},
             "errorDeclaration reason: 'wrong'")):
        for version in ("2.0", "1.2"):
            with pytest.raises(EpcisXmlError, match=message):
                render({}, [broken], version)
    # what says nothing is left out, what CBV allows is kept: an empty list, an untyped bizTransaction,
    # an AggregationEvent OBSERVE without parent, a quantity no exponent can write
    quiet = shipped | {"sourceList": [], "destinationList": [],
                       "bizTransactionList": [{"bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:X"}]}
    observed = {k: v for k, v in aggregation.items() if k != "parentID"} | {"action": "OBSERVE"}
    tiny = events[3] | {"quantityList": [{"epcClass": LOT_CLASS, "quantity": 1e-07, "uom": "KGM"}]}
    for version in ("2.0", "1.2"):
        xml = render({}, [quiet, observed, tiny], version)
        assert_valid(xml, schemas[version])
        written = list(etree.fromstring(xml.encode()).find("EPCISBody/EventList"))
        assert not written[0].findall(".//sourceList") and not written[0].findall(".//destinationList")
        assert written[0].find("bizTransactionList/bizTransaction").get("type") is None
        assert written[2].findtext(".//quantityElement/quantity") == "0.0000001"


def test_1_2_without_sbdh_leaves_master_data_out_and_says_what_and_how_to_keep_it(schemas):
    from structlog.testing import capture_logs

    header = {"epcisMasterData": {"vocabularyList": [
        {"type": "urn:epcglobal:epcis:vtype:EPCInstance", "vocabularyElementList": [
            {"id": "urn:epc:id:sgtin:0614141.012345.1",
             "attributes": [{"id": "urn:epcglobal:cbv:mda#lotNumber", "attribute": "LOT-42"}]}]}]}}
    events = every_field_events(dt.datetime.now(dt.UTC))[:1]
    with capture_logs() as logs:
        xml = render(header, events, "1.2")
    assert_valid(xml, schemas["1.2"])
    assert "EPCISHeader" not in xml
    (warning,) = [e for e in logs if e["event"] == "epcis_xml.master_data_left_out"]
    assert warning["log_level"] == "warning"
    assert warning["vocabularies"] == ["urn:epcglobal:epcis:vtype:EPCInstance"]
    assert "--sender/--receiver" in warning["fix"]
    with capture_logs() as logs:  # with a header naming the parties, the master data travel
        kept = render(header, events, "1.2", sbdh=SBDH)
    assert_valid(kept, schemas["1.2"])
    assert not logs
    element = etree.fromstring(kept.encode()).find(
        "EPCISHeader/extension/EPCISMasterData/VocabularyList/Vocabulary/VocabularyElementList/VocabularyElement")
    assert element.get("id") == "urn:epc:id:sgtin:0614141.012345.1"
    assert element.findtext("attribute[@id='urn:epcglobal:cbv:mda#lotNumber']") == "LOT-42"


def test_sensor_report_bare_type_is_gs1_vocabulary_in_xml_as_in_json_ld(schemas):
    hash_generator = pytest.importorskip("epcis_event_hash_generator.hash_generator", reason="the reference hash")
    json_to_py = pytest.importorskip("epcis_event_hash_generator.json_to_py", reason="the reference hash")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    event = synthetic_event(1, start) | {"sensorElementList": [
        {"sensorReport": [{"type": "Temperature", "value": 26.5, "uom": "CEL"}]}]}
    xml = render({}, [event], "2.0")
    assert_valid(xml, schemas["2.0"])
    report = etree.fromstring(xml.encode()).find("EPCISBody/EventList/ObjectEvent/sensorElementList/sensorElement/sensorReport")
    assert report.get("type") == "https://gs1.org/voc/Temperature"
    as_json = json_to_py.event_list_from_epcis_document_json(document_head(now=start) | {"epcisBody": {"eventList": [event]}})
    assert reference_xml(xml)[1] == hash_generator.derive_prehashes_from_events(as_json)
