"""One change in an item's whereabouts or state (schema tagtrail.events.Movement)."""

from __future__ import annotations

import datetime as dt

import msgspec

from tagtrail.events.identity import Identity

# The processor no longer emits "departed": an outbound crossing is the one shipping event of an exit
# (to_location = the door, bizStep shipping). It stays listed because histories written before hold it.
MOVEMENT_TYPES = ("arrived", "moved", "departed", "state_changed", "missing")
DIRECTIONS = ("inbound", "outbound", "unknown", "none")
# Kafka headers of the movements topic, part of its contract: consumers tell retractions and live mode's
# provisional movements apart without decoding the value.
RETRACTED_HEADER = ("tagtrail-retracted", b"1")
PROVISIONAL_HEADER = ("tagtrail-provisional", b"1")


class Movement(msgspec.Struct, frozen=True, kw_only=True):
    """What the history in ClickHouse is made of: one row per movement, EPCIS vocabulary."""

    event_id: str
    identity: Identity
    movement_type: str
    biz_step: str
    disposition: str
    event_time: int
    recorded_at: int
    from_location: str | None = None
    to_location: str | None = None
    read_point: str | None = None
    direction: str = "none"
    action: str = "OBSERVE"
    anomaly: str | None = None
    source_event_ids: list[str] = msgspec.field(default_factory=list)
    # Live mode only: not decided yet, replaced by the decided version (same event_id) or retracted.
    provisional: bool = False
    # AI 10 / AI 17 the item is known by when the movement was decided (null when none is known).
    lot: str | None = None
    expiry: dt.date | None = None
