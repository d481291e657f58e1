"""What a warehouse manager wants to know after the run, read back from ClickHouse with plain SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tagtrail.demo.flow import DemoPlan
from tagtrail.demo.report import DoorFlow

# movement_history: the latest version of each movement, retractions left out (see the README).
CURRENT = """
SELECT item_key,
       argMax(to_location, (event_time, event_id)) AS location,
       argMax(biz_step, (event_time, event_id)) AS biz_step,
       argMax(disposition, (event_time, event_id)) AS disposition
FROM movement_history GROUP BY item_key
"""


@dataclass(frozen=True)
class DemoSummary:
    items_tracked: int
    movements: int
    inventory: list[tuple[str, str, int]]
    in_transit: int
    anomalies: list[tuple[str, str, str]]
    flows: list[DoorFlow]
    where_expected: int
    mismatches: list[tuple[str, str, str]]  # item, expected, found


def summarize(client: Any, plan: DemoPlan, bucket_seconds: int) -> DemoSummary:
    current = {row[0]: row[1:] for row in client.query(CURRENT).result_rows}
    movements = client.query("SELECT count() FROM movement_history").result_rows[0][0]
    inventory = client.query(
        f"SELECT ifNull(location, '(left the site)') AS loc, disposition, count() AS items FROM ({CURRENT}) "
        "GROUP BY loc, disposition ORDER BY loc, disposition"
    ).result_rows
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
    mismatches = []
    for item in plan.items:
        expected = plan.expected_final_location(item)
        found = current.get(item.item_key, (None,))[0]
        if found != expected:
            mismatches.append((item.item_key, expected, str(found)))
    return DemoSummary(
        items_tracked=len(current),
        movements=movements,
        inventory=[(str(a), str(b), int(c)) for a, b, c in inventory],
        in_transit=sum(1 for v in current.values() if v[2] == "in_transit"),
        anomalies=anomalies,
        flows=flows,
        where_expected=len(plan.items) - len(mismatches),
        mismatches=mismatches,
    )
