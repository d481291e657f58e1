"""Runs every benchmark harness, one subprocess each, and collects what they saved (`make bench`).

By default each harness runs in a quick configuration (a few minutes in all on two cores) and records
its run under benchmarks/results/quick/, so the documented results in benchmarks/results/ (the
tables of docs/benchmarks.md cite them) stay as they are. `--full` runs each harness with its own
defaults, the configuration the docs document, and records into benchmarks/results/ (the run it
replaces moves to the file's history); tests/test_benchmark_docs.py then says which figures no
longer match.

One Kafka broker (deploy/local/kafka.sh) serves every harness unless KAFKA_BOOTSTRAP_SERVERS names
one. Each harness's output is shown as it runs and kept in <out-dir>/<name>.log; a harness that
fails does not stop the others, and the exit status says whether all passed. quix_comparison is not
run unless named with --only (it builds a venv of its own and installs Quix Streams from PyPI).

  python -m benchmarks.run_all                  quick run of all but quix_comparison
  python -m benchmarks.run_all --only processor,queries
  python -m benchmarks.run_all --full           the documented configurations (long)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import REPO, RESULTS, Children, start_broker


@dataclass(frozen=True)
class Harness:
    name: str
    quick: tuple[str, ...]  # arguments of the quick configuration
    kafka: str = ""  # how it is told the broker: "" none, "env" KAFKA_BOOTSTRAP_SERVERS, else this option
    by_default: bool = True


HARNESSES = (
    Harness("barcode_parse", ("--scans", "5000", "--rounds", "3")),
    Harness("event_hash", ("--events", "2000", "--rounds", "3")),
    Harness("epcis_export", ("--events", "100000", "--small", "10000")),
    Harness("limits", ("--n", "50000")),
    Harness("llrp_adapter", ("--readers", "1,8", "--warmup", "2", "--window", "5"), kafka="env"),
    Harness("scan_upload", ("--uploads", "20"), kafka="env"),
    Harness("processor", ("--reads", "100000", "--live-rate", "5000", "--live-seconds", "5"), kafka="env"),
    Harness("sink", ("--rows", "100000", "--items", "10000"), kafka="--bootstrap"),
    Harness("queries", ("--movements", "200000", "--items", "20000", "--repeats", "5", "--revised", "200")),
    Harness("pipeline", ("--arrivals", "50", "--duration", "10", "--warmup", "3", "--limit-records", "50000"),
            kafka="env"),
    Harness("quix_comparison", ("--reads", "200000"), kafka="--bootstrap", by_default=False),
)
BY_NAME = {h.name: h for h in HARNESSES}


@dataclass
class Outcome:
    name: str
    status: str  # passed | failed (exit code) | no result
    seconds: float
    result: str | None


def command(harness: Harness, full: bool, out_dir: Path, bootstrap: str | None) -> list[str]:
    cmd = [sys.executable, "-m", f"benchmarks.{harness.name}", *(() if full else harness.quick)]
    cmd += ["--out", str(out_dir / f"{harness.name}.json")]
    if bootstrap and harness.kafka.startswith("--"):
        cmd += [harness.kafka, bootstrap]
    return cmd


def run_one(children: Children, harness: Harness, cmd: list[str], env: dict[str, str], out_dir: Path) -> Outcome:
    """Runs the harness with its output shown and logged; a run recorded in its result file decides "passed"."""
    result = out_dir / f"{harness.name}.json"
    before = result.stat().st_mtime_ns if result.exists() else None
    started = time.monotonic()
    print(f"\n== {harness.name}: {' '.join(cmd[1:])}", flush=True)
    with open(out_dir / f"{harness.name}.log", "w") as log:
        process = children.start(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        code = process.wait()
    seconds = round(time.monotonic() - started, 1)
    if code != 0:
        return Outcome(harness.name, f"failed (exit {code})", seconds, None)
    if not result.exists() or result.stat().st_mtime_ns == before:
        return Outcome(harness.name, "no result", seconds, None)
    return Outcome(harness.name, "passed", seconds, str(result.relative_to(REPO) if result.is_relative_to(REPO) else result))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help=f"comma-separated harnesses (of: {', '.join(BY_NAME)})")
    ap.add_argument("--skip", default="", help="comma-separated harnesses to leave out")
    ap.add_argument("--full", action="store_true",
                    help="each harness's own defaults, recorded into benchmarks/results/ (the documented results)")
    ap.add_argument("--out-dir", type=Path, help="default benchmarks/results/quick (--full: benchmarks/results)")
    args = ap.parse_args(argv)
    names = args.only.split(",") if args.only else [h.name for h in HARNESSES if h.by_default]
    unknown = sorted(set(names + [s for s in args.skip.split(",") if s]) - set(BY_NAME))
    if unknown:
        ap.error(f"unknown harness(es): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    args.harnesses = [BY_NAME[n] for n in names if n not in args.skip.split(",")]
    args.out_dir = args.out_dir or (RESULTS if args.full else RESULTS / "quick")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with Children() as children:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap and any(h.kafka for h in args.harnesses):
            bootstrap = start_broker(children)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **({"KAFKA_BOOTSTRAP_SERVERS": bootstrap} if bootstrap else {})}
        outcomes = [run_one(children, h, command(h, args.full, args.out_dir, bootstrap), env, args.out_dir)
                    for h in args.harnesses]
    summary = {"configuration": "full" if args.full else "quick",
               "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "harnesses": [vars(o) for o in outcomes]}
    (args.out_dir / "run_all.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{'harness':<16} {'status':<18} {'seconds':>8}  result")
    for o in outcomes:
        print(f"{o.name:<16} {o.status:<18} {o.seconds:>8}  {o.result or '-'}")
    print(f"summary: {args.out_dir / 'run_all.json'}")
    return 0 if all(o.status == "passed" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
