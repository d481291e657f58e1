"""What every benchmark harness shares: where the repository is, a broker, and its saved results.

Results are kept per benchmark in one file, `benchmarks/results/<benchmark>.json`:

    {"benchmark": "sink",
     "latest": {"default": RUN, "batch200k": RUN},   the newest run of each named configuration
     "history": [RUN, ...]}                           the runs they replaced, oldest first
    RUN = {"configuration", "at", "commit", "command", "arguments", "figures"}

so a rerun never loses the run it replaces, and docs/benchmarks.md cites figures by a stable key
(`sink.json:latest.default.figures.rows_per_s_steady`; history entries keep their index).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.children import Children

__all__ = ["REPO", "RESULTS", "Children", "add_result_options", "free_port", "record", "start_broker"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
KAFKA_SCRIPT = REPO / "deploy" / "local" / "kafka.sh"


def free_port(successor_free: bool = False) -> int:
    """A port nothing listens on (with `successor_free`, port + 1 is free too)."""
    while True:
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if not successor_free or second.connect_ex(("127.0.0.1", port + 1)) != 0:
                return port


def start_broker(children: Children, workdir: Path | None = None) -> str:
    """A single-node Apache Kafka from deploy/local/kafka.sh (waits until it answers), stopped, and its
    data removed, with `children`. Returns its bootstrap servers."""
    port = free_port(successor_free=True)  # the broker's controller listens on port + 1
    data = (workdir or Path(tempfile.mkdtemp(prefix="bench-kafka-"))) / "kafka"
    subprocess.run([str(KAFKA_SCRIPT), "start", str(data), str(port)], check=True, stdout=subprocess.DEVNULL,
                   timeout=600)

    def stop() -> None:
        subprocess.run([str(KAFKA_SCRIPT), "stop", str(data)], check=True, capture_output=True, timeout=120)
        shutil.rmtree(data, ignore_errors=True)

    children.adopt(stop)
    return f"127.0.0.1:{port}"


def add_result_options(parser: argparse.ArgumentParser, benchmark: str, configuration: str = "default") -> None:
    parser.add_argument("--out", type=Path, default=RESULTS / f"{benchmark}.json",
                        help=f"results file the run is recorded into (default benchmarks/results/{benchmark}.json)")
    parser.add_argument("--configuration", default=configuration,
                        help=f"name the run is kept under in that file (default {configuration}); "
                             "the previous run of that name moves to the file's history")


def record(benchmark: str, figures: Any, args: argparse.Namespace) -> Path:
    """Saves `figures` as the latest run of `args.configuration` in `args.out`; the run it replaces,
    if any, is appended to the file's history."""
    out: Path = Path(args.out)
    saved = json.loads(out.read_text()) if out.exists() else {"benchmark": benchmark, "latest": {}, "history": []}
    if saved.get("benchmark") != benchmark or not isinstance(saved.get("latest"), dict):
        raise ValueError(f"{out}: not a results file of benchmark {benchmark!r} (expected keys benchmark, latest, history)")
    arguments = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k not in ("out", "configuration")}
    run = {"configuration": args.configuration, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "commit": commit(), "command": " ".join(["python -m", f"benchmarks.{benchmark}", *sys.argv[1:]]),
           "arguments": arguments, "figures": figures}
    previous = saved["latest"].get(args.configuration)
    if previous is not None:
        saved["history"].append(previous)
    saved["latest"][args.configuration] = run
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n")
    return out


def commit() -> str | None:
    """The checked-out commit, `-dirty` when the working tree has changes; None outside a checkout."""
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=REPO,
                                   capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return described.stdout.strip() or None
