"""Live progress from the outside, as an operator sees it: Kafka topics and ClickHouse rows.

Reading topics and tables rather than stage internals keeps the demo honest. Counts come from
tailing the topics with read_committed (offsets would include transaction markers); lag is what a
dashboard shows: movements on Kafka not yet in ClickHouse, and how old the newest row is. Provisional
movements (live mode, Kafka header `tagtrail-provisional`) are counted apart: they never become rows
of `movements`. Each item is published provisionally again at every dock door crossing, so their
running total says little about now; what live_items shows now is counted from live_items itself.
(librdkafka's mock cluster does not expose offsets committed inside transactions, so consumer-group
offset lag is not available on embedded defaults.)
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from tagtrail.events.movement import PROVISIONAL_HEADER


@dataclass(frozen=True)
class Snapshot:
    at: float
    reads: int
    scans: int
    movements: int
    dead_letters: int
    rows: int
    freshness_s: float | None  # now minus the newest movement's event time in ClickHouse
    provisional_published: int = 0  # live mode: provisional movements published so far (a running total)
    provisional_now: int = 0  # live mode: live_items rows that are provisional now (crossings not decided yet)
    waiting_for: str | None = None  # once the plan is fed: what the demo is waiting for before it ends

    @property
    def sink_lag(self) -> int:
        return max(0, self.movements - self.rows)


class Progress:
    def __init__(self, base_config: dict, topics, partitions: dict[str, int], clickhouse: Any) -> None:
        self._topics = topics
        self._clickhouse = clickhouse
        self._tail = Consumer({**base_config, "group.id": f"tagtrail-demo-tail-{uuid.uuid4()}",
                               "enable.auto.commit": False, "isolation.level": "read_committed",
                               "fetch.max.bytes": 52428800})
        self._tail.assign([TopicPartition(t, p, 0) for t, n in partitions.items() for p in range(n)])
        self._counts = {t: 0 for t in partitions}
        self._provisional = 0
        self.last: Snapshot | None = None

    def _count_tail(self) -> None:
        while True:
            batch = self._tail.consume(10_000, 0.05)
            if not batch:
                return
            for msg in batch:
                if msg.error():
                    continue
                headers = msg.headers()
                if headers and PROVISIONAL_HEADER in headers:
                    self._provisional += 1
                else:
                    self._counts[msg.topic()] += 1

    def sample(self) -> Snapshot:
        self._count_tail()
        rows, newest = self._clickhouse.query(
            "SELECT count(), toUnixTimestamp64Micro(max(event_time)) FROM movements"
        ).result_rows[0]
        freshness = (time.time() - newest / 1e6) if rows else None
        provisional_now = self._clickhouse.query("SELECT count() FROM live_items WHERE provisional = 1").result_rows[0][0]
        t = self._topics
        snap = Snapshot(time.monotonic(), self._counts[t.reads], self._counts[t.scans], self._counts[t.movements],
                        self._counts[t.dead_letters], int(rows), freshness, self._provisional, int(provisional_now))
        self.last = snap
        return snap

    def close(self) -> None:
        self._tail.close()


def progress_line(snap: Snapshot, previous: Snapshot | None) -> str:
    """One line of live progress; rates are per second since the previous line."""
    if previous is None:
        rate_r = rate_m = 0.0
    else:
        dt_s = max(snap.at - previous.at, 1e-6)
        rate_r = (snap.reads - previous.reads) / dt_s
        rate_m = (snap.movements - previous.movements) / dt_s
    fresh = f"{snap.freshness_s:5.1f} s" if snap.freshness_s is not None else "    -"
    line = (
        f"  reads {snap.reads:>7,} ({rate_r:>6,.0f}/s)  scans {snap.scans:>5,}  movements {snap.movements:>6,} "
        f"({rate_m:>5,.0f}/s)  in ClickHouse {snap.rows:>6,}  lag: {snap.sink_lag:>5,} movements, newest row {fresh} old"
        f"  live_items: {snap.provisional_now:>4,} provisional now ({snap.provisional_published:,} published)"
    )
    return f"{line}\n    waiting: {snap.waiting_for}" if snap.waiting_for else line
