"""Corrections the EPCIS way: what an export shows for one history event, given every version of it.

The processor corrects a movement it already published by publishing it again under the same event_id
(a late read changed its location, its from_location, its anomaly) or by retracting it; `event_log`
keeps every version. A partner that received an earlier export holds the event as it was then, under
the eventID its content hashed to. EPCIS does not take a shared event back: it declares it wrong. So
an export shows, for one event_id:

* the latest version as a normal event, unless it is retracted;
* every earlier version that was a different exported event (another eventID) again, with an
  `errorDeclaration`: declarationTime = recorded_at of the version that superseded it (the last time
  it was superseded, when it came back in between), reason `incorrect_data` with correctiveEventIDs
  naming the latest version's eventID when the event was revised, `did_not_occur` and no
  correctiveEventIDs when it was retracted.

Versions that differ only in fields the export does not carry hash alike: they are one exported event,
not a correction. The canonical hash ignores errorDeclaration (and recordTime), so a declared event
keeps the eventID partners already have. The declared events come first, in the order they were first
exported, then the holding event: a reader meets each original right before its correction.

Pure: the caller passes the versions (oldest recorded_at first) and how one version becomes a
finished, hashed event; no I/O here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

INCORRECT_DATA = "incorrect_data"
DID_NOT_OCCUR = "did_not_occur"

Version = Mapping[str, Any]  # one row of event_log: needs `retracted` and `recorded_at`, the rest is the builder's


@dataclass(frozen=True)
class ErrorDeclaration:
    """EPCIS 2.0 errorDeclaration (CBV 2.0 error reasons)."""

    declaration_time: dt.datetime
    reason: str
    corrective_event_ids: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self, format_time: Callable[[dt.datetime], str]) -> dict:
        declared: dict[str, Any] = {"declarationTime": format_time(self.declaration_time), "reason": self.reason}
        if self.corrective_event_ids:
            declared["correctiveEventIDs"] = list(self.corrective_event_ids)
        return declared


@dataclass(frozen=True)
class Shown:
    """One event an export shows for a history event: finished (eventID set), declared wrong or not."""

    event: dict
    declaration: ErrorDeclaration | None = None


def shown_events(versions: Sequence[Version], build: Callable[[Version], dict]) -> list[Shown]:
    """What an export shows for the `versions` of one history event (oldest recorded_at first): declared
    earlier events in the order first exported, then the holding event unless retracted. `build` turns a
    version into its finished event (eventID = canonical hash); it is called for non-retracted versions only."""
    first_of: dict[str, dict] = {}  # eventID -> the event as first exported under it
    superseded_at: dict[str, dt.datetime] = {}  # eventID -> when it last stopped holding
    holding: dict | None = None
    for version in versions:
        if version["retracted"]:
            if holding is not None:
                superseded_at[holding["eventID"]] = version["recorded_at"]
                holding = None
            continue
        event = build(version)
        event_id = event["eventID"]
        if holding is not None and holding["eventID"] != event_id:
            superseded_at[holding["eventID"]] = version["recorded_at"]
        first_of.setdefault(event_id, event)
        holding = event  # the latest version of an unchanged event: its recordTime is the latest one's
    shown = []
    for event_id, event in first_of.items():
        if holding is not None and event_id == holding["eventID"]:
            continue
        if holding is None:
            declaration = ErrorDeclaration(superseded_at[event_id], DID_NOT_OCCUR)
        else:
            declaration = ErrorDeclaration(superseded_at[event_id], INCORRECT_DATA, (holding["eventID"],))
        shown.append(Shown(event, declaration))
    if holding is not None:
        shown.append(Shown(holding))
    return shown


def declared(shown: Shown, format_time: Callable[[dt.datetime], str]) -> dict:
    """The exported event: as built, or with its errorDeclaration placed after eventTimeZoneOffset, where
    EPCIS 2.0's XML puts it (key order does not change the hash, which ignores the declaration anyway)."""
    if shown.declaration is None:
        return shown.event
    event: dict[str, Any] = {}
    for key, value in shown.event.items():
        event[key] = value
        if key == "eventTimeZoneOffset":
            event["errorDeclaration"] = shown.declaration.as_json(format_time)
    if "errorDeclaration" not in event:
        event["errorDeclaration"] = shown.declaration.as_json(format_time)
    return event
