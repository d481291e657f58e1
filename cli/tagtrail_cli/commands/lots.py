"""`tagtrail lots import FILE.csv`: lot (AI 10) and expiry (AI 17) per serialized item, as ItemMaster records.

Each accepted line becomes one ItemMaster (source "import") on `<prefix>.item-master`, keyed by item
key, with the event_id `import/<first 16 hex of the file's SHA-256>/<line>`: the same file gives the
same ids, so whoever reads the topic can tell a repeated import from new data. The whole file goes in
one Kafka transaction: an import that fails midway publishes nothing (read_committed readers see all
of it or none), so running it again publishes each line once. Lines that are refused are reported by
line and column and published nowhere; any refused line makes the exit status 1.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from biip.gtin import Gtin
from confluent_kafka import KafkaException

from tagtrail.events import ItemMaster
from tagtrail.identity.barcode import BarcodeError, BarcodeParser
from tagtrail.identity.resolve import IdentityError, resolve_any
from tagtrail.kafka import KafkaConnection
from tagtrail.wire import codec_for
from tagtrail_cli.launch.stage_resources import kafka_for
from tagtrail_cli.site_option import add_site_option, load_site_option
from tagtrail_cli.user_errors import UserError

log = structlog.get_logger(__name__)

COLUMNS = ("item", "lot", "expiry")
LOT = re.compile(r'^[!%-?A-Z_a-z"]{1,20}$')  # GS1 AI 10: 1-20 characters of CSET 82
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PROGRESS_EVERY = 10_000
_KEY = re.compile(r"^(00|01|414|8003|8004|epc|internal)/|^urn:epc:id:")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lots", help="import lot and expiry per item", description="Product and lot data per item.")
    actions = p.add_subparsers(dest="lots_action", metavar="ACTION", required=True)
    imp = actions.add_parser(
        "import",
        help="publish lot/expiry per item from a CSV file",
        description="Read a CSV file with a header naming the columns item, lot and expiry (YYYY-MM-DD); item is "
        "an item key (01/<gtin>/21/<serial>), an EPC pure-identity URI, or a GS1 element string or Digital Link "
        "naming GTIN and serial. Each line becomes an ItemMaster record on <prefix>.item-master (one Kafka "
        "transaction for the file). Refused lines are reported as FILE:LINE: column: why; any makes the exit "
        "status 1. Needs a Kafka cluster (kafka.bootstrap_servers): the embedded one ends with this command.",
    )
    imp.add_argument("file", type=Path, metavar="FILE.csv", help="the CSV file (UTF-8, a BOM is allowed)")
    imp.add_argument("--delimiter", default=",", help="column separator (default ','; ';' for many spreadsheets)")
    imp.add_argument("--dry-run", action="store_true", help="check every line and report, publish nothing")
    add_site_option(imp)
    imp.set_defaults(handler=handle_import)


@dataclass
class ImportReport:
    file: Path
    digest: str
    accepted: int = 0
    refused: list[str] = field(default_factory=list)  # "FILE:LINE: column: why"


class LineError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def handle_import(args: argparse.Namespace) -> int:
    site = load_site_option(args)
    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    terminal = sys.stderr.isatty()

    def progress(lines: int) -> None:
        if terminal:
            print(f"tagtrail lots import: {lines} lines read", file=sys.stderr, flush=True)
        else:
            log.info("lot_import_progress", file=str(args.file), lines=lines)

    if args.dry_run:
        report = check_file(args.file, delimiter=args.delimiter, progress=progress)
    else:
        if site.kafka.embedded:
            raise UserError("tagtrail lots import needs kafka.bootstrap_servers in the site config: the embedded "
                            "cluster ends with this command, and the records with it")
        with kafka_for(site) as conn:
            report = import_lots(conn, args.file, delimiter=args.delimiter, progress=progress,
                                 schema_registry_url=site.kafka.schema_registry_url)
    for line in report.refused:
        print(line, file=sys.stderr)
    verb = "checked" if args.dry_run else f"published to {site.kafka.topic_prefix}.item-master"
    print(f"{report.file}: {report.accepted} line(s) {verb}, {len(report.refused)} refused")
    return 1 if report.refused else 0


# -- the import --------------------------------------------------------------------------------
def import_lots(conn: KafkaConnection, path: Path, *, delimiter: str = ",", clock: Callable[[], int] | None = None,
                progress: Callable[[int], None] = lambda lines: None, schema_registry_url: str | None = None,
                timeout_s: float = 60.0) -> ImportReport:
    """Publishes the file's accepted lines in one Kafka transaction; returns what was accepted and refused."""
    now = clock or _wall_clock_micros
    codec = codec_for("ItemMaster", schema_registry_url=schema_registry_url)
    report = ImportReport(path, file_digest(path))
    topic = conn.topics.item_master
    # One transactional id per file: a second import of the same file running at once fences the first.
    producer = conn.transactional_producer(f"{conn.topics.prefix}.lots-import.{report.digest}",
                                           **{"transaction.timeout.ms": 900_000, "linger.ms": 20})
    try:
        producer.init_transactions(timeout_s)
        producer.begin_transaction()
    except KafkaException as exc:
        raise UserError(f"Kafka did not start the import's transaction: {exc.args[0].str()}", exit_code=1) from exc
    try:
        for record in _records(path, report, delimiter, now, progress):
            _produce(producer, topic, record.item_key.encode(), codec.encode(record), timeout_s)
        producer.commit_transaction(timeout_s)
    except BaseException as exc:
        _abort_quietly(producer, timeout_s)
        if isinstance(exc, KafkaException):
            raise UserError(f"Kafka did not commit the import ({exc.args[0].str()}); nothing of {path} was "
                            "published: run it again", exit_code=1) from exc
        raise
    log.info("lot_import_committed", file=str(path), topic=topic, accepted=report.accepted, refused=len(report.refused))
    return report


def check_file(path: Path, *, delimiter: str = ",", progress: Callable[[int], None] = lambda lines: None) -> ImportReport:
    report = ImportReport(path, file_digest(path))
    for _ in _records(path, report, delimiter, _wall_clock_micros, progress):
        pass
    return report


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _records(path: Path, report: ImportReport, delimiter: str, now: Callable[[], int],
             progress: Callable[[int], None]) -> Iterator[ItemMaster]:
    parser = BarcodeParser(allow_internal=False)
    seen: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = csv.reader(f, delimiter=delimiter)
        try:
            header = [h.strip().lower() for h in next(rows)]
        except StopIteration:
            raise UserError(f"{path}: empty file; the first line names the columns {', '.join(COLUMNS)}") from None
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}:1: not UTF-8 text: {exc}") from exc
        _check_header(path, header)
        at = {name: header.index(name) for name in COLUMNS if name in header}
        line = 1
        try:
            for row in rows:
                line = rows.line_num
                if line % PROGRESS_EVERY == 0:
                    progress(line)
                if not any(cell.strip() for cell in row):
                    continue  # blank lines (a trailing one is common)
                try:
                    record = _record(row, at, parser, event_id=f"import/{report.digest}/{line}", recorded_at=now())
                    if record.item_key in seen:
                        raise LineError("item", f"{record.item_key} is also on line {seen[record.item_key]}")
                except LineError as exc:
                    report.refused.append(f"{path}:{line}: column {exc.column}: {exc}")
                    continue
                seen[record.item_key] = line
                report.accepted += 1
                yield record
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}:{line + 1}: not UTF-8 text: {exc}") from exc
        except csv.Error as exc:
            raise UserError(f"{path}:{rows.line_num}: CSV not understood: {exc}") from exc


def _check_header(path: Path, header: list[str]) -> None:
    if "item" not in header:
        raise UserError(f"{path}:1: no column named item; the header names {', '.join(header) or 'nothing'} "
                        f"(expected {', '.join(COLUMNS)})")
    if "lot" not in header and "expiry" not in header:
        raise UserError(f"{path}:1: neither a lot nor an expiry column; the header names {', '.join(header)}")
    repeated = sorted({h for h in header if header.count(h) > 1 and h in COLUMNS})
    if repeated:
        raise UserError(f"{path}:1: column {repeated[0]} named twice")


def _record(row: list[str], at: dict[str, int], parser: BarcodeParser, *, event_id: str, recorded_at: int) -> ItemMaster:
    def cell(name: str) -> str:
        i = at.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    item = cell("item")
    if not item:
        raise LineError("item", "empty")
    key, scanned_lot, scanned_expiry = _item(item, parser)
    lot = cell("lot") or None
    if lot is not None and not LOT.match(lot):
        raise LineError("lot", f"{lot!r} is not a GS1 lot (AI 10: 1-20 letters, digits or !\"%&'()*+,-./:;<=>?_)")
    expiry = _date(cell("expiry")) if cell("expiry") else None
    if scanned_lot is not None and lot is not None and scanned_lot != lot:
        raise LineError("lot", f"{lot!r} disagrees with the lot {scanned_lot!r} the item's barcode carries")
    if scanned_expiry is not None and expiry is not None and scanned_expiry != expiry:
        raise LineError("expiry", f"{expiry} disagrees with the expiry {scanned_expiry} the item's barcode carries")
    lot, expiry = lot or scanned_lot, expiry or scanned_expiry
    if lot is None and expiry is None:
        raise LineError("lot", "neither a lot nor an expiry: nothing to import")
    return ItemMaster(event_id=event_id, item_key=key, lot=lot, expiry=expiry, source="import", recorded_at=recorded_at)


def _item(text: str, parser: BarcodeParser) -> tuple[str, str | None, dt.date | None]:
    """The item key, and the lot/expiry a GS1 barcode form carries (AIs 10, 17)."""
    lot = expiry = None
    try:
        if _KEY.match(text):
            identity = resolve_any(text)
        else:
            parsed = parser.parse(text)
            identity, lot, expiry = parsed.identity, parsed.lot, parsed.expiry
    except (IdentityError, BarcodeError) as exc:
        raise LineError("item", f"{text!r} is not an item key, EPC URI or GS1 barcode: {exc}") from exc
    if identity.scheme != "sgtin" or not identity.gtin or not identity.serial:
        raise LineError("item", f"{text!r} names no serialized trade item (GTIN and serial); lots are kept per item")
    try:
        Gtin.parse(identity.gtin)
    except Exception as exc:  # biip's ParseError: the GTIN of a typed item key was not checked yet
        raise LineError("item", f"GTIN {identity.gtin}: {exc}") from exc
    return identity.item_key, lot, expiry


def _date(text: str) -> dt.date:
    if not DATE.match(text):
        raise LineError("expiry", f"{text!r} is not a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise LineError("expiry", f"{text!r}: {exc}") from exc


def _produce(producer, topic: str, key: bytes, value: bytes, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            producer.produce(topic, value, key)
            return
        except BufferError:
            if time.monotonic() > deadline:
                raise UserError(f"Kafka took no record for {timeout_s} s; nothing of the import was committed") from None
            producer.poll(0.05)


def _abort_quietly(producer, timeout_s: float) -> None:
    try:
        producer.abort_transaction(timeout_s)
    except KafkaException as exc:  # the transaction times out on the broker anyway; the first error is the story
        log.warning("lot_import_abort_failed", error=exc.args[0].str())


def _wall_clock_micros() -> int:
    return (dt.datetime.now(dt.timezone.utc) - _EPOCH) // dt.timedelta(microseconds=1)
