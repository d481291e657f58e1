"""`tagtrail run`: every service of a site in one process (a small site, or a first try)."""

from __future__ import annotations

import argparse

import structlog

from tagtrail.cli.service import StageThreads, clickhouse_for, kafka_for, stop_on_signals
from tagtrail.cli.site_option import add_site_option, load_site_option

log = structlog.get_logger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run all services of a site in one process",
        description="Run the LLRP adapter (if readers are configured), the scan service (if scanners are "
        "configured), the processor and the sink in one process, until SIGTERM or Ctrl-C.",
    )
    add_site_option(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from tagtrail.ingest.llrp.app import run_adapter
    from tagtrail.ingest.scans.app import run_scan_service
    from tagtrail.processors.app import run_processor
    from tagtrail.processors.sink.app import run_sink

    site = load_site_option(args)
    with stop_on_signals() as stop, clickhouse_for(site, stop) as client, kafka_for(site) as conn:
        stages = StageThreads(stop)
        if site.readers:
            stages.start("ingest.llrp", lambda: run_adapter(site, conn, stop=stop))
        if site.scanners:  # shares the sink's client: embedded chdb opens in one process only
            stages.start("ingest.scans", lambda: run_scan_service(site, conn, stop=stop, clickhouse_client=client))
        stages.start("process", lambda: run_processor(site, conn, stop=stop))
        stages.start("sink", lambda: run_sink(site, conn, client, stop=stop))
        log.info("running", site=site.site_id, readers=len(site.readers), scanners=len(site.scanners))
        stages.join()
    return 0
