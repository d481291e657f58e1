"""Latency of the dashboard queries on a large movement history.

Generates N movements (default 10 million over 1 million items and 50 locations) directly with
ClickHouse SQL (INSERT ... SELECT FROM numbers()), so the materialized views fill as they would from
the sink, then re-publishes the latest movement of --revised items (default 0.2 %) as late input would:
half of them updated (new disposition, later recorded_at), half retracted. Then times "where is X now",
"inventory per location" and the rest (median of repeated runs), before and after merges.

    python -m benchmarks.queries [--movements 10000000] [--items 1000000] [--revised 2000] [--clickhouse chdb:///tmp/dir]

Targets: where is < 20 ms, inventory per location < 300 ms. Prints and records it in benchmarks/results/queries.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time

from benchmarks.harness import add_result_options, record
from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tagtrail.history import queries
from tagtrail.history.migrations import migrate

LOCATIONS = 50
GTIN = "00614141123452"

GENERATE = """
INSERT INTO movements (event_id, item_key, scheme, gtin, serial, movement_type, from_location, to_location,
                       read_point, biz_step, disposition, direction, action, source_event_ids, event_time, recorded_at)
SELECT
    lower(hex(MD5(toString(number)))) AS event_id,
    concat('01/{gtin}/21/', toString(item)) AS item_key,
    'sgtin', '{gtin}', toString(item),
    if(seq = 0, 'arrived', 'moved'),
    if(seq = 0, NULL, concat('loc-', toString((item * 7 + seq - 1) % {locations}))),
    concat('loc-', toString((item * 7 + seq) % {locations})),
    concat('rp-', toString((item * 7 + seq) % {locations})),
    ['receiving', 'storing', 'picking', 'packing'][seq % 4 + 1],
    ['in_progress', 'sellable_not_accessible', 'sellable_accessible', 'in_progress'][seq % 4 + 1],
    if((item * 7 + seq) % {locations} < 4, ['inbound', 'outbound'][seq % 2 + 1], 'none'),
    if(seq = 0, 'ADD', 'OBSERVE'),
    [toString(number)],
    toDateTime64('2026-01-01 00:00:00', 6, 'UTC') + toIntervalSecond(seq * 3600 + item % 3600),
    toDateTime64('2026-01-01 00:00:01', 6, 'UTC') + toIntervalSecond(seq * 3600 + item % 3600)
FROM (SELECT number, number % {items} AS item, intDiv(number, {items}) AS seq FROM numbers({start}, {count}))
"""

# The latest movement of every item whose hash falls in the revised set, published again: a retraction
# (same content, anomaly 'retracted: ...') for half of them, an update (new disposition) for the others.
REVISE = """
INSERT INTO movements (event_id, item_key, scheme, gtin, serial, movement_type, from_location, to_location,
                       read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time,
                       recorded_at, retracted)
SELECT event_id, item_key, scheme, gtin, serial, movement_type, from_location, to_location, read_point, biz_step,
       if(retract, disposition, 'damaged'), direction, action,
       if(retract, 'retracted: superseded by late input', anomaly), source_event_ids, event_time,
       recorded_at + toIntervalHour(1), retract
FROM
(
    SELECT *, cityHash64(item_key) % {every} < {every} / 2 AS retract
    FROM movements
    WHERE cityHash64(item_key) % {every} = 0 OR cityHash64(item_key) % {every} = {half}
    ORDER BY item_key, event_time DESC, event_id DESC
    LIMIT 1 BY item_key
)
"""


def timed(fn, repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "p90_ms": round(sorted(samples)[int(0.9 * (len(samples) - 1))], 2),
            "min_ms": round(min(samples), 2), "runs": repeats}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=10_000_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--clickhouse", help="DSN (default: a fresh chdb folder in a temp dir)")
    parser.add_argument("--repeats", type=int, default=30)
    add_result_options(parser, "queries")
    parser.add_argument("--revised", type=int, default=2000, help="items whose latest movement is updated or retracted")
    args = parser.parse_args(argv)
    tmp = None
    dsn = args.clickhouse
    if not dsn:
        tmp = tempfile.mkdtemp(prefix="tagtrail-bench-")
        dsn = f"chdb://{tmp}/chdb"
    client = connect_clickhouse(ClickHouseSettings(dsn=dsn, database="bench_queries"))
    try:
        for table in ("movements", "item_current", "item_arrival", "location_flow", "moves_hourly"):
            client.command(f"TRUNCATE TABLE IF EXISTS {table}")
        migrate(client)
        t0 = time.perf_counter()
        chunk = 1_000_000
        for start in range(0, args.movements, chunk):
            count = min(chunk, args.movements - start)
            client.command(GENERATE.format(gtin=GTIN, locations=LOCATIONS, items=args.items, start=start, count=count))
        load_s = time.perf_counter() - t0
        if args.revised:
            every = max(2, args.items // args.revised * 2)
            client.command(REVISE.format(every=every, half=every // 2))
        revised = client.command("SELECT uniqExact(item_key) FROM movements WHERE recorded_at > event_time + toIntervalMinute(30)")
        retracted = client.command("SELECT count() FROM movements WHERE retracted = 1")
        rows = client.command("SELECT count() FROM movements")
        parts_before = client.command("SELECT count() FROM system.parts WHERE active AND database = currentDatabase() AND table = 'item_current'")
        queries.inventory(client)
        inventory_as_loaded = timed(lambda: queries.inventory(client), 5)
        client.command("OPTIMIZE TABLE item_current FINAL")
        rng = random.Random(7)
        keys = [f"01/{GTIN}/21/{rng.randrange(args.items)}" for _ in range(args.repeats)]
        it = iter(keys * 3)
        queries.where_is(client, next(it))  # warm up
        where = timed(lambda: queries.where_is(client, next(it)), args.repeats)
        queries.inventory(client)
        inventory = timed(lambda: queries.inventory(client), max(5, args.repeats // 3))
        one_location = timed(lambda: queries.inventory(client, "loc-7"), max(5, args.repeats // 3))
        history = timed(lambda: queries.history(client, keys[0]), args.repeats)
        stale = client.command("SELECT item_key FROM movements WHERE retracted = 1 LIMIT 1")
        where_retracted = timed(lambda: queries.where_is(client, stale), args.repeats)
        as_of = timed(lambda: queries.inventory_as_of(client, datetime.datetime(2026, 1, 1, 5, tzinfo=datetime.UTC)), 3)
        client.command("OPTIMIZE TABLE movements FINAL")
        history_merged = timed(lambda: queries.history(client, next(it)), args.repeats)
        result = {
            "benchmark": "queries",
            "backend": dsn.split(":")[0],
            "movements": rows,
            "revised_items": revised,
            "retracted_movements": retracted,
            "items": args.items,
            "locations": LOCATIONS,
            "generate_s": round(load_s, 1),
            "where_is": where,
            "history": history,
            "history_movements_merged": history_merged,
            "where_is_item_with_retraction": where_retracted,
            "inventory_as_of_all_locations": as_of,
            "inventory_per_location": inventory,
            "inventory_per_location_before_merge": {**inventory_as_loaded, "item_current_parts": parts_before},
            "inventory_one_location": one_location,
            "targets_ms": {"where_is": 20, "inventory_per_location": 300},
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        }
    finally:
        client.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    print(f"saved {record('queries', result, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
