"""librdkafka's own log lines (connection failures, broker errors), as structured log events.

Left alone, librdkafka prints `%3|...|FAIL|rdkafka#producer-1| ...` straight to stderr from its own
threads, which breaks `--log-json`. confluent-kafka instead hands each line to the `logger` client
setting, on the thread that calls poll()/consume()/flush(), as `log(level, "%s [%s] %s", facility,
client, message)`; this turns that call into a structlog event with those three fields.

A broker that refuses connections makes librdkafka repeat the same line dozens of times a second.
The first is logged; identical ones within `quiet_s` are counted, and the next one logged after that
carries `repeated` = how many were left out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
_MAX_REMEMBERED = 1000


class LibrdkafkaLog:
    """Passed as `logger` to every Producer, Consumer and AdminClient tagtrail builds."""

    def __init__(self, *, quiet_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = structlog.get_logger("librdkafka")
        self._quiet_s = quiet_s
        self._clock = clock
        self._shown: dict[tuple, tuple[float, int]] = {}  # line -> (when last logged, repeats left out since)
        self._lock = threading.Lock()  # one connection's clients poll from several threads

    def log(self, level: int, fmt: str, *args: Any) -> None:
        level = min(_LEVELS, key=lambda known: abs(known - level))
        if len(args) == 3:
            facility, client, message = args
            fields = {"facility": facility, "client": client, "message": message}
        else:
            fields = {"message": fmt % args if args else fmt}
        key = (level, *fields.values())
        now = self._clock()
        with self._lock:
            shown_at, left_out = self._shown.get(key, (None, 0))
            if shown_at is not None and now - shown_at < self._quiet_s:
                self._shown[key] = (shown_at, left_out + 1)
                return
            self._remember(key, now)
        if left_out:
            fields["repeated"] = left_out
        self._log.log(level, "librdkafka", **fields)

    def _remember(self, key: tuple, now: float) -> None:
        if len(self._shown) >= _MAX_REMEMBERED:
            self._shown = {k: v for k, v in self._shown.items() if now - v[0] < self._quiet_s}
        self._shown[key] = (now, 0)
