"""`tagtrail where|history|epcis`: ask about one item by any identity form; `epcis` also by time range
and location, or by shipment, streamed."""

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
        ("epcis", "the item's history, or the history in a time range or of a shipment, as an EPCIS 2.0 JSON-LD document"),
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
            p.add_argument("--shipment", metavar="ID",
                           help="shipment export: the events of a shipment or receipt, named by its transaction id, "
                                "bizTransaction id or document number, or an SSCC it lists (plus that SSCC's own events)")
            p.add_argument("--sender", metavar="GLN",
                           help="document header: who sends the document (GLN, urn:epc:id:sgln:/pgln:..., or "
                                "https://id.gs1.org/417/...); with --receiver")
            p.add_argument("--receiver", metavar="GLN", help="document header: who receives it; with --sender")
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
        lot = dict(zip(*_first(queries.item_lot(client, identity.item_key)))) if args.command == "where" else {}
    except Exception as exc:
        raise no_history(exc, client, args) from exc
    finally:
        client.close()
    if not rows:
        raise UserError(f"no movements recorded for {identity.item_key}", exit_code=1)
    if args.format == "json":
        for row in rows:
            print(json.dumps({**dict(zip(names, row)), **{k: v for k, v in lot.items() if k != "item_key"}}, default=str))
        return 0
    if args.command == "where" and dict(zip(names, rows[0]))["shipped_via"]:
        print(shipped_line(dict(zip(names, rows[0]))))
    else:
        print(render_table(names, rows))
    for line in lot_lines(lot):
        print(line)
    return 0


def _first(result: tuple[list[str], list[tuple]]) -> tuple[list[str], tuple]:
    names, rows = result
    return names, rows[0] if rows else ()


def lot_lines(lot: dict) -> list[str]:
    """`where`'s lot and expiry (item_lots, migration 0008), and a lot scanned that disagrees with the
    known one as an anomaly line: the known lot stays, the other is shown, never taken."""
    if not lot or (lot["lot"] is None and lot["expiry"] is None):
        return []
    known = f"lot {lot['lot']}" if lot["lot"] is not None else "lot unknown"
    expiry = f", expiry {lot['expiry']}" if lot["expiry"] is not None else ""
    lines = [f"{known}{expiry} (from {lot['lot_source']})"]
    if lot["conflicting_lot"] is not None:
        lines.append(f"anomaly: scanned with lot {lot['conflicting_lot']}, but the item is known by lot {lot['lot']} "
                     f"(from {lot['lot_source']}); the known lot is kept")
    return lines


def no_history(exc: Exception, client: Any, args: argparse.Namespace) -> Exception:
    """A database without the history tables is the user's to fix (run the sink or migrate); else `exc`."""
    if "UNKNOWN_TABLE" in str(exc) or "UNKNOWN_DATABASE" in str(exc):
        return UserError(f"no movement history in database {client.database!r} at "
                         f"{args.clickhouse or 'the site ClickHouse'}: run the sink (or `tagtrail migrate`) first")
    return exc


def export(args: argparse.Namespace) -> int:
    """`tagtrail epcis`: one item, a range or a shipment, streamed to stdout or --out. The first event is
    read before anything is written, so an unknown item or shipment or an empty range writes nothing and
    exits 1."""
    from tagtrail.history.epcis import (
        iter_events,
        iter_shipment_events,
        lot_master_data,
        site_master_data,
        streamed_lot_master_data,
    )
    from tagtrail.history.epcis_lots import with_vocabulary
    from tagtrail.history.epcis_places import EpcisPlaces
    from tagtrail.history.queries import lots_in_range, lots_in_transactions, lots_of_items
    from tagtrail.history.shipment import find_shipment

    ranged = args.since is not None or args.until is not None or args.location is not None
    scopes = (args.item is not None) + ranged + (args.shipment is not None)
    if scopes != 1:
        raise UserError("tagtrail epcis: give an item, or a range (--since/--until, optionally --location), "
                        "or --shipment ID" + {0: "", 2: ", not both"}.get(scopes, ", not all three"))
    sender = document_sender(args)
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UserError(f"tagtrail epcis: --since {args.since.isoformat()} is not before --until {args.until.isoformat()}")
    scope: dict[str, Any] = {}
    if args.item is not None:
        try:
            scope["item_key"] = resolve_any(args.item).item_key
        except IdentityError as exc:
            raise UserError(str(exc)) from exc
        what = f"no movements recorded for {scope['item_key']}"
    elif args.shipment is not None:
        what = f"no events recorded for shipment {args.shipment}"
    else:
        scope.update(since=args.since, until=args.until, location=args.location)
        what = "no movements recorded " + " ".join(
            part for part in (f"at {args.location}" if args.location else "",
                              f"since {args.since.isoformat()}" if args.since else "",
                              f"until {args.until.isoformat()}" if args.until else "") if part)
    places = EpcisPlaces.of(load_site_option(args), digital_link=args.digital_link)
    client = open_clickhouse(args)
    lots = None
    try:
        if args.shipment is not None:
            shipment = find_shipment(client, args.shipment)
            if shipment is None:
                raise UserError(f"no shipment or receipt recorded as {args.shipment!r} (a transaction id, "
                                "bizTransaction id, document number or an SSCC it lists): no EPCIS document to export",
                                exit_code=1)
            events = iter_shipment_events(client, shipment, places=places)
        else:
            events = iter_events(client, places=places, **scope)
        first = next(events, None)
        if first is None:
            raise UserError(f"{what}: no EPCIS document to export", exit_code=1)
        if "item_key" in scope:  # one item's events are few: the header describes just the places they use
            listed = [first, *events]
            header, stream = places.master_data(), iter(listed)
            header = with_vocabulary(header, lot_master_data(lots_of_items(client, [scope["item_key"]])))
        else:  # any number of items: their lots stream into the header from an ordered query (epcis_lots.py)
            header, stream = site_master_data(places), itertools.chain([first], events)
            lots = streamed_lot_master_data(
                lots_in_transactions(client, shipment.transaction_ids, shipment.sscc_keys)
                if args.shipment is not None else lots_in_range(client, args.since, args.until, args.location))
            header = with_vocabulary(header, lots)
        count = write_document(args.out, args.format, header, with_progress(stream), sender)
    except UserError:
        raise
    except Exception as exc:
        raise no_history(exc, client, args) from exc
    finally:
        if lots is not None:
            lots.close()  # its query, if the document stopped before the header was written
        client.close()
    log.info("epcis_exported", events=count, out=str(args.out) if args.out else "stdout")
    return 0


def document_sender(args: argparse.Namespace) -> Any:
    """--sender/--receiver as one checked document header (tagtrail/history/document_header.py), or None."""
    if args.sender is None and args.receiver is None:
        return None
    if args.sender is None or args.receiver is None:
        raise UserError("tagtrail epcis: give --sender and --receiver together (the document header names both)")
    from tagtrail.history.document_header import DocumentHeaderError, document_header

    try:
        return document_header(args.sender, args.receiver)
    except DocumentHeaderError as exc:
        raise UserError(f"tagtrail epcis: {exc}") from exc


def write_document(out: Path | None, form: str, header: dict | None, events: Iterator[dict],
                   sender: Any = None) -> int:
    """To stdout, or to --out through a temporary file renamed at the end: a failed export leaves no file.
    `sender`: the document header (DocumentHeader) naming sender and receiver, or None."""
    if out is None:
        return write_in(form, sys.stdout, header, events, sender)
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as f:
            count = write_in(form, f, header, events, sender)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return count


def write_in(form: str, out: Any, header: dict | None, events: Iterator[dict], sender: Any = None) -> int:
    """The document in the --format asked: JSON-LD (sender/receiver at the document root, the one place the
    EPCIS 2.0 JSON schema admits them), or EPCIS XML 2.0 / 1.2 with them in the SBDH (lxml only loaded for XML)."""
    from tagtrail.history.epcis import write_epcis_json

    if form == "json":
        return write_epcis_json(out, header, events, parties=sender.json_fields() if sender else None)
    from tagtrail.history.epcis_xml import EpcisXmlError, write_epcis_xml

    try:
        return write_epcis_xml(out, header or {}, events, version="1.2" if form == "xml-1.2" else "2.0", sbdh=sender)
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
