"""Scan upload throughput: scans/s accepted end to end on loopback, one uvicorn worker.

The service runs as `tagtrail ingest scans` in its own process (one worker) against a real Kafka
broker ($KAFKA_BOOTSTRAP_SERVERS, or one started from deploy/local/kafka.sh). Devices upload
batches of 500 scans over keep-alive HTTP from this process, a few at a time; a scan counts once
the service answered 202, i.e. once Kafka confirmed its transaction. Finally the scans topic is
read back (read_committed) to check every accepted scan is there exactly once.

Two workloads, since barcode parsing dominated the service's CPU when barcodes are new (biip
alone: ~14,000 scans/s unique vs ~25,000 repeat; hence the GS1 fast path, see gs1_fast.py):
  unique   every scan a different serial (receiving new stock): the parse cache never hits
  repeat   the same 10,000 barcodes scanned again and again (cycle counts): the cache hits

The in-process figures (one core, no HTTP or Kafka) include biip alone vs the fast path, timed
in the same run (benchmarks/barcode_parse.py), since other work on the machine moves absolute rates.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python -m benchmarks.scan_upload [--uploads 200] [--devices 8]
    ... --biip-only   the service without the fast path (biip alone), for comparison

Prints the figures and records them in benchmarks/results/scan_upload.json (configuration `default`,
or `biip_only` with --biip-only).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import msgspec

from benchmarks.barcode_parse import parse_rates, with_check_digit
from benchmarks.harness import REPO, Children, add_result_options, free_port, record, start_broker
from tagtrail.config import KafkaSettings, SiteConfig
from tagtrail.identity.barcode import GS
from tagtrail.kafka import connect, ensure_topics
from tagtrail.wire import Codec
from tagtrail_ingest.scans.assess import ScanAssessor, wall_clock_micros
from tagtrail_ingest.scans.upload import decode_json

BATCH = 500
TOKEN = "bench-token"
# Runs the service with the fast path switched off (it declines every barcode, so biip parses all).
BIIP_ONLY = ("import sys, tagtrail.identity.gs1_fast as fast; fast.usable_separators = lambda separators: False; "
             "from tagtrail_cli.main import main; sys.exit(main(sys.argv[1:]))")
GTINS = [with_check_digit(f"0061414{n:06d}") for n in range(50)]


def scans(tag: str, count: int) -> list[dict]:
    return [{"raw_data": f"]C101{GTINS[i % len(GTINS)]}21{tag}-{i}{GS}10LOT{i % 97}", "scanned_at": "2025-03-04T10:00:00.123Z",
             "action": "receive", "location": "aisle-7"} for i in range(count)]


def upload(upload_id: str, items: list[dict]) -> bytes:
    return msgspec.json.encode({"device_id": "bench", "upload_id": upload_id, "scans": items})


async def drive(url: str, bodies: list[bytes], devices: int) -> tuple[float, list[float], Counter]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    statuses: Counter = Counter()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    async def device(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post("/v1/scans", content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            if response.status_code == 202:
                statuses["scans_accepted"] += response.json()["accepted"]

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=devices)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(device(client) for _ in range(devices)))
        return time.perf_counter() - started, latencies, statuses


def process_cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process (all its threads, librdkafka's included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process_rates() -> dict[str, float]:
    """Where the service's CPU goes per scan, measured without HTTP or Kafka."""
    now = wall_clock_micros()
    rates = parse_rates(10_000, rounds=3)
    assessor = ScanAssessor(SiteConfig())
    batch = decode_json(upload("x", scans("assess", 10_000)), max_scans=10_000)
    started = time.perf_counter()
    outcomes = assessor.assess(batch, now)
    assess_rate = len(outcomes) / (time.perf_counter() - started)
    started = time.perf_counter()
    assessor.assess(batch, now)
    assess_cached_rate = len(outcomes) / (time.perf_counter() - started)
    codec = Codec("Scan")
    started = time.perf_counter()
    for event in outcomes:
        codec.encode(event)
    encode_rate = len(outcomes) / (time.perf_counter() - started)
    return {**rates, "assess_uncached_per_s": assess_rate, "assess_cached_per_s": assess_cached_rate,
            "avro_encode_per_s": encode_rate}


def count_on_kafka(bootstrap: str, prefix: str, expect: int) -> tuple[int, int]:
    """(messages, distinct event ids) on the scans topic, read_committed."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    conn = connect(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix))
    consumer = Consumer(conn.consumer_config(f"bench-{uuid.uuid4().hex[:6]}"))
    meta = consumer.list_topics(conn.topics.scans, timeout=10)
    consumer.assign([TopicPartition(conn.topics.scans, p, OFFSET_BEGINNING) for p in meta.topics[conn.topics.scans].partitions])
    seen = 0
    ids: set[bytes] = set()
    idle = time.monotonic()
    while time.monotonic() - idle < (3 if seen < expect else 1):
        batch = consumer.consume(10_000, timeout=0.5)
        for msg in batch:
            if msg.error() is None:
                seen += 1
                ids.add(msg.value()[10:80])  # the event id leads the Avro body
        if batch:
            idle = time.monotonic()
    consumer.close()
    return seen, len(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=200, help="uploads of 500 scans per workload (default 200)")
    parser.add_argument("--devices", type=int, default=8, help="concurrent uploading devices (default 8)")
    parser.add_argument("--biip-only", action="store_true", help="run the service with biip alone (no GS1 fast path)")
    add_result_options(parser, "scan_upload")
    args = parser.parse_args()
    if args.biip_only and args.configuration == "default":
        args.configuration = "biip_only"
    with Children() as children:
        return run(args, children)


def run(args: argparse.Namespace, children: Children) -> int:
    """The benchmark; the broker and the scan service belong to `children`, stopped however this ends."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    workdir = Path(tempfile.mkdtemp(prefix="scan-bench-"))
    bootstrap = external or start_broker(children, workdir)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    ensure_topics(connect(KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)))
    port = free_port()
    site = workdir / "site.yaml"
    site.write_text(
        f"site_id: bench\nkafka: {{bootstrap_servers: '{bootstrap}', topic_prefix: {prefix}, partitions: 12}}\n"
        f"scanners:\n  - {{id: bench, token_sha256: {hashlib.sha256(TOKEN.encode()).hexdigest()}}}\n"
        f"scans: {{host: 127.0.0.1, port: {port}}}\n"
    )
    launch = [sys.executable, "-c", BIIP_ONLY] if args.biip_only else [sys.executable, "-m", "tagtrail_cli.main"]
    with open(workdir / "service.log", "wb") as log:
        server = children.start([*launch, "--log-level", "warning", "ingest", "scans", "--site", str(site)],
                                cwd=REPO, stderr=log)
    results: dict = {"benchmark": "scan_upload", "barcode_parsing": "biip only" if args.biip_only else "GS1 fast path, biip fallback",
                     "batch": BATCH, "devices": args.devices, "uvicorn_workers": 1,
                     "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                     "kafka": "external" if external else "deploy/local/kafka.sh",
                     "load_average_1m_at_start": os.getloadavg()[0], "workloads": {}}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"scan service did not become ready; see {workdir / 'service.log'}")
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        asyncio.run(drive(url, [upload("warmup", scans("warmup", BATCH))], 1))
        repeated = [scans(f"rep{k}", BATCH) for k in range(20)]
        workloads = {
            "unique": [upload(f"u{k}", scans(f"u{k}", BATCH)) for k in range(args.uploads)],
            "repeat": [upload(f"r{k}", repeated[k % len(repeated)]) for k in range(args.uploads)],
        }
        asyncio.run(drive(url, [upload(f"prime{k}", items) for k, items in enumerate(repeated)], args.devices))
        accepted_total = BATCH * (1 + len(repeated))
        for name, bodies in workloads.items():
            cpu_before = process_cpu_s(server.pid)
            elapsed, latencies, statuses = asyncio.run(drive(url, bodies, args.devices))
            service_cpu = process_cpu_s(server.pid) - cpu_before
            accepted = statuses.pop("scans_accepted", 0)
            accepted_total += accepted
            results["workloads"][name] = {
                "uploads": len(bodies), "scans_accepted": accepted, "seconds": round(elapsed, 3),
                "scans_per_s": round(accepted / elapsed), "upload_latency_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                "upload_latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                "upload_latency_max_ms": round(max(latencies) * 1000, 1), "statuses": dict(statuses),
                "service_cpu_cores": round(service_cpu / elapsed, 2),
            }
        on_kafka, distinct = count_on_kafka(bootstrap, prefix, accepted_total)
        results["kafka_check"] = {"accepted": accepted_total, "on_kafka": on_kafka, "distinct": distinct}
    finally:
        server.terminate()
        server.wait(60)
    results["in_process"] = {k: round(v, 1) if k.endswith("speedup") else round(v) for k, v in in_process_rates().items()}
    results["target_scans_per_s"] = 20_000

    for name, w in results["workloads"].items():
        print(f"{name:7s} {w['scans_per_s']:>7,} scans/s  ({w['scans_accepted']:,} scans in {w['seconds']} s)  "
              f"upload latency p50 {w['upload_latency_p50_ms']} ms  p99 {w['upload_latency_p99_ms']} ms  "
              f"service CPU {w['service_cpu_cores']} cores  {w['statuses']}")
    print(f"kafka   {results['kafka_check']}")
    print("in-process per-scan rates (one core): " + ", ".join(f"{k} {v:,}" for k, v in results["in_process"].items()))
    print(f"saved {record('scan_upload', results, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
