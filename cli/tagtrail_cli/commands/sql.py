"""`tagtrail sql`: run SQL against the movement history (either ClickHouse backend)."""

from __future__ import annotations

import argparse
import json
import sys

from tagtrail.clickhouse.query_errors import describe_query_error
from tagtrail_cli.clickhouse_option import add_clickhouse_options, open_clickhouse
from tagtrail_cli.user_errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sql",
        help="run a SQL query against the movement history",
        description="Run one SQL query against the site's ClickHouse database and print the result.",
    )
    p.add_argument("query", help="SQL text, or - to read it from stdin")
    p.add_argument("--format", choices=("table", "json", "tsv"), default="table")
    add_clickhouse_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query == "-" else args.query
    client = open_clickhouse(args)
    try:
        result = client.query(query)
    except Exception as exc:
        raise UserError(f"query failed: {describe_query_error(query, exc)}") from exc
    finally:
        client.close()
    names = list(result.column_names)
    rows = result.result_rows
    if args.format == "json":
        for row in rows:
            print(json.dumps(dict(zip(names, row)), default=str))
    elif args.format == "tsv":
        print("\t".join(names))
        for row in rows:
            print("\t".join(str(v) for v in row))
    else:
        print(render_table(names, rows))
    return 0


def render_table(names: list[str], rows: list[tuple]) -> str:
    cells = [[str(v) for v in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]
    line = "  ".join(n.ljust(w) for n, w in zip(names, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
