"""`tagtrail demo`: a simulated warehouse on embedded defaults, end to end."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from tagtrail_cli.user_errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run a simulated warehouse on embedded defaults",
        description="Run a simulated warehouse end to end: LLRP reader emulators at the dock doors and in "
        "storage, handhelds uploading scans over HTTP, and the real adapters, processor and sink, on the "
        "embedded Kafka mock cluster (NOT durable) and embedded ClickHouse (chdb). Ends with inventory per "
        "location, items in transit, anomalies, and an HTML report with flows per dock door. Needs no network.",
    )
    p.add_argument("--items", type=int, default=60, help="items flowing through the warehouse (default 60)")
    p.add_argument("--doors", type=int, default=2, help="dock doors, each with an inner and outer antenna (default 2)")
    p.add_argument("--minutes", type=float, default=1.0, help="how long items keep arriving, in minutes (default 1)")
    p.add_argument("--workdir", type=Path, default=Path(".tagtrail/demo"), help="demo data folder, wiped at start")
    p.add_argument("--report", type=Path, help="HTML report to write (default <workdir>/report.html)")
    p.add_argument("--seed", type=int, default=2026, help="random seed of the simulated flows")
    p.set_defaults(handler=handle, default_log_level="warning")  # progress lines, not every stage's info logs


def handle(args: argparse.Namespace) -> int:
    from tagtrail_cli.demo.runner import DemoOptions, run_demo

    if not 1 <= args.items <= 5000:
        raise UserError("--items must be between 1 and 5000 (the embedded Kafka keeps ~5 MiB per partition)")
    if not 1 <= args.doors <= 16:
        raise UserError("--doors must be between 1 and 16")
    if not 0.5 <= args.minutes <= 30:
        raise UserError("--minutes must be between 0.5 and 30")
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    options = DemoOptions(items=args.items, doors=args.doors, minutes=args.minutes, workdir=args.workdir,
                          report_path=args.report, seed=args.seed)
    print(
        "tagtrail demo: simulated warehouse on embedded defaults. Kafka is librdkafka's in-process mock "
        "cluster: NOT durable, for evaluation only.",
        file=sys.stderr,
    )
    result = run_demo(options, on_progress=_print_progress)
    _print_summary(result, args.workdir)
    return 0 if not result.summary.mismatches else 1


def _print_progress(snap, previous) -> None:
    from tagtrail_cli.demo.progress import progress_line

    print(progress_line(snap, previous), file=sys.stderr, flush=True)


def _print_summary(result, workdir: Path) -> None:
    s = result.summary
    out = sys.stdout
    print(f"\nDemo finished in {result.elapsed_s:.0f} s: {result.reads_sent:,} tag reads and "
          f"{result.scans_acknowledged:,} scans became {s.movements:,} movements of {s.items_tracked} items.", file=out)
    print("\nInventory per location now:", file=out)
    width = max([len(loc) for loc, _, _ in s.inventory] + [8])
    for loc, disposition, items in s.inventory:
        print(f"  {loc:<{width}}  {disposition:<26} {items:>5}", file=out)
    print(f"\nItems in transit (shipped): {s.in_transit}", file=out)
    print(f"Anomalies: {len(s.anomalies)}", file=out)
    for item, at, why in s.anomalies[:10]:
        print(f"  {at}  {item}  {why}", file=out)
    print(f"Dead letters (rejected input, kept with reason): {result.dead_letters}", file=out)
    if s.transactions:
        print("\nShipments and receipts (dock terminal, POST /v1/transactions):", file=out)
    for t in s.transactions:
        planned = "" if t.planned_items is None else f" (planned {t.planned_items})"
        print(f"  {t.direction:<8} {t.type:<6} {t.id}  at {t.location}, {t.status}: {t.items} items{planned}", file=out)
    print(f"\nGround truth check: {s.where_expected}/{s.where_expected + len(s.mismatches)} items are where the "
          "simulation put them.", file=out)
    for item, expected, found in s.mismatches[:10]:
        print(f"  {item}: expected {expected}, found {found}", file=out)
    print(f"\nReport with flows per dock door: {result.report_path.resolve()}", file=out)
    print('Ask more with SQL, e.g.: tagtrail sql --clickhouse chdb://.tagtrail/demo/chdb '
          '"SELECT * FROM movement_history LIMIT 10"', file=out)
    print(f"An item's EPCIS 2.0 record with GS1 locations (SGLNs): tagtrail epcis <item> --site "
          f"{workdir / 'site.yaml'}", file=out)
    if result.window:
        since, until = (t.isoformat(timespec="seconds").replace("+00:00", "Z") for t in result.window)
        print(f"The whole run as one EPCIS document: tagtrail epcis --since {since} --until {until} --site "
              f"{workdir / 'site.yaml'}", file=out)
    print("The demo runs in live mode (processing.provisional_movements): while it runs, live_items shows items "
          "at a dock door before their crossing is decided (provisional = 1).", file=out)
