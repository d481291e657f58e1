"""EPCIS CBV business step and disposition for each movement, and the graph of allowed steps.

Defaults follow the CBV 2.0 vocabulary; `processing.steps` in the site config overrides any of
them with "biz_step/disposition" under a key "<kind>:<direction>" or "<kind>" (kind: a read point
kind, or `dock_door` for either side of a portal). A transition outside the graph is kept and
flagged (Movement.anomaly), never dropped: the history must show what the readers saw.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STEPS: dict[str, tuple[str, str]] = {
    "dock_door:inbound": ("receiving", "in_progress"),
    "dock_door:outbound": ("shipping", "in_transit"),
    "dock_door:unknown": ("arriving", "unknown"),
    "storage": ("storing", "sellable_not_accessible"),
    "pick_face": ("picking", "in_progress"),
    "pack_station": ("packing", "in_progress"),
    "staging": ("staging_outbound", "in_progress"),
}

SCAN_STEPS: dict[str, tuple[str, str | None]] = {
    "receive": ("receiving", "in_progress"),
    "putaway": ("storing", "sellable_not_accessible"),
    "pick": ("picking", "in_progress"),
    "pack": ("packing", "in_progress"),
    "ship": ("shipping", "in_transit"),
    "count": ("cycle_counting", None),  # a count does not change what the item is: keep the disposition
}

# Steps after which the item has left the building: on-hand inventory no longer holds it, and it is
# never `missing`. `shipping` is what an outbound crossing (or a ship scan) records; `departing` only
# where a site maps its outbound doors to it (`processing.steps`), since CBV 2.0 makes the two, and
# `staging_outbound`, exclusive for one exit.
SHIPPED_STEPS = frozenset({"shipping", "departing"})
# After it left, an item may only be seen leaving again by the same step, or come back through a door.
ALLOWED_AFTER: dict[str, frozenset[str]] = {
    "shipping": frozenset({"shipping", "arriving", "receiving"}),
    "departing": frozenset({"departing", "arriving", "receiving"}),
}


@dataclass(frozen=True)
class StepTable:
    """Resolved step table: defaults overlaid with the site's `processing.steps`."""

    table: dict[str, tuple[str, str]]

    @classmethod
    def from_settings(cls, overrides: dict[str, str]) -> StepTable:
        table = dict(DEFAULT_STEPS)
        for key, value in overrides.items():
            step, _, disposition = value.partition("/")
            if not step or not disposition:
                raise ValueError(f"processing.steps.{key}: expected 'biz_step/disposition', got {value!r}")
            table[key] = (step.strip(), disposition.strip())
        return cls(table)

    def for_location(self, kind: str, direction: str) -> tuple[str, str]:
        family = "dock_door" if kind.startswith("dock_door") else kind
        for key in (f"{kind}:{direction}", kind, f"{family}:{direction}", family):
            found = self.table.get(key)
            if found is not None:
                return found
        return ("arriving", "unknown")


def scan_step(action: str, disposition_before: str | None) -> tuple[str, str]:
    step, disposition = SCAN_STEPS.get(action, ("inspecting", None))
    return step, disposition or disposition_before or "unknown"


def anomaly(step_before: str | None, step_after: str) -> str | None:
    """Why `step_before -> step_after` is outside the allowed graph, or None when it is allowed."""
    if step_before is None:
        return None
    allowed = ALLOWED_AFTER.get(step_before)
    if allowed is None or step_after in allowed:
        return None
    return f"{step_after} after {step_before} without receiving"
