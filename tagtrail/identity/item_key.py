"""Builds item keys: the GS1 Digital Link style path both RFID and barcodes can always produce."""

from __future__ import annotations


def sgtin_key(gtin14: str, serial: str) -> str:
    return f"01/{gtin14}/21/{serial}"


def sscc_key(sscc18: str) -> str:
    return f"00/{sscc18}"


def grai_key(grai: str) -> str:
    return f"8003/{grai}"


def giai_key(giai: str) -> str:
    return f"8004/{giai}"


def sgln_key(gln: str, extension: str | None) -> str:
    return f"414/{gln}/254/{extension}" if extension and extension != "0" else f"414/{gln}"


def raw_epc_key(epc_hex: str) -> str:
    return f"epc/{epc_hex.upper()}"


def internal_key(value: str) -> str:
    return f"internal/{value}"


def gtin_key(gtin14: str) -> str:
    """A GTIN without serial names a product, not an item; kept so the scan is not lost."""
    return f"01/{gtin14}"
