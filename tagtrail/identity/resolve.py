"""Any identity form a person may type (EPC hex, pure-identity URI, barcode, item key) to an Identity."""

from __future__ import annotations

import re
from urllib.parse import unquote

from epcpy.utils.parsers import epc_pure_identity_to_scheme

from tagtrail.events import Identity
from tagtrail.identity import item_key
from tagtrail.identity.barcode import BarcodeError, BarcodeParser
from tagtrail.identity.epc import EpcDecoder, EpcError

_HEX = re.compile(r"^(?:0x)?([0-9A-Fa-f]{24}|[0-9A-Fa-f]{32,})$")
_HEX_DIGITS = re.compile(r"^(?:0x)?([0-9A-Fa-f]+)$")
_KEY = re.compile(r"^(00|01|414|8003|8004|epc|internal)/")


class IdentityError(ValueError):
    pass


def resolve_any(text: str, *, epc: EpcDecoder | None = None, barcodes: BarcodeParser | None = None) -> Identity:
    """Resolve what someone typed or scanned to the item it names. Order matters: an EPC hex of
    24 digits is tried before barcodes, since a 24-digit all-numeric string is no GS1 barcode form."""
    value = text.strip()
    if not value:
        raise IdentityError("empty identity")
    if value.startswith("urn:epc:id:"):
        return _from_pure_identity(value)
    if _KEY.match(value):
        return _from_item_key(value)
    hex_match = _HEX.match(value)
    if hex_match and not value.isdigit():
        try:
            return (epc or EpcDecoder()).decode(hex_match.group(1))
        except EpcError as exc:
            raise IdentityError(str(exc)) from exc
    try:
        return (barcodes or BarcodeParser(allow_internal=False)).parse(value).identity
    except BarcodeError as exc:
        why = "; ".join(filter(None, (_why_not_an_epc(value), str(exc))))
        raise IdentityError(f"{value!r} is not an EPC, pure-identity URI, item key or GS1 barcode: {why}") from exc


def _why_not_an_epc(value: str) -> str | None:
    """For hex that is not an EPC's length (most often a truncated copy), say what length an EPC has:
    the barcode parser's complaint alone ("Failed to get GS1 Application Identifier") explains nothing."""
    match = _HEX_DIGITS.match(value)
    if not match or value.isdigit():
        return None
    digits = len(match.group(1))
    short = f", {24 - digits} digit{'s' if digits < 23 else ''} short of a 96-bit EPC (cut off?)" if digits < 24 else ""
    return (f"not an EPC: {digits} hex digits ({digits * 4} bits){short}; an EPC is 96 bits = 24 hex digits, "
            "or 128 bits (32 digits) and more in whole 16-bit words")


def _from_pure_identity(uri: str) -> Identity:
    try:
        epc = epc_pure_identity_to_scheme(uri)
    except Exception as exc:
        raise IdentityError(f"{uri!r} is not a valid EPC pure-identity URI: {exc}") from exc
    kind = type(epc).__name__.lower()
    if kind == "sgtin":
        gtin = epc.gtin()
        serial = unquote(uri.rsplit(".", 1)[1])
        return Identity(item_key=item_key.sgtin_key(gtin, serial), scheme="sgtin", epc_uri=uri, gtin=gtin, serial=serial)
    if kind == "sscc":
        sscc = epc.gs1_key()
        return Identity(item_key=item_key.sscc_key(sscc), scheme="sscc", epc_uri=uri, sscc=sscc)
    if kind == "grai":
        return Identity(item_key=item_key.grai_key(epc.gs1_key()), scheme="grai", epc_uri=uri)
    if kind == "giai":
        return Identity(item_key=item_key.giai_key(epc.gs1_key()), scheme="giai", epc_uri=uri)
    raise IdentityError(f"{uri!r}: EPC scheme {kind} is not an item identity tagtrail tracks")


def _from_item_key(key: str) -> Identity:
    parts = key.split("/")
    if parts[0] == "01" and len(parts) == 4 and parts[2] == "21":
        return Identity(item_key=key, scheme="sgtin", gtin=parts[1], serial=parts[3])
    if parts[0] == "00" and len(parts) == 2:
        return Identity(item_key=key, scheme="sscc", sscc=parts[1])
    if parts[0] == "epc":
        return Identity(item_key=key, scheme="unknown")
    if parts[0] == "internal":
        return Identity(item_key=key, scheme="internal", serial="/".join(parts[1:]))
    return Identity(item_key=key, scheme={"8003": "grai", "8004": "giai", "414": "sgln", "01": "gtin"}.get(parts[0], "unknown"))
