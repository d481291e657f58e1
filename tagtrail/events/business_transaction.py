"""A shipment or receipt at a site location (schema tagtrail.events.BusinessTransaction)."""

from __future__ import annotations

import msgspec

TRANSACTION_DIRECTIONS = ("outbound", "inbound")
TRANSACTION_STATUSES = ("open", "closed")
# CBV source/destination types (short names) a PartyOrPlace may carry.
PARTY_OR_PLACE_TYPES = ("owning_party", "possessing_party", "location")


class PartyOrPlace(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of an EPCIS sourceList/destinationList: a CBV type and a party or place URI."""

    type: str
    id: str


class BusinessTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """One version of a transaction; opening, updating and closing each write a new one under `transaction_id`.

    It carries complete source and destination lists (this site's own company and location included),
    so whoever builds EPCIS events from it needs no site file to fill them.
    """

    event_id: str
    transaction_id: str
    type: str
    id: str
    direction: str
    location: str
    status: str
    opened_at: int
    recorded_at: int
    closed_at: int | None = None
    sources: list[PartyOrPlace] = msgspec.field(default_factory=list)
    destinations: list[PartyOrPlace] = msgspec.field(default_factory=list)
    ssccs: list[str] = msgspec.field(default_factory=list)


def transaction_key(type_: str, id_: str) -> str:
    """The stable key of a transaction: '<type>:<id>' (the Kafka key and ClickHouse's ORDER BY)."""
    return f"{type_}:{id_}"
