"""Runs the demo: starts emulators and every stage on embedded defaults, feeds the plan, waits for the
pipeline to drain, then summarizes from ClickHouse and writes the HTML report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.kafka import connect, ensure_topics
from tagtrail_cli.demo import flow, report
from tagtrail_cli.demo.feeder import Feeder
from tagtrail_cli.demo.paths import DEFAULT_WORKDIR
from tagtrail_cli.demo.progress import Progress, Snapshot
from tagtrail_cli.demo.summary import DemoSummary, summarize
from tagtrail_cli.demo.warehouse import ZONE_ANTENNAS, ZONE_READER, DemoWarehouse, site_file_text
from tagtrail_cli.launch.stage_resources import StageThreads

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    items: int = 60
    doors: int = 2
    minutes: float = 1.0
    workdir: Path = DEFAULT_WORKDIR
    report_path: Path | None = None  # default <workdir>/report.html: the demo's output stays out of the checkout
    seed: int = 2026
    drain_timeout_s: float = 120.0


@dataclass(frozen=True)
class DemoResult:
    summary: DemoSummary
    reads_sent: int
    scans_acknowledged: int
    dead_letters: int
    elapsed_s: float
    report_path: Path
    transactions_recorded: int = 0  # shipment and receipt opens and closes the scan service recorded
    window: tuple[dt.datetime, dt.datetime] | None = None  # from the first planned read to the end: the run's history


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_demo(options: DemoOptions, *, on_progress: Callable[[Snapshot, Snapshot | None], None] | None = None) -> DemoResult:
    from tagtrail_ingest.llrp.adapter_service import run_adapter
    from tagtrail_ingest.llrp.emulator import ReaderEmulator
    from tagtrail_ingest.scans.scan_api import run_scan_service
    from tagtrail_processors.sink.sink_service import run_sink
    from tagtrail_processors.stream.processor_service import run_processor

    started = time.monotonic()
    plan = flow.plan(items=options.items, doors=options.doors, minutes=options.minutes, seed=options.seed,
                     today=dt.datetime.now(dt.UTC).date())
    report_path = options.report_path or options.workdir / "report.html"
    emulators = {DemoWarehouse.door_reader(d): ReaderEmulator(antennas=2, name=f"door-{d}") for d in range(1, options.doors + 1)}
    emulators[ZONE_READER] = ReaderEmulator(antennas=len(ZONE_ANTENNAS), name=ZONE_READER)
    ports = {rid: em.start() for rid, em in emulators.items()}
    options.workdir.mkdir(parents=True, exist_ok=True)
    warehouse = DemoWarehouse(options.doors, ports, _free_port(), options.workdir.resolve())
    site = warehouse.site()
    (options.workdir / "site.yaml").write_text(site_file_text(site))  # for `tagtrail epcis --site` afterwards
    conn = connect(site.kafka)
    client = None
    stop = threading.Event()
    stages = StageThreads(stop)
    progress = None
    watcher = None
    try:
        ensure_topics(conn)
        client = connect_clickhouse(site.clickhouse)
        stages.start("ingest.llrp", lambda: run_adapter(site, conn, stop=stop))
        stages.start("ingest.scans", lambda: run_scan_service(site, conn, stop=stop, clickhouse_client=client))
        stages.start("process", lambda: run_processor(site, conn, stop=stop))
        stages.start("sink", lambda: run_sink(site, conn, client, stop=stop))
        scan_url = f"http://127.0.0.1:{warehouse.scan_port}"
        _wait_ready(scan_url, stop)
        partitions = {t: conn.partitions for t in (conn.topics.reads, conn.topics.scans, conn.topics.movements)}
        partitions[conn.topics.dead_letters] = 1
        watcher = connect_clickhouse(site.clickhouse)  # same folder, second connection: reads while the sink writes
        progress = Progress(conn.base(), conn.topics, partitions, watcher)
        feeder = Feeder(plan, emulators, scan_url, warehouse.tokens)
        feed = threading.Thread(target=feeder.run, args=(stop,), name="demo-feeder", daemon=True)
        log.info("demo_started", items=options.items, doors=options.doors, planned_reads=len(plan.reads),
                 planned_scans=len(plan.scans), runs_for_s=round(plan.duration_s))
        feed.start()
        previous = None
        while feed.is_alive() and not stop.is_set():
            stop.wait(2.0)
            snap = progress.sample()
            if on_progress:
                on_progress(snap, previous)
            previous = snap
        _drain(progress, emulators, stop, options.drain_timeout_s, on_progress)
        if stop.is_set():
            stages.join()  # a stage failed: raise its error
        stop.set()
        stages.join()
        dead_letters = progress.last.dead_letters if progress.last else 0
        summary = summarize(client, plan, bucket_seconds=max(5, int(plan.duration_s // 24)))
        html = report.render(
            report.ReportData(
                title="tagtrail demo warehouse",
                generated_at=dt.datetime.now(dt.UTC),
                headline=[
                    ("items tracked", str(summary.items_tracked)),
                    ("movements", str(summary.movements)),
                    ("items in transit", str(summary.in_transit)),
                    ("anomalies", str(len(summary.anomalies))),
                    ("shipments", str(sum(1 for t in summary.transactions if t.direction == "outbound"))),
                    ("receipts", str(sum(1 for t in summary.transactions if t.direction == "inbound"))),
                    ("tag reads", str(feeder.reads_sent)),
                    ("scans", str(feeder.scans_acknowledged)),
                ],
                inventory=summary.inventory,
                zones=summary.zones,
                flows=summary.flows,
                anomalies=summary.anomalies,
                bucket_seconds=max(5, int(plan.duration_s // 24)),
            )
        )
        report_path.write_text(html)
        window = (feeder.started_wall - dt.timedelta(seconds=1), dt.datetime.now(dt.UTC)) if feeder.started_wall else None
        return DemoResult(summary, feeder.reads_sent, feeder.scans_acknowledged, dead_letters,
                          time.monotonic() - started, report_path, feeder.transactions_recorded, window)
    finally:
        stop.set()
        if progress is not None:
            progress.close()
        if watcher is not None:
            watcher.close()
        for em in emulators.values():
            em.stop()
        if client is not None:
            client.close()
        # Free the stages' Kafka clients before the mock cluster goes, or they log connection errors.
        gc.collect()
        conn.close()


def _wait_ready(url: str, stop: threading.Event, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        stop.wait(0.1)
    if not stop.is_set():
        raise RuntimeError(f"the scan service did not come up at {url} within {timeout_s} s")


def _drain(progress: Progress, emulators: dict, stop: threading.Event, timeout_s: float, on_progress,
           settle_s: float = 8.0) -> None:
    """Wait until readers have reported everything and every stage has caught up, and nothing new has
    appeared for longer than a smoothing window (the last observations close on a timer). Each progress
    line of this phase says which of those it is waiting for, since the counters alone stand still."""
    deadline = time.monotonic() + timeout_s
    settled_since = None
    previous = progress.last
    while time.monotonic() < deadline and not stop.is_set():
        stop.wait(1.0)
        snap = progress.sample()
        pending = sum(em.pending() for em in emulators.values())
        # Rows, not row counts equal to movements: ClickHouse may merge away superseded versions.
        idle = (
            pending == 0
            and (snap.rows > 0 or snap.movements == 0)
            and previous is not None
            and (snap.reads, snap.scans, snap.movements, snap.rows)
            == (previous.reads, previous.scans, previous.movements, previous.rows)
        )
        if not idle:
            settled_since = None
        elif settled_since is None:
            settled_since = time.monotonic()
        quiet_s = None if settled_since is None else time.monotonic() - settled_since
        if on_progress:
            on_progress(dataclasses.replace(snap, waiting_for=drain_status(pending, quiet_s, settle_s)), previous)
        previous = snap
        if quiet_s is not None and quiet_s >= settle_s:
            return
    if not stop.is_set():
        log.warning("demo_drain_timeout", timeout_s=timeout_s, sink_lag=progress.last.sink_lag)


def drain_status(pending_reads: int, quiet_s: float | None, settle_s: float) -> str:
    """What the end of the demo waits for, in the order it happens."""
    if pending_reads:
        return f"the reader emulators to report their last {pending_reads:,} reads"
    if quiet_s is None:
        return "the stages to catch up with the last reads and scans"
    return (f"nothing new for {int(quiet_s)} s of the {settle_s:.0f} s of quiet that end the demo (an item's last "
            "observation closes on the smoothing window's timer, so a decision may still come)")
