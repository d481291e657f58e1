"""Whole-pipeline benchmark: tagtrail end to end against the limits it runs under, in one run.

1. Limits, on the same bytes and rows: Avro encode/decode of TagRead (limits.py), bare Kafka
   produce/consume of those bytes on the same broker, bare ClickHouse (chdb) inserts of movement rows.
2. End to end: LLRP reader emulators (portal_traffic.py, its own process) -> `tagtrail ingest llrp` ->
   Kafka -> `tagtrail process` (exactly once) -> Kafka -> `tagtrail sink` -> ClickHouse (chdb), each stage
   its own process, on a real Apache Kafka broker. Measures sustained raw reads/s (what the processor
   consumed and committed per second over the steady window) and read-to-queryable latency: from the
   first read of a movement (its event time) to the insert that made it queryable. In live mode (the
   default here, processing.provisional_movements) that is the provisional version in `live_items`;
   the latency to the decided version in the history is reported next to it.

Prints the ratio of (2) to the slowest limit in (1), records the run in results/pipeline.json (under
--configuration, default `default`) and plots it as results/pipeline.<configuration>.svg.

    python -m benchmarks.pipeline                        # starts its own Kafka from the official jars
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 python -m benchmarks.pipeline --readers 8 --arrivals 150
    python -m benchmarks.pipeline --arrivals 900 --no-live --configuration saturated_no_live
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from benchmarks import limits
from benchmarks.harness import REPO, Children, add_result_options, record, start_broker


def site_yaml(bootstrap: str, prefix: str, ports: list[int], chdb: Path, spool: Path, window_s: float = 5.0,
              live: bool = True) -> str:
    points, readers = [], []
    for i, port in enumerate(ports):
        for side in ("outer", "inner"):
            points.append(f"  - {{id: door-{i}-{side}, location: dock-door-{i}, zone: dock, kind: dock_door_{side}, portal: door-{i}}}")
        readers.append(
            f"  - id: door-{i}\n    host: 127.0.0.1\n    port: {port}\n    report_every_ms: 100\n    antennas:\n"
            f"      - {{port: 1, read_point: door-{i}-outer}}\n      - {{port: 2, read_point: door-{i}-inner}}"
        )
    return (
        f"site_id: bench\nkafka:\n  bootstrap_servers: {bootstrap}\n  topic_prefix: {prefix}\n  partitions: 8\n"
        f"clickhouse:\n  dsn: chdb://{chdb}\n  database: bench\nllrp:\n  spool_dir: {spool}\n"
        f"processing:\n  idle_advance_s: 3\n  smoothing_window_s: {window_s}\n"
        f"  provisional_movements: {'true' if live else 'false'}\nread_points:\n" + "\n".join(points) + "\nreaders:\n" + "\n".join(readers) + "\n"
    )


TOPIC_NOT_READY = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                   KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION}


class Offsets:
    """Produced reads (topic end) and processed reads (processor group's committed offsets)."""

    def __init__(self, bootstrap: str, prefix: str, partitions: int = 8) -> None:
        self.topic = f"{prefix}.reads"
        self.parts = [TopicPartition(self.topic, p) for p in range(partitions)]
        self.ends = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}"})
        self.group = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{prefix}.processor", "enable.auto.commit": False})

    def sample(self) -> tuple[int, int] | None:
        """None while the stages' freshly created topic has no leader yet (asked again next second)."""
        try:
            produced = sum(self.ends.get_watermark_offsets(tp, timeout=5, cached=False)[1] for tp in self.parts)
            processed = sum(max(0, tp.offset) for tp in self.group.committed(self.parts, timeout=5))
        except KafkaException as exc:
            if exc.args[0].code() in TOPIC_NOT_READY:
                return None
            raise
        return produced, processed

    def close(self) -> None:
        self.ends.close()
        self.group.close()


TAIL_S = 3  # the site's idle_advance_s
FIRST_QUERYABLE = """
CREATE MATERIALIZED VIEW IF NOT EXISTS bench_first_queryable ENGINE = MergeTree ORDER BY event_id AS
SELECT event_id, event_time, recorded_at, provisional, now64(6) AS ingested_at FROM movements_ingest_v3
"""


def prepare_clickhouse(chdb: Path) -> None:
    """Tables first, plus the benchmark's own probe: the insert time of every version of every movement,
    provisional ones included (item_live keeps only an item's latest)."""
    from tagtrail.clickhouse import connect_clickhouse
    from tagtrail.config import ClickHouseSettings
    from tagtrail.history.migrations import migrate

    client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{chdb}", database="bench"))
    try:
        migrate(client)
        client.command(FIRST_QUERYABLE)
    finally:
        client.close()


def run_end_to_end(children: Children, bootstrap: str, workdir: Path, readers: int, arrivals: float, duration: float,
                   warmup: float, window_s: float = 5.0, live: bool = True) -> dict:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    traffic = children.start(
        [sys.executable, "-m", "benchmarks.portal_traffic", "--readers", str(readers),
         "--arrivals", str(arrivals), "--duration", str(duration + warmup)],
        stdout=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )
    ports = [json.loads(traffic.stdout.readline())["port"] for _ in range(readers)]
    site = workdir / "site.yaml"
    chdb = workdir / "chdb"
    site.write_text(site_yaml(bootstrap, prefix, ports, chdb, workdir / "spool", window_s, live))
    prepare_clickhouse(chdb)
    logs = {name: open(workdir / f"{name}.log", "w") for name in ("llrp", "process", "sink")}
    cmd = [sys.executable, "-m", "tagtrail_cli.main", "--log-json"]
    services = {
        "process": children.start([*cmd, "process", "--site", str(site)], stdout=logs["process"], stderr=subprocess.STDOUT, env=env),
        "sink": children.start([*cmd, "sink", "--site", str(site)], stdout=logs["sink"], stderr=subprocess.STDOUT, env=env),
        "llrp": children.start([*cmd, "ingest", "llrp", "--site", str(site)], stdout=logs["llrp"], stderr=subprocess.STDOUT, env=env),
    }
    json.loads(traffic.stdout.readline())  # {"started": true}: every reader is inventorying
    t0 = time.monotonic()
    offsets = None
    samples = []
    try:
        while offsets is None:
            try:
                offsets = Offsets(bootstrap, prefix)
            except Exception:
                time.sleep(0.5)
        cpu0 = _cpu(services)
        rig0 = rig1 = _cpu({"emulators": traffic})
        while traffic.poll() is None:
            time.sleep(1.0)
            rig1 = _cpu({"emulators": traffic}) if traffic.poll() is None else rig1  # gone once it exits
            sampled = offsets.sample()
            if sampled is None:
                continue
            produced, processed = sampled
            samples.append({"t": round(time.monotonic() - t0, 2), "produced": produced, "processed": processed})
            print(f"  t={samples[-1]['t']:5.1f}s  reads into Kafka {produced:>9,}  processed {processed:>9,}  "
                  f"lag {produced - processed:>7,}", flush=True)
        cpu1 = _cpu(services)
        summary = json.loads(traffic.stdout.readline())
        # drain: the processor catches up, then the sink
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            produced, processed = offsets.sample() or (0, -1)
            if produced == processed and produced >= summary["sent"] * 0.999:
                break
            time.sleep(1.0)
        time.sleep(8.0)  # idle partitions decide after 3 s; the sink flushes each second
    finally:
        for p in services.values():
            p.send_signal(signal.SIGTERM)
        for p in services.values():
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        traffic.kill()
        if offsets is not None:
            offsets.close()
    steady = [s for s in samples if warmup <= s["t"] <= warmup + duration]
    if len(steady) < 2:
        raise RuntimeError("the run was too short to measure a steady window")
    span = steady[-1]["t"] - steady[0]["t"]
    processed_rate = (steady[-1]["processed"] - steady[0]["processed"]) / span
    produced_rate = (steady[-1]["produced"] - steady[0]["produced"]) / span
    from tagtrail.clickhouse import connect_clickhouse
    from tagtrail.config import ClickHouseSettings

    client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{chdb}", database="bench"))
    # Items first read in the last seconds of traffic are decided by idle_advance_s after it stops, not by live
    # traffic: latency counts movements up to TAIL_S before the latest one.
    rows = client.query("SELECT count() FROM movements").result_rows[0][0]
    cutoff = f"(SELECT max(event_time) FROM movements) - INTERVAL {TAIL_S} SECOND"
    # per movement: its event time, the delay to its first version's insert, and to that version's publication
    first_versions = (
        "(SELECT event_id, any(event_time) AS first_read, "
        "(toUnixTimestamp64Micro(min(ingested_at)) - toUnixTimestamp64Micro(any(event_time))) / 1e6 AS latency, "
        "(toUnixTimestamp64Micro(argMin(recorded_at, ingested_at)) - toUnixTimestamp64Micro(any(event_time))) / 1e6 "
        "AS to_published FROM bench_first_queryable GROUP BY event_id)")
    measured, p50, p99, pmax = client.query(
        "SELECT count(), quantileExact(0.5)(latency), quantileExact(0.99)(latency), max(latency) FROM "
        f"{first_versions} WHERE event_id IN (SELECT event_id FROM movements) AND first_read < {cutoff}"
    ).result_rows[0]
    decided_p50, decided_p99 = client.query(
        "SELECT quantileExact(0.5)(l), quantileExact(0.99)(l) FROM "
        "(SELECT (toUnixTimestamp64Micro(ingested_at) - toUnixTimestamp64Micro(event_time)) / 1e6 AS l FROM movements "
        f" WHERE event_time < {cutoff})"
    ).result_rows[0]
    # where the first version's time goes: read -> published by the processor -> inserted by the sink
    stage_p50_p99 = client.query(
        "SELECT quantilesExact(0.5, 0.99)(to_published), quantilesExact(0.5, 0.99)(latency - to_published) "
        f"FROM {first_versions}").result_rows[0]
    # per second of event time: is the tail steady or bursts?
    by_second = client.query(
        "SELECT toUnixTimestamp(t) - min(toUnixTimestamp(t)) OVER () AS s, count(), quantileExact(0.99)(latency) FROM "
        f"(SELECT toStartOfSecond(first_read) AS t, latency FROM {first_versions}) GROUP BY t ORDER BY t").result_rows
    provisional, overturned = client.query(
        "SELECT countIf(provisional), uniqExactIf(event_id, provisional AND event_id NOT IN (SELECT event_id FROM movements)) "
        "FROM bench_first_queryable").result_rows[0]
    client.close()
    cpu_s = sum(cpu1.values()) - sum(cpu0.values())
    return {
        "readers": readers, "arrivals_per_s_per_door": arrivals, "window_s": round(span, 1),
        "reads_sent_by_readers": summary["sent"], "items": summary["items"],
        "raw_reads_per_s_into_kafka": round(produced_rate), "raw_reads_per_s_processed": round(processed_rate),
        "movements_in_clickhouse": rows, "latency_movements": measured, "latency_p50_s": round(p50, 3), "latency_p99_s": round(p99, 3),
        "latency_max_s": round(pmax, 3), "live_mode": live, "provisional_versions": provisional,
        "provisional_overturned": overturned,
        "latency_p99_s_by_second": [[int(s), n, round(x, 2)] for s, n, x in by_second],
        "first_version_read_to_published_p50_p99_s": [round(x, 3) for x in stage_p50_p99[0]],
        "first_version_published_to_queryable_p50_p99_s": [round(x, 3) for x in stage_p50_p99[1]],
        "decided_latency_p50_s": round(decided_p50, 3), "decided_latency_p99_s": round(decided_p99, 3), "stage_cpu_s": {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0},
        # the test rig shares the cores: the reader emulators (Python, building every LLRP frame)
        "emulators_cpu_s": round(rig1["emulators"] - rig0["emulators"], 2),
        "cpu_us_per_read": round(cpu_s / max(1, produced_rate * span) * 1e6, 1), "samples": samples,
    }


def _cpu(services: dict) -> dict[str, float]:
    out = {}
    for name, p in services.items():
        try:
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            out[name] = 0.0
    return out


def plot(result: dict, path: Path) -> None:
    samples = result["end_to_end"]["samples"]
    w, h, pad = 900, 300, 50
    tmax = max(s["t"] for s in samples) or 1
    rates = []
    for a, b in zip(samples, samples[1:]):
        dt = b["t"] - a["t"] or 1
        rates.append((b["t"], (b["produced"] - a["produced"]) / dt, (b["processed"] - a["processed"]) / dt))
    ymax = max([r[1] for r in rates] + [r[2] for r in rates] + [1])

    def line(idx: int, color: str) -> str:
        pts = " ".join(f"{pad + r[0] / tmax * (w - 2 * pad):.1f},{h - pad - r[idx] / ymax * (h - 2 * pad):.1f}" for r in rates)
        return f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>'

    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">'
        f'<rect width="{w}" height="{h}" fill="white"/>'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#444"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#444"/>'
        f'{line(1, "#2b8cbe")}{line(2, "#e6550d")}'
        f'<text x="{pad}" y="20">raw reads/s into Kafka (blue) and processed exactly once (orange); peak {ymax:,.0f}/s</text>'
        f'<text x="{w - pad}" y="{h - 15}" text-anchor="end">{tmax:.0f} s</text></svg>'
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readers", type=int, default=4, help="emulated dock-door readers (default 4)")
    p.add_argument("--arrivals", type=float, default=100.0, help="items per second per door (default 100)")
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds (default 30)")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--limit-records", type=int, default=200_000)
    p.add_argument("--smoothing-window-s", type=float, default=5.0,
                   help="processing.smoothing_window_s of the site (default 5, the site default): read-to-queryable "
                        "latency is bounded below by it")
    p.add_argument("--no-live", dest="live", action="store_false",
                   help="leave processing.provisional_movements off: movements become queryable only once decided")
    add_result_options(p, "pipeline")
    args = p.parse_args()
    with Children() as children:
        return run(args, children)


def run(args: argparse.Namespace, children: Children) -> int:
    """The benchmark; the broker and every service belong to `children`, stopped however this ends."""
    from tagtrail.structured_logs import configure_logging

    configure_logging(level="warning")
    with tempfile.TemporaryDirectory(prefix="tagtrail-bench-") as tmp:
        workdir = Path(tmp)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not bootstrap:
            bootstrap = start_broker(children, workdir)
        try:
            print("1. limits on the same bytes and rows")
            enc, dec, payloads = limits.avro_limits(args.limit_records)
            kp, kc = limits.kafka_limits(bootstrap, payloads)
            from tagtrail.clickhouse import connect_clickhouse
            from tagtrail.config import ClickHouseSettings

            client = connect_clickhouse(ClickHouseSettings(dsn=f"chdb://{workdir / 'limits-chdb'}", database="limits"))
            ch = limits.clickhouse_limit(client, args.limit_records)
            client.close()
            lims = [enc, dec, kp, kc, ch]
            for lim in lims:
                print(f"   {lim.name:<20} {lim.per_second:>12,.0f} /s  ({lim.note})")
            print(f"2. end to end: {args.readers} readers, {args.arrivals:g} items/s per door, {args.duration:g} s")
            e2e = run_end_to_end(children, bootstrap, workdir, args.readers, args.arrivals, args.duration, args.warmup,
                                 args.smoothing_window_s, args.live)
        finally:
            children.stop_all()  # before the temporary directory holding the broker's data goes
    slowest = min(lims, key=lambda lim: lim.per_second)
    ratio = e2e["raw_reads_per_s_processed"] / slowest.per_second
    result = {
        "limits": {lim.name: round(lim.per_second) for lim in lims},
        "slowest_limit": slowest.name,
        "end_to_end": {**e2e, "smoothing_window_s": args.smoothing_window_s},
        "ratio_to_slowest_limit": round(ratio, 3),
        "targets": {"raw_reads_per_s": 100_000, "latency_p99_s": 2.0, "ratio_to_slowest_limit": 0.5},
        "machine": {"cpus": os.cpu_count()},
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print(
        f"\nend to end: {e2e['raw_reads_per_s_processed']:,} raw reads/s processed exactly once "
        f"({e2e['raw_reads_per_s_into_kafka']:,}/s offered), {e2e['movements_in_clickhouse']:,} movements, "
        f"read-to-queryable{' (live)' if args.live else ''} p50 {e2e['latency_p50_s']} s, p99 {e2e['latency_p99_s']} s, "
        f"to decided p50 {e2e['decided_latency_p50_s']} s, p99 {e2e['decided_latency_p99_s']} s; "
        f"{e2e['cpu_us_per_read']} CPU µs per read across stages\n"
        f"first version: read to published p50/p99 {e2e['first_version_read_to_published_p50_p99_s']} s, "
        f"published to queryable {e2e['first_version_published_to_queryable_p50_p99_s']} s\n"
        f"ratio to the slowest limit ({slowest.name}, {slowest.per_second:,.0f}/s): {ratio:.2f}"
    )
    out = record("pipeline", result, args)
    svg = out.with_name(f"{out.stem}.{args.configuration}.svg")
    plot(result, svg)
    print(f"results: {out}, plot: {svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
