"""`tagtrail where|history|epcis`: ask about one item by any identity form."""

from __future__ import annotations

import argparse
import json

from tagtrail.identity import resolve_any
from tagtrail.identity.resolve import IdentityError
from tagtrail_cli.clickhouse_option import add_clickhouse_options, open_clickhouse
from tagtrail_cli.commands.sql import render_table
from tagtrail_cli.site_option import load_site_option
from tagtrail_cli.user_errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    for name, help_text in (
        ("where", "where is this item now?"),
        ("history", "the item's full movement history"),
        ("epcis", "the item's history as an EPCIS 2.0 JSON-LD document"),
    ):
        p = sub.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]} The item may be given as EPC hex, EPC "
            "pure-identity URI, GS1 barcode data or item key; all resolve to the same item.",
        )
        p.add_argument("item", help="EPC hex, urn:epc:id:..., GS1 barcode or item key")
        if name != "epcis":
            p.add_argument("--format", choices=("table", "json"), default="table",
                           help="json: one JSON object per row, as `tagtrail sql --format json` prints them")
        if name == "epcis":
            p.add_argument("--digital-link", action="store_true",
                           help="name read points and locations by GS1 Digital Link (https://id.gs1.org/414/...) "
                                "instead of SGLN EPC URIs (the SGLNs come from --site)")
        if name == "where":
            p.add_argument("--live", action="store_true",
                           help="where it is being read right now, before its movement is decided (live mode: "
                                "processing.provisional_movements); the column provisional says which")
        add_clickhouse_options(p)
        p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from tagtrail.history import queries
    from tagtrail.history.epcis import export_epcis

    try:
        identity = resolve_any(args.item)
    except IdentityError as exc:
        raise UserError(str(exc)) from exc
    client = open_clickhouse(args)
    try:
        if args.command == "epcis":
            document = export_epcis(client, identity.item_key, site=load_site_option(args),
                                    digital_link=args.digital_link)
            if not document["epcisBody"]["eventList"]:
                raise UserError(f"no movements recorded for {identity.item_key}: no EPCIS document to export", exit_code=1)
            print(json.dumps(document, indent=2))
            return 0
        if args.command == "where":
            ask = queries.where_live if args.live else queries.where_is
        else:
            ask = queries.history
        names, rows = ask(client, identity.item_key)
    except Exception as exc:
        if "UNKNOWN_TABLE" in str(exc) or "UNKNOWN_DATABASE" in str(exc):
            raise UserError(
                f"no movement history in database {client.database!r} at {args.clickhouse or 'the site ClickHouse'}: "
                "run the sink (or `tagtrail migrate`) first"
            ) from exc
        raise
    finally:
        client.close()
    if not rows:
        raise UserError(f"no movements recorded for {identity.item_key}", exit_code=1)
    if args.format == "json":
        for row in rows:
            print(json.dumps(dict(zip(names, row)), default=str))
    elif args.command == "where" and dict(zip(names, rows[0]))["shipped_via"]:
        print(shipped_line(dict(zip(names, rows[0]))))
    else:
        print(render_table(names, rows))
    return 0


def shipped_line(state: dict) -> str:
    """An item that left the site is nowhere on it: say which door it left by and when, not location None."""
    since = state["since"]
    when = since.strftime("%Y-%m-%d %H:%M:%S.%f UTC") if hasattr(since, "strftime") else str(since)
    return (f"{state['item_key']} shipped via {state['shipped_via']} at {when} "
            f"(read point {state['read_point']}, bizStep {state['biz_step']}, disposition {state['disposition']})")
