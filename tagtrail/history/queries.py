"""Ready SQL for the questions people ask of the movement history.

Each query is plain ClickHouse SQL with `{name:Type}` parameters, the syntax ClickHouse binds on the
server; Grafana/Superset users replace them with their own macros (e.g. `$__timeFilter(event_time)`).
The functions run them through clickhouse-connect and return `(column_names, rows)`.

What every answer means (the movements topic's semantics, see processors/tagtrail_processors/decisions/movement_diff.py): an item's
history is the latest version (by recorded_at) of each event_id, minus retracted movements, ordered by
(event_time, event_id); its current state is the last movement of that history. Two objects of the
schema provide exactly that, and every query here reads one of them, never the `movements` table:

* `movement_history` (view): `movements FINAL WHERE retracted = 0`, minus the stored `departed` right
  after the shipping movement of the same exit (migration 0005). Per-item and time-travel queries.
* `current_items` (view): one row per item, from `item_current` (kept on insert; exact under updates)
  except the items that ever had a movement retracted (`retracted_items`, few), whose state is
  recomputed from their history. Inventory now. "Where is X" reads the last row of movement_history.

One story of leaving the building: an item whose latest movement is a shipping (or departing) one has
left the site at that moment, wherever that movement is located; then `location` and `zone` are NULL and
`shipped_via` names the door. Inventory counts only items on site (location IS NOT NULL). Zones come from
the site file (`site_locations`, written by the sink at start; see tagtrail/history/site_dimension.py).

Hourly flows, dock door moves and dwell read aggregates kept on insert: they count each published
version that is not a retraction, so they are exact unless late input revised a movement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# The processor's rule for an item that left the site (processors/tagtrail_processors/decisions/disposition.py SHIPPED_STEPS): its latest
# movement ships it (or is a stored `departed`), wherever that movement is located.
SHIPPED = "(toString(biz_step) IN ('shipping', 'departing') OR toString(movement_type) = 'departed')"
ZONE_OF_LOCATION = """LEFT JOIN (SELECT location, argMax(zone, written_at) AS zone FROM site_locations GROUP BY location) AS zones
    ON zones.location = ifNull({location}, '')"""


@dataclass(frozen=True)
class NamedQuery:
    name: str
    question: str
    sql: str


WHERE_IS = NamedQuery(
    "where_is",
    "Where is item X now?",
    """
SELECT item_key, epc_uri, if(gone, NULL, to_location) AS location, if(gone, NULL, nullIf(zones.zone, '')) AS zone,
       disposition, biz_step, movement_type, read_point, event_time AS since, event_id AS last_event_id,
       if(shipped, coalesce(to_location, from_location), NULL) AS shipped_via
FROM
(
    SELECT *, """ + SHIPPED + """ AS shipped, shipped OR to_location IS NULL AS gone
    FROM movement_history
    WHERE item_key = {item_key:String}
    ORDER BY event_time DESC, event_id DESC
    LIMIT 1
) AS last
""" + ZONE_OF_LOCATION.format(location="last.to_location") + """
""",
)

# The decided answer comes from the history, as where_is tells it (live_items' decided rows are current_items',
# which dates a stored exit pair at its hidden `departed`); a provisional movement newer than it wins.
WHERE_LIVE = NamedQuery(
    "where_live",
    "Where is item X being read right now (live mode: provisional = 1 while its crossing is undecided)?"
    " Otherwise where_is's answer: a shipped item has location NULL and shipped_via its door.",
    """
SELECT item_key, epc_uri, location, zone, disposition, biz_step, movement_type, read_point, since, last_event_id,
       shipped_via, provisional
FROM
(
    SELECT item_key, epc_uri, location, zone, disposition, biz_step, movement_type, read_point, last_seen AS since,
           last_event_id, shipped_via, provisional
    FROM live_items
    WHERE item_key = {item_key:String} AND provisional = 1
    UNION ALL
    SELECT item_key, epc_uri, location, zone, disposition, biz_step, movement_type, read_point, since, last_event_id,
           shipped_via, toUInt8(0) AS provisional
    FROM
    (""" + WHERE_IS.sql + """    )
)
ORDER BY provisional DESC
LIMIT 1
""",
)

HISTORY = NamedQuery(
    "history",
    "Full movement history of item X, oldest first.",
    """
SELECT event_time, movement_type, from_location, to_location, nullIf(zones.zone, '') AS zone, read_point, biz_step,
       disposition, direction, action, anomaly, event_id
FROM (SELECT * FROM movement_history WHERE item_key = {item_key:String}) AS step
""" + ZONE_OF_LOCATION.format(location="step.to_location") + """
ORDER BY event_time, event_id
""",
)

INVENTORY = NamedQuery(
    "inventory",
    "How many items are at each location now, by disposition ('' location = all locations)?",
    """
SELECT location, zone, disposition, count() AS items
FROM current_items
WHERE location IS NOT NULL AND ({location:String} = '' OR location = {location:String})
GROUP BY location, zone, disposition
ORDER BY location, disposition
""",
)

INVENTORY_BY_ZONE = NamedQuery(
    "inventory_by_zone",
    "How many items are in each zone now, by disposition ('' zone: locations the site file gives no zone)?",
    """
SELECT ifNull(zone, '') AS zone, disposition, count() AS items, groupUniqArray(location) AS locations
FROM current_items
WHERE location IS NOT NULL
GROUP BY zone, disposition
ORDER BY zone, disposition
""",
)

INVENTORY_ITEMS = NamedQuery(
    "inventory_items",
    "Which items are at location L now?",
    """
SELECT item_key, epc_uri, zone, disposition, biz_step, last_seen
FROM current_items
WHERE location = {location:String}
ORDER BY item_key
""",
)

INVENTORY_AS_OF = NamedQuery(
    "inventory_as_of",
    "How many items were at each location at time T, by disposition ('' location = all)?",
    """
SELECT latest.1 AS location, latest.2 AS disposition, count() AS items
FROM
(
    SELECT item_key,
           argMax((if(""" + SHIPPED + """, '', ifNull(to_location, '')), toString(disposition)), (event_time, event_id)) AS latest
    FROM movement_history
    WHERE event_time <= {as_of:DateTime64(6, 'UTC')}
    GROUP BY item_key
)
WHERE location != '' AND ({location:String} = '' OR location = {location:String})
GROUP BY location, disposition
ORDER BY location, disposition
""",
)

NOT_SEEN = NamedQuery(
    "not_seen",
    "Which items on site have not been seen for more than N hours?",
    """
SELECT item_key, epc_uri, location, disposition, last_seen,
       round((toUnixTimestamp64Micro(now64(6)) - toUnixTimestamp64Micro(last_seen)) / 3.6e9, 1) AS hours_unseen
FROM current_items
WHERE location IS NOT NULL AND last_seen < now64(6) - toIntervalSecond({hours:Float64} * 3600)
ORDER BY last_seen
""",
)

DWELL = NamedQuery(
    "dwell",
    "How long do items stay at each location (completed visits), and how long have current ones been there?"
    " (Counts published versions: see the module docstring.)",
    """
WITH
    flow AS
    (
        SELECT location, sum(departures) AS completed_visits,
               sum(arrival_us_sum) AS arrival_us, sum(departure_us_sum) AS departure_us
        FROM
        (
            SELECT location, toInt64(departures) AS departures, arrival_us_sum, departure_us_sum FROM location_flow
            UNION ALL
            SELECT location, exits, 0, exit_us_sum FROM location_exits  -- shipped items' exits (migration 0005)
        )
        GROUP BY location
    ),
    open AS
    (
        -- open visits: items still at the location they last arrived at (a shipped item's visit to its
        -- door ended with its exit, counted in location_exits)
        SELECT arrival.location AS location, count() AS items_now,
               sum(toUnixTimestamp64Micro(arrival.arrived_at)) AS open_arrival_us
        FROM (SELECT item_key, location, arrived_at FROM item_arrival FINAL WHERE location != '') AS arrival
        INNER JOIN (SELECT item_key, location FROM current_items WHERE location IS NOT NULL) AS here
            ON here.item_key = arrival.item_key AND here.location = arrival.location
        GROUP BY arrival.location
    )
SELECT
    flow.location AS location,
    completed_visits,
    round((departure_us - (arrival_us - open.open_arrival_us)) / nullIf(completed_visits, 0) / 1e6, 1) AS avg_dwell_s,
    open.items_now AS items_now,
    round((toUnixTimestamp64Micro(now64(6)) * open.items_now - open.open_arrival_us) / nullIf(open.items_now, 0) / 1e6, 1)
        AS avg_current_dwell_s
FROM flow
LEFT JOIN open ON open.location = flow.location
ORDER BY location
""",
)

DOCK_DOOR_MOVES = NamedQuery(
    "dock_door_moves",
    "Moves per dock door (portal crossings) per hour in a time range (a shipped item's exit counts once).",
    """
SELECT hour, location AS dock_door, direction, sum(moves) AS moves
FROM moves_hourly
WHERE direction != 'none' AND movement_type != 'departed'
  AND hour >= toStartOfHour({since:DateTime64(6, 'UTC')}) AND hour <= {until:DateTime64(6, 'UTC')}
GROUP BY hour, dock_door, direction
ORDER BY hour, dock_door, direction
""",
)

LOCATION_FLOW = NamedQuery(
    "location_flow",
    "Arrivals and departures per location per hour in a time range.",
    """
SELECT hour, location, toUInt64(sum(arrivals)) AS arrivals, toUInt64(sum(departures)) AS departures
FROM
(
    SELECT hour, location, toInt64(arrivals) AS arrivals, toInt64(departures) AS departures
    FROM location_flow
    WHERE hour >= toStartOfHour({since:DateTime64(6, 'UTC')}) AND hour <= {until:DateTime64(6, 'UTC')}
    UNION ALL
    -- a shipped item's exit from its door (migration 0005)
    SELECT hour, location, 0 AS arrivals, exits AS departures
    FROM location_exits
    WHERE hour >= toStartOfHour({since:DateTime64(6, 'UTC')}) AND hour <= {until:DateTime64(6, 'UTC')}
)
GROUP BY hour, location
ORDER BY hour, location
""",
)

ANOMALIES = NamedQuery(
    "anomalies",
    "Movements flagged as anomalies (outside the allowed transitions) since time T, newest first.",
    """
SELECT event_time, item_key, anomaly, movement_type, from_location, to_location, read_point,
       biz_step, disposition, event_id
FROM movement_history
WHERE anomaly IS NOT NULL AND event_time >= {since:DateTime64(6, 'UTC')}
ORDER BY event_time DESC
LIMIT {limit:UInt32}
""",
)

# The business context of a page of events (migration 0008 `event_transactions`, the one matching rule): each
# event version's transactions, read for the page's items (the view's primary key) and events.
EVENT_TRANSACTIONS = NamedQuery(
    "event_transactions",
    "The business transactions that events E (of items K) belong to, per event version.",
    """
SELECT event_id, recorded_at, transaction_id, type, id, direction, location, sources, destinations
FROM event_transactions
WHERE item_key IN {item_keys:Array(String)} AND event_id IN {event_ids:Array(String)}
ORDER BY event_id, recorded_at, transaction_id
""",
)

ANY_TRANSACTIONS = NamedQuery(
    "any_transactions",
    "Is any business transaction recorded (else no event can belong to one)?",
    "SELECT count() > 0 AS any FROM business_transactions",
)

ITEM_LOT = NamedQuery(
    "item_lot",
    "The lot and expiry item X is known by, where they come from, and a lot it was scanned with that differs.",
    """
SELECT item_key, lot, expiry, lot_source, conflicting_lot
FROM item_lots
WHERE item_key = {item_key:String}
""",
)

# An export's EPCInstance master data: the known lot/expiry of the items of its scope (a subquery, so a
# range of many items never travels as a parameter), with the EPC URI their events name (the first any
# stored version names, as tagtrail/history/event_versions.py names it). Rows only for the serialized items
# with a lot or expiry (the ones that get an element), in item_key order.
# A range or shipment may hold millions of items; the engine groups item_lots and the first EPC URI over
# every item it is asked for (embedded chdb does it in the exporting process), so they are asked for one
# page of items at a time: LOTS_PAGE_END names the page's last item key (the range's items read in
# item_key order from event_log's primary key, stopping after `limit`), the page query answers for the
# items in (after_key, last_key]. Memory follows the page, not the range.
LOTS_OF = """
SELECT lots.item_key AS item_key, uris.first_epc_uri AS epc_uri, lots.lot AS lot, lots.expiry AS expiry
FROM (SELECT item_key, lot, expiry FROM item_lots WHERE item_key IN ({items})) AS lots
LEFT JOIN
(
    SELECT item_key, argMin(epc_uri, (event_time, event_id, recorded_at)) AS first_epc_uri
    FROM event_log
    WHERE item_key IN (SELECT item_key FROM item_lots WHERE item_key IN ({items})) AND epc_uri IS NOT NULL
    GROUP BY item_key
) AS uris ON uris.item_key = lots.item_key
WHERE NOT (startsWith(lots.item_key, '01/') AND position(lots.item_key, '/21/') = 0)
  AND (ifNull(lots.lot, '') != '' OR lots.expiry IS NOT NULL)
ORDER BY item_key
"""
ITEMS_IN_RANGE = """
SELECT DISTINCT item_key
FROM event_log
WHERE event_time >= {since:DateTime64(6, 'UTC')} AND event_time < {until:DateTime64(6, 'UTC')}
  AND ({location:String} = '' OR ifNull(to_location, from_location) = {location:String})"""
ITEMS_IN_TRANSACTIONS = """
SELECT item_key FROM (
    SELECT item_key FROM event_transactions WHERE transaction_id IN {transaction_ids:Array(String)}
    UNION DISTINCT
    SELECT arrayJoin({item_keys:Array(String)}) AS item_key
)
WHERE 1"""
PAGE_OF_ITEMS = " AND item_key > {after_key:String} AND item_key <= {last_key:String}"
PAGE_END = """
SELECT max(item_key) AS last_key, count() AS items
FROM ({items} AND item_key > {after_key:String} ORDER BY item_key LIMIT {limit:UInt32})"""

ITEM_LOTS_OF = NamedQuery(
    "item_lots_of",
    "Known lot and expiry of items K, with each item's first known EPC URI.",
    LOTS_OF.replace("{items}", "SELECT arrayJoin({item_keys:Array(String)})"),
)

LOTS_IN_RANGE = NamedQuery(
    "lots_in_range",
    "Known lot and expiry of the items with stored event versions in [since, until) (at location L: '' = anywhere),"
    " for the page of those items after key A up to key Z.",
    LOTS_OF.replace("{items}", ITEMS_IN_RANGE + PAGE_OF_ITEMS),
)

LOTS_PAGE_END_IN_RANGE = NamedQuery(
    "lots_page_end_in_range",
    "The last item key of the next N items after key A with stored event versions in [since, until) (at location L).",
    PAGE_END.replace("{items}", ITEMS_IN_RANGE),
)

LOTS_IN_TRANSACTIONS = NamedQuery(
    "lots_in_transactions",
    "Known lot and expiry of the items with events in transactions T, and of items K (a shipment's SSCCs),"
    " for the page of those items after key A up to key Z.",
    LOTS_OF.replace("{items}", ITEMS_IN_TRANSACTIONS + PAGE_OF_ITEMS),
)

LOTS_PAGE_END_IN_TRANSACTIONS = NamedQuery(
    "lots_page_end_in_transactions",
    "The last item key of the next N items after key A with events in transactions T, or among items K.",
    PAGE_END.replace("{items}", ITEMS_IN_TRANSACTIONS),
)

# A shipment named the way a user has it: the transaction id, the bizTransaction id or just its document
# number (the part after the last ':' of urn:epcglobal:cbv:bt:<GLN>:<doc no>), or an SSCC it lists.
FIND_TRANSACTIONS = NamedQuery(
    "find_transactions",
    "Business transactions named S (transaction id, bizTransaction id or document number) or listing SSCC C.",
    """
SELECT transaction_id, type, id, direction, location, status, opened_at, closed_at, ssccs
FROM business_transactions FINAL
WHERE transaction_id = {name:String} OR id = {name:String} OR endsWith(id, concat(':', {name:String}))
   OR endsWith(id, concat('/', {name:String})) OR ({sscc:String} != '' AND has(ssccs, {sscc:String}))
ORDER BY opened_at, transaction_id
""",
)

# Items per page of a range's or shipment's lots (lots_in_range).
LOT_PAGE_ITEMS = 10_000

# Far outside any stored time, inside DateTime64's range: an open end of a range.
EARLIEST = dt.datetime(1970, 1, 1)
LATEST = dt.datetime(2299, 12, 31)

ALL = (WHERE_IS, WHERE_LIVE, HISTORY, INVENTORY, INVENTORY_BY_ZONE, INVENTORY_ITEMS, INVENTORY_AS_OF, NOT_SEEN, DWELL, DOCK_DOOR_MOVES, LOCATION_FLOW, ANOMALIES,
       EVENT_TRANSACTIONS, ANY_TRANSACTIONS, ITEM_LOT, ITEM_LOTS_OF, LOTS_IN_RANGE, FIND_TRANSACTIONS,
       LOTS_IN_TRANSACTIONS, LOTS_PAGE_END_IN_RANGE, LOTS_PAGE_END_IN_TRANSACTIONS)
BY_NAME = {q.name: q for q in ALL}


def run(client: Any, query: NamedQuery, **parameters: Any) -> tuple[list[str], list[tuple]]:
    result = client.query(query.sql, parameters=parameters)
    return list(result.column_names), list(result.result_rows)


def where_is(client: Any, item_key: str) -> tuple[list[str], list[tuple]]:
    return run(client, WHERE_IS, item_key=item_key)


def where_live(client: Any, item_key: str) -> tuple[list[str], list[tuple]]:
    return run(client, WHERE_LIVE, item_key=item_key)


def history(client: Any, item_key: str) -> tuple[list[str], list[tuple]]:
    return run(client, HISTORY, item_key=item_key)


def inventory(client: Any, location: str | None = None) -> tuple[list[str], list[tuple]]:
    return run(client, INVENTORY, location=location or "")


def inventory_by_zone(client: Any) -> tuple[list[str], list[tuple]]:
    return run(client, INVENTORY_BY_ZONE)


def inventory_items(client: Any, location: str) -> tuple[list[str], list[tuple]]:
    return run(client, INVENTORY_ITEMS, location=location)


def inventory_as_of(client: Any, as_of: dt.datetime, location: str | None = None) -> tuple[list[str], list[tuple]]:
    return run(client, INVENTORY_AS_OF, as_of=_utc(as_of), location=location or "")


def not_seen(client: Any, hours: float) -> tuple[list[str], list[tuple]]:
    return run(client, NOT_SEEN, hours=float(hours))


def dwell(client: Any) -> tuple[list[str], list[tuple]]:
    return run(client, DWELL)


def dock_door_moves(client: Any, since: dt.datetime, until: dt.datetime) -> tuple[list[str], list[tuple]]:
    return run(client, DOCK_DOOR_MOVES, since=_utc(since), until=_utc(until))


def location_flow(client: Any, since: dt.datetime, until: dt.datetime) -> tuple[list[str], list[tuple]]:
    return run(client, LOCATION_FLOW, since=_utc(since), until=_utc(until))


def anomalies(client: Any, since: dt.datetime, limit: int = 1000) -> tuple[list[str], list[tuple]]:
    return run(client, ANOMALIES, since=_utc(since), limit=limit)


def item_lot(client: Any, item_key: str) -> tuple[list[str], list[tuple]]:
    """Item X's known lot and expiry (item_lots, migration 0008); no row when none is known."""
    return run(client, ITEM_LOT, item_key=item_key)


def lots_of_items(client: Any, item_keys: list[str]) -> list[dict]:
    """Known lot/expiry of items K with their first EPC URI, as dicts (item_key, epc_uri, lot, expiry)."""
    if not item_keys:
        return []
    return _dicts(run(client, ITEM_LOTS_OF, item_keys=sorted(set(item_keys))))


def lots_in_range(client: Any, since: dt.datetime | None = None, until: dt.datetime | None = None,
                  location: str | None = None, page_items: int | None = None) -> Iterator[dict]:
    """As lots_of_items, for the items a range export holds, in item_key order, read `page_items` items at a
    time (default LOT_PAGE_ITEMS) as the rows are pulled (any number of items: never a list, and the engine's
    memory follows the page)."""
    return _lot_pages(client, LOTS_PAGE_END_IN_RANGE, LOTS_IN_RANGE, page_items, since=_utc(since or EARLIEST),
                      until=_utc(until or LATEST), location=location or "")


def lots_in_transactions(client: Any, transaction_ids: list[str], item_keys: list[str],
                         page_items: int | None = None) -> Iterator[dict]:
    """As lots_in_range, for the items a shipment export holds (its events' items and its SSCCs)."""
    return _lot_pages(client, LOTS_PAGE_END_IN_TRANSACTIONS, LOTS_IN_TRANSACTIONS, page_items,
                      transaction_ids=transaction_ids, item_keys=item_keys)


def _lot_pages(client: Any, page_end: NamedQuery, page: NamedQuery, page_items: int, **parameters: Any) -> Iterator[dict]:
    """The lot rows of a scope's items, page by page in item_key order: each page is the next `page_items`
    items after the last page's last key (their lots may be fewer rows: an item without one has none)."""
    after = ""
    while True:
        _, ends = run(client, page_end, after_key=after, limit=page_items or LOT_PAGE_ITEMS, **parameters)
        last_key, items = ends[0]
        if not items:
            return
        yield from _dicts(run(client, page, after_key=after, last_key=last_key, **parameters))
        after = last_key


def _dicts(result: tuple[list[str], list[tuple]]) -> list[dict]:
    names, rows = result
    return [dict(zip(names, row)) for row in rows]


def find_transactions(client: Any, name: str, sscc: str | None = None) -> list[dict]:
    """The transactions `name` names (transaction id, bizTransaction id or its document number) or that
    list SSCC `sscc` (18 digits), oldest opened first."""
    names, rows = run(client, FIND_TRANSACTIONS, name=name, sscc=sscc or "")
    return [dict(zip(names, row)) for row in rows]


def _utc(value: dt.datetime) -> str:
    """Parameters travel as text; naive datetimes are taken as UTC, like every timestamp in tagtrail."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")
