"""Opening a shipment or receipt: the request body, its checks, and the BusinessTransaction it becomes. Pure.

The record carries complete source and destination lists: for an outbound shipment the site's own
company (company.gln) and location are the source and the partner the destination; for an inbound
receipt the other way round. Whoever turns it into EPCIS events needs no site file to fill them.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import msgspec

from tagtrail.config import SiteConfig
from tagtrail.config.gs1_locations import gs1_locations
from tagtrail.events import BusinessTransaction, PartyOrPlace
from tagtrail.events.business_transaction import transaction_key
from tagtrail.identity.gln import DIGITAL_LINK, NO_EXTENSION, Gs1KeyError, parse_gln
from tagtrail.identity.item_key import sgln_key
from tagtrail_ingest.scans.locations import LocationError, LocationResolver
from tagtrail_ingest.scans.transaction_barcode import TransactionBarcode, sscc_ok

# CBV 2.0 business transaction types (urn:epcglobal:cbv:btt:<name>).
BIZ_TRANSACTION_TYPES = ("bol", "cert", "desadv", "inv", "pedigree", "po", "poc", "prodorder", "recadv", "rma",
                         "testprd", "testres", "upevt")
BTT_URN = "urn:epcglobal:cbv:btt:"
DOCUMENT_NUMBER = re.compile(r"^[A-Za-z0-9._:/\-]{1,80}$")
URI = re.compile(r"^(urn:[A-Za-z0-9][A-Za-z0-9\-]{0,31}:|https?://)[!-~]{1,250}$")
PGLN_URN = re.compile(r"^urn:epc:id:pgln:(\d{6,12})\.(\d{0,6})$")
SGLN_URN = re.compile(r"^urn:epc:id:sgln:(\d{6,12})\.(\d{0,6})\.([!-~]{1,20})$")
SSCC = re.compile(r"^\d{18}$")
AI_254 = re.compile(r"^[!%-?A-Z_a-z\"]{1,20}$")  # GS1 AI 254: 1-20 characters of CSET 82
MAX_SSCCS = 1000
# msgspec's messages: "... - at `$.ssccs[0]`", "Object missing required field `direction`", "... unknown field `x`"
_FIELD_IN_ERROR = re.compile(r"at `\$\.([^`]+)`|field `([^`]+)`")


class TransactionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /v1/transactions: open a shipment (outbound) or a receipt (inbound) at a site location."""

    direction: str
    location: str
    type: str | None = None
    id: str | None = None
    document_number: str | None = None
    issuer_gln: str | None = None
    partner_gln: str | None = None
    partner_location_gln: str | None = None
    partner_location_extension: str | None = None
    ssccs: list[str] = msgspec.field(default_factory=list)
    barcode: str | None = None


class RequestError(ValueError):
    """A request the service refuses; `field` names the part at fault."""

    def __init__(self, field: str, message: str, error: str = "invalid_transaction") -> None:
        super().__init__(message)
        self.field = field
        self.error = error


def decode_request(body: bytes) -> TransactionIn:
    try:
        return msgspec.json.decode(body or b"{}", type=TransactionIn)
    except msgspec.ValidationError as exc:
        found = _FIELD_IN_ERROR.search(str(exc))
        raise RequestError(next(g for g in found.groups() if g) if found else "body", str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise RequestError("body", f"not JSON: {exc}", "malformed_json") from exc


class SiteParties:
    """This site as EPCIS parties and places: the company's GLN and its locations' SGLNs."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self._resolver = LocationResolver(site)
        self._sglns = gs1_locations(site).locations
        self._known = {loc.id for loc in site.locations} | {rp.location for rp in site.read_points} \
            | {s.location for s in site.scanners if s.location}

    def company_gln(self) -> str:
        if self.site.company is None:
            raise RequestError("company.gln", "the site config names no company (company.gln): shipments and receipts "
                               "need the site's own GLN", "site_has_no_gln")
        return self.site.company.gln

    def location_id(self, text: str) -> str:
        """A site location id, a read point id (its location) or a GS1 location barcode (the location with that SGLN)."""
        value = text.strip()
        try:  # a scanned GS1 location barcode ((414)...(254)...) to its 414/<gln>/254/<ext> key, as scans place it
            value = self._resolver.resolve("", value, None)[0] or value
        except LocationError:
            pass
        if value in self._known:
            return value
        for loc_id, sgln in self._sglns.items():
            if value in (sgln.digital_link(), sgln.epc_uri(), sgln_key(sgln.gln, sgln.extension)):
                return loc_id
        raise RequestError("location", f"location {text!r} is not a location or read point of the site config")

    def own(self, location: str) -> list[PartyOrPlace]:
        gln = self.company_gln()
        sgln = self._sglns.get(location)
        place = sgln.digital_link() if sgln is not None else f"{DIGITAL_LINK}414/{gln}"
        return [PartyOrPlace(type="owning_party", id=f"{DIGITAL_LINK}417/{gln}"), PartyOrPlace(type="location", id=place)]


def build_transaction(request: TransactionIn, parties: SiteParties, *, event_id: str, now: int,
                      barcode: TransactionBarcode | None = None) -> BusinessTransaction:
    """The first version (status open) of the transaction `request` names. Raises RequestError."""
    if request.direction not in ("outbound", "inbound"):
        raise RequestError("direction", f"direction must be outbound (a shipment) or inbound (a receipt), got {request.direction!r}")
    location = parties.location_id(request.location)
    type_ = request.type or (barcode.type if barcode else None)
    if type_ is None:
        raise RequestError("type", f"type is required: a CBV business transaction type ({', '.join(BIZ_TRANSACTION_TYPES)})")
    type_ = type_.removeprefix(BTT_URN)
    if type_ not in BIZ_TRANSACTION_TYPES:
        raise RequestError("type", f"type must be a CBV business transaction type ({', '.join(BIZ_TRANSACTION_TYPES)}), got {type_!r}")
    id_ = _transaction_id(request, parties, barcode)
    partner = _partner(request, barcode)
    own = parties.own(location)
    sources, destinations = (own, partner) if request.direction == "outbound" else (partner, own)
    ssccs = [*_ssccs(request.ssccs), *(barcode.ssccs if barcode else ())]
    return BusinessTransaction(
        event_id=event_id, transaction_id=transaction_key(type_, id_), type=type_, id=id_, direction=request.direction,
        location=location, status="open", opened_at=now, recorded_at=now, sources=sources, destinations=destinations,
        ssccs=list(dict.fromkeys(ssccs)),
    )


def _transaction_id(request: TransactionIn, parties: SiteParties, barcode: TransactionBarcode | None) -> str:
    given = [name for name in ("id", "document_number") if getattr(request, name) is not None]
    if len(given) > 1:
        raise RequestError("id", "give either id (a URI) or document_number, not both")
    if request.id is not None:
        if not URI.match(request.id):
            raise RequestError("id", f"id must be a URI (urn:... or https://...) of at most 256 printable characters, got {request.id!r}")
        return request.id
    number = request.document_number or (barcode.document_number if barcode else None)
    if number is None:
        if barcode is not None and barcode.id is not None:
            return barcode.id
        raise RequestError("id", "give id (a URI such as urn:epcglobal:cbv:bt:<GLN>:<number>) or document_number")
    if not DOCUMENT_NUMBER.match(number):
        raise RequestError("document_number", "document_number must be 1-80 of A-Z a-z 0-9 . _ : / -, got " + repr(number))
    issuer = _gln("issuer_gln", request.issuer_gln) if request.issuer_gln else parties.company_gln()
    return f"urn:epcglobal:cbv:bt:{issuer}:{number}"


def _partner(request: TransactionIn, barcode: TransactionBarcode | None) -> list[PartyOrPlace]:
    out: list[PartyOrPlace] = []
    if request.partner_gln is not None:
        out.append(PartyOrPlace(type="owning_party", id=party_uri(request.partner_gln)))
    location_gln = request.partner_location_gln
    extension = request.partner_location_extension
    if location_gln is None and barcode is not None and request.direction == "outbound":
        location_gln = barcode.ship_to_gln  # AI 410 ship to: where an outbound shipment goes
    if location_gln is not None:
        out.append(PartyOrPlace(type="location", id=place_uri(location_gln, extension)))
    elif extension is not None:
        raise RequestError("partner_location_extension", "partner_location_extension needs partner_location_gln")
    return out


def party_uri(value: str) -> str:
    """A party as the record carries it: a 13-digit GLN becomes https://id.gs1.org/417/<gln>; a PGLN URN is kept."""
    text = value.strip()
    if text.startswith("urn:"):
        match = PGLN_URN.match(text)
        if match is None or len(match[1] + match[2]) != 12:
            raise RequestError("partner_gln", f"partner_gln {value!r} is neither a GLN nor a urn:epc:id:pgln URI")
        return text
    return f"{DIGITAL_LINK}417/{_gln('partner_gln', text.removeprefix(DIGITAL_LINK + '417/'))}"


def place_uri(value: str, extension: str | None) -> str:
    """A place: a GLN (+ extension) becomes https://id.gs1.org/414/<gln>[/254/<ext>]; an SGLN URN is kept."""
    text = value.strip()
    if text.startswith("urn:"):
        match = SGLN_URN.match(text)
        if match is None or len(match[1] + match[2]) != 12 or extension is not None:
            raise RequestError("partner_location_gln", f"partner_location_gln {value!r} is neither a GLN nor a "
                               "urn:epc:id:sgln URI (whose extension is part of it)")
        return text
    gln = _gln("partner_location_gln", text.removeprefix(DIGITAL_LINK + "414/"))
    if extension is None or extension == NO_EXTENSION:
        return f"{DIGITAL_LINK}414/{gln}"
    return f"{DIGITAL_LINK}414/{gln}/254/{quote(_extension(extension), safe='')}"


def _extension(extension: str) -> str:
    if not AI_254.match(extension):
        raise RequestError("partner_location_extension", "partner_location_extension must be 1-20 GS1 AI 254 characters")
    return extension


def _gln(field: str, value: str) -> str:
    try:
        return parse_gln(value)
    except Gs1KeyError as exc:
        raise RequestError(field, f"{field}: {exc}") from exc


def _ssccs(values: list[str]) -> list[str]:
    if len(values) > MAX_SSCCS:
        raise RequestError("ssccs", f"at most {MAX_SSCCS} SSCCs per transaction")
    for i, value in enumerate(values):
        if not SSCC.match(value) or not sscc_ok(value):
            raise RequestError(f"ssccs[{i}]", f"ssccs[{i}] {value!r} is not an SSCC (18 digits, GS1 check digit)")
    return values
