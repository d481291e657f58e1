"""Notices a Kafka client call that blocks far past its own timeout, and says so.

librdkafka's transactional calls take a timeout, but some paths ignore it: `send_offsets_to_transaction`
can wait for ever for a group coordinator that was decommissioned (librdkafka issues #5456 and #5511,
open as of 2.16). The processor then holds its partitions, heartbeats, and processes nothing: the
worst kind of failure for a warehouse, because nothing looks wrong. A blocked C call cannot be
cancelled from Python, so the watchdog hands the hang to `on_stall`; the service's answer is to log it
and exit, letting its supervisor restart it. That is safe by design: the hung transaction was never
committed, so its input is processed again by the next incarnation, exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class CallWatchdog:
    def __init__(self, on_stall: Callable[[str, float], None], *, poll_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.on_stall = on_stall
        self.poll_s = poll_s
        self.clock = clock
        self._lock = threading.Lock()
        self._call: tuple[str, float, float] | None = None  # (what, started, deadline)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="kafka-call-watchdog", daemon=True)
        self._thread.start()

    @contextmanager
    def watch(self, what: str, limit_s: float) -> Iterator[None]:
        """Reports `what` to on_stall if the block takes longer than `limit_s` (calls do not nest)."""
        started = self.clock()
        with self._lock:
            self._call = (what, started, started + limit_s)
        try:
            yield
        finally:
            with self._lock:
                self._call = None

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=self.poll_s * 2)

    def _watch(self) -> None:
        while not self._closed.wait(self.poll_s):
            with self._lock:
                call = self._call
                if call is None or self.clock() < call[2]:
                    continue
                self._call = None  # report each hung call once
            what, started, _ = call
            self.on_stall(what, self.clock() - started)
