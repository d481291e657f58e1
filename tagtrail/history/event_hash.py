"""The CBV 2.0 canonical event hash: a deterministic eventID (`ni:///sha-256;<hex>?ver=CBV2.0`) for an EPCIS event.

Why our own and not the reference implementation (PyPI `epcis-event-hash-generator`) at run time: the
reference works on whole documents through a JSON-LD expansion (PyLD) and a JSON-to-XML model, keeps its
state in module globals, pulls in Flask, logs every event at INFO, and drops an event whose time has
.9995 s or more of a second (its rounding asks datetime for microsecond 1000000). It stays the test oracle:
tests/history/test_event_hash.py checks every exported eventID against it.

The algorithm (CBV 2.0 "Event hash", as the reference implements it):
- the pre-hash string is `eventType=<type>`, then the standard fields in the fixed order of
  PROPERTY_ORDER as `name=value` (a list as its name followed by its sorted elements; a structure as its
  name followed by its ordered children), then every other field (user extensions as
  `{namespace}localName=value`), sorted; no separators; empty values and empty lists are left out;
- eventID, recordTime, errorDeclaration and the JSON `type` keys do not take part;
- times are UTC at millisecond precision with a `Z` (`2026-01-01T00:00:00.000Z`); sub-millisecond
  digits are TRUNCATED, the rule tagtrail's export uses too (epcis.epcis_time), so the two never disagree;
- EPC URIs and GS1 Digital Link URIs become the canonical Digital Link (`https://id.gs1.org/01/.../21/...`,
  `.../414/<gln>/254/<ext>`), CBV URNs and bare CBV names become the web vocabulary
  (`https://ref.gs1.org/cbv/BizStep-receiving`), numbers lose leading and trailing zeros.
The SHA-256 of the UTF-8 pre-hash string, in hex, is the hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    """A standard field: its name in the pre-hash string, the JSON key it comes from, how a list element
    is named (`epc` for an epcList entry), and the order of its children when it is a structure."""

    name: str
    element: str | None = None
    children: tuple[Field, ...] = ()
    vocabulary: str | None = None  # web vocabulary prefix a bare value expands to


QUANTITY = (Field("epcClass"), Field("quantity"), Field("uom"))
SENSOR_METADATA = tuple(Field(n) for n in (
    "time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"))
SENSOR_REPORT = tuple(Field(n) for n in (
    "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time", "microorganism",
    "chemicalSubstance", "value", "component", "stringValue", "booleanValue", "hexBinaryValue", "uriValue",
    "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem"))
DISP = "https://ref.gs1.org/cbv/Disp-"

PROPERTY_ORDER: tuple[Field, ...] = (
    Field("eventTime"),
    Field("eventTimeZoneOffset"),
    Field("certificationInfo"),
    Field("parentID"),
    Field("epcList", "epc"),
    Field("inputEPCList", "epc"),
    Field("childEPCs", "epc"),
    Field("quantityList", "quantityElement", QUANTITY),
    Field("childQuantityList", "quantityElement", QUANTITY),
    Field("inputQuantityList", "quantityElement", QUANTITY),
    Field("outputEPCList", "epc"),
    Field("outputQuantityList", "quantityElement", QUANTITY),
    Field("action"),
    Field("transformationID"),
    Field("bizStep", vocabulary="https://ref.gs1.org/cbv/BizStep-"),
    Field("disposition", vocabulary=DISP),
    Field("persistentDisposition", None, (Field("set", vocabulary=DISP), Field("unset", vocabulary=DISP))),
    Field("readPoint", None, (Field("id"),)),
    Field("bizLocation", None, (Field("id"),)),
    Field("sensorElementList", "sensorElement", (
        Field("sensorMetadata", None, SENSOR_METADATA), Field("sensorReport", None, SENSOR_REPORT))),
)
ELEMENT_FIELDS = {name: Field(name) for name in ("epc", "quantityElement")}
# bizTransactionList, sourceList and destinationList are not in the order: the reference hashes them with
# the extensions (its ordered rule for them never matches), each element as its type (web vocabulary)
# then its value, the elements sorted; tests/history/test_epcis_xml.py holds that to the reference.
SDT = "https://ref.gs1.org/cbv/SDT-"
TYPED_LISTS = {"bizTransactionList": Field("bizTransaction", vocabulary="https://ref.gs1.org/cbv/BTT-"),
               "sourceList": Field("source", vocabulary=SDT), "destinationList": Field("destination", vocabulary=SDT)}
IGNORED = frozenset({"eventID", "recordTime", "errorDeclaration", "type", "@context"})
CBV_URNS = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", DISP),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)
GS1_DL = "https://id.gs1.org/"
CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def event_hash(event: Mapping[str, Any], namespaces: Mapping[str, str] | None = None) -> str:
    """`ni:///sha-256;<hex>?ver=CBV2.0` of one EPCIS 2.0 JSON-LD event. namespaces maps the document's
    @context prefixes (`tagtrail`) to their URIs, so `tagtrail:movementType` hashes as
    `{urn:tagtrail:epcis:}movementType`, whatever prefix a document happens to use."""
    digest = hashlib.sha256(pre_hash(event, namespaces or {}).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"


def pre_hash(event: Mapping[str, Any], namespaces: Mapping[str, str]) -> str:
    """The canonical string that is hashed (exposed for tests and for explaining a mismatch)."""
    ordered = _ordered(event, PROPERTY_ORDER)
    known = {f.name for f in PROPERTY_ORDER} | IGNORED
    rest = sorted(_typed_list(key, value) if key in TYPED_LISTS else _generic(key, value, namespaces)
                  for key, value in event.items() if key not in known)
    return f"eventType={event['type']}" + ordered + "".join(part for part in rest if part)


def _ordered(node: Mapping[str, Any], order: tuple[Field, ...]) -> str:
    out = []
    for field in order:
        if field.name not in node:
            continue
        value = node[field.name]
        if field.element is not None:
            parts = sorted(_element(field, v) for v in (value or []))
            text = "".join(parts)
            out.append(field.name + text if text else "")
        elif field.children:
            text = _ordered(value, field.children) if isinstance(value, Mapping) else ""
            out.append(field.name + text if text else "")
        else:
            out.append(_scalar(field, value))
    return "".join(out)


def _element(field: Field, value: Any) -> str:
    if field.children and isinstance(value, Mapping):
        text = _ordered(value, field.children)
        return field.element + text if text else ""
    return _scalar(ELEMENT_FIELDS.get(field.element or field.name) or Field(field.element or field.name), value)


def _scalar(field: Field, value: Any) -> str:
    text = _text(value)
    if not text:
        return ""
    lowered = field.name.lower()
    if "time" in lowered and "offset" not in lowered:
        text = canonical_time(text)
    else:
        if field.vocabulary and ":" not in text:
            text = field.vocabulary + text
        text = canonical_value(text)
    return f"{field.name}={text}"


def _typed_list(key: str, value: Any) -> str:
    """A bizTransactionList/sourceList/destinationList: `type=<web vocabulary>` then `<member>=<value>` per
    element (a bizTransaction may have no type), the elements sorted."""
    member = TYPED_LISTS[key]
    kind = Field("type", vocabulary=member.vocabulary)
    parts = sorted(_scalar(kind, element.get("type")) + _scalar(Field(member.name), element.get(member.name))
                   for element in value or [] if isinstance(element, Mapping))
    text = "".join(parts)
    return key + text if text else ""


def _generic(key: str, value: Any, namespaces: Mapping[str, str]) -> str:
    """A field outside the standard order (a user extension, ilmd): its children sorted, all levels."""
    name = _expanded_name(key, namespaces)
    if isinstance(value, list):
        return "".join(sorted(_generic(key, v, namespaces) for v in value))
    if isinstance(value, Mapping):
        return name + "".join(sorted(_generic(k, v, namespaces) for k, v in value.items()))
    text = _text(value)
    return f"{name}={canonical_value(text)}" if text else name


def _expanded_name(key: str, namespaces: Mapping[str, str]) -> str:
    prefix, sep, local = key.partition(":")
    if sep and prefix in namespaces:
        return "{" + namespaces[prefix] + "}" + local
    return key


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)  # as the reference's JSON model spells it
    return str(value).strip()


def canonical_time(text: str) -> str:
    """UTC, milliseconds (sub-millisecond digits truncated), `Z`; a value that is not a date-time stays."""
    if CANONICAL_TIME.match(text):
        return text  # already canonical (as tagtrail exports): skip the parse
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def canonical_value(text: str) -> str:
    if text.startswith("urn:epcglobal:cbv:"):
        for urn, web in CBV_URNS:
            if text.startswith(urn):
                text = web + text[len(urn):]
    if text[:1] in NUMBER_STARTS:
        text = canonical_number(text)
    return canonical_uri(text) or text


NUMBER_STARTS = frozenset("0123456789+-.")  # a float() literal starts so; "inf"/"nan" stay text either way


def canonical_number(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else str(number)


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit (GTIN, GLN, SSCC): weights 3,1,3,... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def _dl_escape(value: str) -> str:
    """Digital Link percent-encoding of the characters an EPC URI may carry unencoded (GS1 DL table 7-1)."""
    for char, code in (("!", "%21"), ("(", "%28"), (")", "%29"), ("*", "%2A"), ("+", "%2B"), (",", "%2C"), (":", "%3A")):
        value = value.replace(char, code)
    return value


EPC_CHARS = r"(?:%[0-9A-Fa-f]{2}|[!')(*+,.0-9:;=A-Za-z_-])"
SGTIN = re.compile(r"^urn:epc:id:sgtin:(\d{6,12})\.(\d{1,7})\.(" + EPC_CHARS + r"{1,20})$")
SSCC = re.compile(r"^urn:epc:id:sscc:(\d{6,12})\.(\d{5,11})$")
SGLN = re.compile(r"^urn:epc:id:sgln:(\d{6,12})\.(\d{0,6})\.(" + EPC_CHARS + r"{1,20})$")
PGLN = re.compile(r"^urn:epc:id:pgln:(\d{6,12})\.(\d{0,6})$")
LGTIN = re.compile(r"^urn:epc:class:lgtin:(\d{6,12})\.(\d{1,7})\.(" + EPC_CHARS + r"{1,20})$")
DL_KEY = re.compile(r"^https?://[^/?#]+(?:/[^?#]*)?/(01|00|414|417)/(\d+)((?:/[^/?#]+/[^/?#]+)*)/?(?:\?[^#]*)?(?:#.*)?$")


def canonical_uri(uri: str) -> str | None:
    """The canonical GS1 Digital Link of the GS1 keys tagtrail exports (SGTIN, SSCC, SGLN, PGLN, LGTIN EPC
    URIs and Digital Links for AIs 01, 00, 414, 417); None for anything else, which is hashed as it is."""
    if not uri.startswith(("urn:epc:", "http")):
        return None
    if m := SGTIN.match(uri):
        prefix, reference, serial = m.groups()
        if len(prefix) + len(reference) == 13:
            gtin = reference[0] + prefix + reference[1:]
            return f"{GS1_DL}01/{gtin}{check_digit(gtin)}/21/{_dl_escape(serial)}"
    elif m := LGTIN.match(uri):
        prefix, reference, lot = m.groups()
        if len(prefix) + len(reference) == 13:
            gtin = reference[0] + prefix + reference[1:]
            return f"{GS1_DL}01/{gtin}{check_digit(gtin)}/10/{_dl_escape(lot)}"
    elif m := SSCC.match(uri):
        prefix, reference = m.groups()
        if len(prefix) + len(reference) == 17:
            sscc = reference[0] + prefix + reference[1:]
            return f"{GS1_DL}00/{sscc}{check_digit(sscc)}"
    elif (m := SGLN.match(uri)) or (m := PGLN.match(uri)):
        prefix, reference = m.groups()[:2]
        if len(prefix) + len(reference) == 12:
            gln = prefix + reference
            if uri.startswith("urn:epc:id:pgln:"):
                return f"{GS1_DL}417/{gln}{check_digit(gln)}"
            extension = m.group(3)
            tail = "" if extension == "0" else f"/254/{_dl_escape(extension)}"
            return f"{GS1_DL}414/{gln}{check_digit(gln)}{tail}"
    elif m := DL_KEY.match(uri):
        return _canonical_digital_link(*m.groups())
    return None


def _canonical_digital_link(ai: str, key: str, qualifiers: str) -> str | None:
    if ai == "01":
        key = key.zfill(14)
        pairs = dict(zip(*[iter(qualifiers.strip("/").split("/"))] * 2)) if qualifiers else {}
        pairs.pop("22", None)  # CPV is not part of the instance identity
        if "21" in pairs:
            return f"{GS1_DL}01/{key}/21/{pairs['21']}"
        if "10" in pairs:
            return f"{GS1_DL}01/{key}/10/{pairs['10']}"
        return f"{GS1_DL}01/{key}" if not pairs else None
    if ai == "414":
        return f"{GS1_DL}414/{key}{qualifiers}" if qualifiers in ("",) or qualifiers.startswith("/254/") else None
    return f"{GS1_DL}{ai}/{key}" if not qualifiers else None
