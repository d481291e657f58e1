"""Builds valid GS1 data for tests: check digits computed, never copied from a table."""

from __future__ import annotations

from urllib.parse import quote

GS = "\x1d"


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit of the digits before it."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin14(body13: str) -> str:
    return body13 + check_digit(body13)


def sscc18(body17: str) -> str:
    return body17 + check_digit(body17)


def wrong_check_digit(key: str) -> str:
    return key[:-1] + str((int(key[-1]) + 1) % 10)


def renderings(gtin: str, serial: str) -> dict[str, str]:
    """The same GTIN+serial as scanners emit it (serial must be AI 21-legal, GS1 charset 82)."""
    forms = {
        "gs1-128": f"]C101{gtin}21{serial}",
        "gs1-128 with lot": f"]C101{gtin}21{serial}{GS}10LOT7",
        "gs1-datamatrix": f"]d201{gtin}21{serial}",
        "datamatrix serial first": f"]d221{serial}{GS}01{gtin}",
        "wedge, FNC1 as GS": f"{GS}01{gtin}21{serial}",
        "no AIM prefix": f"01{gtin}21{serial}",
        "digital link": f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='')}",
        "digital link in QR": f"]Q1https://example.com/01/{gtin}/21/{quote(serial, safe='')}",
    }
    if "(" not in serial and ")" not in serial:
        forms["human readable"] = f"(01){gtin}(21){serial}"
    return forms
