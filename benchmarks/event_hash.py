"""CBV 2.0 event hash cost per exported event: tagtrail's own hash against building the event, and the
reference implementation (PyPI epcis-event-hash-generator) on the same events, in one run.

Why it exists: every exported event is hashed on the export's hot path (tagtrail/history/event_hash.py,
written instead of depending on the reference at run time). This says what the hash adds per event next
to assembling the event itself, and what the reference would have cost. Timings are this thread's CPU
time, median of interleaved rounds, so other work on the cores moves the absolute figures more than
the ratios.

    python -m benchmarks.event_hash [--events 20000] [--rounds 5]

Prints the figures and records them in benchmarks/results/event_hash.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import time

import structlog

from benchmarks.harness import add_result_options, record
from tagtrail.history.epcis import EPCIS_CONTEXT, TAGTRAIL_CONTEXT, object_event, with_event_id

STEPS = (("receiving", "in_progress", "door-1-inner", "dock-door-1", None, "arrived", "ADD"),
         ("storing", "sellable_not_accessible", "aisle-a-storage", "storage-a", "dock-door-1", "moved", "OBSERVE"),
         ("picking", "sellable_accessible", "pick-face-1", "pick-face-1", "storage-a", "moved", "OBSERVE"),
         ("shipping", "in_transit", "door-2-outer", "dock-door-2", "pick-face-1", "departed", "OBSERVE"))


def movement_rows(count: int) -> list[tuple[dict, str, str]]:
    """Rows as the export reads them from movement_history: distinct items, microsecond times."""
    start = dt.datetime(2026, 1, 1)
    rows = []
    for i in range(count):
        step, disposition, read_point, to, frm, kind, action = STEPS[i % len(STEPS)]
        at = start + dt.timedelta(microseconds=i * 1_234_567)
        row = {"event_id": f"ev-{i}", "event_time": at, "recorded_at": at + dt.timedelta(milliseconds=3),
               "epc_uri": f"urn:epc:id:sgtin:0614141.012345.{i}", "action": action, "biz_step": step,
               "disposition": disposition, "read_point": read_point, "to_location": to, "from_location": frm,
               "movement_type": kind, "anomaly": None}
        rows.append((row, f"01/00614141123452/21/{i}", row["epc_uri"]))
    return rows


def cpu_seconds(work) -> float:
    started = time.thread_time()
    work()
    return time.thread_time() - started


def measure(count: int, rounds: int) -> dict[str, float]:
    rows = movement_rows(count)
    events = [object_event(*r) for r in rows]
    reference = _reference()
    ref_count = min(count, 2_000)  # the reference expands each document as JSON-LD: slow, fewer events suffice
    document = {"@context": [EPCIS_CONTEXT, TAGTRAIL_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
                "creationDate": "2026-01-01T00:00:00.000Z",
                "epcisBody": {"eventList": [with_event_id(e) for e in events[:ref_count]]}}
    if reference is not None:
        want = [e["eventID"] for e in document["epcisBody"]["eventList"]]
        if reference(document) != want:
            raise RuntimeError("tagtrail's hash and the reference disagree: timing them would be meaningless")
    build, own, ref = [], [], []
    for _ in range(rounds):
        build.append(cpu_seconds(lambda: [object_event(*r) for r in rows]) / count)
        own.append(cpu_seconds(lambda: [with_event_id(e) for e in events]) / count)
        if reference is not None:
            ref.append(cpu_seconds(lambda: reference(document)) / ref_count)
    figures = {"build_event_us": statistics.median(build) * 1e6, "hash_us": statistics.median(own) * 1e6}
    figures["hash_share_of_export_event"] = figures["hash_us"] / (figures["hash_us"] + figures["build_event_us"])
    if ref:
        figures["reference_hash_us"] = statistics.median(ref) * 1e6
        figures["reference_events_per_round"] = ref_count
    return figures


def _reference():
    try:
        from epcis_event_hash_generator import hash_generator, json_to_py
    except ImportError:
        return None
    logging.getLogger().setLevel(logging.WARNING)  # it logs every event at INFO

    def hashes(document: dict) -> list[str]:
        events = json_to_py.event_list_from_epcis_document_json(json.loads(json.dumps(document)))
        return hash_generator.epcis_hashes_from_events(events)

    return hashes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="distinct events per round (default 20000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    add_result_options(parser, "event_hash")
    args = parser.parse_args()
    # the export's per-event log lines (e.g. a place without a GS1 id) are not what is timed here
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    load = os.getloadavg()[0]
    figures = measure(args.events, args.rounds)
    results = {
        "benchmark": "event_hash",
        "what": "CPU time per exported ObjectEvent: building it, its CBV 2.0 hash (tagtrail), the reference's hash",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "timing": "median of interleaved rounds, thread CPU time per event",
        "load_average_1m_at_start": round(load, 2),
        "events_per_round": args.events,
        "rounds": args.rounds,
        **{k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()},
    }
    line = f"build {results['build_event_us']} us/event, hash {results['hash_us']} us/event"
    if "reference_hash_us" in results:
        line += f", reference {results['reference_hash_us']} us/event"
    print(line + f" (one core, load {results['load_average_1m_at_start']})")
    print(f"saved {record('event_hash', results, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
