"""The stored versions of history events (event_log, migration 0007), read for an export, one event's
versions together: what tagtrail/history/corrections.py turns into events and errorDeclarations.

A history event is (item_key, event_time, event_id): the processor derives event_id from the item and
the event time, so every version of one event shares all three and a group is contiguous in
(event_time, event_id, item_key) order, the export order. A range is read in keyset pages of groups:
a first query finds the next `page_size` version rows after the last group of the page before (their
groups are the page), a second reads every version of exactly those groups, so a page always holds
whole groups, whatever their size, and costs the same wherever it falls: both read event_log's projection
ordered by that key (migration 0009), so a page reads about a page of rows, while the per-item query keeps
the table's primary key (item first).

A location filter keeps the events ever exported at LOC: groups with a version whose bizLocation is
LOC, or whose exit left by door LOC (ifNull(to_location, from_location): a stored `departed` names it). A
group is shown whole: an event revised from LOC to elsewhere comes with its declaration and the
corrected event it names, so the document says what became of it.

A stored `departed` that movement_history hides (the previous event already is the exit, histories from
before migration 0005) is no event of the export either: the groups whose latest version is a `departed`
are checked against movement_history (rare, only pages holding one cost a look-up), so the one rule of
0005 decides. An item's EPC URI is the first one any stored version of it names, in every scope: what
the item's events were first exported with, also for events since retracted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from tagtrail.history.queries import EARLIEST, LATEST, NamedQuery, _utc, run

VERSION_COLUMNS = """event_id, event_type, event_time, recorded_at, retracted, item_key, scheme, epc_uri, gtin, serial,
       sscc, action, biz_step, disposition, read_point, to_location, from_location, movement_type, direction,
       anomaly, lot, expiry"""
AT_LOCATION = "({location:String} = '' OR ifNull(to_location, from_location) = {location:String})"
# `event_time >= after_time` is implied by the key comparison; said so partitions and granules are skipped.
AFTER_KEY = """event_time >= {after_time:DateTime64(6, 'UTC')}
  AND (event_time, event_id, item_key) > ({after_time:DateTime64(6, 'UTC')}, {after_id:String}, {after_item:String})"""
UP_TO_KEY = """event_time <= {last_time:DateTime64(6, 'UTC')}
  AND (event_time, event_id, item_key) <= ({last_time:DateTime64(6, 'UTC')}, {last_id:String}, {last_item:String})"""

ITEM_VERSIONS = NamedQuery(
    "item_versions",
    "Every stored version of item X's events, by (event_time, event_id), oldest recorded_at first.",
    f"""
SELECT {VERSION_COLUMNS}
FROM event_log
WHERE item_key = {{item_key:String}}
ORDER BY event_time, event_id, recorded_at, ingested_at
""",
)

PAGE_END = NamedQuery(
    "event_page_end",
    "The keys of the next versions in [since, until) (at location L: '' = anywhere) after a key: a page's groups.",
    f"""
SELECT event_time, event_id, item_key
FROM event_log
WHERE event_time >= {{since:DateTime64(6, 'UTC')}} AND event_time < {{until:DateTime64(6, 'UTC')}}
  AND {AT_LOCATION}
  AND {AFTER_KEY}
ORDER BY event_time, event_id, item_key
LIMIT {{limit:UInt32}}
""",
)

PAGE_VERSIONS = NamedQuery(
    "event_page_versions",
    "Every version of the events after one key up to another, in export order.",
    f"""
SELECT {VERSION_COLUMNS}
FROM event_log
WHERE {AFTER_KEY}
  AND {UP_TO_KEY}
ORDER BY event_time, event_id, item_key, recorded_at, ingested_at
""",
)

# A separate text, not a `{location} = '' OR ...` branch: ClickHouse builds the IN set whether or not the
# other branch holds, which would read every page twice for an export that names no location.
PAGE_VERSIONS_AT = NamedQuery(
    "event_page_versions_at",
    "Every version of the events after one key up to another that have a version at location L, in export order.",
    f"""
SELECT {VERSION_COLUMNS}
FROM event_log
WHERE {AFTER_KEY}
  AND {UP_TO_KEY}
  AND (item_key, event_id) IN (
      SELECT item_key, event_id FROM event_log
      WHERE {AFTER_KEY} AND {UP_TO_KEY} AND ifNull(to_location, from_location) = {{location:String}})
ORDER BY event_time, event_id, item_key, recorded_at, ingested_at
""",
)

ITEM_EPC_URIS = NamedQuery(
    "version_epc_uris",
    "The first EPC URI any stored version of each of items K names.",
    """
SELECT item_key, argMin(epc_uri, (event_time, event_id, recorded_at)) AS first_epc_uri
FROM event_log
WHERE item_key IN {item_keys:Array(String)} AND epc_uri IS NOT NULL
GROUP BY item_key
""",
)

HELD_DEPARTED = NamedQuery(
    "held_departed",
    "Which of the stored `departed` events E of items K the history still shows (it hides an exit's second event).",
    """
SELECT event_id
FROM movement_history
WHERE item_key IN {item_keys:Array(String)} AND event_id IN {event_ids:Array(String)}
""",
)

ALL = (ITEM_VERSIONS, PAGE_END, PAGE_VERSIONS, PAGE_VERSIONS_AT, ITEM_EPC_URIS, HELD_DEPARTED)

Group = list[dict]  # the versions of one history event, oldest recorded_at first


def item_version_groups(client: Any, item_key: str) -> tuple[list[Group], str | None]:
    """Item X's events, each as its stored versions, in (event_time, event_id) order, and the item's EPC URI."""
    names, rows = run(client, ITEM_VERSIONS, item_key=item_key)
    groups = grouped(names, rows)
    epc_uri = next((v["epc_uri"] for g in groups for v in g if v["epc_uri"]), None)  # ITEM_EPC_URIS' rule
    return without_hidden_exits(client, groups), epc_uri


def version_groups_in_range(client: Any, since: dt.datetime | None = None, until: dt.datetime | None = None,
                            location: str | None = None, *,
                            page_size: int = 10_000) -> Iterator[tuple[Group, str | None]]:
    """The events in [since, until) (either end open when None), at `location` if given, each as its stored
    versions with its item's EPC URI, in (event_time, event_id) order. Holds one page of groups at a time."""
    bounds = {"since": _utc(since or EARLIEST), "until": _utc(until or LATEST), "location": location or ""}
    versions, scope = (PAGE_VERSIONS_AT, {"location": location}) if location else (PAGE_VERSIONS, {})
    return keyset_version_groups(client, PAGE_END, bounds, versions, scope, start=bounds["since"], page_size=page_size)


def keyset_version_groups(client: Any, page_end: NamedQuery, end_scope: dict[str, Any], page_versions: NamedQuery,
                          versions_scope: dict[str, Any], *, start: dt.datetime,
                          page_size: int) -> Iterator[tuple[Group, str | None]]:
    """Pages over a scope's events in (event_time, event_id, item_key) order, from `start`: `page_end`
    names the key of the page's last event (`limit` events on), `page_versions` reads every stored version
    between the previous page's end and that key. The one keyset loop of the range, location and shipment
    exports, so a page holds at most `page_size` events whatever the scope."""
    after = {"after_time": start, "after_id": "", "after_item": ""}
    while True:
        _, keys = run(client, page_end, **end_scope, **after, limit=page_size)
        if not keys:
            return
        last_time, last_id, last_item = keys[-1]
        keys = []
        last = {"last_time": _utc(last_time), "last_id": last_id, "last_item": last_item}
        names, rows = run(client, page_versions, **versions_scope, **after, **last)
        groups = without_hidden_exits(client, grouped(names, rows))
        rows = []
        items = sorted({g[0]["item_key"] for g in groups})
        known = dict(run(client, ITEM_EPC_URIS, item_keys=items)[1]) if items else {}
        for group in groups:
            yield group, known.get(group[0]["item_key"])
        after = {"after_time": last["last_time"], "after_id": last_id, "after_item": last_item}


def grouped(names: list[str], rows: list[tuple]) -> list[Group]:
    versions = (dict(zip(names, row)) for row in rows)
    return [list(g) for _, g in groupby(versions, key=lambda v: (v["event_time"], v["event_id"], v["item_key"]))]


def without_hidden_exits(client: Any, groups: list[Group]) -> list[Group]:
    """Drops the groups that are a `departed` movement_history hides (0005's rule, asked of the view)."""
    departed = [g for g in groups if g[-1]["movement_type"] == "departed" and not g[-1]["retracted"]]
    if not departed:
        return groups
    _, rows = run(client, HELD_DEPARTED, item_keys=sorted({g[-1]["item_key"] for g in departed}),
                  event_ids=sorted({g[-1]["event_id"] for g in departed}))
    held = {row[0] for row in rows}
    return [g for g in groups if not (g[-1]["movement_type"] == "departed" and not g[-1]["retracted"])
            or g[-1]["event_id"] in held]
