"""Benchmark: raw reads/s one processor process sustains on real Kafka, exactly-once on.

What it does:
  1. creates fresh topics (own prefix) on the broker, and writes a site file for them;
  2. preloads N TagReads: items moving between read points, every observation made of
     `--reads-per-observation` raw reads (the duplicate ratio a portal produces);
  3. starts ONE `tagtrail process` subprocess and watches the consumer group's committed
     offsets: throughput = reads committed per second once it started consuming (startup,
     i.e. imports, group join and restore, is reported separately), CPU = the process's
     user+system seconds over the same span, divided by the reads;
  4. live phase: produces at a fixed rate with event times = wall clock and measures end-to-end
     lag = time from a read being acknowledged by Kafka until the processor's transaction that
     covers it has committed (its movements and offsets are visible to read_committed readers).
     Movements themselves additionally wait, by design, for the event-time watermark to pass
     the smoothing window or hold-off their decision depends on.

Run (the dev broker, or without KAFKA_BOOTSTRAP_SERVERS one is started from deploy/local):
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python benchmarks/processor.py --reads 1000000
Prints a summary and saves benchmarks/results/processor.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from confluent_kafka import Consumer, Producer, TopicPartition

from tagtrail.config import KafkaSettings
from tagtrail.kafka import connect, ensure_topics
from tagtrail.wire import Codec

READ_POINTS = ["storage-a", "storage-b", "pick-1", "pack-1", "staging-1"]
SITE = """
site_id: bench
kafka: {{bootstrap_servers: "{bootstrap}", topic_prefix: {prefix}, partitions: {partitions}}}
read_points:
  - {{id: storage-a, location: storage-a, kind: storage}}
  - {{id: storage-b, location: storage-b, kind: storage}}
  - {{id: pick-1, location: pick-face-1, kind: pick_face}}
  - {{id: pack-1, location: pack-station-1, kind: pack_station}}
  - {{id: staging-1, location: staging-1, kind: staging}}
processing:
  smoothing_window_s: 5
  commit_every_s: {commit_every_s}
  consume_batch: {batch}
"""
S = 1_000_000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reads_for(codec: Codec, items: int, total: int, per_obs: int, t0: int, spacing_us: int):
    """Yields (key, value, event time) in event-time order: each item dwells `per_obs` reads at one
    read point (0.2 s apart), then moves on after a gap longer than the smoothing window."""
    obs_needed = total // per_obs
    rounds = max(1, obs_needed // items)
    period = per_obs * 200_000 + 6 * S  # dwell + gap > window
    emitted = 0
    for r in range(rounds + 1):
        for k in range(per_obs):
            for i in range(items):
                if emitted >= total:
                    return
                serial = str(100000 + i)
                item_key = f"01/80614141123458/21/{serial}"
                rp = READ_POINTS[(i + r) % len(READ_POINTS)]
                t = t0 + r * period + k * 200_000 + (i * spacing_us) % 200_000
                record = {
                    "event_id": f"bench/1/{serial}/{t}", "reader_id": "bench", "antenna_id": 1, "read_point": rp,
                    "epc_hex": "3074257BF7194E4000001A85",
                    "identity": {"item_key": item_key, "scheme": "sgtin", "epc_uri": f"urn:epc:id:sgtin:0614141.812345.{serial}",
                                 "gtin": "80614141123458", "serial": serial, "sscc": None},
                    "peak_rssi_dbm": -55.0 - (i % 7), "channel_index": None, "first_seen": t, "last_seen": t,
                    "reader_first_seen": t, "clock_offset_us": 0, "seen_count": 1, "received_at": t,
                }
                emitted += 1
                yield item_key.encode(), codec.encode_record(record), t


def committed_total(consumer: Consumer, topic: str, partitions: int) -> int:
    tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    return sum(max(tp.offset, 0) for tp in tps)


def committed_offsets(consumer: Consumer, topic: str, partitions: int) -> list[int]:
    return [tp.offset for tp in consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--reads-per-observation", type=int, default=20)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--commit-every-s", type=float, default=0.5)
    ap.add_argument("--live-rate", type=float, default=20_000, help="reads/s in the lag phase (0 skips it)")
    ap.add_argument("--live-seconds", type=float, default=20)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "processor.json"))
    ap.add_argument("--profile", help="run the processor under cProfile, writing the stats to this file")
    args = ap.parse_args()

    broker = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        from tests.services import start_kafka

        broker = start_kafka(Path(tempfile.mkdtemp(prefix="bench-kafka-")))
        bootstrap = broker.bootstrap_servers
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    conn = connect(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=args.partitions))
    ensure_topics(conn)
    site_path = Path(tempfile.mkdtemp(prefix="bench-site-")) / "site.yaml"
    site_path.write_text(SITE.format(bootstrap=bootstrap, prefix=prefix, partitions=args.partitions,
                                     commit_every_s=args.commit_every_s, batch=args.batch))
    codec = Codec("TagRead")
    try:
        # -- preload ---------------------------------------------------------------------------
        t_gen = time.monotonic()
        producer = Producer(conn.producer_config(**{"linger.ms": 50, "batch.num.messages": 10000}))
        t0 = (time.time_ns() // 1000) - 3600 * S
        last_t = t0
        sizes = 0
        for key, value, t in reads_for(codec, args.items, args.reads, args.reads_per_observation, t0, 997):
            while True:
                try:
                    producer.produce(conn.topics.reads, value, key, partition=conn.partition_for(key))
                    break
                except BufferError:
                    producer.poll(0.1)
            sizes += len(value)
            last_t = t
        producer.flush(120)
        preload_s = time.monotonic() - t_gen
        print(f"preloaded {args.reads} reads ({sizes / args.reads:.0f} B each) in {preload_s:.1f} s", flush=True)

        # -- drain -----------------------------------------------------------------------------
        # Only reads the group's committed offsets. read_uncommitted so that OffsetFetch does not wait
        # for stable offsets (transactional offsets become visible only when the transaction commits).
        watcher = Consumer(conn.consumer_config(f"{prefix}.processor", **{"isolation.level": "read_uncommitted"}))
        log_path = site_path.parent / "processor.log"
        started = time.monotonic()
        profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        proc = subprocess.Popen([sys.executable, *profile, "-m", "tagtrail.cli.main", "--log-level", "warning", "process",
                                 "--site", str(site_path)], cwd=REPO, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)
        first_progress = None
        cpu_at_first = 0.0
        samples = []
        while True:
            done = committed_total(watcher, conn.topics.reads, args.partitions)
            now = time.monotonic()
            if done > 0 and first_progress is None:
                first_progress, first_done, cpu_at_first = now, done, cpu_seconds(proc.pid)
            samples.append((now - started, done))
            if done >= args.reads:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"processor exited: {log_path.read_text()[-2000:]}")
            if now - started > 1800:
                raise RuntimeError("benchmark timed out")
            time.sleep(0.25)
        end = time.monotonic()
        cpu_used = cpu_seconds(proc.pid) - cpu_at_first
        span = end - first_progress
        measured = args.reads - first_done
        throughput = measured / span
        movements = 0
        mc = Consumer(conn.consumer_config(f"count-{uuid.uuid4().hex}"))
        for p in range(args.partitions):
            low, high = mc.get_watermark_offsets(TopicPartition(conn.topics.movements, p), timeout=10)
            movements += high - low
        mc.close()
        print(f"drained: {throughput:,.0f} reads/s over {span:.1f} s, {cpu_used / measured * 1e6:.1f} µs CPU/read, "
              f"startup {first_progress - started:.1f} s", flush=True)

        # -- live: end-to-end lag --------------------------------------------------------------
        lags: list[float] = []
        if args.live_rate > 0:
            acked: list[tuple[float, int, int]] = []  # (acked at, partition, offset) sampled
            lock = threading.Lock()

            def on_delivery(err, msg):
                if err is None:
                    with lock:
                        acked.append((time.monotonic(), msg.partition(), msg.offset()))

            live_items = args.items
            base = time.time_ns() // 1000
            interval = 1.0 / args.live_rate
            sent = 0
            # Encoded up front, so the producing side costs little CPU next to the processor (2 cores here).
            live = [(k, v) for k, v, _ in reads_for(codec, live_items, int(args.live_rate * args.live_seconds) + 1,
                                                    args.reads_per_observation, max(base, last_t + 10 * S), 997)]
            stop_at = time.monotonic() + args.live_seconds
            start_live = time.monotonic()
            pending_checks: list[tuple[float, int, int]] = []
            resolved: list[float] = []

            def checker() -> None:
                while True:
                    with lock:
                        pending_checks.extend(acked)
                        acked.clear()
                    if not pending_checks and time.monotonic() > stop_at + 1:
                        return
                    offs = committed_offsets(watcher, conn.topics.reads, args.partitions)
                    now = time.monotonic()
                    keep = []
                    for at, p, off in pending_checks:
                        if offs[p] > off:
                            resolved.append(now - at)
                        else:
                            keep.append((at, p, off))
                    pending_checks[:] = keep
                    if time.monotonic() > stop_at + 60:
                        return
                    time.sleep(0.02)

            checker_thread = threading.Thread(target=checker, daemon=True)
            checker_thread.start()
            while time.monotonic() < stop_at and sent < len(live):
                key, value = live[sent]
                cb = on_delivery if sent % 200 == 0 else None
                producer.produce(conn.topics.reads, value, key, partition=conn.partition_for(key), on_delivery=cb)
                sent += 1
                producer.poll(0)
                ahead = start_live + sent * interval - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            producer.flush(30)
            checker_thread.join(90)
            lags = sorted(resolved)
            live_rate = sent / (time.monotonic() - start_live)
        proc.terminate()
        proc.wait(60)
        watcher.close()

        def pct(q: float) -> float | None:
            return round(lags[min(len(lags) - 1, int(q * len(lags)))] * 1000, 1) if lags else None

        result = {
            "benchmark": "processor",
            "what": "raw TagReads/s one `tagtrail process` process sustains, exactly-once (transactions) on",
            "command": "KAFKA_BOOTSTRAP_SERVERS=... python benchmarks/processor.py " + " ".join(sys.argv[1:]),
            "broker": "Apache Kafka 4.1 on this machine (single broker)",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                        "note": "the broker and the benchmark driver share these cores with the processor"},
            "reads": args.reads,
            "items": args.items,
            "reads_per_observation": args.reads_per_observation,
            "duplicate_ratio": f"{args.reads_per_observation} raw reads per observation",
            "partitions": args.partitions,
            "consume_batch": args.batch,
            "commit_every_s": args.commit_every_s,
            "read_bytes": round(sizes / args.reads),
            "reads_per_s": round(throughput),
            "cpu_us_per_read": round(cpu_used / measured * 1e6, 2),
            "cpu_cores_used": round(cpu_used / span, 2),
            "startup_s": round(first_progress - started, 2),
            "drain_s": round(span, 2),
            "movements_published": movements,
            "live": {
                "target_rate": args.live_rate,
                "achieved_rate": round(live_rate) if args.live_rate > 0 else None,
                "seconds": args.live_seconds,
                "lag_ms_p50": pct(0.5),
                "lag_ms_p99": pct(0.99),
                "lag_ms_max": pct(1.0),
                "samples": len(lags),
                "lag_definition": "read acknowledged by Kafka -> processor transaction covering it committed",
            },
            "target_reads_per_s": 100_000,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
