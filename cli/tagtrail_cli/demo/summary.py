"""What a warehouse manager wants to know after the run, read back from ClickHouse with plain SQL.

Every figure reads the views dashboards read, so the demo cannot tell another story than they do:
what is in the building and where it left from come from `current_items` (an item that shipped has left
on-hand inventory: location NULL, `shipped_via` its door), the flows from `movement_history` (one
shipping event per exit; see migration 0005), and the shipments and receipts from `business_transactions`
with the items `event_transactions` puts in each (migration 0008: the export's own rule), next to what the
plan put through each door while it was open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tagtrail_cli.demo.flow import DemoPlan
from tagtrail_cli.demo.report import DoorFlow

CURRENT = "SELECT item_key, location, shipped_via, biz_step, disposition FROM current_items"
INVENTORY = """
SELECT location, disposition, count() AS items
FROM current_items
WHERE location IS NOT NULL
GROUP BY location, disposition
ORDER BY location, disposition
"""
INVENTORY_BY_ZONE = """
SELECT ifNull(zone, '(no zone)') AS zone_name, disposition, count() AS items
FROM current_items
WHERE location IS NOT NULL
GROUP BY zone_name, disposition
ORDER BY zone_name, disposition
"""
TRANSACTIONS = """
SELECT t.id, t.type, t.direction, t.location, t.status, ifNull(c.items, 0) AS items
FROM (SELECT id, type, direction, location, status, transaction_id FROM business_transactions FINAL) AS t
LEFT JOIN (SELECT transaction_id, uniqExact(item_key) AS items FROM event_transactions GROUP BY transaction_id) AS c
    ON c.transaction_id = t.transaction_id
ORDER BY t.direction, t.location, t.id
"""


@dataclass(frozen=True)
class TransactionLine:
    """A shipment or receipt as the history tells it, and how many items the plan put through it."""

    id: str
    type: str
    direction: str
    location: str
    status: str
    items: int
    planned_items: int | None  # None: not one the plan opened


@dataclass(frozen=True)
class DemoSummary:
    items_tracked: int
    movements: int
    inventory: list[tuple[str, str, int]]  # location, disposition, items: items on site only
    in_transit: int  # items that shipped (left the site)
    anomalies: list[tuple[str, str, str]]
    flows: list[DoorFlow]
    where_expected: int
    mismatches: list[tuple[str, str, str]]  # item, expected, found
    zones: tuple[tuple[str, str, int], ...] = ()  # zone, disposition, items: items on site only
    transactions: tuple[TransactionLine, ...] = ()  # shipments (outbound) and receipts (inbound)


def summarize(client: Any, plan: DemoPlan, bucket_seconds: int) -> DemoSummary:
    current = {row[0]: row[1:] for row in client.query(CURRENT).result_rows}
    movements = client.query("SELECT count() FROM movement_history").result_rows[0][0]
    inventory = client.query(INVENTORY).result_rows
    zones = client.query(INVENTORY_BY_ZONE).result_rows
    anomalies = [
        (r[0], r[1].strftime("%H:%M:%S"), r[2])
        for r in client.query(
            "SELECT item_key, event_time, anomaly FROM movement_history WHERE anomaly IS NOT NULL AND anomaly != '' "
            "ORDER BY event_time LIMIT 50"
        ).result_rows
    ]
    flows = [
        DoorFlow(door=r[0], bucket=r[1].replace(tzinfo=None) if isinstance(r[1], dt.datetime) else r[1], direction=r[2], items=r[3])
        for r in client.query(
            f"SELECT coalesce(to_location, from_location) AS door, toStartOfInterval(event_time, INTERVAL {bucket_seconds} SECOND) AS b, "
            "direction, count() FROM movement_history WHERE direction IN ('inbound', 'outbound', 'unknown') "
            "GROUP BY door, b, direction ORDER BY door, b"
        ).result_rows
    ]
    planned = {t.id: len(t.items) for t in getattr(plan, "transactions", ())}
    transactions = tuple(TransactionLine(str(i), str(k), str(d), str(loc), str(st), int(n), planned.get(str(i)))
                         for i, k, d, loc, st, n in client.query(TRANSACTIONS).result_rows)
    mismatches = []
    for item in plan.items:
        expected = plan.expected_final_location(item)
        location, shipped_via = current.get(item.item_key, (None, None))[:2]
        found = location or shipped_via  # a shipped item is expected at the door it left by
        if found != expected:
            mismatches.append((item.item_key, expected, str(found)))
    return DemoSummary(
        items_tracked=len(current),
        movements=movements,
        inventory=[(str(a), str(b), int(c)) for a, b, c in inventory],
        in_transit=sum(1 for v in current.values() if v[1] is not None),
        anomalies=anomalies,
        flows=flows,
        where_expected=len(plan.items) - len(mismatches),
        mismatches=mismatches,
        zones=tuple((str(a), str(b), int(c)) for a, b, c in zones),
        transactions=transactions,
    )
