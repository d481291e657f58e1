"""Structured logs: readable on a terminal, JSON lines otherwise (services, CI, containers).

tagtrail logs through structlog; the libraries it drives (sllurp, uvicorn, clickhouse-connect, and
librdkafka through `tagtrail.kafka.client_log`) log through the standard library. Both end in the
same renderer, so `--log-json` output is JSON on every line, whoever wrote it.
"""

from __future__ import annotations

import logging
import sys

import structlog

# Libraries' info chatter (sllurp's "using antennas", httpx's every request) is noise next to
# tagtrail's own info events; their warnings and errors always show, everything at --log-level debug.
LIBRARY_FLOOR = logging.WARNING


class _StructlogHandler(logging.StreamHandler):
    """Marks the root handler this module installs, so configuring again replaces it."""


def configure_logging(*, level: str = "info", json: bool | None = None) -> None:
    """Configures structlog once per process; `json=None` picks by whether stderr is a terminal."""
    as_json = (not sys.stderr.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    shared: list = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if as_json:
        rendering: list = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        rendering = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=shared + rendering,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    route_stdlib_logging(numeric if numeric <= logging.DEBUG else max(numeric, LIBRARY_FLOOR), shared, rendering)


def route_stdlib_logging(level: int, shared: list, rendering: list) -> None:
    """Sends every standard-library log record (and Python warnings) through structlog's renderer on
    stderr, in place of the library's own plain-text line."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = _StructlogHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StructlogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
