"""The warehouse day as the processor publishes it after late input: superseded versions and retractions.

Each movement of `warehouse_day()` ends with the same content and recorded_at; before that, some were
published in an older version (same event_id and event_time, earlier recorded_at), and some movements
that no longer hold were published and then retracted, exactly as processors/tagtrail_processors/decisions/movement_diff.py does it.
"""

from __future__ import annotations

import msgspec

from tagtrail.events import Movement
from tests.history.scenario import HOUR, T0, mv, seen_now, warehouse_day

RETRACTED = "retracted: superseded by late input"  # processors/tagtrail_processors/decisions/movement_diff.py's contract (no import across stages)


def version(m: Movement, *, recorded_at: int, **changes) -> Movement:
    return msgspec.structs.replace(m, recorded_at=recorded_at, **changes)


def retraction(m: Movement, *, recorded_at: int) -> Movement:
    return version(m, recorded_at=recorded_at, anomaly=RETRACTED)


def clean_day() -> list[Movement]:
    """What the history must look like: the stream published for in-order input."""
    return warehouse_day() + [seen_now(100, 4)]


def revised_day(clean: list[Movement]) -> list[tuple[Movement, bool]]:
    """The `clean` history reached through updates and retractions, in publication order; (movement, retracted)."""
    final = {m.event_id: m for m in clean}
    ev4, ev5, ev6, ev7 = final["ev-4"], final["ev-5"], final["ev-6"], final["ev-7"]
    # item 2 seemed to move on to the pick face at 5 h (its latest movement), until a late read retracted it
    ghost_pick = mv(8, 2, T0 + 5 * HOUR, "storage-a", "pick-face-1", step="picking", disp="sellable_accessible", rp="pick-face-1")
    # item 1 seemed to visit storage-b between storage-a and the pick face (a movement in the middle)
    ghost_detour = mv(9, 1, T0 + 2 * HOUR, "storage-a", "storage-b", step="storing", disp="sellable_not_accessible", rp="storage-b",
                      anomaly="unexpected_transition")
    # item 5 was seen once, by a read that turned out to be another tag's: its only movement is retracted
    ghost_item = mv(10, 5, T0 + HOUR, None, "storage-a", step="storing", disp="sellable_not_accessible", rp="aisle-a-storage")
    early = -600  # microseconds before the final version's recorded_at
    return [
        *[(m, False) for m in clean if m.event_id not in {"ev-4", "ev-5", "ev-6", "ev-7"}],
        (ghost_item, False),
        (version(ev4, recorded_at=ev4.recorded_at + early, from_location="dock-door-2", anomaly="unexpected_transition"), False),
        (ghost_detour, False),
        (version(ev5, recorded_at=ev5.recorded_at - 800), False),
        (version(ev6, recorded_at=ev6.recorded_at + early, from_location="storage-b"), False),
        (ghost_pick, False),
        (version(ev7, recorded_at=ev7.recorded_at + early, anomaly=None, disposition="in_progress"), False),
        (retraction(ev5, recorded_at=ev5.recorded_at - 400), True),  # retracted, then restored by its final version
        (ev4, False),
        (retraction(ghost_detour, recorded_at=ghost_detour.recorded_at + HOUR), True),
        (ev6, False),
        (retraction(ghost_pick, recorded_at=ghost_pick.recorded_at + HOUR), True),
        (ev7, False),
        (ev5, False),
        (retraction(ghost_item, recorded_at=ghost_item.recorded_at + HOUR), True),
    ]
