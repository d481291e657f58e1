"""Input a stage could not use, with the reason (schema tagtrail.events.DeadLetter)."""

from __future__ import annotations

import msgspec


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """Kept byte for byte so an operator can see, fix and replay what went wrong."""

    source: str
    stage: str
    reason: str
    error: str
    payload: bytes
    occurred_at: int
    context: dict[str, str] = msgspec.field(default_factory=dict)
