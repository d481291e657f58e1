"""Every user-facing answer about a set of items, to compare two databases that should tell the same story."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tagtrail.history import queries
from tagtrail.history.epcis import export_epcis

FIXED_NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def answers(client: Any, item_keys: list[str], times: list[dt.datetime]) -> dict[str, Any]:
    """History, where-is and EPCIS (its holding events) per item; inventory now, per location and as of each time; items not
    seen for an hour; anomalies. Empty answers stay in: an item that must have no history is checked too."""
    out: dict[str, Any] = {}
    locations = sorted({r[0] for r in queries.inventory(client)[1]} | {"storage-a", "storage-b", "pick-face-1"})
    for key in item_keys:
        out[f"history {key}"] = queries.history(client, key)
        out[f"where_is {key}"] = queries.where_is(client, key)
        out[f"epcis {key}"] = holding(export_epcis(client, key, now=FIXED_NOW))
    out["inventory"] = queries.inventory(client)
    for location in locations:
        out[f"inventory {location}"] = queries.inventory(client, location)
        out[f"inventory_items {location}"] = queries.inventory_items(client, location)
    for at in times:
        out[f"inventory_as_of {at.isoformat()}"] = queries.inventory_as_of(client, at)
    names, rows = queries.not_seen(client, hours=1)
    keep = [i for i, n in enumerate(names) if n != "hours_unseen"]  # depends on the wall clock
    out["not_seen"] = ([names[i] for i in keep], [tuple(r[i] for i in keep) for r in rows])
    out["anomalies"] = queries.anomalies(client, times[0] - dt.timedelta(days=1))
    return out


def holding(document: dict) -> dict:
    """The EPCIS document without its declared events: the story it tells. The errorDeclarations are the
    record of how the history got there (a stream reached through revisions has them, a clean one not):
    test_revisions.py and test_corrections.py check them."""
    events = document["epcisBody"]["eventList"]
    return document | {"epcisBody": {"eventList": [e for e in events if "errorDeclaration" not in e]}}


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Readable list of the answers that differ (an assert on the whole dict would drown the one that matters)."""
    return [f"{k}:\n  got  {got.get(k)!r}\n  want {want.get(k)!r}" for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
