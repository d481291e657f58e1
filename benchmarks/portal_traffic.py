"""Real-time portal traffic for the whole-pipeline benchmark, played in its own process.

Items arrive at each dock door at a steady rate, spend `dwell_s` in the outer antenna's field and
then `dwell_s` in the inner one's (inbound), read `reads_per_s` times a second on each. Sightings
carry no timestamp, so the emulated reader stamps them when it reports them: event time is real
time, and read-to-queryable latency means what it says.

    python -m benchmarks.portal_traffic --readers 4 --arrivals 100 --duration 30
prints one JSON line per reader with its port, then a summary line when done.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import deque

from tagtrail.structured_logs import configure_logging
from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting
from tagtrail_ingest.llrp.emulator.scenarios import sgtin96

TICK_S = 0.02


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readers", type=int, default=4)
    p.add_argument("--arrivals", type=float, default=100.0, help="items arriving per second per door")
    p.add_argument("--dwell-s", type=float, default=1.0, help="seconds in each antenna's field")
    p.add_argument("--reads-per-s", type=float, default=10.0, help="reads per second of one item on one antenna")
    p.add_argument("--duration", type=float, default=30.0)
    args = p.parse_args(argv)
    configure_logging(level="warning")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emulators = [ReaderEmulator(antennas=2, name=f"door-{i}") for i in range(args.readers)]
    for emu in emulators:
        emu.start()
        print(json.dumps({"reader": emu.name, "port": emu.port}), flush=True)
    for emu in emulators:  # wait until the adapter has configured and started every reader
        while not emu.inventorying.wait(0.1):
            if stop.is_set():
                return 1
    start = time.monotonic()
    print(json.dumps({"started": True}), flush=True)
    queued = 0
    items = 0
    # Per reader, the items in the field as (next read at, arrived at, epc hex), in next-read order: every
    # item is read at the same interval, so a read goes to the back and a tick looks only at what is due
    # (the generator shares the cores with the pipeline it feeds).
    in_field: list[deque[tuple[float, float, str]]] = [deque() for _ in range(args.readers)]
    owed = [0.0] * args.readers
    read_every = 1.0 / args.reads_per_s
    while not stop.is_set():
        now = time.monotonic() - start
        if now >= args.duration:
            break
        for r, emu in enumerate(emulators):
            field = in_field[r]
            owed[r] += args.arrivals * TICK_S
            batch = []
            while field and field[0][0] <= now:
                due, arrived, epc = field.popleft()
                if now - arrived >= 2 * args.dwell_s:
                    continue  # it left both fields
                antenna = 1 if now - arrived < args.dwell_s else 2
                batch.append(Sighting(epc_hex=epc, antenna=antenna, peak_rssi=-60 + (8 if antenna == 2 else 0)))
                field.append((due + read_every, arrived, epc))
            while owed[r] >= 1:  # arrivals are read at once, then every read_every: after everything queued
                owed[r] -= 1
                items += 1
                epc = sgtin96("0614141", "812345", r * 10_000_000 + items)
                batch.append(Sighting(epc_hex=epc, antenna=1, peak_rssi=-60))
                field.append((now + read_every, now, epc))
            if batch:
                emu.queue(batch)
                queued += len(batch)
        time.sleep(max(0.0, TICK_S - ((time.monotonic() - start) - now)))
    # let the readers report what is queued
    deadline = time.monotonic() + 30
    while any(e.pending() for e in emulators) and time.monotonic() < deadline:
        time.sleep(0.1)
    sent = sum(len(e.sent) for e in emulators)
    print(json.dumps({"queued": queued, "sent": sent, "items": items}), flush=True)
    for emu in emulators:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
