"""From decided transitions to Movement events: stable ids, and only what was not emitted before.

Semantics of the movements topic (what "exactly once" and "same history" mean here):

* `event_id` is derived from content that identifies the fact (item key, the decision's anchor –
  the kind of decision, its read point and the first source read or scan – and the event time),
  so recomputing an item's history gives the same ids, and a retried or replayed emission is
  recognisable downstream.
* An item's history is recomputed whenever its log changes. A movement is published when its id
  is new, or when its content changed (a late event between two movements changes the later
  one's `from_location` or anomaly flag): the newer version supersedes the older one (same id).
* A movement that a late event makes wrong (e.g. a late read that shows the item never left) is
  *retracted*: re-published with the same id, its last content, `anomaly` set to
  "retracted: ..." and the Kafka header `tagtrail-retracted: 1`.
* In live mode a movement is first published `provisional` (see timeline), with the Kafka header
  `tagtrail-provisional: 1`: the decided version replaces it under the same id, or it is retracted
  like any other.
* The history of an item is therefore: the latest version of each event id, minus retracted
  ones. That history is the same whatever order the inputs arrived in, within the lateness bound.
  For input that arrives in event-time order, every id is published exactly once.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import msgspec

from tagtrail.events import Identity, Movement
from tagtrail_processors.decisions.timeline import Transition

RETRACTED = "retracted: superseded by late input"


class Emitted(msgspec.Struct, array_like=True):
    """What was last published under one event id, kept to detect changes and to retract it."""

    movement_type: str
    event_time: int
    from_location: str | None
    to_location: str | None
    read_point: str | None
    biz_step: str
    disposition: str
    direction: str
    anomaly: str | None
    sources: list[str]
    provisional: bool = False  # last in the array: states written before live mode existed still decode
    lot: str | None = None  # after it, likewise for states written before lots were kept
    expiry: dt.date | None = None


def movement_id(item_key: str, t: Transition) -> str:
    return hashlib.sha256(f"{item_key}|{t.anchor}|{t.event_time}".encode()).hexdigest()[:32]


class IdCache:
    """Recomputing an item re-derives the same ids over and over; hashing is the costly part."""

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._ids: dict[tuple[str, str, int], str] = {}

    def get(self, item_key: str, t: Transition) -> str:
        k = (item_key, t.anchor, t.event_time)
        found = self._ids.get(k)
        if found is None:
            if len(self._ids) >= self.size:
                self._ids.clear()
            found = self._ids[k] = movement_id(item_key, t)
        return found


def _same(e: Emitted, t: Transition) -> bool:
    return (e.movement_type == t.movement_type and e.event_time == t.event_time and e.from_location == t.from_location
            and e.to_location == t.to_location and e.read_point == t.read_point and e.biz_step == t.biz_step
            and e.disposition == t.disposition and e.direction == t.direction and e.anomaly == t.anomaly
            and e.sources == t.sources and e.provisional == t.provisional and e.lot == t.lot and e.expiry == t.expiry)


def _movement(event_id: str, identity: Identity, e: Emitted, recorded_at: int, anomaly: str | None) -> Movement:
    return Movement(
        event_id=event_id, identity=identity, movement_type=e.movement_type, biz_step=e.biz_step,
        disposition=e.disposition, event_time=e.event_time, recorded_at=recorded_at, from_location=e.from_location,
        to_location=e.to_location, read_point=e.read_point, direction=e.direction, anomaly=anomaly,
        source_event_ids=list(e.sources), provisional=e.provisional, lot=e.lot, expiry=e.expiry,
    )


def diff(item_key: str, identity: Identity, transitions: list[Transition], emitted: dict[str, Emitted],
         recorded_at: int, horizon: int, decided_until: int | None, ids: IdCache | None = None) -> list[tuple[Movement, bool]]:
    """Movements to publish (each with `retracted`), updating `emitted` in place.

    Only ids at or after `horizon` (older ones were folded away) and before `decided_until` (the
    first undecided point; None when nothing is pending) are candidates for retraction.
    """
    out: list[tuple[Movement, bool]] = []
    seen: set[str] = set()
    for t in transitions:
        event_id = ids.get(item_key, t) if ids is not None else movement_id(item_key, t)
        seen.add(event_id)
        old = emitted.get(event_id)
        if old is not None and _same(old, t):
            continue
        e = Emitted(t.movement_type, t.event_time, t.from_location, t.to_location, t.read_point, t.biz_step,
                    t.disposition, t.direction, t.anomaly, list(t.sources), t.provisional, t.lot, t.expiry)
        emitted[event_id] = e
        out.append((_movement(event_id, identity, e, recorded_at, t.anomaly), False))
    for event_id in [k for k in emitted if k not in seen]:
        e = emitted[event_id]
        # Undecided movements may still come back, except provisional ones: the live view moved on.
        if e.event_time < horizon or (decided_until is not None and e.event_time >= decided_until and not e.provisional):
            continue
        del emitted[event_id]
        out.append((_movement(event_id, identity, e, recorded_at, RETRACTED), True))
    return out
