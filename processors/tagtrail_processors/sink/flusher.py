"""Inserts a batch set into ClickHouse in a thread of its own while the consumer thread reads on.

ClickHouse (chdb or HTTP) releases the GIL while it inserts, so consuming and batching the next set
overlaps with inserting this one. Only the insert and the dead letters happen here: every offset commit
stays on the consumer thread (a synchronous commit from another thread hangs while that thread is
inside consume()), which also keeps the commit order of `checkpoint` in one place. One set is in
flight at a time, so a partition's next BEFORE commit never overtakes its previous AFTER commit.
A set is a list of groups: each group is one insert (see checkpoint).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tagtrail.observability import Metrics
from tagtrail_processors.sink.batches import PartitionBatch
from tagtrail_processors.sink.dead_letters import DeadLetterPublisher
from tagtrail_processors.sink.writer import MovementWriter


class Flusher:
    def __init__(self, writer: MovementWriter, dead_letters: DeadLetterPublisher, *,
                 wait: Callable[[float], bool], backoff: Callable[[int], float],
                 metrics: Metrics | None = None, timer: Callable[[], float] = time.perf_counter) -> None:
        self.writer = writer
        self.metrics = metrics
        self.timer = timer
        self.dead_letters = dead_letters
        self.wait = wait
        self.backoff = backoff
        self._in_flight: list[list[PartitionBatch]] | None = None
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """True from submit until collect hands the set back. A set whose insert thread has finished
        is still in flight: its AFTER commits are not done, so the next set must wait for collect."""
        return self._in_flight is not None

    def written(self, timeout: float = 0.0) -> bool:
        """True once the insert thread of the set in flight has finished (stored or failed), collected
        or not; waits up to `timeout` seconds for it."""
        return self._in_flight is not None and self._done.wait(timeout)

    @property
    def in_flight(self) -> list[PartitionBatch] | None:
        return None if self._in_flight is None else [b for group in self._in_flight for b in group]

    def submit(self, groups: list[list[PartitionBatch]]) -> None:
        if self._in_flight is not None:
            raise RuntimeError("a batch set is still in flight; collect it first")
        self._in_flight, self._error = groups, None
        self._done.clear()
        self._thread = threading.Thread(target=self._write, args=(groups,), name="sink-flusher", daemon=True)
        self._thread.start()

    def collect(self, timeout: float = 0.0) -> list[PartitionBatch] | None:
        """The set's batches once stored (dead letters delivered), else None; re-raises its failure."""
        if not self.written(timeout):
            return None
        batches, self._in_flight = self.in_flight, None
        if self._error is not None:
            raise self._error
        return batches

    def _write(self, groups: list[list[PartitionBatch]]) -> None:
        try:
            for group in groups:
                started = self.timer()
                rejected = self.writer.write_group(group)
                refused = sum(map(len, rejected.values()))
                self._acknowledged(sum(len(b.records) for b in group) - refused, self.timer() - started)
                for batch in group:
                    if rejected.get(batch.partition):
                        self.dead_letters.publish(batch, rejected[batch.partition])
            self.dead_letters.flush(self.wait, self.backoff)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread by collect()
            self._error = exc
        finally:
            self._done.set()

    def _acknowledged(self, rows: int, seconds: float) -> None:
        """A group is in ClickHouse: one insert, or several after a refused row was split out."""
        if self.metrics is not None and rows > 0:
            self.metrics.sink_batch(rows, seconds)
