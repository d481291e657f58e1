"""GS1 barcode data (as a scanner emits it) to its elements and an Identity, via biip.

The form is chosen from the data itself before biip is called, rather than letting `biip.parse`
try every interpretation: that is faster (figures in docs/benchmarks.md) and it fixes the ambiguity
that made a prefix-less element string `01<gtin>21<serial>` lose its serial (biip also offers the
GTIN alone, and the GTIN alone was preferred).

The common element strings of a handheld (AIs 00/01/10/17/21) and bare GTINs/SSCCs first go through
`gs1_fast`, which is many times faster than biip and declines anything it does not fully recognise;
biip stays the reference for everything else and for every rejection (see gs1_fast for why).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from biip import ParseConfig, ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.sscc import Sscc

from tagtrail.events import Identity
from tagtrail.identity import gs1_fast, item_key

GS = "\x1d"

# AIM symbology identifiers whose data is a GS1 element string (GS1-128, GS1 DataMatrix, GS1 QR,
# GS1 DataBar, GS1 DotCode) and those whose data is a bare GTIN (EAN-13/UPC-A, EAN-8, ITF-14).
GS1_ELEMENT_SYMBOLOGIES = frozenset({"]C1", "]d2", "]Q3", "]e0", "]J1"})
GTIN_SYMBOLOGIES = frozenset({"]E0", "]E3", "]E4", "]I1"})
GTIN_LENGTHS = (8, 12, 13, 14)
SSCC_LENGTH = 18


class BarcodeError(ValueError):
    """A barcode tagtrail will not accept; `reason` is a short code for dead letters and APIs."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ParsedBarcode:
    raw: str
    identity: Identity
    symbology: str | None = None
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    sscc: str | None = None
    elements: dict[str, str] = field(default_factory=dict)


class BarcodeParser:
    """Parses GS1 element strings (with AIM prefixes and GS/FNC1), HRI text, Digital Link URIs,
    plain GTINs and SSCCs. Non-GS1 data is accepted under the `internal` scheme when allowed,
    so internal serial labels still get a history.

    Reasons raised: `empty`, `unparseable`, `bad_check_digit`, `no_item_key`.
    """

    def __init__(self, *, allow_internal: bool = True, separator_chars: tuple[str, ...] = (GS,), fast: bool = True) -> None:
        """`fast=False` parses everything with biip alone: the reference the fast path is tested
        and benchmarked against."""
        self.allow_internal = allow_internal
        self._separators = tuple(dict.fromkeys((GS, *separator_chars)))
        self._separator_text = "".join(self._separators)
        self._config = ParseConfig(separator_chars=list(self._separators))
        self._fast = fast and gs1_fast.usable_separators(self._separators)

    def parse(self, raw: str) -> ParsedBarcode:
        if not isinstance(raw, str):
            raise BarcodeError("unparseable", f"barcode data must be text, got {type(raw).__name__}")
        text = raw.strip()  # CR/LF a scanner appends, stray spaces, and GS (Python counts it as whitespace)
        symbology = text[:3] if text.startswith("]") and len(text) >= 3 else None
        # A wedge scanner may send FNC1 in first position as a leading GS; it carries no data.
        body = (text[3:] if symbology else text).strip().strip(self._separator_text).strip()
        if not body:
            raise BarcodeError("empty", "barcode data is empty")
        try:
            if body.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
                return self._digital_link(raw, symbology, body)
            if body.startswith("("):
                return self._human_readable(raw, symbology, body)
            if symbology in GS1_ELEMENT_SYMBOLOGIES:
                return self._element_string(raw, symbology, body, declared=True)
            if body.isascii() and body.isdigit() and (len(body) in GTIN_LENGTHS or len(body) == SSCC_LENGTH):
                return self._bare_key(raw, symbology, body)
            if symbology in GTIN_SYMBOLOGIES:
                raise BarcodeError("unparseable", f"{symbology} carries a GTIN, but {body!r} is not one")
            return self._element_string(raw, symbology, body, declared=False)
        except BarcodeError:
            raise
        except Exception as exc:  # biip is not expected to raise anything else; never let it escape
            raise BarcodeError("unparseable", f"barcode data not understood: {type(exc).__name__}: {exc}") from exc

    # -- forms ----------------------------------------------------------------------------
    def _digital_link(self, raw: str, symbology: str | None, body: str) -> ParsedBarcode:
        try:
            uri = GS1DigitalLinkURI.parse(body, config=self._config)
        except ParseError as exc:
            return self._internal(raw, symbology, body, f"not a GS1 Digital Link URI: {exc}")
        return self._from_elements(raw, symbology, uri.element_strings)

    def _human_readable(self, raw: str, symbology: str | None, body: str) -> ParsedBarcode:
        fast = gs1_fast.human_readable(body) if self._fast else None
        if fast is not None:
            return _from_values(raw, symbology, *fast)
        try:
            message = GS1Message.parse_hri(body, config=self._config)
        except ParseError as exc:
            raise BarcodeError("unparseable", f"GS1 human-readable form not understood: {exc}") from exc
        return self._from_elements(raw, symbology, message.element_strings)

    def _element_string(self, raw: str, symbology: str | None, body: str, *, declared: bool) -> ParsedBarcode:
        """`declared`: the scanner said the symbol holds GS1 data, so failing to parse it is an
        error rather than a sign of an internal label."""
        fast = gs1_fast.element_string(body, self._separator_text) if self._fast else None
        if fast is not None:
            return _from_values(raw, symbology, *fast)
        try:
            message = GS1Message.parse(body, config=self._config)
        except ParseError as exc:
            if declared:
                raise BarcodeError(_reason(str(exc)), f"GS1 element string not understood: {exc}") from exc
            return self._internal(raw, symbology, body, str(exc))
        if not declared and message.element_strings.get(ai="01") is None and message.element_strings.get(ai="00") is None:
            # Text like "10ABC" parses as AI 10 (lot); without a key AI it is more likely an internal label.
            return self._internal(raw, symbology, body, "GS1 data without a GTIN or SSCC")
        return self._from_elements(raw, symbology, message.element_strings)

    def _bare_key(self, raw: str, symbology: str | None, body: str) -> ParsedBarcode:
        """Digits alone: a GTIN-8/12/13/14 (EAN/UPC/ITF) or an 18-digit SSCC."""
        if self._fast and gs1_fast.bare_key_valid(body):
            if len(body) == SSCC_LENGTH:
                return ParsedBarcode(raw, Identity(item_key=item_key.sscc_key(body), scheme="sscc", sscc=body), symbology, sscc=body)
            gtin = body.zfill(14)  # biip's as_gtin_14(): GTIN-8/12/13 padded with leading zeros
            return ParsedBarcode(raw, Identity(item_key=item_key.gtin_key(gtin), scheme="gtin", gtin=gtin), symbology, gtin=gtin)
        try:
            if len(body) == SSCC_LENGTH:
                sscc = Sscc.parse(body, config=self._config).value
                return ParsedBarcode(raw, Identity(item_key=item_key.sscc_key(sscc), scheme="sscc", sscc=sscc), symbology, sscc=sscc)
            gtin = Gtin.parse(body, config=self._config).as_gtin_14()
        except ParseError as exc:
            raise BarcodeError(_reason(str(exc)), str(exc)) from exc
        return ParsedBarcode(raw, Identity(item_key=item_key.gtin_key(gtin), scheme="gtin", gtin=gtin), symbology, gtin=gtin)

    def _internal(self, raw: str, symbology: str | None, body: str, why: str) -> ParsedBarcode:
        if not self.allow_internal:
            raise BarcodeError(_reason(why), f"not a GS1 barcode: {why}")
        if any(ord(c) < 32 or ord(c) == 127 for c in body):
            raise BarcodeError("unparseable", "non-GS1 barcode contains control characters")
        return ParsedBarcode(raw, Identity(item_key=item_key.internal_key(body), scheme="internal", serial=body), symbology)

    def _from_elements(self, raw: str, symbology: str | None, elements) -> ParsedBarcode:
        values: dict[str, str] = {}
        gtin = serial = lot = sscc = None
        expiry = None
        for es in elements:
            ai = es.ai.ai
            values[ai] = es.value
            if ai == "01":
                if es.gtin is None:
                    raise BarcodeError("bad_check_digit", es.gtin_error or f"GTIN {es.value} is not valid")
                gtin = es.gtin.as_gtin_14()
            elif ai == "00":
                if es.sscc is None:
                    raise BarcodeError("bad_check_digit", es.sscc_error or f"SSCC {es.value} is not valid")
                sscc = es.sscc.value
            elif ai == "21":
                serial = es.value
            elif ai == "10":
                lot = es.value
            elif ai == "17":
                expiry = es.date
        return _identified(raw, symbology, values, gtin, serial, lot, expiry, sscc)


def _from_values(raw: str, symbology: str | None, values: dict[str, str], expiry: dt.date | None) -> ParsedBarcode:
    """The fast path's elements (all valid, so each GS1 key is its value as written)."""
    get = values.get
    return _identified(raw, symbology, values, get("01"), get("21"), get("10"), expiry, get("00"))


def _identified(raw: str, symbology: str | None, values: dict[str, str], gtin: str | None, serial: str | None,
                lot: str | None, expiry: dt.date | None, sscc: str | None) -> ParsedBarcode:
    """One place that picks the identity, so both parse paths name an item the same way."""
    if sscc is not None:
        identity = Identity(item_key=item_key.sscc_key(sscc), scheme="sscc", sscc=sscc)
    elif gtin is not None and serial is not None:
        identity = Identity(item_key=item_key.sgtin_key(gtin, serial), scheme="sgtin", gtin=gtin, serial=serial)
    elif gtin is not None:
        identity = Identity(item_key=item_key.gtin_key(gtin), scheme="gtin", gtin=gtin)
    else:
        raise BarcodeError("no_item_key", f"GS1 data has no GTIN or SSCC (AIs: {', '.join(values) or 'none'})")
    return ParsedBarcode(raw, identity, symbology, gtin, serial, lot, expiry, sscc, values)


def _reason(message: str) -> str:
    return "bad_check_digit" if "check digit" in message.lower() else "unparseable"
