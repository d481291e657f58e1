"""Benchmark: raw reads/s one processor process sustains on real Kafka, exactly-once on.

What it does:
  1. creates fresh topics (own prefix) on the broker, and writes a site file for them;
  2. preloads N TagReads, one of two kinds of traffic (--traffic):
     cycle (default): --items items moving between five read points, every observation made of
       `--reads-per-observation` raw reads (the duplicate ratio a portal produces);
     portal: the whole-pipeline benchmark's traffic: new items crossing --doors dock-door portals
       (1 s outer antenna, 1 s inner, 10 reads/s each), laid out as the LLRP adapter writes them;
  3. starts ONE `tagtrail process` subprocess and watches the consumer group's committed
     offsets: throughput = reads committed per second once it started consuming (startup,
     i.e. imports, group join and restore, is reported separately), CPU = the process's
     user+system seconds over the same span, divided by the reads;
  4. live phase: produces at a fixed rate (cycle: --live-rate; portal: doors x arrivals x 20 reads,
     sent per reader report every 0.1 s) with event times = wall clock, with the LLRP adapter's
     producer settings, and measures end-to-end lag = time from a read being acknowledged by Kafka
     until the processor's transaction that covers it has committed (its movements and offsets are
     visible to read_committed readers), and the processor's CPU per live read. Following a live
     stream costs more CPU per read than draining a backlog (each item is written to the changelog
     once per commit while it is read, and work per wake-up is amortised over fewer reads).
     Movements themselves additionally wait, by design, for the event-time watermark to pass
     the smoothing window or hold-off their decision depends on.

Run (the dev broker, or without KAFKA_BOOTSTRAP_SERVERS one is started from deploy/local):
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python -m benchmarks.processor --reads 1000000
  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python -m benchmarks.processor --traffic portal --partitions 8 \
      --reads 1000000 --configuration portal
Prints a summary and records it in benchmarks/results/processor.json (or --out), under --configuration. --spy FILE records the
drain (FILE.drain) and the live phase (FILE) with py-spy, raw format.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from benchmarks.harness import REPO, Children, add_result_options, record, start_broker
from tagtrail.config import KafkaSettings
from tagtrail.kafka import connect, ensure_topics
from tagtrail.wire import Codec

READ_POINTS = ["storage-a", "storage-b", "pick-1", "pack-1", "staging-1"]
CYCLE_POINTS = """read_points:
  - {id: storage-a, location: storage-a, kind: storage}
  - {id: storage-b, location: storage-b, kind: storage}
  - {id: pick-1, location: pick-face-1, kind: pick_face}
  - {id: pack-1, location: pack-station-1, kind: pack_station}
  - {id: staging-1, location: staging-1, kind: staging}
"""
SITE = """
site_id: bench
kafka: {{bootstrap_servers: "{bootstrap}", topic_prefix: {prefix}, partitions: {partitions}}}
{read_points}processing:
  smoothing_window_s: 5
  idle_advance_s: {idle_advance_s}
  commit_every_s: {commit_every_s}
  consume_batch: {batch}
  provisional_movements: {live}
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


def portal_points(doors: int) -> str:
    lines = ["read_points:"]
    for d in range(doors):
        for side in ("outer", "inner"):
            lines.append(f"  - {{id: door-{d}-{side}, location: dock-door-{d}, zone: dock, kind: dock_door_{side}, "
                         f"portal: door-{d}}}")
    return "\n".join(lines) + "\n"


def portal_reads(codec: Codec, doors: int, arrivals: float, seconds: float, t0: int, serial_base: int,
                 dwell_s: float = 1.0, reads_per_s: float = 10.0, report_every_s: float = 0.1):
    """Yields (key, value, µs after t0 its reader reports it) in event-time order, like the whole-pipeline
    benchmark's traffic: `arrivals` new items per second at each dock door, each read `reads_per_s`
    times a second for `dwell_s` on the outer antenna then `dwell_s` on the inner one, reported by the
    reader every `report_every_s` (bytes laid out as the LLRP adapter writes them: channel index set,
    blake2b event ids). Every item is new, as at a receiving dock."""
    import hashlib

    reads: list[tuple[int, int, int, int]] = []  # (offset µs, door, serial, antenna)
    per_item = int(dwell_s * reads_per_s)
    gap = int(S / reads_per_s)
    for d in range(doors):
        n = int(arrivals * seconds)
        for k in range(n):
            arrived = int(k * S / arrivals) + d * 1_000  # doors slightly out of phase
            serial = serial_base + d * 10_000_000 + k
            for antenna in (1, 2):
                start = arrived + (antenna - 1) * int(dwell_s * S)
                for j in range(per_item):
                    reads.append((start + j * gap, d, serial, antenna))
    reads.sort()
    report = int(report_every_s * S)
    for off, d, serial, antenna in reads:
        reported = off - off % report + report + d * 23_000  # each door's reader reports every report_every_s
        item_key = f"01/80614141123458/21/{serial}"
        epc_hex = f"3034257BF7194E40{serial:08X}"
        side = "outer" if antenna == 1 else "inner"
        t = t0 + off
        record = {
            "event_id": hashlib.blake2b(f"door-{d}|{antenna}|{epc_hex}|{t}".encode(), digest_size=16).hexdigest(),
            "reader_id": f"door-{d}", "antenna_id": antenna, "read_point": f"door-{d}-{side}", "epc_hex": epc_hex,
            "identity": {"item_key": item_key, "scheme": "sgtin", "epc_uri": f"urn:epc:id:sgtin:0614141.812345.{serial}",
                         "gtin": "80614141123458", "serial": str(serial), "sscc": None},
            "peak_rssi_dbm": -60.0 + (8 if antenna == 2 else 0), "channel_index": 1, "first_seen": t, "last_seen": t,
            "reader_first_seen": t, "clock_offset_us": 0, "seen_count": 1, "received_at": t0 + reported,
        }
        yield item_key.encode(), codec.encode_record(record), reported


def preload(conn, reads) -> tuple[int, int]:
    """Produces (key, value, _) reads to the reads topic as fast as the broker takes them, partitioned
    as the adapters do; returns how many and their bytes."""
    producer = Producer(conn.producer_config(**{"linger.ms": 50, "batch.num.messages": 10000}))
    count = sizes = 0
    for key, value, _ in reads:
        while True:
            try:
                producer.produce(conn.topics.reads, value, key, partition=conn.partition_for(key))
                break
            except BufferError:
                producer.poll(0.1)
        sizes += len(value)
        count += 1
    producer.flush(120)
    return count, sizes


def spy_on(children: Children, pid: int, out: str) -> subprocess.Popen:
    """py-spy (from the same environment) sampling the processor until interrupted; raw format."""
    return children.start([str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--nonblocking",
                           "--rate", "200", "--pid", str(pid), "-o", out],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# A fresh broker has no __consumer_offsets topic until the first group asks for one: until it is
# created and loaded, OffsetFetch answers "not coordinator" / "coordinator loading". Retriable.
COORDINATOR_NOT_READY = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                         KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError._TIMED_OUT}


def _retriable(error: KafkaError) -> bool:
    return error.code() in COORDINATOR_NOT_READY or error.retriable()


def committed_offsets(consumer: Consumer, topic: str, partitions: int, *, deadline_s: float = 120.0,
                      clock=time.monotonic, sleep=time.sleep) -> list[int]:
    """The group's committed offset per partition, retrying while the group coordinator is not
    ready, for at most `deadline_s`; any other error, or one that outlasts the deadline, raises."""
    give_up = clock() + deadline_s
    delay = 0.1
    while True:
        try:
            tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
            failed = next((tp.error for tp in tps if tp.error is not None), None)
            if failed is None:
                return [tp.offset for tp in tps]
            error = failed
        except KafkaException as exc:
            error = exc.args[0]
        if not _retriable(error):
            raise KafkaException(error)
        if clock() >= give_up:
            raise RuntimeError(f"committed offsets of {topic}: still {error.name()} after {deadline_s:g} s "
                               f"({error.str()})")
        sleep(delay)
        delay = min(delay * 2, 2.0)


def committed_total(consumer: Consumer, topic: str, partitions: int, **retry) -> int:
    return sum(max(offset, 0) for offset in committed_offsets(consumer, topic, partitions, **retry))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traffic", choices=("cycle", "portal"), default="cycle",
                    help="cycle: --items items cycling through 5 read points (default); portal: new items crossing "
                         "dock-door portals, the whole-pipeline benchmark's traffic")
    ap.add_argument("--reads", type=int, default=1_000_000, help="reads preloaded and drained")
    ap.add_argument("--items", type=int, default=5000, help="cycle traffic: items")
    ap.add_argument("--reads-per-observation", type=int, default=20, help="cycle traffic")
    ap.add_argument("--doors", type=int, default=4, help="portal traffic: dock doors")
    ap.add_argument("--arrivals", type=float, default=250.0,
                    help="portal traffic: new items/s per door, 20 reads each (live rate = doors x arrivals x 20)")
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--commit-every-s", type=float, default=0.5)
    ap.add_argument("--live-mode", action="store_true",
                    help="processing.provisional_movements on (live mode: provisional movements before decisions)")
    ap.add_argument("--live-rate", type=float, default=20_000,
                    help="cycle traffic: reads/s in the live phase (portal: doors x arrivals x 20); 0 skips it")
    ap.add_argument("--live-seconds", type=float, default=20)
    add_result_options(ap, "processor")
    ap.add_argument("--profile", help="run the processor under cProfile, writing the stats to this file")
    ap.add_argument("--spy", help="record the live phase with py-spy (raw format) into this file")
    args = ap.parse_args()
    with Children() as children:
        return run(args, children)


def run(args: argparse.Namespace, children: Children) -> int:
    """The benchmark; every process it starts belongs to `children`, stopped however this ends."""
    portal = args.traffic == "portal"
    per_item = 20  # portal: 10 reads/s for 1 s on each antenna
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        bootstrap = start_broker(children)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    conn = connect(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=args.partitions))
    ensure_topics(conn)
    site_path = Path(tempfile.mkdtemp(prefix="bench-site-")) / "site.yaml"
    # Portal traffic runs with the whole-pipeline benchmark's processing settings (idle_advance_s 3).
    site_path.write_text(SITE.format(bootstrap=bootstrap, prefix=prefix, partitions=args.partitions,
                                     read_points=portal_points(args.doors) if portal else CYCLE_POINTS,
                                     idle_advance_s=3 if portal else 30,
                                     commit_every_s=args.commit_every_s, batch=args.batch,
                                     live="true" if args.live_mode else "false"))
    codec = Codec("TagRead")

    def traffic(total: int, t0: int, serial_base: int, rate: float):
        """(key, value, seconds after the phase's start it is due) for `total` reads at `rate`/s."""
        if portal:
            seconds = total / (args.doors * args.arrivals * per_item)
            for key, value, off in portal_reads(codec, args.doors, args.arrivals, seconds, t0, serial_base):
                yield key, value, off / S
        else:
            for n, (key, value, _) in enumerate(reads_for(codec, args.items, total, args.reads_per_observation, t0,
                                                          997)):
                yield key, value, n / rate if rate > 0 else 0.0

    # -- preload ---------------------------------------------------------------------------
    t_gen = time.monotonic()
    t0 = (time.time_ns() // 1000) - 3600 * S
    preloaded, sizes = preload(conn, traffic(args.reads, t0, 0, 0.0))
    preload_s = time.monotonic() - t_gen
    print(f"preloaded {preloaded} reads ({sizes / preloaded:.0f} B each) in {preload_s:.1f} s", flush=True)

    # -- drain -----------------------------------------------------------------------------
    # Only reads the group's committed offsets. read_uncommitted so that OffsetFetch does not wait
    # for stable offsets (transactional offsets become visible only when the transaction commits).
    watcher = Consumer(conn.consumer_config(f"{prefix}.processor", **{"isolation.level": "read_uncommitted"}))
    log_path = site_path.parent / "processor.log"
    started = time.monotonic()
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    with open(log_path, "wb") as log_file:
        proc = children.start([sys.executable, *profile, "-m", "tagtrail_cli.main", "--log-level", "warning",
                               "process", "--site", str(site_path)], cwd=REPO, stdout=log_file,
                              stderr=subprocess.STDOUT)
    spy = spy_on(children, proc.pid, args.spy + ".drain") if args.spy else None
    first_progress = None
    cpu_at_first = 0.0
    while True:
        done = committed_total(watcher, conn.topics.reads, args.partitions)
        now = time.monotonic()
        if done > 0 and first_progress is None:
            first_progress, first_done, cpu_at_first = now, done, cpu_seconds(proc.pid)
        if done >= preloaded:
            break
        if proc.poll() is not None:
            raise RuntimeError(f"processor exited: {log_path.read_text()[-2000:]}")
        if now - started > 1800:
            raise RuntimeError("benchmark timed out")
        time.sleep(0.25)
    end = time.monotonic()
    cpu_used = cpu_seconds(proc.pid) - cpu_at_first
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)
    span = end - first_progress
    measured = max(1, preloaded - first_done)
    throughput = measured / span
    movements = 0
    mc = Consumer(conn.consumer_config(f"count-{uuid.uuid4().hex}"))
    for p in range(args.partitions):
        low, high = mc.get_watermark_offsets(TopicPartition(conn.topics.movements, p), timeout=10)
        movements += high - low
    mc.close()
    print(f"drained: {throughput:,.0f} reads/s over {span:.1f} s, {cpu_used / measured * 1e6:.1f} µs CPU/read, "
          f"startup {first_progress - started:.1f} s", flush=True)

    # -- live: end-to-end lag and CPU per read ---------------------------------------------
    lags: list[float] = []
    live_result = None
    live_rate = args.doors * args.arrivals * per_item if portal and args.live_rate else args.live_rate
    if live_rate > 0:
        acked: list[tuple[float, int, int]] = []  # (acked at, partition, offset) sampled
        lock = threading.Lock()

        def on_delivery(err, msg):
            if err is None:
                with lock:
                    acked.append((time.monotonic(), msg.partition(), msg.offset()))

        total = int(live_rate * args.live_seconds) + 1
        # Encoded up front, so the producing side costs little CPU next to the processor (2 cores here);
        # event times start when sending does (encoding takes about 12 µs a read).
        base = time.time_ns() // 1000 + int(total * 12) + 500_000
        live = list(traffic(total, base, 100_000_000, live_rate))
        live.sort(key=lambda r: r[2])  # in the order they are due (portal reads: by report)
        # Produced as the LLRP adapter does (its producer settings, reads sent as they are due).
        producer = Producer(conn.producer_config())
        sent = 0
        start_live = time.monotonic()
        stop_at = start_live + args.live_seconds
        pending_checks: list[tuple[float, int, int]] = []
        resolved: list[float] = []
        all_committed: list[float] = []

        def checker() -> None:
            while True:
                with lock:
                    pending_checks.extend(acked)
                    acked.clear()
                offs = committed_offsets(watcher, conn.topics.reads, args.partitions)
                now = time.monotonic()
                if now > stop_at and sum(max(o, 0) for o in offs) >= preloaded + sent:
                    all_committed.append(now)
                keep = []
                for at, p, off in pending_checks:
                    if offs[p] > off:
                        resolved.append(now - at)
                    else:
                        keep.append((at, p, off))
                pending_checks[:] = keep
                if all_committed or now > stop_at + 60:
                    return
                time.sleep(0.02)

        spy = spy_on(children, proc.pid, args.spy) if args.spy else None
        cpu_live0 = cpu_seconds(proc.pid)
        checker_thread = threading.Thread(target=checker, daemon=True)
        checker_thread.start()
        while sent < len(live):
            key, value, due = live[sent]
            ahead = start_live + due - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            cb = on_delivery if sent % 200 == 0 else None
            producer.produce(conn.topics.reads, value, key, partition=conn.partition_for(key), on_delivery=cb)
            sent += 1
            producer.poll(0)
        achieved = sent / (time.monotonic() - start_live)
        producer.flush(30)
        checker_thread.join(90)
        cpu_live = cpu_seconds(proc.pid) - cpu_live0
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        lags = sorted(resolved)

        def pct(q: float) -> float | None:
            return round(lags[min(len(lags) - 1, int(q * len(lags)))] * 1000, 1) if lags else None

        live_result = {
            "target_rate": live_rate,
            "achieved_rate": round(achieved),
            "seconds": args.live_seconds,
            "reads": sent,
            "cpu_us_per_read": round(cpu_live / sent * 1e6, 2),
            "cpu_cores_used": round(cpu_live / ((all_committed[0] if all_committed else time.monotonic())
                                                - start_live), 2),
            "lag_ms_p50": pct(0.5),
            "lag_ms_p99": pct(0.99),
            "lag_ms_max": pct(1.0),
            "samples": len(lags),
            "lag_definition": "read acknowledged by Kafka -> processor transaction covering it committed",
            "cpu_definition": "processor user+system CPU from the first live read sent until every live read "
                              "was committed, divided by the live reads",
        }
        print(f"live: {achieved:,.0f} reads/s, {live_result['cpu_us_per_read']} µs CPU/read, "
              f"lag p50 {live_result['lag_ms_p50']} ms p99 {live_result['lag_ms_p99']} ms", flush=True)
    proc.terminate()
    proc.wait(60)
    watcher.close()

    result = {
        "benchmark": "processor",
        "what": "raw TagReads/s one `tagtrail process` process sustains, exactly-once (transactions) on",
        "command": "KAFKA_BOOTSTRAP_SERVERS=... python -m benchmarks.processor " + " ".join(sys.argv[1:]),
        "broker": "Apache Kafka 4.1 on this machine (single broker)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                    "note": "the broker and the benchmark driver share these cores with the processor"},
        "traffic": args.traffic,
        "reads": preloaded,
        **({"doors": args.doors, "reads_per_item": per_item, "every_item_new": True} if portal else {
            "items": args.items,
            "reads_per_observation": args.reads_per_observation,
            "duplicate_ratio": f"{args.reads_per_observation} raw reads per observation"}),
        "partitions": args.partitions,
        "consume_batch": args.batch,
        "commit_every_s": args.commit_every_s,
        "live_mode": args.live_mode,
        "read_bytes": round(sizes / preloaded),
        "reads_per_s": round(throughput),
        "cpu_us_per_read": round(cpu_used / measured * 1e6, 2),
        "cpu_cores_used": round(cpu_used / span, 2),
        "startup_s": round(first_progress - started, 2),
        "drain_s": round(span, 2),
        "movements_published": movements,
        "live": live_result,
        "target_reads_per_s": 100_000,
    }
    print(json.dumps(result, indent=2))
    print(f"saved {record('processor', result, args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
