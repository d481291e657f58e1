"""Benchmark: tagtrail's processor against the smoothing job in Quix Streams, same input, one run.

Issue #5 asked to use Quix Streams (changelogged state, exactly once on confluent-kafka) if it met
100,000 raw reads/s per process, and otherwise to build on confluent-kafka directly and keep the
comparison here. This measures both on the same broker and the same preloaded topic:

  1. makes (or reuses) a separate venv for Quix Streams under the cache dir: quixstreams 3.28 pins
     confluent-kafka < 2.13, so it must stay out of the project venv;
  2. preloads N TagReads (benchmarks/processor.py's generator: items dwelling at read points,
     `--reads-per-observation` raw reads per observation, Avro single-object, keyed by item key);
  3. drains that topic with ONE `tagtrail process` subprocess, then with ONE Quix Streams
     subprocess per variant (benchmarks/quix_smoothing_app.py: `stateful`, smoothing per read
     point hand-written on Quix's State; `session`, Quix's built-in session window), each in a
     consumer group of its own and exactly once. Throughput = reads the group committed per
     second between its first commit and its last commit before the end; CPU = the subprocess's
     user+system seconds over the same span, per read.
`--rounds N` repeats 2-3 on fresh topics; the summary holds each side's median, and every round's
ratios come from one run (same input, same broker, minutes apart).

The Quix job does less than tagtrail's processor (see QUIX_DOES_LESS), so the ratio is conservative
in Quix's favour.

Run (the dev broker, or without a bootstrap one is started from deploy/local):
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python -m benchmarks.quix_comparison --reads 1000000
Quick run: --reads 200000. Prints a summary and records it in benchmarks/results/quix_comparison.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import confluent_kafka
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from benchmarks import processor as bench
from benchmarks.harness import REPO, Children, add_result_options, record, start_broker
from tagtrail.config import KafkaSettings
from tagtrail.kafka import connect, ensure_topics
from tagtrail.kafka.topics import TopicSpec
from tagtrail.wire import Codec

QUIX_REQUIREMENT = "quixstreams==3.28.*"

QUIX_DOES_LESS = [
    ("smoothing only: no location resolution between read points (entry RSSI, hold-off), no portal direction, "
     "no item state machine, no Movements (arrived/departed/disposition)"),
    "does not consume the scans topic (tagtrail's processor subscribes to reads and scans)",
    ("stateful variant: closes an observation only when a later read of the same item falls outside the "
     "window (no partition watermark, no idle advance); open observations at the end are never emitted"),
    ("session variant: ignores the read point (fine for this input, where an item is at one read point at "
     "a time); Quix emits a session only once the item's own later reads pass its end + 2 x gap"),
    ("no late or out-of-order handling (tagtrail merges bridged observations and re-publishes or retracts "
     "movements), no future-time or lateness checks, no dead letters (Quix raises on undecodable input)"),
    "emits small JSON observations instead of Avro Movements",
    "its state per item is one small dict of open observations (tagtrail keeps the item's timeline)",
    ("commits every --quix-commit-interval s (default 1 s) against tagtrail's 0.5 s: half the transactions"),
    ("decodes the whole TagRead with fastavro (tagtrail uses a partial decoder, 3.6 µs against about 7 µs "
     "per read: a tagtrail optimisation, not a Quix limit, and part of the gap)"),
]


# -- the Quix venv -------------------------------------------------------------------------------
def quix_versions(python: Path) -> dict | None:
    probe = ("import json, quixstreams, confluent_kafka, fastavro; print(json.dumps({'quixstreams': "
             "quixstreams.__version__, 'confluent_kafka': confluent_kafka.__version__, "
             "'librdkafka': confluent_kafka.libversion()[0], 'fastavro': fastavro.__version__}))")
    if not python.exists():
        return None
    done = subprocess.run([str(python), "-W", "ignore", "-c", probe], capture_output=True, text=True, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def ensure_quix_venv(cache_dir: Path, requirement: str) -> tuple[Path, dict]:
    """A venv of its own for Quix Streams: it pins confluent-kafka < 2.13 and the project uses 2.16."""
    venv = cache_dir / "quix-venv"
    python = venv / "bin" / "python"
    versions = quix_versions(python)
    wanted_minor = requirement.split("==")[1].rstrip(".*") if "==" in requirement else ""
    if versions is None or not versions["quixstreams"].startswith(wanted_minor):
        print(f"creating {venv} with {requirement} ...", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", requirement, "fastavro"], check=True)
        versions = quix_versions(python)
        if versions is None:
            raise RuntimeError(f"{requirement} did not import in {venv}")
    return python, versions


# -- measuring one drain -------------------------------------------------------------------------
def drain(children: Children, label: str, cmd: list[str], group: str, conn, reads: int, partitions: int,
          log_path: Path, timeout_s: float) -> dict:
    """Runs `cmd` until `group` has committed all `reads` on the reads topic and measures it.

    Rate and CPU are taken between the first and the last commit seen *before* the input was
    all committed: both ends are then commit boundaries in steady processing. (Measuring to the
    final commit, as benchmarks/processor.py does, would charge each side up to one commit
    interval of idle waiting, which matters for Quix's longer interval.) Sampled every 0.25 s."""
    watcher = Consumer(conn.consumer_config(group, **{"isolation.level": "read_uncommitted"}))
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with open(log_path, "wb") as log_file:
        proc = children.start(cmd, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT)
    commits: list[tuple[float, int, float]] = []  # (when seen, reads committed, cpu seconds)
    try:
        while True:
            done = committed_so_far(watcher, conn.topics.reads, partitions, commits)
            now = time.monotonic()
            if done > 0 and (not commits or done != commits[-1][1]):
                commits.append((now, done, bench.cpu_seconds(proc.pid)))
            if done >= reads:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"{label} exited ({proc.returncode}): {log_path.read_text()[-3000:]}")
            if now - started > timeout_s:
                raise RuntimeError(f"{label} did not finish in {timeout_s:.0f} s ({done} of {reads} committed)")
            time.sleep(0.25)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        watcher.close()
    first, final = commits[0], commits[-1]
    if final[0] - first[0] < 1.0:  # commits are polled every 0.25 s: a shorter span measures nothing
        raise TooShort(f"{label}: all {reads:,} reads were committed within {final[0] - first[0]:.2f} s of the "
                           "first commit seen, too few to measure a rate; use more --reads (200000 or more)")
    steady = commits[:-1]
    last = steady[-1] if len(steady) >= 2 and steady[-1][0] - first[0] >= 1.0 else final  # too short: to the end
    span, measured, cpu_used = last[0] - first[0], last[1] - first[1], last[2] - first[2]
    result = {
        "reads_per_s": round(measured / span),
        "cpu_us_per_read": round(cpu_used / measured * 1e6, 2),
        "cpu_cores_used": round(cpu_used / span, 2),
        "measured_reads": measured,
        "measured_s": round(span, 2),
        "commits_seen": len(commits),
        "first_commit_after_s": round(first[0] - started, 2),
        "reads_per_s_to_final_commit": round((final[1] - first[1]) / (final[0] - first[0])),
        "load_average_1m_before": round(load_before, 2),
    }
    print(f"{label}: {result['reads_per_s']:,} reads/s over {span:.1f} s, {result['cpu_us_per_read']} µs CPU/read, "
          f"first commit after {result['first_commit_after_s']} s", flush=True)
    return result


class TooShort(Exception):
    """The input drained too fast to measure a rate: a usage error, reported without a traceback."""


TRANSIENT = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
             KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError._TIMED_OUT}


def committed_so_far(watcher: Consumer, topic: str, partitions: int, commits: list) -> int:
    """The group's committed total; a retriable error (a broker just started: not coordinator yet)
    counts as no news."""
    try:
        return bench.committed_total(watcher, topic, partitions)
    except KafkaException as exc:
        if not (exc.args[0].retriable() or exc.args[0].code() in TRANSIENT):
            raise
        return commits[-1][1] if commits else 0


def count_committed(conn, topic: str) -> int:
    """Messages a read_committed reader sees on `topic` (control records and aborted data excluded)."""
    consumer = Consumer(conn.consumer_config(f"count-{uuid.uuid4().hex}", **{"enable.partition.eof": True}))
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING) for p in parts])
    at_end: set[int] = set()
    count = 0
    deadline = time.monotonic() + 120
    while len(at_end) < len(parts) and time.monotonic() < deadline:
        for msg in consumer.consume(10000, timeout=1.0):
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                continue
            count += 1
    consumer.close()
    return count


def delete_topics(bootstrap: str, names_containing: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    doomed = [t for t in admin.list_topics(timeout=30).topics if any(n in t for n in names_containing)]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=60).values():
            try:
                future.result()
            except KafkaException as exc:  # best effort: leftovers only cost disk on a dev broker
                print(f"could not delete a benchmark topic: {exc}", flush=True)


JOBS = {
    "tagtrail": "`tagtrail process`: smoothing, location, direction, item state, Movements (Avro), "
                "changelogged state, Kafka transactions",
    "quix_stateful": "Quix Streams app, stateful apply(): open observations per read point in State, emitted "
                     "when a later read of the item falls outside the window",
    "quix_session": "Quix Streams app, built-in session_window per item key (gap 5 s), min/max/sum/max "
                    "aggregations, .final()",
}


def preload(conn, codec: Codec, args) -> int:
    """Writes the input once; returns the mean encoded size of a read."""
    t_gen = time.monotonic()
    t0 = (time.time_ns() // 1000) - 3600 * bench.S
    _, sizes = bench.preload(conn, bench.reads_for(codec, args.items, args.reads, args.reads_per_observation, t0, 997))
    print(f"preloaded {args.reads} reads ({sizes / args.reads:.0f} B each) in {time.monotonic() - t_gen:.1f} s",
          flush=True)
    return round(sizes / args.reads)


def run_round(children: Children, n: int, args, bootstrap: str, quix_python: Path, variants: list[str],
              work: Path) -> dict:
    """One round: fresh topics, one preload, then tagtrail and each Quix variant drain the same topic."""
    prefix = f"quixcmp{uuid.uuid4().hex[:8]}"
    conn = connect(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=args.partitions))
    ensure_topics(conn)
    codec = Codec("TagRead")
    out: dict = {"round": n}
    try:
        out["read_bytes"] = preload(conn, codec, args)
        site_path = work / f"site-{n}.yaml"
        site_path.write_text(bench.SITE.format(bootstrap=bootstrap, prefix=prefix, partitions=args.partitions,
                                               read_points=bench.CYCLE_POINTS, idle_advance_s=30,  # the default
                                               commit_every_s=args.commit_every_s, batch=args.batch,
                                               live="false"))
        cmd = [sys.executable, "-m", "tagtrail_cli.main", "--log-level", "warning", "process", "--site", str(site_path)]
        out["tagtrail"] = drain(children, "tagtrail process", cmd, f"{prefix}.processor", conn, args.reads, args.partitions,
                                work / f"tagtrail-{n}.log", args.timeout_s)
        out["tagtrail"]["movements_published"] = count_committed(conn, conn.topics.movements)

        # Same topic, a consumer group (and so changelog topics) of its own per variant.
        schema_path = work / "tagread-schema.json"
        schema_path.write_text(json.dumps({"schema": codec.reader.schema, "fingerprint": codec.reader.fingerprint.hex()}))
        for variant in variants:
            output = f"{prefix}.quix-{variant}-observations"
            ensure_topics(conn, [TopicSpec(output, key="item_key", carries="observation JSON")])
            group = f"{prefix}.quix-{variant}"
            cmd = [str(quix_python), "-W", "ignore", str(REPO / "benchmarks" / "quix_smoothing_app.py"), "--bootstrap", bootstrap,
                   "--input", conn.topics.reads, "--output", output, "--group", group, "--schema", str(schema_path),
                   "--state-dir", str(work / f"quix-state-{variant}-{n}"), "--variant", variant, "--window-s", "5",
                   "--commit-interval", str(args.quix_commit_interval)]
            side = f"quix_{variant}"
            out[side] = drain(children, f"quix streams ({variant})", cmd, group, conn, args.reads, args.partitions,
                              work / f"quix-{variant}-{n}.log", args.timeout_s)
            out[side]["observations_published"] = count_committed(conn, output)
            out[f"tagtrail_vs_{side}"] = ratios(out["tagtrail"], out[side])
        return out
    finally:
        if not args.keep_topics:
            delete_topics(bootstrap, [prefix])


def ratios(tagtrail: dict, quix: dict) -> dict:
    return {"throughput_x": round(tagtrail["reads_per_s"] / quix["reads_per_s"], 2),
            "cpu_per_read_x": round(quix["cpu_us_per_read"] / tagtrail["cpu_us_per_read"], 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
                    help="Kafka bootstrap servers (default $KAFKA_BOOTSTRAP_SERVERS; none: start a broker)")
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--reads-per-observation", type=int, default=20)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch", type=int, default=5000, help="tagtrail's consume batch")
    ap.add_argument("--commit-every-s", type=float, default=0.5, help="tagtrail's commit interval")
    ap.add_argument("--quix-commit-interval", type=float, default=1.0,
                    help="Quix's commit interval, s (Quix's own default is 5: too coarse to measure short drains)")
    ap.add_argument("--quix-variants", default="stateful,session",
                    help="comma-separated: stateful (per read point, hand-written with State), session (built-in window)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the whole comparison (fresh topics each time); summary = per-side median")
    ap.add_argument("--quix-requirement", default=QUIX_REQUIREMENT)
    ap.add_argument("--cache-dir", type=Path,
                    default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tagtrail-bench")
    ap.add_argument("--timeout-s", type=float, default=1800, help="per drain")
    ap.add_argument("--keep-topics", action="store_true", help="leave the benchmark's topics on the broker")
    add_result_options(ap, "quix_comparison")
    args = ap.parse_args()
    with Children() as children:
        return run(args, children)


def run(args: argparse.Namespace, children: Children) -> int:
    """The comparison; the broker and every drained process belong to `children`, stopped however this ends."""
    variants = [v for v in args.quix_variants.split(",") if v]
    sides = ["tagtrail"] + [f"quix_{v}" for v in variants]
    quix_python, quix_versions_found = ensure_quix_venv(args.cache_dir, args.quix_requirement)
    bootstrap = args.bootstrap or start_broker(children)
    work = Path(tempfile.mkdtemp(prefix="bench-quix-"))
    try:
        try:
            rounds = [run_round(children, n, args, bootstrap, quix_python, variants, work) for n in range(1, args.rounds + 1)]
        except TooShort as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        summary = {side: {"reads_per_s": round(statistics.median(r[side]["reads_per_s"] for r in rounds)),
                          "cpu_us_per_read": round(statistics.median(r[side]["cpu_us_per_read"] for r in rounds), 2)}
                   for side in sides}
        for side in sides[1:]:
            summary[f"tagtrail_vs_{side}"] = ratios(summary["tagtrail"], summary[side])
            summary[f"tagtrail_vs_{side}"]["throughput_x_per_round"] = [r[f"tagtrail_vs_{side}"]["throughput_x"] for r in rounds]
            summary[f"tagtrail_vs_{side}"]["cpu_per_read_x_per_round"] = [r[f"tagtrail_vs_{side}"]["cpu_per_read_x"] for r in rounds]
        result = {
            "benchmark": "quix_comparison",
            "what": "raw TagReads/s and CPU per read of one process, exactly once, same input on the same broker: "
                    "tagtrail's processor against the smoothing job alone in Quix Streams",
            "command": "KAFKA_BOOTSTRAP_SERVERS=... python -m benchmarks.quix_comparison " + " ".join(sys.argv[1:]),
            "broker": "Apache Kafka 4.1 on this machine (single broker)",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                        "note": "2 cores shared with the broker, the benchmark driver and other work on the machine; "
                                "in each round the drains run one after another (tagtrail first) on the same input, "
                                "so each round's ratios come from one run"},
            "method": "reads/s and CPU between the first and the last commit seen before all input was committed, "
                      "sampled every 0.25 s; CPU = the subprocess's user+system time",
            "versions": {"tagtrail_venv": {"confluent_kafka": confluent_kafka.__version__,
                                           "librdkafka": confluent_kafka.libversion()[0]},
                         "quix_venv": quix_versions_found},
            "input": {"reads": args.reads, "items": args.items, "reads_per_observation": args.reads_per_observation,
                      "partitions": args.partitions, "read_bytes": rounds[0]["read_bytes"], "smoothing_window_s": 5},
            "settings": {"tagtrail": {"consume_batch": args.batch, "commit_every_s": args.commit_every_s},
                         "quix": {"processing_guarantee": "exactly-once", "commit_interval_s": args.quix_commit_interval,
                                  "state": "RocksDB with changelog topics (Quix defaults)"}},
            "jobs": {side: JOBS[side] for side in sides},
            "summary": summary,
            "rounds": rounds,
            "quix_does_less": QUIX_DOES_LESS,
            "target_reads_per_s": 100_000,
        }
        print(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"saved {record('quix_comparison', result, args)}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
