"""Lot and expiry known for one item (schema tagtrail.events.ItemMaster)."""

from __future__ import annotations

import datetime as dt

import msgspec

ITEM_MASTER_SOURCES = ("import", "scan", "commissioning")


class ItemMaster(msgspec.Struct, frozen=True, kw_only=True):
    """Product data kept per item, so exports and `where` can name its lot and expiry even when no scan did."""

    event_id: str
    item_key: str
    source: str
    recorded_at: int
    lot: str | None = None
    expiry: dt.date | None = None
