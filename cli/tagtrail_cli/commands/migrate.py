"""`tagtrail migrate`: create or upgrade the ClickHouse tables (idempotent)."""

from __future__ import annotations

import argparse

from tagtrail_cli.clickhouse_option import add_clickhouse_options, open_clickhouse
from tagtrail_cli.site_option import load_site_option
from tagtrail_cli.user_errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "migrate",
        help="apply the ClickHouse migrations",
        description="Apply the versioned ClickHouse migrations in schemas/tagtrail_schemas/clickhouse/ (idempotent). With "
        "--cluster, print the DDL for a ClickHouse cluster instead (ReplicatedMergeTree + Distributed).",
    )
    add_clickhouse_options(p)
    p.add_argument("--cluster", metavar="NAME", help="generate cluster DDL for this cluster name and print it")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from tagtrail.history.migrations import cluster_ddl, migrate
    from tagtrail.history.site_dimension import write_site_dimension

    if args.cluster:
        try:
            print(cluster_ddl(args.cluster))
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        return 0
    site = load_site_option(args)
    client = open_clickhouse(args, create=True)  # the one command that may create the database
    try:
        applied = migrate(client)
        write_site_dimension(client, site)  # the site's zones, which the views show (as the sink does at start)
    finally:
        client.close()
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none (up to date)'}")
    return 0
