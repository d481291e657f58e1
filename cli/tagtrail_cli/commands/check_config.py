"""`tagtrail check-config`: validate a site file before deploying it."""

from __future__ import annotations

import argparse
import sys

from tagtrail.config import SiteConfig, load_site
from tagtrail.config.gs1_locations import gs1_locations


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-config",
        help="validate a site config file",
        description="Validate a site config; every problem is reported with its file, line and key.",
    )
    p.add_argument("file", help="site config YAML")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    site = load_site(args.file)
    kafka = site.kafka.bootstrap_servers or "embedded mock cluster (NOT durable)"
    print(
        f"{args.file}: OK: site {site.site_id!r}, {len(site.readers)} readers, "
        f"{sum(len(r.antennas) for r in site.readers)} antennas, {len(site.read_points)} read points, "
        f"{len(site.scanners)} scanners; Kafka {kafka}; ClickHouse {site.clickhouse.dsn}"
    )
    for warning in gs1_warnings(site):
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    return 0


def gs1_warnings(site: SiteConfig) -> list[str]:
    """A trading partner needs GS1 ids: places without one are exported as urn:tagtrail:... ids."""
    if site.company is None:
        return ["no company (GLN): EPCIS exports name read points and locations urn:tagtrail:..., not SGLNs"]
    return [f"{entry}: exported as urn:tagtrail:..., not an SGLN" for entry in gs1_locations(site).unidentified]
