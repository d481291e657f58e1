"""EPCIS export of a large history: events/s and peak memory of `tagtrail epcis --since ... --until ...`,
as JSON-LD and as XML, for a small and a large range of the same store in one run.

Why it exists: issue 17 asks that a million events export in bounded memory. Bounded means the peak
does not grow with the number of events, so the run exports two ranges of one store (default the first
100,000 events and all 1,000,000) in each format, and reports the large range's peak over the small
one's as a ratio next to the rates.

The history is generated with ClickHouse SQL straight into the table the sink inserts into (its
ingest table, INSERT ... SELECT FROM numbers()), filling the columns that table has under the current
migrations by name, so every materialized view below it fills as it does from the sink: four events
per item (received at a dock door, stored, picked, shipped by a door), SGTIN EPCs, a lot and expiry per
item where the table takes them, event times spread over --days days that end a few days before now.

Each export is the real command, `tagtrail epcis --since --until --site --format --out`, run in a child
process that runs the CLI's main and then reports its own wall and CPU time and its RSS high-water
(VmHWM of /proc/self/status; not getrusage's ru_maxrss, which a child keeps from the parent it was
forked from): with embedded ClickHouse (chdb) that includes the engine reading the pages.
A one-item export of the same store gives the child's fixed cost (interpreter, imports, chdb opened).

    python -m benchmarks.epcis_export [--events 1000000] [--small 100000] [--days 30] [--formats json,xml]

Prints the figures and records them in benchmarks/results/epcis_export.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import REPO, Children, add_result_options, record
from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tagtrail.history.migrations import migrate
from tagtrail_processors.sink.streams import MOVEMENTS

DATABASE = "tagtrail"
INGEST_TABLE = MOVEMENTS.ingest_table  # where the sink inserts movements
GTIN = "00614141123452"
EPC_PREFIX = "urn:epc:id:sgtin:0614141.012345."
COMPANY_GLN, BUILDING_GLN = "0614141000005", "0614141000012"
DOORS = ("dock-door-1", "dock-door-2")
STEPS_PER_ITEM = 4
STEP_OFFSETS_S = (0, 3_600, 5 * 3_600, 26 * 3_600)  # received, stored, picked, shipped: after the item's arrival
ITEMS_PER_LOT = 1_000

# One SQL expression per column of the ingest table that the generator knows (its subquery names
# number, item, seq, door_in, door_out, at); a column it does not know takes the table's default.
_KEY = f"concat('01/{GTIN}/21/', toString(item))"
_EPC = f"concat('{EPC_PREFIX}', toString(item))"
COLUMN_SQL = {
    "event_id": "lower(hex(MD5(toString(number))))",
    "item_key": _KEY,
    "scheme": "'sgtin'",
    "epc_uri": _EPC,
    "gtin": f"'{GTIN}'",
    "serial": "toString(item)",
    "sscc": "NULL",
    "movement_type": "['arrived', 'moved', 'moved', 'moved'][seq + 1]",
    "from_location": "[NULL, door_in, 'storage-a', 'pick-face-1'][seq + 1]",
    "to_location": "[door_in, 'storage-a', 'pick-face-1', door_out][seq + 1]",
    "read_point": "[concat(replaceOne(door_in, 'dock-', ''), '-inner'), 'storage-a', 'pick-face-1', "
                  "concat(replaceOne(door_out, 'dock-', ''), '-outer')][seq + 1]",
    "biz_step": "['receiving', 'storing', 'picking', 'shipping'][seq + 1]",
    "disposition": "['in_progress', 'sellable_not_accessible', 'sellable_accessible', 'in_transit'][seq + 1]",
    "direction": "['inbound', 'none', 'none', 'outbound'][seq + 1]",
    "action": "['ADD', 'OBSERVE', 'OBSERVE', 'OBSERVE'][seq + 1]",
    "event_time": "at",
    "recorded_at": "at + toIntervalMillisecond(1500)",
    "anomaly": "NULL",
    "source_event_ids": "[toString(number)]",
    "provisional": "false",
    "lot": f"concat('L', toString(intDiv(item, {ITEMS_PER_LOT})))",
    "expiry": "toDate32(at) + 730",
}
IDENTITY_FIELDS = {"item_key": _KEY, "scheme": "'sgtin'", "epc_uri": _EPC, "gtin": f"'{GTIN}'",
                   "serial": "toString(item)", "sscc": "NULL"}

CHILD = r"""
import json, re, sys, time
from tagtrail_cli.main import main
started, cpu = time.perf_counter(), time.process_time()
code = main(sys.argv[2:])
with open("/proc/self/status") as status:
    high_water_kb = int(re.search(r"^VmHWM:\s+(\d+) kB", status.read(), re.M).group(1))
with open(sys.argv[1], "w") as out:
    json.dump({"exit": code, "seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu,
               "max_rss_kb": high_water_kb}, out)
"""


def ingest_columns(client: Any) -> list[tuple[str, str]]:
    """(name, type) of the sink's ingest table as the applied migrations made it."""
    return [(row[0], row[1]) for row in client.query(f"DESCRIBE TABLE {INGEST_TABLE}").result_rows]


def generate_sql(columns: list[tuple[str, str]], *, start_us: int, spacing_us: int, first: int, count: int) -> str:
    """INSERT ... SELECT of `count` events from event number `first`, for the columns the table has."""
    names, values = [], []
    for name, kind in columns:
        if name == "identity" and kind.startswith("Tuple("):
            names.append(name)
            fields = ", ".join(IDENTITY_FIELDS[f.split()[0]] for f in _tuple_fields(kind))
            values.append(f"CAST(tuple({fields}), '{kind}')")
        elif name in COLUMN_SQL:
            names.append(name)
            values.append(COLUMN_SQL[name])
    offsets = ", ".join(str(s * 1_000_000) for s in STEP_OFFSETS_S)
    return f"""
INSERT INTO {INGEST_TABLE} ({', '.join(names)})
SELECT {', '.join(values)}
FROM
(
    SELECT number, item, seq,
           ['{DOORS[0]}', '{DOORS[1]}'][item % 2 + 1] AS door_in,
           ['{DOORS[0]}', '{DOORS[1]}'][intDiv(item, 2) % 2 + 1] AS door_out,
           fromUnixTimestamp64Micro(toInt64({start_us} + item * {spacing_us} + [{offsets}][seq + 1]), 'UTC') AS at
    FROM (SELECT number, intDiv(number, {STEPS_PER_ITEM}) AS item, number % {STEPS_PER_ITEM} AS seq
          FROM numbers({first}, {count}))
)
"""


def _tuple_fields(kind: str) -> list[str]:
    """Field declarations of a named Tuple type, split at top-level commas."""
    inner, fields, depth, current = kind[len("Tuple("):-1], [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            fields.append(current.strip())
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    return [*fields, current.strip()] if current.strip() else fields


def site_file(folder: Path, chdb: Path) -> Path:
    """A site with GS1 master data for the generated places, so the export names SGLNs as a real one does."""
    locations = ["dock-door-1", "dock-door-2", "storage-a", "pick-face-1"]
    read_points = [("door-1-inner", "dock-door-1", "dock_door_inner"), ("door-1-outer", "dock-door-1", "dock_door_outer"),
                   ("door-2-inner", "dock-door-2", "dock_door_inner"), ("door-2-outer", "dock-door-2", "dock_door_outer"),
                   ("storage-a", "storage-a", "storage"), ("pick-face-1", "pick-face-1", "pick_face")]
    site = {
        "site_id": "bench-site",
        "company": {"name": "Bench Distribution", "gln": COMPANY_GLN, "company_prefix": "0614141"},
        "time_zone": "America/New_York",
        "locations": [{"id": loc, "name": loc, "gln": BUILDING_GLN, "sgln_extension": loc} for loc in locations],
        "read_points": [{"id": rp, "location": loc, "kind": kind, "gln": BUILDING_GLN, "sgln_extension": rp}
                        for rp, loc, kind in read_points],
        "clickhouse": {"dsn": f"chdb://{chdb}", "database": DATABASE},
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


def load(chdb: Path, events: int, days: float) -> dict[str, Any]:
    """Generates the history; returns the time bounds of the export ranges and what was stored."""
    client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{chdb}", database=DATABASE))
    try:
        migrate(client)
        columns = ingest_columns(client)
        items = -(-events // STEPS_PER_ITEM)
        end = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
        span_us = int(days * 86_400e6)
        start = end - dt.timedelta(microseconds=span_us)
        start_us = int(start.timestamp() * 1e6)
        spacing_us = max(1, span_us // items)
        started = time.perf_counter()
        chunk = 1_000_000
        for first in range(0, events, chunk):
            client.command(generate_sql(columns, start_us=start_us, spacing_us=spacing_us, first=first,
                                        count=min(chunk, events - first)))
        generate_s = time.perf_counter() - started
        stored = client.command("SELECT count() FROM movement_history")
        lots = client.command("SELECT countIf(lot IS NOT NULL) FROM movements") if "lot" in dict(columns) else 0
        last = client.query("SELECT max(event_time) FROM movement_history").result_rows[0][0]
    finally:
        client.close()
    return {"start": start, "until": last.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=1), "stored": int(stored),
            "ingest_table": INGEST_TABLE, "ingest_columns_filled": [n for n, _ in columns if n in COLUMN_SQL or n == "identity"],
            "events_with_lot": int(lots), "generate_s": round(generate_s, 1)}


def boundary(chdb: Path, small: int) -> dt.datetime | None:
    """The event time before which the history holds exactly the first `small` events (None if it cannot)."""
    client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{chdb}", database=DATABASE))
    try:
        rows = client.query("SELECT event_time FROM movement_history ORDER BY event_time LIMIT 2 OFFSET {n:UInt64}",
                            parameters={"n": small - 1}).result_rows
    finally:
        client.close()
    if len(rows) < 2 or rows[0][0] == rows[1][0]:
        return None
    return rows[1][0].replace(tzinfo=dt.UTC)


def export(children: Children, work: Path, site: Path, cli_args: list[str]) -> dict[str, Any]:
    """Runs `tagtrail <cli_args>` in a child; its timings, RSS high-water and the events it logged writing."""
    figures_file = work / "child.json"
    figures_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-c", CHILD, str(figures_file), "--log-json", *cli_args, "--site", str(site)]
    process = children.start(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate()
    if process.returncode != 0 or not figures_file.exists():
        raise RuntimeError(f"tagtrail {' '.join(cli_args)} failed (exit {process.returncode}): {stderr[-2000:]}")
    figures = json.loads(figures_file.read_text())
    if figures["exit"] != 0:
        raise RuntimeError(f"tagtrail {' '.join(cli_args)} exited {figures['exit']}: {stderr[-2000:]}")
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    written = [e["events"] for e in logged if e.get("event") == "epcis_exported"]
    progress = sum(1 for e in logged if e.get("event") == "epcis_export_progress")
    return {"events": written[-1] if written else None, "seconds": round(figures["seconds"], 2),
            "cpu_s": round(figures["cpu_s"], 2), "peak_rss_mib": round(figures["max_rss_kb"] / 1024, 1),
            "progress_reports": progress}


def run_range(children: Children, work: Path, site: Path, since: dt.datetime, until: dt.datetime, form: str) -> dict:
    out = work / f"export.{form}"
    result = export(children, work, site, ["epcis", "--since", since.isoformat(), "--until", until.isoformat(),
                                           "--format", form, "--out", str(out)])
    result["bytes_per_event"] = round(out.stat().st_size / result["events"]) if result["events"] else None
    result["events_per_s"] = round(result["events"] / result["seconds"]) if result["events"] else None
    out.unlink()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="history events stored and exported (default 1000000)")
    parser.add_argument("--small", type=int, default=100_000,
                        help="events of the small range whose peak memory the large one is compared with (default 100000)")
    parser.add_argument("--days", type=float, default=30.0, help="days the event times spread over (default 30)")
    parser.add_argument("--formats", default="json,xml", help="comma-separated --format values (default json,xml)")
    add_result_options(parser, "epcis_export")
    args = parser.parse_args(argv)
    if not 0 < args.small < args.events:
        parser.error("--small must be above 0 and below --events")
    formats = [f for f in args.formats.split(",") if f]
    work = Path(tempfile.mkdtemp(prefix="tagtrail-bench-epcis-"))
    try:
        chdb = work / "chdb"
        stored = load(chdb, args.events, args.days)
        small_until = boundary(chdb, args.small)
        if small_until is None:
            raise RuntimeError(f"the generated history has no time boundary after its first {args.small} events")
        site = site_file(work, chdb)
        with Children() as children:
            one_item = export(children, work, site, ["epcis", f"01/{GTIN}/21/0", "--out", str(work / "item.json")])
            runs: dict[str, Any] = {}
            for form in formats:
                for label, until in (("small", small_until), ("large", stored["until"])):
                    runs[f"{form}_{label}"] = result = run_range(children, work, site, stored["start"], until, form)
                    print(f"{form} {label}: {result['events']:,} events in {result['seconds']} s "
                          f"({result['events_per_s']:,}/s), peak RSS {result['peak_rss_mib']} MiB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures: dict[str, Any] = {
        "benchmark": "epcis_export",
        "what": "tagtrail epcis --since/--until over a generated history in chdb, one child process per export",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "history": {k: v for k, v in stored.items() if k not in ("start", "until")},
        "one_item_export": one_item,
        "runs": runs,
    }
    for form in formats:
        small, large = runs[f"{form}_small"], runs[f"{form}_large"]
        figures[f"{form}_peak_rss_ratio_large_over_small"] = round(large["peak_rss_mib"] / small["peak_rss_mib"], 2)
        figures[f"{form}_events_ratio_large_over_small"] = round(large["events"] / small["events"], 1)
    print(json.dumps(figures, indent=2))
    print(f"saved {record('epcis_export', figures, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
