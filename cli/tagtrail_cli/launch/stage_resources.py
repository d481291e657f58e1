"""Running long-lived stages from the CLI: stop on SIGTERM/SIGINT, connect Kafka, serve metrics, start threads."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import SiteConfig
from tagtrail.kafka import KafkaConnection, TopicWaitStopped, connect, ensure_topics
from tagtrail.observability import Metrics, serve_metrics
from tagtrail_cli.launch.stopping import StoppedBeforeStart
from tagtrail_cli.launch.supervisor import FAIL_FAST, Supervisor

log = structlog.get_logger(__name__)


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT, so stages finish their batch and commit before exiting."""
    stop = threading.Event()

    def handler(signum, _frame):
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextmanager
def kafka_for(site: SiteConfig, stop: threading.Event | None = None) -> Iterator[KafkaConnection]:
    """The site's Kafka connection with its topics in place; a `stop` set while the broker is awaited
    ends the wait with StoppedBeforeStart."""
    conn = connect(site.kafka)
    try:
        try:
            ensure_topics(conn, stop=stop)
        except TopicWaitStopped as exc:
            raise StoppedBeforeStart("Kafka") from exc
        yield conn
    finally:
        conn.close()


@contextmanager
def stage_metrics(site: SiteConfig, port: int | None) -> Iterator[tuple[Metrics | None, threading.Event]]:
    """Metrics and a readiness flag for a stage; served on `port` (/metrics, /healthz, /readyz) when set."""
    ready = threading.Event()
    if port is None:
        yield None, ready
        return
    metrics = Metrics.for_site(CollectorRegistry(), site)
    server = serve_metrics(metrics, "0.0.0.0", port, ready=ready.is_set)
    try:
        yield metrics, ready
    finally:
        server.close()


@contextmanager
def clickhouse_for(site: SiteConfig, stop: threading.Event, *, max_backoff_s: float = 10.0) -> Iterator[Any]:
    """A ClickHouse client for the site, waiting (with backoff) while the server is unreachable:
    a sink restarted during a ClickHouse outage waits for it instead of exiting."""
    delay = 0.5
    while True:
        try:
            client = connect_clickhouse(site.clickhouse, base_dir=site.path.parent if site.path else None)
            break
        except Exception as exc:
            if stop.is_set():
                raise StoppedBeforeStart("ClickHouse") from exc
            log.warning("clickhouse_unreachable", dsn_kind=site.clickhouse.dsn.split(":", 1)[0],
                        retry_in_s=delay, error=f"{type(exc).__name__}: {str(exc)[:200]}")
            if stop.wait(delay):
                raise StoppedBeforeStart("ClickHouse") from exc
            delay = min(delay * 2, max_backoff_s)
    try:
        yield client
    finally:
        client.close()


class StageThreads(Supervisor):
    """Stages that take no stop event of their own, run fail-fast (the demo): the first failure of
    any stage stops them all, and join re-raises it. `tagtrail run` supervises with restarts instead."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__(stop, FAIL_FAST)

    def start(self, name: str, target: Callable[[], None], **options: Any) -> None:
        super().start(name, lambda _attempt_stop: target(), **options)
