"""A shipment (or receipt) as an export scope: which transactions a user's name for it means, and the
stored versions of its events, in export order, in bounded pages.

A user names a shipment the way the paperwork does: the transaction id (`desadv:urn:epcglobal:cbv:bt:...`),
the bizTransaction id, just the document number (`DA-1001`), or the SSCC of a logistic unit listed in it
(any form `tagtrail.identity` reads: 18 digits, `(00)...`, `urn:epc:id:sscc:...`, `00/...`). Every
transaction so named is in scope (an SSCC received and later shipped names both).

Its events are the history events migration 0008's `event_transactions` puts in one of those transactions
(any stored version matched: the event is shown whole, an original with its errorDeclaration before its
correction, as tagtrail/history/corrections.py decides) and every event of the SSCCs it lists (the logistic
unit's own story: built, moved, shipped). Read from event_log in keyset pages of whole version groups, as
tagtrail/history/event_versions.py reads a range, so an export of any size holds one page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tagtrail.history import queries
from tagtrail.history.event_versions import (
    AFTER_KEY,
    UP_TO_KEY,
    VERSION_COLUMNS,
    Group,
    keyset_version_groups,
)
from tagtrail.history.queries import EARLIEST, NamedQuery, _utc
from tagtrail.identity import resolve_any
from tagtrail.identity.resolve import IdentityError

IN_SHIPMENT = """(item_key IN {item_keys:Array(String)}
       OR (item_key, event_id) IN (SELECT item_key, event_id FROM event_transactions
                                   WHERE transaction_id IN {transaction_ids:Array(String)}))"""

SHIPMENT_PAGE_END = NamedQuery(
    "shipment_page_end",
    "The keys of the next stored versions of transactions T's events and items K's after a key: a page's groups.",
    f"""
SELECT event_time, event_id, item_key
FROM event_log
WHERE {IN_SHIPMENT}
  AND {AFTER_KEY}
ORDER BY event_time, event_id, item_key
LIMIT {{limit:UInt32}}
""",
)

SHIPMENT_PAGE_VERSIONS = NamedQuery(
    "shipment_page_versions",
    "Every version of transactions T's events and items K's after one key up to another, in export order.",
    f"""
SELECT {VERSION_COLUMNS}
FROM event_log
WHERE {IN_SHIPMENT}
  AND {AFTER_KEY}
  AND {UP_TO_KEY}
ORDER BY event_time, event_id, item_key, recorded_at, ingested_at
""",
)


@dataclass(frozen=True)
class Shipment:
    """The transactions a name means, and the SSCC item keys (`00/<sscc>`) they list."""

    name: str
    transactions: tuple[dict, ...]

    @property
    def transaction_ids(self) -> list[str]:
        return [t["transaction_id"] for t in self.transactions]

    @property
    def sscc_keys(self) -> list[str]:
        return sorted({f"00/{sscc}" for t in self.transactions for sscc in t["ssccs"]})


def find_shipment(client: Any, name: str) -> Shipment | None:
    """The shipment `name` names (module docstring), or None when no recorded transaction matches."""
    text = name.strip()
    sscc = None
    try:
        identity = resolve_any(text)
        if identity.scheme == "sscc":
            sscc = identity.sscc
    except IdentityError:
        pass  # not an SSCC: a transaction id or document number
    found = queries.find_transactions(client, text, sscc)
    return Shipment(text, tuple(found)) if found else None


def version_groups_in_shipment(client: Any, shipment: Shipment, *,
                               page_size: int = 10_000) -> Iterator[tuple[Group, str | None]]:
    """The shipment's events, each as its stored versions with its item's EPC URI, in (event_time,
    event_id) order. Holds one page of groups at a time."""
    scope = {"transaction_ids": shipment.transaction_ids, "item_keys": shipment.sscc_keys}
    return keyset_version_groups(client, SHIPMENT_PAGE_END, scope, SHIPMENT_PAGE_VERSIONS, scope,
                                 start=_utc(EARLIEST), page_size=page_size)
