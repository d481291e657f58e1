"""Barcode parses/s per core: biip alone (the reference) against the GS1 fast path, in one run.

Why it exists: the fast path in tagtrail/identity/gs1_fast.py is hand-written code next to a
well-kept library, justified only by this figure. Both parsers are timed here, interleaved in
rounds on the same inputs and counting this thread's CPU time, so the ratio holds even when other
work shares the machine's cores (absolute rates move with the load; compare the ratio).

Inputs are what handhelds send when receiving new stock: every serial new, so no cache helps.

    python -m benchmarks.barcode_parse [--scans 20000] [--rounds 5]

Prints the figures and records them in benchmarks/results/barcode_parse.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from biip.checksums import gs1_standard_check_digit

from benchmarks.harness import add_result_options, record
from tagtrail.identity import BarcodeParser
from tagtrail.identity.barcode import GS


def with_check_digit(body: str) -> str:
    """A GTIN-14 or SSCC-18 from the digits before its GS1 mod-10 check digit."""
    return body + str(gs1_standard_check_digit(body))


GTINS = [with_check_digit(f"0061414{n:06d}") for n in range(50)]


def handheld_scans(count: int) -> list[str]:
    """The forms a handheld emits, in proportions a receiving dock might see."""
    forms = (
        lambda i, g: f"]C101{g}21R{i:07d}{GS}10LOT{i % 97}",
        lambda i, g: f"]d201{g}17271231{GS}21S-{i}{GS}10B{i % 13}",
        lambda i, g: f"]Q321{i:x}{GS}01{g}",
        lambda i, g: f"(01){g}(21){i}",
        lambda i, g: f"]C100{with_check_digit(f'1061414{i:010d}')}",
    )
    return [forms[i % len(forms)](i, GTINS[i % len(GTINS)]) for i in range(count)]


def parse_rates(count: int = 20_000, rounds: int = 5) -> dict[str, float]:
    """Median parses/s (thread CPU time) over interleaved rounds, and the fast/biip ratio."""
    data = handheld_scans(count)
    parsers = {"biip": BarcodeParser(fast=False), "fast_path": BarcodeParser()}
    if any(parsers["biip"].parse(d) != parsers["fast_path"].parse(d) for d in data[:500]):
        raise RuntimeError("the fast path and biip disagree: comparing their speed would be meaningless")
    rates: dict[str, list[float]] = {name: [] for name in parsers}
    for _ in range(rounds):
        for name, parser in parsers.items():
            parse = parser.parse
            started = time.thread_time()
            for raw in data:
                parse(raw)
            rates[name].append(count / (time.thread_time() - started))
    biip, fast = statistics.median(rates["biip"]), statistics.median(rates["fast_path"])
    return {"biip_parses_per_s": biip, "fast_path_parses_per_s": fast, "fast_path_speedup": fast / biip}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=20_000, help="distinct barcodes per round (default 20000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per parser (default 5)")
    add_result_options(parser, "barcode_parse")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rates = parse_rates(args.scans, args.rounds)
    results = {
        "benchmark": "barcode_parse",
        "what": "BarcodeParser.parse calls/s per core on new handheld barcodes: biip alone vs the GS1 fast path",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "timing": "median of interleaved rounds, thread CPU time; other work may share the cores, so compare the ratio",
        "load_average_1m_at_start": round(load, 2),
        "scans_per_round": args.scans,
        "rounds": args.rounds,
        "biip_parses_per_s": round(rates["biip_parses_per_s"]),
        "fast_path_parses_per_s": round(rates["fast_path_parses_per_s"]),
        "fast_path_speedup": round(rates["fast_path_speedup"], 1),
    }
    print(f"biip {results['biip_parses_per_s']:,} parses/s, fast path {results['fast_path_parses_per_s']:,} parses/s: "
          f"{results['fast_path_speedup']}x (one core, same run, load {results['load_average_1m_at_start']})")
    print(f"saved {record('barcode_parse', results, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
