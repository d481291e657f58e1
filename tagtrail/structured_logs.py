"""Structured logs: readable on a terminal, JSON lines otherwise (services, CI, containers).

tagtrail logs through structlog; the libraries it drives (sllurp, uvicorn, clickhouse-connect, and
librdkafka through `tagtrail.kafka.client_log`) log through the standard library. Both end in the
same renderer and the same writer, so `--log-json` output is JSON on every line, whoever wrote it,
and lines from different threads never run into each other.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

import structlog

# Libraries' info chatter (sllurp's "using antennas", httpx's every request) is noise next to
# tagtrail's own info events; their warnings and errors always show, everything at --log-level debug.
LIBRARY_FLOOR = logging.WARNING
# Warnings that repeat an error tagtrail reports itself, with its cause: urllib3's "Retrying (...)
# after connection broken" comes before clickhouse-connect's error for the same request.
QUIET_LIBRARIES = {"urllib3": logging.ERROR}


class LineWriter:
    """One write per line, under one lock, for every logger in the process."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write_line(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class _StructlogOutput:
    """The logger structlog renders into (in place of its PrintLogger, which writes a line in two parts)."""

    def __init__(self, writer: LineWriter) -> None:
        self._writer = writer

    def msg(self, message: str) -> None:
        self._writer.write_line(message)

    debug = info = warning = warn = error = critical = exception = fatal = failure = err = log = msg


class _StdlibHandler(logging.Handler):
    """Standard-library records, rendered by structlog, into the same writer."""

    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._writer.write_line(self.format(record))
        except Exception:
            self.handleError(record)


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
    writer = LineWriter(sys.stderr)
    output = _StructlogOutput(writer)

    def logger_factory(*_args: Any) -> _StructlogOutput:
        return output

    structlog.configure(
        processors=shared + rendering,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=logger_factory,
        cache_logger_on_first_use=False,
    )
    library_level = numeric if numeric <= logging.DEBUG else max(numeric, LIBRARY_FLOOR)
    route_stdlib_logging(writer, library_level, shared, rendering)


def route_stdlib_logging(writer: LineWriter, level: int, shared: list, rendering: list) -> None:
    """Sends every standard-library log record (and Python warnings) through structlog's renderer, in
    place of the library's own plain-text line."""
    handler = _StdlibHandler(writer)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet_level in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else quiet_level)
    logging.captureWarnings(True)
