"""`tagtrail ingest llrp|scans`: the reader adapters."""

from __future__ import annotations

import argparse
import threading

from tagtrail.config import SiteConfig
from tagtrail.kafka import KafkaConnection
from tagtrail.observability import Metrics
from tagtrail_cli.launch.stage_resources import kafka_for, stage_metrics, stop_on_signals
from tagtrail_cli.site_option import add_site_option, load_site_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="run a reader adapter (llrp or scans)", description="Run a reader adapter.")
    kinds = p.add_subparsers(dest="adapter", metavar="ADAPTER", required=True)
    llrp = kinds.add_parser(
        "llrp",
        help="connect to the site's LLRP readers and publish their tag reads",
        description="Connect to every LLRP reader in the site config, keep the links healthy, and publish "
        "each tag report as TagRead events (spooling to disk while Kafka is unreachable).",
    )
    add_site_option(llrp)
    llrp.set_defaults(handler=handle_llrp)
    scans = kinds.add_parser(
        "scans",
        help="serve the handheld scanner upload API",
        description="Serve POST /v1/scans for handheld scanners and publish accepted scans as Scan events.",
    )
    add_site_option(scans)
    scans.add_argument("--host", help="listen address (default: scans.host from the site)")
    scans.add_argument("--port", type=int, help="listen port (default: scans.port from the site)")
    scans.set_defaults(handler=handle_scans)


def handle_llrp(args: argparse.Namespace) -> int:
    site = load_site_option(args)
    with stop_on_signals() as stop, stage_metrics(site, site.llrp.metrics_port) as (metrics, ready), kafka_for(site, stop) as conn:
        run_llrp(site, conn, stop, metrics, ready)
    return 0


def handle_scans(args: argparse.Namespace) -> int:
    from tagtrail_ingest.scans.scan_api import run_scan_service

    site = load_site_option(args)
    with stop_on_signals() as stop, stage_metrics(site, site.scans.metrics_port) as (metrics, ready), kafka_for(site, stop) as conn:
        run_scan_service(site, conn, stop=stop, host=args.host, port=args.port, metrics=metrics, ready=ready)
    return 0


def run_llrp(site: SiteConfig, conn: KafkaConnection, stop: threading.Event, metrics: Metrics | None,
             ready: threading.Event) -> None:
    """The LLRP adapter with its counters carried into `metrics` (also used by `tagtrail run`)."""
    from tagtrail_ingest.llrp.adapter_metrics import AdapterMetrics, MetricsBridge
    from tagtrail_ingest.llrp.adapter_service import run_adapter

    adapter_metrics = AdapterMetrics()
    if metrics is not None:
        bridge = MetricsBridge(adapter_metrics, metrics, [r.id for r in site.readers])

        def sync_metrics() -> None:
            while not stop.wait(1.0):
                bridge.sync()

        threading.Thread(target=sync_metrics, name="llrp-metrics", daemon=True).start()
    ready.set()  # readers come and go; the adapter itself is up as soon as it runs
    run_adapter(site, conn, stop=stop, metrics=adapter_metrics)
