"""Latency of the dashboard queries on a large movement history.

Generates N movements (default 10 million over 1 million items and 50 locations) directly with
ClickHouse SQL (INSERT ... SELECT FROM numbers()), so the materialized views fill as they would from
the sink, then times "where is X now" and "inventory per location" (median of repeated runs).

    python benchmarks/queries.py [--movements 10000000] [--items 1000000] [--clickhouse chdb:///tmp/dir]

Targets: where is < 20 ms, inventory per location < 300 ms. Prints and saves benchmarks/results/queries.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tagtrail.history import queries
from tagtrail.history.migrations import migrate

RESULTS = Path(__file__).resolve().parent / "results"
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
        rows = client.command("SELECT count() FROM movements")
        parts_before = client.command("SELECT count() FROM system.parts WHERE active AND database = currentDatabase() AND table = 'item_current'")
        queries.inventory(client)
        inventory_as_loaded = timed(lambda: queries.inventory(client), 5)
        client.command("OPTIMIZE TABLE item_current FINAL")
        rng = random.Random(7)
        keys = [f"01/{GTIN}/21/{rng.randrange(args.items)}" for _ in range(args.repeats)]
        it = iter(keys * 2)
        queries.where_is(client, next(it))  # warm up
        where = timed(lambda: queries.where_is(client, next(it)), args.repeats)
        queries.inventory(client)
        inventory = timed(lambda: queries.inventory(client), max(5, args.repeats // 3))
        one_location = timed(lambda: queries.inventory(client, "loc-7"), max(5, args.repeats // 3))
        history = timed(lambda: queries.history(client, keys[0]), args.repeats)
        result = {
            "benchmark": "queries",
            "backend": dsn.split(":")[0],
            "movements": rows,
            "items": args.items,
            "locations": LOCATIONS,
            "generate_s": round(load_s, 1),
            "where_is": where,
            "history": history,
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
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "queries.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
