"""Tag reports per second one LLRP adapter process takes, and its CPU per read.

Emulated readers run in a separate process (their CPU is not counted) and push RO_ACCESS_REPORTs
as fast as the adapter reads them; the adapter runs here, publishing to Kafka with acks=all.
A read counts only once Kafka confirmed it.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python -m benchmarks.llrp_adapter
    python -m benchmarks.llrp_adapter --embedded          # librdkafka's mock cluster instead
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from benchmarks.harness import Children, add_result_options, record
from tagtrail.config import (
    Antenna,
    KafkaSettings,
    LlrpSettings,
    Reader,
    ReadPoint,
    SiteConfig,
)
from tagtrail.kafka import connect, ensure_topics
from tagtrail.structured_logs import configure_logging
from tagtrail_ingest.llrp.adapter_metrics import AdapterMetrics
from tagtrail_ingest.llrp.adapter_service import run_adapter


def start_emulators(children: Children, readers: int, tags_per_report: int) -> tuple[subprocess.Popen, list[int]]:
    proc = children.start(
        [sys.executable, "-m", "tagtrail_ingest.llrp.emulator", "--readers", str(readers), "--scenario", "flood",
         "--tags-per-report", str(tags_per_report)],
        stdout=subprocess.PIPE, text=True,
    )
    ports = [json.loads(proc.stdout.readline())["port"] for _ in range(readers)]
    return proc, ports


def site_for(ports: list[int], kafka: KafkaSettings, spool_dir: str) -> SiteConfig:
    points = tuple(ReadPoint(id=f"door{i}-{side}", location=f"dock{i}", kind=f"dock_door_{side}", portal=f"door{i}")
                   for i in range(len(ports)) for side in ("outer", "inner"))
    readers = tuple(
        Reader(id=f"reader-{i}", host="127.0.0.1", port=port, report_every_n_tags=100, report_every_ms=200,
               antennas=tuple(Antenna(port=a, read_point=f"door{i}-{'outer' if a % 2 else 'inner'}") for a in (1, 2, 3, 4)))
        for i, port in enumerate(ports)
    )
    return SiteConfig(kafka=kafka, read_points=points, readers=readers,
                      llrp=LlrpSettings(spool_dir=spool_dir, spool_max_bytes=512 * 1024 * 1024))


def measure(children: Children, readers: int, kafka: KafkaSettings, *, warmup_s: float, window_s: float,
            tags_per_report: int) -> dict:
    proc, ports = start_emulators(children, readers, tags_per_report)
    conn = connect(kafka)
    ensure_topics(conn)
    metrics = AdapterMetrics()
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as spool_dir:
        site = site_for(ports, kafka, spool_dir)
        adapter = threading.Thread(target=run_adapter, args=(site, conn), kwargs={"stop": stop, "metrics": metrics})
        adapter.start()
        try:
            time.sleep(warmup_s)
            reads0, cpu0, wall0 = metrics.delivered_reads, time.process_time(), time.monotonic()
            received0 = sum(r.reads for r in metrics.readers.values())
            ru0 = resource.getrusage(resource.RUSAGE_SELF)
            time.sleep(window_s)
            reads1, cpu1, wall1 = metrics.delivered_reads, time.process_time(), time.monotonic()
            received1 = sum(r.reads for r in metrics.readers.values())
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            inventorying = sum(r.state == "inventorying" for r in metrics.readers.values())
        finally:
            stop.set()
            adapter.join(60)
            proc.terminate()
            proc.wait(10)
            conn.close()
    delivered = reads1 - reads0
    elapsed = wall1 - wall0
    return {
        "readers": readers,
        "readers_inventorying": inventorying,
        "window_s": round(elapsed, 2),
        "tag_reports_delivered": delivered,
        "tag_reports_received": received1 - received0,
        "delivered_per_s": round(delivered / elapsed),
        "received_per_s": round((received1 - received0) / elapsed),
        "cpu_s": round(cpu1 - cpu0, 2),
        "cpu_user_s": round(ru1.ru_utime - ru0.ru_utime, 2),
        "cpu_sys_s": round(ru1.ru_stime - ru0.ru_stime, 2),
        "cpu_us_per_read": round((cpu1 - cpu0) / max(delivered, 1) * 1e6, 1),
        "cores_used": round((cpu1 - cpu0) / elapsed, 2),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--embedded", action="store_true", help="use librdkafka's mock cluster, not KAFKA_BOOTSTRAP_SERVERS")
    p.add_argument("--readers", default="1,32", help="comma-separated reader counts (default 1,32)")
    p.add_argument("--warmup", type=float, default=4.0, help="seconds before measuring (default 4)")
    p.add_argument("--window", type=float, default=10.0, help="seconds measured (default 10)")
    p.add_argument("--tags-per-report", type=int, default=100, help="tags per RO_ACCESS_REPORT (default 100)")
    add_result_options(p, "llrp_adapter")
    args = p.parse_args()
    configure_logging(level="warning", json=False)
    bootstrap = None if args.embedded else os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not args.embedded and not bootstrap:
        p.error("set KAFKA_BOOTSTRAP_SERVERS to a broker, or pass --embedded")
    runs = []
    for n in (int(x) for x in args.readers.split(",")):
        kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:8]}",
                              partitions=32 if args.embedded else 12)
        with Children() as children:
            result = measure(children, n, kafka, warmup_s=args.warmup, window_s=args.window,
                             tags_per_report=args.tags_per_report)
        print(f"{n:>3} reader(s): {result['delivered_per_s']:>7,} tag reports/s confirmed by Kafka "
              f"({result['received_per_s']:,}/s received), {result['cpu_us_per_read']} us CPU per read, "
              f"{result['cores_used']} cores", flush=True)
        runs.append(result)
    out = {
        "benchmark": "llrp_adapter",
        "kafka": "embedded mock cluster" if args.embedded else f"Apache Kafka at {bootstrap}",
        "tags_per_report": args.tags_per_report,
        "target_per_s": 20000,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": runs,
    }
    print(f"saved {record('llrp_adapter', out, args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
