"""Running long-lived stages from the CLI: stop on SIGTERM/SIGINT, connect Kafka, start threads."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Iterator

import structlog

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import SiteConfig
from prometheus_client import CollectorRegistry

from tagtrail.kafka import KafkaConnection, connect, ensure_topics
from tagtrail.observability import Metrics, serve_metrics

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
def kafka_for(site: SiteConfig) -> Iterator[KafkaConnection]:
    conn = connect(site.kafka)
    try:
        ensure_topics(conn)
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
                raise
            log.warning("clickhouse_unreachable", dsn_kind=site.clickhouse.dsn.split(":", 1)[0],
                        retry_in_s=delay, error=f"{type(exc).__name__}: {str(exc)[:200]}")
            if stop.wait(delay):
                raise
            delay = min(delay * 2, max_backoff_s)
    try:
        yield client
    finally:
        client.close()


class StageThreads:
    """Runs several stages in one process; if one dies, all are stopped and the error re-raised."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._threads: list[threading.Thread] = []
        self._errors: list[tuple[str, BaseException]] = []

    def start(self, name: str, target: Callable[[], None]) -> None:
        def body() -> None:
            try:
                target()
            except BaseException as exc:  # report any stage failure to the supervisor
                log.error("stage_failed", stage=name, error=f"{type(exc).__name__}: {exc}")
                self._errors.append((name, exc))
                self.stop.set()

        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self, timeout_s: float = 60.0) -> None:
        while any(t.is_alive() for t in self._threads) and not self.stop.is_set():
            self.stop.wait(0.5)
        self.stop.set()
        for t in self._threads:
            t.join(timeout_s)
        if self._errors:
            name, exc = self._errors[0]
            raise RuntimeError(f"stage {name} failed: {type(exc).__name__}: {exc}") from exc
