"""`tagtrail run`: every service of a site in one process (a small site, or a first try)."""

from __future__ import annotations

import argparse
from contextlib import ExitStack

import structlog

from tagtrail.cli.ingest import run_llrp
from tagtrail.cli.service import StageThreads, clickhouse_for, kafka_for, stage_metrics, stop_on_signals
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
    from tagtrail.ingest.scans.app import run_scan_service
    from tagtrail.processors.app import run_processor
    from tagtrail.processors.sink.app import run_sink

    site = load_site_option(args)
    with ExitStack() as stack:
        stop = stack.enter_context(stop_on_signals())
        # Each stage serves its own metrics port (<section>.metrics_port), as it would alone; served
        # before ClickHouse is awaited, so /healthz answers meanwhile.
        llrp_m, llrp_ready = stack.enter_context(stage_metrics(site, site.llrp.metrics_port if site.readers else None))
        scans_m, scans_ready = stack.enter_context(stage_metrics(site, site.scans.metrics_port if site.scanners else None))
        process_m, process_ready = stack.enter_context(stage_metrics(site, site.processing.metrics_port))
        sink_m, sink_ready = stack.enter_context(stage_metrics(site, site.sink.metrics_port))
        client = stack.enter_context(clickhouse_for(site, stop))
        conn = stack.enter_context(kafka_for(site))
        stages = StageThreads(stop)
        if site.readers:
            stages.start("ingest.llrp", lambda: run_llrp(site, conn, stop, llrp_m, llrp_ready))
        if site.scanners:  # shares the sink's client: embedded chdb opens in one process only
            stages.start("ingest.scans", lambda: run_scan_service(site, conn, stop=stop, clickhouse_client=client,
                                                                  metrics=scans_m, ready=scans_ready))
        stages.start("process", lambda: run_processor(site, conn, stop=stop, metrics=process_m, ready=process_ready))
        stages.start("sink", lambda: run_sink(site, conn, client, stop=stop, metrics=sink_m, ready=sink_ready))
        log.info("running", site=site.site_id, readers=len(site.readers), scanners=len(site.scanners))
        stages.join()
    return 0
