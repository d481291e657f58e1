"""`tagtrail process`: the stream processors (smoothing, location, direction, state)."""

from __future__ import annotations

import argparse

from tagtrail_cli.launch.stage_resources import kafka_for, stage_metrics, stop_on_signals
from tagtrail_cli.site_option import add_site_option, load_site_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "process",
        help="turn raw reads and scans into movements (exactly once)",
        description="Consume raw reads and scans, smooth, locate and derive EPCIS steps, and publish "
        "Movement events transactionally. Run several with the same site to share the partitions.",
    )
    add_site_option(p)
    p.add_argument("--instance-id", default="0", help="unique per processor instance (transactional id suffix)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from tagtrail_processors.stream.processor_service import run_processor

    site = load_site_option(args)
    with stop_on_signals() as stop, kafka_for(site, stop) as conn, stage_metrics(site, site.processing.metrics_port) as (metrics, ready):
        run_processor(site, conn, stop=stop, instance_id=args.instance_id, metrics=metrics, ready=ready)
    return 0
