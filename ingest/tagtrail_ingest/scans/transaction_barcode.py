"""A shipment label or purchase order barcode to the business transaction it names, via biip. Pure.

AI 400 (the customer's purchase order number) becomes a `po` whose id is a document number, AI 401
(GINC, a consignment) a `bol` and AI 402 (GSIN, a shipment as its despatch advice declares it) a
`desadv`, both as GS1 Digital Link URIs, which CBV 2.0 accepts as bizTransaction values. AI 410 (ship
to) names the destination location of an outbound shipment; AI 00 SSCCs on the same label are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from biip import ParseConfig, ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from biip.sscc import Sscc

from tagtrail.identity.gln import DIGITAL_LINK, Gs1KeyError, parse_gln

GS = "\x1d"
TRANSACTION_AIS = ("402", "401", "400")  # the first present names the transaction


class TransactionBarcodeError(ValueError):
    """Barcode data that names no business transaction; the message says why."""


@dataclass(frozen=True)
class TransactionBarcode:
    type: str
    id: str | None = None  # a GS1 key URI (401, 402)
    document_number: str | None = None  # AI 400
    ship_to_gln: str | None = None  # AI 410
    ssccs: tuple[str, ...] = ()


def parse_transaction_barcode(raw: str, separators: tuple[str, ...] = (GS,)) -> TransactionBarcode:
    text = raw.strip()
    if text.startswith("]") and len(text) >= 3:
        text = text[3:]
    chars = "".join(dict.fromkeys((GS, *separators)))
    body = text.strip().strip(chars).strip()
    if not body:
        raise TransactionBarcodeError("barcode data is empty")
    config = ParseConfig(separator_chars=list(chars))
    try:
        if body.lower().startswith(("http://", "https://")):
            elements = GS1DigitalLinkURI.parse(body, config=config).element_strings
        elif body.startswith("("):
            elements = GS1Message.parse_hri(body, config=config).element_strings
        else:
            elements = GS1Message.parse(body, config=config).element_strings
    except ParseError as exc:
        raise TransactionBarcodeError(f"not GS1 barcode data: {exc}") from exc
    values: dict[str, str] = {}
    ssccs: list[str] = []
    for es in elements:
        values.setdefault(es.ai.ai, es.value)
        if es.ai.ai == "00":
            if es.sscc is None:
                raise TransactionBarcodeError(es.sscc_error or f"SSCC {es.value} is not valid")
            ssccs.append(es.sscc.value)
    ai = next((a for a in TRANSACTION_AIS if a in values), None)
    if ai is None:
        raise TransactionBarcodeError(f"no shipment or order AI (400, 401 or 402) in the barcode (AIs: {', '.join(values) or 'none'})")
    ship_to = values.get("410")
    if ship_to is not None:
        try:
            parse_gln(ship_to)
        except Gs1KeyError as exc:
            raise TransactionBarcodeError(f"AI 410 ship-to: {exc}") from exc
    value = values[ai]
    if ai == "402" and not check_digit_ok(value):
        raise TransactionBarcodeError(f"GSIN {value} has a wrong check digit")
    if ai == "400":
        return TransactionBarcode("po", document_number=value, ship_to_gln=ship_to, ssccs=tuple(ssccs))
    kind = "desadv" if ai == "402" else "bol"
    return TransactionBarcode(kind, id=f"{DIGITAL_LINK}{ai}/{value}", ship_to_gln=ship_to, ssccs=tuple(ssccs))


def looks_like_transaction_barcode(raw: str) -> bool:
    try:
        parse_transaction_barcode(raw)
    except TransactionBarcodeError:
        return False
    return True


def check_digit_ok(digits: str) -> bool:
    """GS1 mod-10 check digit (GTIN, GLN, SSCC, GSIN all use it)."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == int(digits[-1])


def sscc_ok(value: str) -> bool:
    try:
        Sscc.parse(value)
    except ParseError:
        return False
    return True
