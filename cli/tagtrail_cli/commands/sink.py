"""`tagtrail sink`: movements into ClickHouse, exactly once."""

from __future__ import annotations

import argparse

from tagtrail_cli.launch.stage_resources import clickhouse_for, kafka_for, stage_metrics, stop_on_signals
from tagtrail_cli.site_option import add_site_option, load_site_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sink",
        help="write movements, business transactions and item master data into ClickHouse",
        description="Consume committed movements, business transactions (shipments, receipts) and item "
        "master data (lots) and insert them into ClickHouse exactly once, committing offsets only after "
        "ClickHouse acknowledged each batch.",
    )
    add_site_option(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from tagtrail_processors.sink.sink_service import run_sink

    site = load_site_option(args)
    with (
        stop_on_signals() as stop,
        # Served first: /healthz answers (and /readyz says not ready) while ClickHouse is awaited.
        stage_metrics(site, site.sink.metrics_port) as (metrics, ready),
        clickhouse_for(site, stop) as client,
        kafka_for(site, stop) as conn,
    ):
        run_sink(site, conn, client, stop=stop, metrics=metrics, ready=ready)
    return 0
