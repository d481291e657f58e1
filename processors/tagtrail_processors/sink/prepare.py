"""Puts the sink's ClickHouse schema in place before the first batch: migrations, the reads TTL, and
the site's zones (the dimension the views join, migration 0005).

ClickHouse may come up after the sink (compose, a restarted server): an unreachable server is waited
for with backoff; a refused statement is raised, since retrying it would never succeed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from tagtrail.config import SiteConfig
from tagtrail.history.migrations import apply_reads_ttl, migrate
from tagtrail.history.site_dimension import write_site_dimension
from tagtrail_processors.sink.insert_errors import is_data_error, server_message
from tagtrail_processors.sink.writer import Stopping

log = structlog.get_logger(__name__)


def prepare_clickhouse(client: Any, site: SiteConfig, *, backoff: Callable[[int], float], stop: threading.Event) -> None:
    """Migrations and the reads TTL (waiting for ClickHouse), then the site dimension."""
    apply_schema(client, site.sink.reads_ttl_days, backoff=backoff, stop=stop)
    write_site_dimension(client, site)


def apply_schema(client: Any, reads_ttl_days: int, *, backoff: Callable[[int], float], stop: threading.Event) -> None:
    """Applies migrations, waiting for ClickHouse to come up if it is not reachable yet; raises
    Stopping if the service is stopped meanwhile."""
    attempt = 0
    while True:
        try:
            applied = migrate(client)
            apply_reads_ttl(client, reads_ttl_days)
            log.info("sink_schema_ready", applied=applied)
            return
        except Exception as exc:
            if is_data_error(exc):
                raise
            delay = backoff(attempt)
            attempt += 1
            log.warning("clickhouse_unreachable_at_start", retry_in_s=delay, error=server_message(exc, 300))
            if stop.wait(delay):
                raise Stopping() from exc
