"""In-process counters and gauges: per reader link health, and delivery to Kafka.

Plain attributes updated by the thread that owns them (a reader's link thread, the publisher)
and read as a snapshot for logs, tests and the benchmark; `collector()` exposes the same
numbers to prometheus-client when a registry is wanted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ReaderMetrics:
    reader_id: str
    state: str = "disconnected"
    state_since: float = field(default_factory=time.time)
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    silent_disconnects: int = 0
    reports: int = 0
    reads: int = 0
    dead_letters: int = 0
    dead_letters_by_reason: dict[str, int] = field(default_factory=dict)
    liveness_probes: int = 0  # GET_READER_CONFIG probes sent to a quiet reader
    clock_offset_us: int = 0
    clock_unset: bool = False

    def set_state(self, state: str) -> None:
        self.state = state
        self.state_since = time.time()

    def dead_letter(self, reason: str) -> None:
        """Counted by its reason code. A new reason replaces the dict rather than growing it, so a
        snapshot taken on another thread never iterates a dict that changes size."""
        self.dead_letters += 1
        counts = self.dead_letters_by_reason
        if reason in counts:
            counts[reason] += 1
        else:
            self.dead_letters_by_reason = {**counts, reason: 1}


@dataclass
class AdapterMetrics:
    readers: dict[str, ReaderMetrics] = field(default_factory=dict)
    delivered_reads: int = 0
    delivered_dead_letters: int = 0
    delivery_failures: int = 0
    in_flight_now: Callable[[], int] = lambda: 0
    spool_bytes: Callable[[], int] = lambda: 0
    backpressure: Callable[[], bool] = lambda: False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reader(self, reader_id: str) -> ReaderMetrics:
        with self._lock:
            if reader_id not in self.readers:
                self.readers[reader_id] = ReaderMetrics(reader_id)
            return self.readers[reader_id]

    def snapshot(self) -> dict[str, Any]:
        return {
            "delivered_reads": self.delivered_reads,
            "delivered_dead_letters": self.delivered_dead_letters,
            "delivery_failures": self.delivery_failures,
            "in_flight": self.in_flight_now(),
            "spool_bytes": self.spool_bytes(),
            "backpressure": self.backpressure(),
            "readers": {rid: asdict(m) for rid, m in list(self.readers.items())},
        }

    def collector(self) -> Any:
        """A prometheus-client collector reading these numbers at scrape time."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        metrics = self

        class _Collector:
            def collect(self):
                snap = metrics.snapshot()
                yield CounterMetricFamily("tagtrail_llrp_delivered_reads", "TagReads confirmed by Kafka", value=snap["delivered_reads"])
                yield GaugeMetricFamily("tagtrail_llrp_spool_bytes", "bytes in the local spool", value=snap["spool_bytes"])
                reads = CounterMetricFamily("tagtrail_llrp_reader_reads", "tag reads received", labels=["reader"])
                up = GaugeMetricFamily("tagtrail_llrp_reader_inventorying", "1 while the reader reports", labels=["reader"])
                reconnects = CounterMetricFamily("tagtrail_llrp_reader_disconnects", "links lost", labels=["reader"])
                for rid, r in snap["readers"].items():
                    reads.add_metric([rid], r["reads"])
                    up.add_metric([rid], 1.0 if r["state"] == "inventorying" else 0.0)
                    reconnects.add_metric([rid], r["disconnects"])
                yield reads
                yield up
                yield reconnects

        return _Collector()


class MetricsBridge:
    """Carries the adapter's counters into the site-wide `tagtrail.observability.Metrics` names the
    dashboards use, as deltas since the last call; run `sync()` about once a second."""

    def __init__(self, adapter: AdapterMetrics, metrics: Any, reader_ids: list[str]) -> None:
        self.adapter = adapter
        self.metrics = metrics
        self._reads: dict[str, int] = {}
        self._dead: dict[tuple[str, str], int] = {}  # (reader, reason) -> count already carried
        self._states: dict[str, str] = {}
        for rid in reader_ids:
            metrics.reader_known(rid)

    def sync(self) -> None:
        m = self.metrics
        for rid, r in list(self.adapter.readers.items()):
            if r.reads > self._reads.get(rid, 0):
                m.tag_reads(rid, r.reads - self._reads.get(rid, 0))
                self._reads[rid] = r.reads
            for reason, count in r.dead_letters_by_reason.items():
                carried = self._dead.get((rid, reason), 0)
                if count > carried:
                    m.dead_letter("ingest.llrp", reason, count - carried)
                    self._dead[(rid, reason)] = count
            if self._states.get(rid) != r.state:
                m.reader_state(rid, r.state, connected=r.state == "inventorying")
                self._states[rid] = r.state
        m.spool_bytes(self.adapter.spool_bytes())
