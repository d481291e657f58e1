"""`--clickhouse DSN` for commands that read ClickHouse, and opening it from the site config."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from tagtrail.clickhouse import ClickHouseUnreachable, NoTagtrailDatabase, connect_clickhouse, parse_dsn
from tagtrail_cli.demo.paths import chdb_folder
from tagtrail_cli.site_option import add_site_option, load_site_option
from tagtrail_cli.user_errors import UserError


def add_clickhouse_options(parser: argparse.ArgumentParser) -> None:
    add_site_option(parser, required=False)
    parser.add_argument("--clickhouse", metavar="DSN", help="ClickHouse DSN, overriding the site's clickhouse.dsn")


def open_clickhouse(args: argparse.Namespace, *, create: bool = False) -> Any:
    """The site's ClickHouse client. Only `create=True` (migrations) may create the database: a read
    command pointed at the wrong place says so instead of answering from a new, empty database."""
    site = load_site_option(args)
    settings = site.clickhouse if not args.clickhouse else dataclasses.replace(site.clickhouse, dsn=args.clickhouse)
    base = site.path.parent if site.path else None
    try:
        return connect_clickhouse(settings, base_dir=base, create_database=create)
    except NoTagtrailDatabase as exc:
        raise UserError(f"{exc}{_where_else(args, exc.chdb_path)}") from exc
    except ClickHouseUnreachable as exc:
        raise UserError(f"cannot open ClickHouse: {exc}") from exc
    except Exception as exc:
        raise UserError(f"cannot open ClickHouse at {_safe(settings.dsn, base)}: {exc}") from exc


def _where_else(args: argparse.Namespace, asked: Path | None) -> str:
    """Hints after "no tagtrail database": how the DSN was chosen, and the demo's database if there is one."""
    hints = []
    if not args.clickhouse and not args.site:
        hints.append("no --clickhouse or --site given, so the default clickhouse.dsn was used")
    demo = chdb_folder().resolve()
    if (demo / "metadata").is_dir() and (asked is None or asked.resolve() != demo):
        hints.append(f"the demo's database is at {demo}: --clickhouse chdb://{demo}")
    return "".join(f"; {h}" for h in hints)


def _safe(dsn: str, base: Path | None) -> str:
    """The DSN without its password, for messages."""
    try:
        return parse_dsn(dsn, base_dir=base).describe()
    except ValueError:
        return dsn
