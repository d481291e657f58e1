"""`tagtrail ingest llrp`: one process serving all the site's readers.

Wiring only: a spool, a publisher thread, and one ReaderSession per reader. Shutdown order:
stop the readers (no new reads), then let the publisher flush; what Kafka has not confirmed
stays in the spool for the next start.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import structlog

from tagtrail.config import SiteConfig
from tagtrail.identity import EpcDecoder
from tagtrail.kafka import KafkaConnection
from tagtrail.wire import codec_for
from tagtrail_ingest.llrp.adapter_metrics import AdapterMetrics
from tagtrail_ingest.llrp.read_publisher import Publisher
from tagtrail_ingest.llrp.reader_session import ReaderSession
from tagtrail_ingest.llrp.spool import Spool

log = structlog.get_logger(__name__)


def wall_clock_us() -> int:
    return time.time_ns() // 1000


def run_adapter(site: SiteConfig, conn: KafkaConnection, *, stop: threading.Event,
                clock_us: Callable[[], int] = wall_clock_us, metrics: AdapterMetrics | None = None,
                metrics_log_every_s: float = 30.0, rng: random.Random | None = None) -> None:
    metrics = metrics if metrics is not None else AdapterMetrics()
    settings = site.llrp
    spool = Spool(site.resolve_path(settings.spool_dir), settings.spool_max_bytes)
    metrics.spool_bytes = lambda: spool.bytes_used
    metrics.backpressure = lambda: spool.blocked_since is not None
    publisher = Publisher(conn, spool, metrics, max_in_flight=settings.max_in_flight, stall_s=settings.delivery_stall_s)
    publisher_stop = threading.Event()
    readers_stop = threading.Event()
    failures: list[BaseException] = []

    def fatal(exc: BaseException) -> None:
        failures.append(exc)
        stop.set()

    def publish() -> None:
        try:
            publisher.run(publisher_stop)
        except BaseException as exc:  # noqa: BLE001 - e.g. a read its cluster could not keep: stop loudly
            fatal(exc)

    publisher_thread = threading.Thread(target=publish, name="llrp-publisher", daemon=True)
    publisher_thread.start()
    decoder = EpcDecoder()
    read_codec = codec_for("TagRead", schema_registry_url=site.kafka.schema_registry_url)
    dead_letter_codec = codec_for("DeadLetter", schema_registry_url=site.kafka.schema_registry_url)
    rng = rng or random.Random()
    sessions = [
        ReaderSession(reader, settings, spool, metrics.reader(reader.id), stop=readers_stop, decoder=decoder,
                      publish=publisher.pump,
                      read_codec=read_codec, dead_letter_codec=dead_letter_codec, clock_us=clock_us,
                      rng=random.Random(rng.random()), on_fatal=fatal)
        for reader in site.readers
    ]
    if not sessions:
        log.warning("llrp_no_readers", message="the site config lists no readers; nothing to do")
    for s in sessions:
        s.start()
    log.info("llrp_adapter_started", readers=len(sessions), spool_dir=str(spool.directory))
    try:
        next_log = time.monotonic() + metrics_log_every_s
        while not stop.wait(0.5):
            if time.monotonic() >= next_log:
                next_log += metrics_log_every_s
                snap = metrics.snapshot()
                log.info("llrp_adapter_metrics", delivered_reads=snap["delivered_reads"], spool_bytes=snap["spool_bytes"],
                         in_flight=snap["in_flight"], backpressure=snap["backpressure"],
                         inventorying=sum(r["state"] == "inventorying" for r in snap["readers"].values()))
    finally:
        readers_stop.set()
        deadline = time.monotonic() + 15.0  # links close in parallel, each politely within a few seconds
        for s in sessions:
            s.join(max(0.0, deadline - time.monotonic()))
        alive = [s.reader.id for s in sessions if s.is_alive()]
        if alive:
            log.warning("llrp_readers_not_stopped", readers=alive)
        publisher_stop.set()
        publisher_thread.join(30)
        spool.close()
        metrics.in_flight_now = lambda: 0
        if not publisher_thread.is_alive():
            publisher.close()
        log.info("llrp_adapter_stopped", delivered_reads=metrics.delivered_reads)
    if failures:
        raise RuntimeError(f"LLRP adapter stopped: {type(failures[0]).__name__}: {failures[0]}") from failures[0]
