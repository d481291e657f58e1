"""The identity of one item: its join key plus the GS1 forms it was seen in."""

from __future__ import annotations

import msgspec


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """Who an item is.

    `item_key` is what RFID and barcodes can both always produce (a GTIN alone does not tell
    the company prefix length an SGTIN URI needs), so histories join on it; `epc_uri` is kept
    for display and EPCIS export where it is known.
    """

    item_key: str
    scheme: str
    epc_uri: str | None = None
    gtin: str | None = None
    serial: str | None = None
    sscc: str | None = None
