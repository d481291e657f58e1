"""librdkafka's own log lines (connection failures, broker errors), as structured log events.

Left alone, librdkafka prints `%3|...|FAIL|rdkafka#producer-1| ...` straight to stderr from its own
threads, which breaks `--log-json`. confluent-kafka instead hands each line to the `logger` client
setting, on the thread that calls poll()/consume()/flush(), as `log(level, "%s [%s] %s", facility,
client, message)`; this turns that call into a structlog event with those three fields.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)


class LibrdkafkaLog:
    """Passed as `logger` to every Producer, Consumer and AdminClient tagtrail builds."""

    def __init__(self) -> None:
        self._log = structlog.get_logger("librdkafka")

    def log(self, level: int, fmt: str, *args: Any) -> None:
        level = min(_LEVELS, key=lambda known: abs(known - level))
        if len(args) == 3:
            facility, client, message = args
            self._log.log(level, "librdkafka", facility=facility, client=client, message=message)
        else:
            self._log.log(level, "librdkafka", message=fmt % args if args else fmt)
