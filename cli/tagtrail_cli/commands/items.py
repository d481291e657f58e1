"""`tagtrail where|history|epcis`: ask about one item by any identity form; `epcis` also by time range
and location, streamed."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog

from tagtrail.identity import resolve_any
from tagtrail.identity.resolve import IdentityError
from tagtrail_cli.clickhouse_option import add_clickhouse_options, open_clickhouse
from tagtrail_cli.commands.sql import render_table
from tagtrail_cli.site_option import load_site_option
from tagtrail_cli.user_errors import UserError

log = structlog.get_logger(__name__)
PROGRESS_EVERY = 10_000  # events between two progress reports of an export
EPCIS_FORMATS = ("json", "xml", "xml-1.2")


def register(sub: argparse._SubParsersAction) -> None:
    for name, help_text in (
        ("where", "where is this item now?"),
        ("history", "the item's full movement history"),
        ("epcis", "the item's history, or the history in a time range, as an EPCIS 2.0 JSON-LD document"),
    ):
        p = sub.add_parser(
            name,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}{'' if help_text.endswith('?') else '.'} The item may be given as EPC hex, EPC "
            "pure-identity URI, GS1 barcode data or item key; all resolve to the same item.",
        )
        if name == "epcis":
            p.add_argument("item", nargs="?", help="EPC hex, urn:epc:id:..., GS1 barcode or item key "
                                                   "(or no item and a range: --since/--until/--location)")
            p.add_argument("--since", type=iso_time, metavar="T",
                           help="range export: events at or after T (ISO 8601; a time without offset is UTC)")
            p.add_argument("--until", type=iso_time, metavar="T",
                           help="range export: events before T (ISO 8601; a time without offset is UTC)")
            p.add_argument("--location", metavar="LOC",
                           help="range export: only events at location LOC (its bizLocation, or the door an exit left by)")
            p.add_argument("--format", choices=EPCIS_FORMATS, default="json",
                           help="json: EPCIS 2.0 JSON-LD; xml: EPCIS 2.0 XML; xml-1.2: EPCIS 1.2 XML (same events "
                                "and eventIDs)")
            p.add_argument("--out", type=Path, metavar="FILE",
                           help="write the document to FILE (complete or not at all) instead of stdout")
        else:
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


def iso_time(text: str) -> dt.datetime:
    """An ISO 8601 time; without an offset it is UTC, like every time tagtrail stores."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2026-01-01T08:00:00Z)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def handle(args: argparse.Namespace) -> int:
    from tagtrail.history import queries

    if args.command == "epcis":
        return export(args)
    try:
        identity = resolve_any(args.item)
    except IdentityError as exc:
        raise UserError(str(exc)) from exc
    client = open_clickhouse(args)
    try:
        if args.command == "where":
            ask = queries.where_live if args.live else queries.where_is
        else:
            ask = queries.history
        names, rows = ask(client, identity.item_key)
    except Exception as exc:
        raise no_history(exc, client, args) from exc
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


def no_history(exc: Exception, client: Any, args: argparse.Namespace) -> Exception:
    """A database without the history tables is the user's to fix (run the sink or migrate); else `exc`."""
    if "UNKNOWN_TABLE" in str(exc) or "UNKNOWN_DATABASE" in str(exc):
        return UserError(f"no movement history in database {client.database!r} at "
                         f"{args.clickhouse or 'the site ClickHouse'}: run the sink (or `tagtrail migrate`) first")
    return exc


def export(args: argparse.Namespace) -> int:
    """`tagtrail epcis`: one item or a range, streamed to stdout or --out. The first event is read before
    anything is written, so an unknown item or an empty range writes nothing and exits 1."""
    from tagtrail.history.epcis import iter_events, site_master_data
    from tagtrail.history.epcis_places import EpcisPlaces

    ranged = args.since is not None or args.until is not None or args.location is not None
    if (args.item is None) == (not ranged):
        raise UserError("tagtrail epcis: give an item, or a range (--since/--until, optionally --location), "
                        "not both" if ranged else "tagtrail epcis: give an item, or a range with --since/--until")
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UserError(f"tagtrail epcis: --since {args.since.isoformat()} is not before --until {args.until.isoformat()}")
    scope: dict[str, Any] = {}
    if args.item is not None:
        try:
            scope["item_key"] = resolve_any(args.item).item_key
        except IdentityError as exc:
            raise UserError(str(exc)) from exc
        what = f"no movements recorded for {scope['item_key']}"
    else:
        scope.update(since=args.since, until=args.until, location=args.location)
        what = "no movements recorded " + " ".join(
            part for part in (f"at {args.location}" if args.location else "",
                              f"since {args.since.isoformat()}" if args.since else "",
                              f"until {args.until.isoformat()}" if args.until else "") if part)
    places = EpcisPlaces.of(load_site_option(args), digital_link=args.digital_link)
    client = open_clickhouse(args)
    try:
        events = iter_events(client, places=places, **scope)
        first = next(events, None)
        if first is None:
            raise UserError(f"{what}: no EPCIS document to export", exit_code=1)
        if "item_key" in scope:  # one item's events are few: the header describes just the places they use
            listed = [first, *events]
            header, stream = places.master_data(), iter(listed)
        else:
            header, stream = site_master_data(places), itertools.chain([first], events)
        count = write_document(args.out, args.format, header, with_progress(stream))
    except UserError:
        raise
    except Exception as exc:
        raise no_history(exc, client, args) from exc
    finally:
        client.close()
    log.info("epcis_exported", events=count, out=str(args.out) if args.out else "stdout")
    return 0


def write_document(out: Path | None, form: str, header: dict | None, events: Iterator[dict]) -> int:
    """To stdout, or to --out through a temporary file renamed at the end: a failed export leaves no file."""
    if out is None:
        return write_in(form, sys.stdout, header, events)
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as f:
            count = write_in(form, f, header, events)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return count


def write_in(form: str, out: Any, header: dict | None, events: Iterator[dict]) -> int:
    """The document in the --format asked: JSON-LD, or EPCIS XML 2.0 / 1.2 (lxml only loaded for XML)."""
    from tagtrail.history.epcis import write_epcis_json

    if form == "json":
        return write_epcis_json(out, header, events)
    from tagtrail.history.epcis_xml import EpcisXmlError, write_epcis_xml

    try:
        return write_epcis_xml(out, header or {}, events, version="1.2" if form == "xml-1.2" else "2.0")
    except EpcisXmlError as exc:
        raise UserError(f"tagtrail epcis --format {form}: {exc}", exit_code=1) from exc


def with_progress(events: Iterator[dict], every: int = PROGRESS_EVERY) -> Iterator[dict]:
    """Passes the events through, reporting on stderr every `every` of them: a plain line on a terminal,
    a structlog event (epcis_export_progress) otherwise."""
    terminal = sys.stderr.isatty()
    for count, event in enumerate(events, 1):
        yield event
        if count % every == 0:
            if terminal:
                print(f"tagtrail epcis: {count} events written", file=sys.stderr, flush=True)
            else:
                log.info("epcis_export_progress", events=count)


def shipped_line(state: dict) -> str:
    """An item that left the site is nowhere on it: say which door it left by and when, not location None."""
    since = state["since"]
    when = since.strftime("%Y-%m-%d %H:%M:%S.%f UTC") if hasattr(since, "strftime") else str(since)
    return (f"{state['item_key']} shipped via {state['shipped_via']} at {when} "
            f"(read point {state['read_point']}, bizStep {state['biz_step']}, disposition {state['disposition']})")
