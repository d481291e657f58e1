"""EPCIS JSON-LD events (as tagtrail/history/epcis.py exports them) written as an EPCIS XML document, 2.0 or 1.2.

Why a second writer and not a JSON-to-XML dump: the XML bindings order every field by the XSD, and the two
versions put fields in different places, so each event type has its field order per version here.

Streaming: the document head is written first, then each event as the iterable yields it (lxml's
incremental `xmlfile` writer, one event element at a time), so memory stays bounded by one event however
many events come.

Values, JSON-LD to XML (both versions; the XML bindings have no bare CBV names):
- bizStep/disposition/persistentDisposition, errorDeclaration reason, bizTransaction and source/destination
  types given as CBV short names (or CBV web URIs, https://ref.gs1.org/cbv/BTT-po) become their URNs
  (`shipping` -> `urn:epcglobal:cbv:bizstep:shipping`, `desadv` -> `urn:epcglobal:cbv:btt:desadv`, `er:`,
  `sdt:`), the form 1.2 partners read; other URIs pass unchanged; a bare name CBV does not define is an
  error naming the event and field (it would become a made-up urn:epcglobal:cbv: value).
- An empty bizTransaction/source/destination/quantity list is not written (the XSD wants one member, the
  event hash leaves it out). A TransactionEvent without bizTransactionList, or an AggregationEvent ADD or
  DELETE without parentID, is an error: EPCIS requires them.
- eventID, epcs, readPoint/bizLocation ids and times pass unchanged: the eventID is the CBV 2.0 hash of
  the event, which does not depend on the syntax it travels in. The reference implementation
  (epcis-event-hash-generator, which reads XML too) re-hashes the XML of every event to its JSON-LD
  eventID except one with ILMD: there it keeps the JSON-LD prefix (`cbvmda:lotNumber`, as it expands only
  prefixes a document's own @context declares) while XML names the element in its namespace
  (`{urn:epcglobal:cbv:mda}lotNumber`). The eventID of such an event is the JSON-LD one, which the
  reference reproduces from the JSON-LD export (tests/history/test_epcis_xml.py pins that difference).
- `tagtrail:<name>` fields (TAGTRAIL_CONTEXT) become `<tagtrail:<name>>` elements in that namespace at
  the end of the event (the XSD's `##other` wildcard); `cbvmda:` ILMD fields use GS1's XML namespace
  `urn:epcglobal:cbv:mda`. Nested objects become nested elements, lists repeat the element.
- The header's `epcisMasterData.vocabularyList` becomes EPCISHeader/extension/EPCISMasterData.

EPCIS 2.0 (urn:epcglobal:epcis:xsd:2): eventID, errorDeclaration and certificationInfo sit at the event
root (2.0 moved them out of `baseExtension`), quantityList/sourceList/destinationList/ilmd too.

EPCIS 1.2 (urn:epcglobal:epcis:xsd:1): eventID and errorDeclaration go in `baseExtension` (1.2's XSD
has both there; eventID is any URI, so the CBV 2.0 hash `ni:///sha-256;...` is valid: a 1.2 partner, whose
CBV 1.2 suggests urn:uuid: ids, keeps it as an opaque unique id and finds it again in correctiveEventIDs;
it cannot recompute it without CBV 2.0's algorithm); bizTransactionList stays at the event root; quantity
lists, sourceList, destinationList and ilmd go in the event's `extension`. The reference implementation
reads 1.2 too (it strips `<extension>`/`<baseExtension>` before parsing) and gives the 2.0 eventIDs,
except for ILMD (above) and the 2.0-only fields below, which it hashes as foreign extensions.
What 1.2 cannot say:
- `certificationInfo`, `sensorElementList` and `persistentDisposition` have no 1.2 element. They are NOT
  dropped: each is written as its 2.0 element, in the 2.0 namespace (prefix `epcis2`), in the event's
  `##other` extension slot. A 1.2 reader keeps or ignores them as any foreign extension; it will not
  interpret them as sensor data or persistent dispositions.
- 1.2's EPCISHeader must hold a StandardBusinessDocumentHeader, whose Sender and Receiver are required,
  and 1.2 has no other place for master data. Without `sbdh` a 1.2 document therefore has no header and
  its master data (location names and addresses, EPCInstance lots and expiries) are left out, with a
  warning `epcis_xml.master_data_left_out` naming the vocabularies and the fix; the events still name
  their places by SGLN. An SBDH is not made up: a receiver tagtrail cannot know. Give `sbdh` to keep them.
- AssociationEvent does not exist in 1.2: a clear error, not a silent drop.

`sbdh` (both versions, optional): a DocumentHeader from tagtrail/history/document_header.py's
`document_header(sender, receiver)`, the standard business document header naming who sends the
document to whom (validated GLN or SGLN; that module says which Authority each gets and where the
JSON-LD carries the same parties).
"""

from __future__ import annotations

import codecs
import collections.abc
import datetime as dt
import decimal
import typing
from dataclasses import dataclass
from typing import Any

import structlog
from lxml import etree

from tagtrail.history.document_header import DocumentHeader
from tagtrail.history.epcis import CBV_BIZ_STEPS, CBV_DISPOSITIONS, TAGTRAIL_CONTEXT, _time
from tagtrail.history.epcis_lots import StreamedVocabulary

log = structlog.get_logger(__name__)

EPCIS_NS = {"2.0": "urn:epcglobal:epcis:xsd:2", "1.2": "urn:epcglobal:epcis:xsd:1"}
SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
CBVMDA_NS = "urn:epcglobal:cbv:mda"
GS1_VOC = "https://gs1.org/voc/"
EXTENSION_NS = {"tagtrail": TAGTRAIL_CONTEXT["tagtrail"], "cbvmda": CBVMDA_NS}


@dataclass(frozen=True)
class CbvVocabulary:
    """One CBV 2.0 vocabulary: its URN prefix (the XML form), its web prefix (a JSON-LD form), its names."""

    urn: str
    web: str
    names: frozenset[str]


# the names GS1's EPCIS 2.0 JSON schema admits as bare strings (bizTransaction-type, source-dest-type, error-reason)
CBV = {
    "bizStep": CbvVocabulary("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-", CBV_BIZ_STEPS),
    "disposition": CbvVocabulary("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-", CBV_DISPOSITIONS),
    "reason": CbvVocabulary("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-",
                            frozenset({"did_not_occur", "incorrect_data"})),
    "bizTransaction": CbvVocabulary("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-", frozenset({
        "bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma", "testprd", "testres",
        "upevt"})),
    "sourceDest": CbvVocabulary("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-",
                                frozenset({"owning_party", "possessing_party", "location"})),
}

HEAD_2_0 = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration", "certificationInfo")
HEAD_1_2 = ("eventTime", "recordTime", "eventTimeZoneOffset")
BASE_EXTENSION_1_2 = ("eventID", "errorDeclaration")
ONLY_2_0 = ("certificationInfo", "sensorElementList", "persistentDisposition")
TAIL_2_0 = ("sourceList", "destinationList", "sensorElementList", "persistentDisposition")

# Per event type: (body fields at the event root, fields of 1.2's <extension>); the XSDs' order.
BODY_2_0: dict[str, tuple[str, ...]] = {
    "ObjectEvent": ("epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList",
                    "quantityList", *TAIL_2_0, "ilmd"),
    "AggregationEvent": ("parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint", "bizLocation",
                         "bizTransactionList", "childQuantityList", *TAIL_2_0),
    "TransactionEvent": ("bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition", "readPoint",
                         "bizLocation", "quantityList", *TAIL_2_0),
    "AssociationEvent": ("parentID", "childEPCs", "childQuantityList", "action", "bizStep", "disposition", "readPoint",
                         "bizLocation", "bizTransactionList", *TAIL_2_0),
}
BODY_1_2: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ObjectEvent": (("epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList"),
                    ("quantityList", "sourceList", "destinationList", "ilmd")),
    "AggregationEvent": (("parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint", "bizLocation",
                          "bizTransactionList"), ("childQuantityList", "sourceList", "destinationList")),
    "TransactionEvent": (("bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition", "readPoint",
                          "bizLocation"), ("quantityList", "sourceList", "destinationList")),
}
REQUIRED_LISTS_1_2 = {"ObjectEvent": "epcList", "AggregationEvent": "childEPCs", "TransactionEvent": "epcList"}
EPC_LISTS = frozenset({"epcList", "childEPCs"})
QUANTITY_LISTS = frozenset({"quantityList", "childQuantityList"})
NOT_FIELDS = frozenset({"type", "@context"})
OBJECT_FIELDS = frozenset({"readPoint", "bizLocation", "errorDeclaration", "persistentDisposition", "ilmd"})
LIST_FIELDS = EPC_LISTS | QUANTITY_LISTS | {"bizTransactionList", "sourceList", "destinationList", "sensorElementList"}


class EpcisXmlError(ValueError):
    """An event or header that the chosen EPCIS XML version cannot carry; the message names the event and field."""


def write_epcis_xml(out: typing.TextIO, header: dict, events: collections.abc.Iterable[dict], *,
                    version: str = "2.0", now: dt.datetime | None = None,
                    sbdh: DocumentHeader | None = None) -> int:
    """Writes one EPCISDocument to `out`, pulling events from `events` one at a time; returns how many."""
    if version not in EPCIS_NS:
        raise EpcisXmlError(f"EPCIS XML version {version!r} is not one of {sorted(EPCIS_NS)}")
    unknown = set(header or {}) - {"epcisMasterData"}
    if unknown:
        raise EpcisXmlError(f"epcisHeader: field(s) {sorted(unknown)} have no EPCIS XML form here")
    nsmap = {"epcis": EPCIS_NS[version], **EXTENSION_NS}
    if version == "1.2":
        nsmap["epcis2"] = EPCIS_NS["2.0"]
    if sbdh:
        nsmap["sbdh"] = SBDH_NS
    created = _time(now or dt.datetime.now(dt.UTC))
    writer = _EventWriter(version, {k: v for k, v in nsmap.items() if k not in ("epcis", "sbdh")})
    count = 0
    with etree.xmlfile(_TextSink(out), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{EPCIS_NS[version]}}}EPCISDocument", nsmap=nsmap,
                        schemaVersion=version, creationDate=created):
            _write_header(xf, version, header or {}, sbdh, created)
            with xf.element("EPCISBody"), xf.element("EventList"):
                for event in events:
                    xf.write(writer.event(event, count))
                    count += 1
    return count


class _TextSink:
    """lxml writes UTF-8 bytes; `out` is a text stream. Decodes incrementally (a character may span chunks)."""

    def __init__(self, out: typing.TextIO) -> None:
        self.out = out
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def write(self, data: bytes) -> None:
        self.out.write(self.decoder.decode(data))


def _write_header(xf: Any, version: str, header: dict, sbdh: DocumentHeader | None, created: str) -> None:
    """The EPCISHeader, written as it is built: a StreamedVocabulary's elements (epcis_lots.py: a range's
    EPCInstance lots) are pulled one at a time, any other vocabulary is written whole."""
    master = (header.get("epcisMasterData") or {}).get("vocabularyList")
    if version == "1.2" and not sbdh:
        if master:  # 1.2 has no other place for them, and an SBDH cannot be made up without its parties
            log.warning("epcis_xml.master_data_left_out", version=version,
                        vocabularies=sorted({vocabulary.type if isinstance(vocabulary, StreamedVocabulary)
                                             else vocabulary.get("type", "?") for vocabulary in master}),
                        reason="EPCIS 1.2 carries master data only in an EPCISHeader, and a 1.2 EPCISHeader must "
                               "hold a standard business document header naming sender and receiver",
                        fix="give sbdh=document_header(sender, receiver) (tagtrail epcis --sender/--receiver)")
            for vocabulary in master:
                if isinstance(vocabulary, StreamedVocabulary):
                    vocabulary.close()  # not written: its query ends here, before the events read theirs
        return
    if not master and not sbdh:
        return
    with xf.element("EPCISHeader", nsmap={"sbdh": SBDH_NS} if sbdh else None):
        if sbdh:
            _write_sbdh(xf, sbdh, created)
        if master:
            with xf.element("extension"), xf.element("EPCISMasterData"), xf.element("VocabularyList"):
                for index, vocabulary in enumerate(master):
                    where = f"epcisHeader.epcisMasterData.vocabularyList[{index}]"
                    if isinstance(vocabulary, StreamedVocabulary):
                        with xf.element("Vocabulary", type=vocabulary.type), xf.element("VocabularyElementList"):
                            for member in vocabulary.elements:
                                xf.write(_vocabulary_element(None, member, where))
                        continue
                    element = etree.Element("Vocabulary", type=_required(vocabulary, "type", where))
                    members = vocabulary.get("vocabularyElementList") or []
                    if members:
                        listed = _sub(element, "VocabularyElementList")
                        for member in members:
                            _vocabulary_element(listed, member, where)
                    xf.write(element)


def _vocabulary_element(parent: etree._Element | None, member: dict, where: str) -> etree._Element:
    """One VocabularyElement (under `parent`, or on its own to be written as it comes)."""
    entry = etree.Element("VocabularyElement", id=_required(member, "id", where)) if parent is None \
        else _sub(parent, "VocabularyElement", id=_required(member, "id", where))
    for attribute in member.get("attributes") or []:
        _value(_sub(entry, "attribute", id=_required(attribute, "id", where)), attribute.get("attribute"))
    if member.get("children"):
        children = _sub(entry, "children")
        for child in member["children"]:
            _sub(children, "id").text = child
    return entry


def _write_sbdh(xf: Any, sbdh: DocumentHeader, created: str) -> None:
    """Standard EPCglobal, Type Events, TypeVersion 1.0 (the SBDH document type's version, not the EPCIS one:
    the value the EPCIS standard's SBDH section gives and that EPCIS exchanges, DSCSA ones included, carry).
    Written element by element inside EPCISHeader, so each takes the `sbdh` prefix it declares."""

    def leaf(name: str, text: str, **attributes: str) -> None:
        with xf.element(f"{{{SBDH_NS}}}{name}", attributes):
            xf.write(text)

    with xf.element(f"{{{SBDH_NS}}}StandardBusinessDocumentHeader"):
        leaf("HeaderVersion", "1.0")
        for role, party in (("Sender", sbdh.sender), ("Receiver", sbdh.receiver)):
            with xf.element(f"{{{SBDH_NS}}}{role}"):
                leaf("Identifier", party.identifier, Authority=party.authority)
        with xf.element(f"{{{SBDH_NS}}}DocumentIdentification"):
            for name, value in (("Standard", "EPCglobal"), ("TypeVersion", "1.0"),
                                ("InstanceIdentifier", sbdh.instance_identifier),
                                ("Type", "Events"), ("CreationDateAndTime", created)):
                leaf(name, value)


class _EventWriter:
    def __init__(self, version: str, nsmap: dict[str, str]) -> None:
        self.version = version
        self.nsmap = nsmap  # the document's prefixes, so extension elements use them instead of ns0, ns1

    def event(self, event: dict, index: int) -> etree._Element:
        kind = event.get("type")
        where = f"event {index} ({event.get('eventID', 'no eventID')})"
        known = BODY_2_0 if self.version == "2.0" else BODY_1_2
        if kind not in known:
            raise EpcisXmlError(f"{where}: type {kind!r} has no EPCIS {self.version} XML form here "
                                f"(known: {sorted(known)})")
        for needed in ("eventTime", "eventTimeZoneOffset", "action"):
            _required(event, needed, where)
        if kind == "TransactionEvent" and not event.get("bizTransactionList"):
            raise EpcisXmlError(f"{where}: a TransactionEvent names its business transactions: 'bizTransactionList' "
                                "is missing or empty")
        if kind == "AggregationEvent" and event["action"] in ("ADD", "DELETE") and not event.get("parentID"):
            raise EpcisXmlError(f"{where}: an AggregationEvent {event['action']} names its parent: 'parentID' is missing")
        root = etree.Element(kind, nsmap=self.nsmap)
        if self.version == "2.0":
            ordered = HEAD_2_0 + BODY_2_0[kind]
            for name in ordered:
                self._field(root, name, event, where)
        else:
            body, extension = BODY_1_2[kind]
            ordered = HEAD_1_2 + BASE_EXTENSION_1_2 + body + extension + ONLY_2_0
            for name in HEAD_1_2:
                self._field(root, name, event, where)
            if any(_present(event, name) for name in BASE_EXTENSION_1_2):
                base = _sub(root, "baseExtension")
                for name in BASE_EXTENSION_1_2:
                    self._field(base, name, event, where)
            for name in body:
                if name == REQUIRED_LISTS_1_2[kind] and name not in event:
                    _sub(root, name)  # 1.2 requires the list, empty when the event names classes only
                self._field(root, name, event, where)
            if any(_present(event, name) for name in extension):
                ext = _sub(root, "extension")
                for name in extension:
                    self._field(ext, name, event, where)
            for name in ONLY_2_0:  # 2.0-only: the 2.0 element, as a foreign extension (module docstring)
                self._field(root, name, event, where, namespace=EPCIS_NS["2.0"])
        for key, value in event.items():
            if key in NOT_FIELDS or key in ordered:
                continue
            if ":" not in key:
                raise EpcisXmlError(f"{where}: field {key!r} has no place in a {kind} (EPCIS {self.version} XML)")
            _extension(root, key, value, where)
        return root

    def _field(self, parent: etree._Element, name: str, event: dict, where: str, namespace: str | None = None) -> None:
        if not _present(event, name):
            return
        value = event[name]
        if name in OBJECT_FIELDS and not isinstance(value, dict) or name in LIST_FIELDS and not isinstance(value, list):
            raise EpcisXmlError(f"{where}: {name!r} must be a JSON {'object' if name in OBJECT_FIELDS else 'array'}, "
                                f"got {type(value).__name__}")
        tag = f"{{{namespace}}}{name}" if namespace else name
        if name in EPC_LISTS:
            listed = _sub(parent, tag)
            for epc in value:
                _sub(listed, "epc").text = epc
        elif name in QUANTITY_LISTS:
            listed = _sub(parent, tag)
            for quantity in value:
                element = _sub(listed, "quantityElement")
                _sub(element, "epcClass").text = _required(quantity, "epcClass", f"{where} {name}")
                if "quantity" in quantity:
                    _sub(element, "quantity").text = _number(quantity["quantity"])
                    if "uom" in quantity:
                        _sub(element, "uom").text = quantity["uom"]
        elif name in ("bizStep", "disposition"):
            _sub(parent, tag).text = _urn(value, CBV[name], f"{where} {name}")
        elif name in ("readPoint", "bizLocation"):
            _sub(_sub(parent, tag), "id").text = _required(value, "id", f"{where} {name}")
        elif name == "bizTransactionList":
            listed = _sub(parent, tag)
            for item in value:
                text = _required(item, "bizTransaction", f"{where} {name}")
                attributes = {"type": _urn(item["type"], CBV["bizTransaction"], f"{where} {name} type")} \
                    if item.get("type") else {}  # the one optional type: CBV lets a bizTransaction go untyped
                _sub(listed, "bizTransaction", **attributes).text = text
        elif name in ("sourceList", "destinationList"):
            member = name.removesuffix("List")
            listed = _sub(parent, tag)
            for item in value:
                kind = _urn(_required(item, "type", f"{where} {name}"), CBV["sourceDest"], f"{where} {name} type")
                element = _sub(listed, member, type=kind)
                element.text = _required(item, member, f"{where} {name}")
        elif name == "errorDeclaration":
            declared = _sub(parent, tag)
            _sub(declared, "declarationTime").text = _required(value, "declarationTime", f"{where} {name}")
            if "reason" in value:
                _sub(declared, "reason").text = _urn(value["reason"], CBV["reason"], f"{where} {name} reason")
            if value.get("correctiveEventIDs"):
                ids = _sub(declared, "correctiveEventIDs")
                for corrective in value["correctiveEventIDs"]:
                    _sub(ids, "correctiveEventID").text = corrective
            for key, extra in value.items():
                if key not in ("declarationTime", "reason", "correctiveEventIDs"):
                    _extension(declared, key, extra, f"{where} {name}")
        elif name == "persistentDisposition":
            element = _sub(parent, tag)
            for part in ("unset", "set"):
                for disposition in value.get(part) or []:
                    _sub(element, part).text = _urn(disposition, CBV["disposition"], f"{where} {name}")
        elif name == "sensorElementList":
            listed = _sub(parent, tag)
            for sensor in value:
                element = _sub(listed, "sensorElement")
                if "sensorMetadata" in sensor:
                    _sub(element, "sensorMetadata", **_attributes(sensor["sensorMetadata"]))
                for report in sensor.get("sensorReport") or []:
                    kind = report.get("type")
                    if kind and ":" not in kind:  # a bare measurement type names GS1's web vocabulary
                        report = report | {"type": GS1_VOC + kind}
                    _sub(element, "sensorReport", **_attributes(report))
        elif name == "ilmd":
            element = _sub(parent, tag)
            for key, extra in value.items():
                _extension(element, key, extra, f"{where} ilmd")
        else:  # eventTime, recordTime, eventTimeZoneOffset, eventID, certificationInfo, action, parentID
            _sub(parent, tag).text = str(value)


def _extension(parent: etree._Element, key: str, value: Any, where: str, namespace: str | None = None) -> None:
    """A `prefix:name` JSON-LD field as a namespaced element; keys inside it without a prefix stay in its namespace."""
    prefix, _, local = key.rpartition(":")
    if prefix:
        if prefix not in EXTENSION_NS:
            raise EpcisXmlError(f"{where}: extension field {key!r}: prefix {prefix!r} is not one of "
                                f"{sorted(EXTENSION_NS)}")
        namespace = EXTENSION_NS[prefix]
    if namespace is None:
        raise EpcisXmlError(f"{where}: field {key!r} has no namespace prefix")
    for item in value if isinstance(value, list) else [value]:
        element = _sub(parent, f"{{{namespace}}}{local}")
        if isinstance(item, dict):
            for inner_key, inner in item.items():
                _extension(element, inner_key, inner, where, namespace)
        else:
            _value(element, item)


def _value(element: etree._Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _extension(element, key, inner, f"<{element.tag}>", etree.QName(element).namespace)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _number(value) if isinstance(value, int | float) else str(value)


def _attributes(values: dict) -> dict[str, str]:
    return {key: ("true" if v is True else "false" if v is False else _number(v) if isinstance(v, int | float) else str(v))
            for key, v in values.items()}


def _present(event: dict, name: str) -> bool:
    """A field to write: an empty bizTransaction/source/destination/quantity list says nothing (the XSD wants
    one member at least, and the event hash leaves empty lists out), so it is not written."""
    value = event.get(name)
    return value is not None and not (value == [] and name not in EPC_LISTS)


def _urn(value: str, cbv: CbvVocabulary, where: str) -> str:
    """A CBV name as its URN, the form of the XML bindings and of 1.2 partners: a bare name or a CBV web URI
    (https://ref.gs1.org/cbv/BTT-po) of a name the vocabulary has becomes `urn:epcglobal:cbv:btt:po`; any
    other URI passes unchanged; a bare name CBV does not define is refused (it would be a made-up URN)."""
    if not isinstance(value, str):
        raise EpcisXmlError(f"{where}: {value!r} is not a CBV 2.0 name nor a URI")
    if value.startswith(cbv.web) and value[len(cbv.web):] in cbv.names:
        return cbv.urn + value[len(cbv.web):]
    if ":" in value:
        return value
    if value not in cbv.names:
        raise EpcisXmlError(f"{where}: {value!r} is not a CBV 2.0 name (one of {sorted(cbv.names)}) nor a URI")
    return cbv.urn + value


def _number(value: Any) -> str:
    """xsd:decimal has no exponent: 1e-07 is written 0.0000001."""
    if isinstance(value, float):
        return format(decimal.Decimal(repr(value)), "f")
    return str(value)


def _required(holder: dict, key: str, where: str) -> Any:
    if not isinstance(holder, dict) or key not in holder:
        raise EpcisXmlError(f"{where}: {key!r} is missing")
    return holder[key]


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, tag, attributes) if attributes else etree.SubElement(parent, tag)
