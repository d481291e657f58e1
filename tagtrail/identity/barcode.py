"""GS1 barcode data (as a scanner emits it) to its elements and an Identity, via biip."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from biip import ParseConfig, parse
from biip.gs1_messages import GS1Message

from tagtrail.events import Identity
from tagtrail.identity import item_key

GS = "\x1d"


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
    """

    def __init__(self, *, allow_internal: bool = True, separator_chars: tuple[str, ...] = (GS,)) -> None:
        self.allow_internal = allow_internal
        self._config = ParseConfig(separator_chars=list(separator_chars))

    def parse(self, raw: str) -> ParsedBarcode:
        text = raw.strip("\r\n")
        if not text.strip():
            raise BarcodeError("empty", "barcode data is empty")
        symbology = text[:3] if text.startswith("]") and len(text) >= 3 else None
        body = text[3:] if symbology else text
        if body.startswith("(") and ")" in body:
            try:
                message = GS1Message.parse_hri(body)
            except Exception as exc:
                raise BarcodeError("unparseable", f"GS1 human-readable form not understood: {exc}") from exc
            return self._from_elements(raw, symbology, message.element_strings)
        try:
            result = parse(text, config=self._config)
        except Exception as exc:  # biip raises ParseError for data no interpretation fits
            return self._internal(raw, symbology, body, str(exc))
        if result.gs1_digital_link_uri is not None:
            return self._from_elements(raw, symbology, result.gs1_digital_link_uri.element_strings)
        if result.gs1_message is not None and _is_gs1_symbology(symbology, result, body):
            return self._from_elements(raw, symbology, result.gs1_message.element_strings)
        if result.sscc is not None:
            sscc = result.sscc.value
            return ParsedBarcode(raw, Identity(item_key=item_key.sscc_key(sscc), scheme="sscc", sscc=sscc), symbology, sscc=sscc)
        if result.gtin is not None:
            gtin = result.gtin.as_gtin_14()
            return ParsedBarcode(raw, Identity(item_key=item_key.gtin_key(gtin), scheme="gtin", gtin=gtin), symbology, gtin=gtin)
        if result.gs1_message is not None:
            return self._from_elements(raw, symbology, result.gs1_message.element_strings)
        errors = [e for e in (result.gs1_message_error, result.gtin_error, result.sscc_error) if e]
        if body.isdigit() and len(body) in (8, 12, 13, 14, 18):
            key_error = result.sscc_error if len(body) == 18 else result.gtin_error
            raise BarcodeError("bad_check_digit", key_error or "bad check digit")
        return self._internal(raw, symbology, body, "; ".join(errors))

    def _internal(self, raw: str, symbology: str | None, body: str, why: str) -> ParsedBarcode:
        if not self.allow_internal:
            raise BarcodeError("unparseable", f"not a GS1 barcode: {why}")
        if any(ord(c) < 32 for c in body):
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
        if sscc is not None:
            identity = Identity(item_key=item_key.sscc_key(sscc), scheme="sscc", sscc=sscc)
        elif gtin is not None and serial is not None:
            identity = Identity(item_key=item_key.sgtin_key(gtin, serial), scheme="sgtin", gtin=gtin, serial=serial)
        elif gtin is not None:
            identity = Identity(item_key=item_key.gtin_key(gtin), scheme="gtin", gtin=gtin)
        else:
            raise BarcodeError("no_item_key", f"GS1 data has no GTIN or SSCC (AIs: {', '.join(values)})")
        return ParsedBarcode(raw, identity, symbology, gtin, serial, lot, expiry, sscc, values)


def _is_gs1_symbology(symbology: str | None, result, body: str) -> bool:
    """Plain digits could be a bare GTIN/SSCC or an element string; prefer the bare key unless the
    scanner said GS1 (]C1, ]d2, ]Q3, ]e0) or the data holds more than one element."""
    if symbology in ("]C1", "]d2", "]Q3", "]e0", "]J1"):
        return True
    return result.gtin is None and result.sscc is None
