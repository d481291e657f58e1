"""`python -m tagtrail_ingest.llrp.emulator`: play LLRP readers on local ports.

Prints one JSON line per reader ({"reader": ..., "port": ...}) once listening, then plays the
chosen scenario until interrupted or --duration ends.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from tagtrail.structured_logs import configure_logging
from tagtrail_ingest.llrp.emulator.reader import Quirks, ReaderEmulator, wall_clock_us
from tagtrail_ingest.llrp.emulator.scenarios import flood, pallet_through_dock_door


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m tagtrail_ingest.llrp.emulator",
        description="Emulate LLRP 1.0.1 RFID readers over TCP (real binary frames) for demos, tests and benchmarks.",
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="first port; readers take consecutive ports (0: any free ports)")
    p.add_argument("--readers", type=int, default=1, help="how many readers to emulate (default 1)")
    p.add_argument("--antennas", type=int, default=4, help="antennas per reader (default 4)")
    p.add_argument("--scenario", choices=("pallet", "flood", "idle"), default="pallet",
                   help="pallet: a pallet of cases through a dock door (outer then inner antenna) every --every "
                        "seconds; flood: tag reports as fast as the client reads them; idle: answer, keep alive, no tags")
    p.add_argument("--cases", type=int, default=200, help="cases per pallet (default 200)")
    p.add_argument("--every", type=float, default=10.0, help="seconds between pallets (default 10)")
    p.add_argument("--tags-per-report", type=int, default=100, help="flood: tags per RO_ACCESS_REPORT (default 100)")
    p.add_argument("--population", type=int, default=2000, help="flood: distinct EPCs cycled through (default 2000)")
    p.add_argument("--clock-offset-s", type=float, default=0.0, help="reader clock minus true time, seconds")
    p.add_argument("--unset-clock", action="store_true", help="reader clock starts at 2000-01-01 (never set)")
    p.add_argument("--refuse-enable-events", action="store_true",
                   help="answer ENABLE_EVENTS_AND_REPORTS with ERROR_MESSAGE status 112, as EdgeX's simulator does")
    p.add_argument("--no-keepalives", action="store_true", help="ignore the client's KeepaliveSpec: silent between reports")
    p.add_argument("--no-antenna-id", action="store_true", help="never send AntennaID, even when the ROSpec asks for it")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: run until interrupted)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(level="warning")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    readers = []
    quirks = Quirks(refuse_enable_events=args.refuse_enable_events, keepalives=not args.no_keepalives,
                    antenna_ids=not args.no_antenna_id)
    for i in range(args.readers):
        emu = ReaderEmulator(args.port + i if args.port else 0, host=args.host, antennas=args.antennas,
                             clock_offset_us=int(args.clock_offset_s * 1_000_000), name=f"emulator-{i + 1}",
                             quirks=quirks)
        if args.unset_clock:
            emu.unset_clock()
        emu.start()
        readers.append(emu)
        print(json.dumps({"reader": emu.name, "host": args.host, "port": emu.port}), flush=True)
    if args.scenario == "flood":
        for i, emu in enumerate(readers):
            emu.flood(flood(lambda emu=emu: emu.reader_time(emu.clock()), population=args.population,
                            tags_per_report=args.tags_per_report, antennas=min(args.antennas, 4),
                            first_serial=1 + i * args.population))
    deadline = time.monotonic() + args.duration if args.duration else None
    next_pallet = time.monotonic()
    serial = 1
    while not stop.wait(0.1):
        if deadline and time.monotonic() >= deadline:
            break
        if args.scenario == "pallet" and time.monotonic() >= next_pallet:
            for i, emu in enumerate(readers):
                first = serial + i * args.cases
                emu.queue(pallet_through_dock_door(wall_clock_us(), cases=args.cases, first_serial=first,
                                                   pallet_serial=f"{first % 10**10:010d}", seed=first))
            serial += args.cases * len(readers)
            next_pallet += args.every
    for emu in readers:
        emu.stop()
    summary = {"reader_sent": {e.name: len(e.sent) + e.flood_tags_sent for e in readers}}
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
