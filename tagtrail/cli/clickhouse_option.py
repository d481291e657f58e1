"""`--clickhouse DSN` for commands that read ClickHouse, and opening it from the site config."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from tagtrail.cli.errors import UserError
from tagtrail.cli.site_option import add_site_option, load_site_option
from tagtrail.clickhouse import connect_clickhouse


def add_clickhouse_options(parser: argparse.ArgumentParser) -> None:
    add_site_option(parser, required=False)
    parser.add_argument("--clickhouse", metavar="DSN", help="ClickHouse DSN, overriding the site's clickhouse.dsn")


def open_clickhouse(args: argparse.Namespace) -> Any:
    site = load_site_option(args)
    settings = site.clickhouse if not args.clickhouse else dataclasses.replace(site.clickhouse, dsn=args.clickhouse)
    base = site.path.parent if site.path else None
    try:
        return connect_clickhouse(settings, base_dir=base)
    except Exception as exc:
        raise UserError(f"cannot open ClickHouse at {settings.dsn}: {exc}") from exc
