"""No test depends on the day it runs: a wall-clock date written into a test ages out.

A scan stamped "2026-11-25T10:00:00Z" passed while that day was within the processor's 24 h
lateness bound of the reader events stamped now, and failed on a fresh clone a week later. This
guard reads every test and benchmark module and lists each literal that names a calendar moment:

* an ISO date or date-time in a string (SQL and f-strings included; comments and docstrings not),
* a `datetime(YYYY, ...)` or `date(YYYY, ...)` constructor,
* an integer that reads as epoch seconds, ms, us or ns between 2000 and 2100 (round numbers such
  as 1_000_000_000 are sizes, not times, and are left out).

Each one must either come from now / an injected clock, or be declared fixed with a reason: in
FIXED below (file -> reason and the dates it may name), or by a `# fixed-date: <why>` comment on
its line. A date is legitimately fixed when nothing compares it with the wall clock: a pure value
(an expiry parsed back), an injected "now", a reader clock that was never set (near 2000), or
event times of a history that holds no event stamped now.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "benchmarks")
MARKER = re.compile(r"#\s*fixed-date:\s*\S")
ISO_DATE = re.compile(r"(?<![0-9])(19[7-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])(?![0-9])")
EPOCH_FROM = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp())
EPOCH_TO = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp())
UNITS = (1, 10**3, 10**6, 10**9)  # seconds, ms, us, ns
CONSTRUCTORS = {"datetime", "date"}


@dataclass(frozen=True)
class Fixed:
    reason: str
    dates: frozenset[str]  # the calendar dates (YYYY-MM-DD) the file's literals may name


def fixed(reason: str, *dates: str) -> Fixed:
    return Fixed(reason, frozenset(dates))


PURE_SCAN_SERVICE = ("posted to the scan service only, which refuses scans from the future and nothing older; "
                     "no processor compares them with events stamped now")
FIXED: dict[str, Fixed] = {
    "benchmarks/event_hash.py": fixed("event times of synthetic events hashed and built; nothing compares them with now",
                                      "2026-01-01"),
    "benchmarks/limits.py": fixed("event times of a synthetic read stream; no event in it is stamped now", "2025-11-24"),
    "benchmarks/queries.py": fixed("synthetic history queried as of a time inside it; nothing compares it with now",
                                   "2026-01-01"),
    "benchmarks/scan_upload.py": fixed(PURE_SCAN_SERVICE, "2025-03-04"),
    "benchmarks/sink.py": fixed("movement times written and read back by the sink; no wall-clock rule", "2026-01-01"),
    "tests/e2e/bad_inputs.py": fixed("the body of an upload refused as too large before any scan is read", "2026-01-01"),
    "tests/foundation/test_clickhouse.py": fixed("a ClickHouse round trip of a value", "2026-11-25"),
    "tests/foundation/test_identity.py": fixed("an expiry date parsed back from a barcode", "2027-12-31"),
    "tests/foundation/test_schemas.py": fixed("Avro round trips of values", "2025-11-24", "2027-01-31"),
    "tests/foundation/test_tag_read_encoder.py": fixed("encoder round trips of values", "2025-11-24"),
    "tests/history/answers.py": fixed("the injected query clock", "2030-01-01"),
    "tests/history/test_event_hash.py": fixed("event times hashed as values; nothing compares them with now",
                                             "2026-01-01", "2026-07-01", "2030-01-01"),
    "tests/history/scenario.py": fixed("event times of a history queried with the injected clock", "2026-01-01"),
    "tests/history/test_cli.py": fixed("the scenario's event time as `where` prints it", "2026-01-01"),
    "tests/history/test_epcis.py": fixed("the export of the scenario's first event time", "2026-01-01"),
    "tests/history/test_migrations.py": fixed("rows written and read back by a migration", "2026-01-01"),
    "tests/history/test_revisions.py": fixed("an hourly bucket of the scenario's events", "2026-01-01"),
    "tests/llrp/test_clock.py": fixed("the host clock is injected (NOW); a reader clock never set reads near 2000",
                                      "2025-11-24", "2000-01-01"),
    "tests/llrp/test_dead_letter_reasons.py": fixed("the mapper's injected clock (NOW)", "2025-11-24"),
    "tests/llrp/test_frames.py": fixed("LLRP frame encode/decode of timestamps as values", "2025-11-24", "2000-01-01"),
    "tests/llrp/test_report_decoder.py": fixed("the flood's injected clock", "2025-11-24"),
    "tests/llrp/test_tag_reads.py": fixed("the host clock is injected (NOW); a reader clock never set reads near 2000",
                                          "2025-11-24", "2000-01-01"),
    "tests/observability/test_scan_service_metrics.py": fixed(PURE_SCAN_SERVICE, "2025-03-04"),
    "tests/processors/scenarios.py": fixed("event times of processor scenarios; every event of a scenario derives "
                                           "from T0, none from the wall clock", "2025-11-24"),
    "tests/scans/test_assess.py": fixed("the assessor is pure and its upload time is injected (UPLOADED)", "2025-03-04"),
    "tests/scans/test_gs1_fast.py": fixed("the range of expiry dates a property test draws", "1990-01-01", "2060-12-31"),
    "tests/scans/test_kafka_outage.py": fixed(PURE_SCAN_SERVICE, "2025-03-04"),
    "tests/scans/test_openapi_fuzz.py": fixed("a sample string for a fuzzer", "2025-01-01"),
    "tests/scans/test_service_process.py": fixed(PURE_SCAN_SERVICE, "2025-03-04"),
    "tests/scans/test_upload_api.py": fixed(PURE_SCAN_SERVICE + "; the expiry is parsed back", "2025-03-04",
                                            "2027-12-31"),
    "tests/sink/helpers.py": fixed("movement times written and read back by the sink; no wall-clock rule", "2026-01-01"),
    "tests/web/history_data.py": fixed("a stored history the lookup shows as stored", "2026-03-02"),
    "tests/web/test_items.py": fixed("the stored history's time, shown back", "2026-03-02"),
    "tests/web/test_lookup_api.py": fixed(PURE_SCAN_SERVICE + "; the expiry is parsed back", "2026-01-05",
                                          "2027-01-31"),
    "tests/web/test_station.py": fixed("an expiry date parsed back from a barcode", "2027-01-31"),
}


@dataclass(frozen=True)
class DateLiteral:
    path: str
    line: int
    text: str  # as the source spells it
    date: str  # the calendar date it names, YYYY-MM-DD


def epoch_date(value: int) -> str | None:
    """The date an integer names if it reads as an epoch time; None for sizes and counts."""
    if len(str(value).rstrip("0")) <= 2:
        return None
    for unit in UNITS:
        if EPOCH_FROM * unit <= value < EPOCH_TO * unit:
            return dt.datetime.fromtimestamp(value // unit, dt.UTC).date().isoformat()
    return None


def constructor_date(call: ast.Call) -> str | None:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    if name not in CONSTRUCTORS:
        return None
    parts = [a.value for a in call.args[:3] if isinstance(a, ast.Constant) and type(a.value) is int]
    if not parts or not 1971 <= parts[0] < 2100:
        return None
    year, month, day = (parts + [1, 1])[:3]
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def marked_lines(source: str) -> set[int]:
    """Lines carrying a `# fixed-date: <why>` comment."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0] for t in tokens if t.type == tokenize.COMMENT and MARKER.search(t.string)}


def date_literals(path: str, source: str) -> list[DateLiteral]:
    """Every literal of `source` naming a calendar moment, except lines marked fixed-date."""
    tree = ast.parse(source, filename=path)
    skip = docstrings(tree)
    marked = marked_lines(source)
    found = []
    for node in ast.walk(tree):
        date = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            match = ISO_DATE.search(node.value)
            date = match.group() if match else None
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            date = epoch_date(node.value)
        elif isinstance(node, ast.Call):
            date = constructor_date(node)
        if date and node.lineno not in marked:
            found.append(DateLiteral(path, node.lineno, ast.get_source_segment(source, node) or "?", date))
    return sorted(found, key=lambda d: (d.path, d.line))


def tree_literals(repo: Path = REPO) -> list[DateLiteral]:
    found = []
    for folder in SCANNED:
        for file in sorted((repo / folder).rglob("*.py")):
            rel = file.relative_to(repo).as_posix()
            if file != Path(__file__).resolve():
                found += date_literals(rel, file.read_text(encoding="utf-8"))
    return found


def aging(literals: list[DateLiteral], allowed: dict[str, Fixed]) -> list[DateLiteral]:
    return [d for d in literals if d.date not in allowed.get(d.path, Fixed("", frozenset())).dates]


def test_no_test_or_benchmark_carries_a_wall_clock_date_that_ages_out() -> None:
    bad = aging(tree_literals(), FIXED)
    assert not bad, ("wall-clock date literals (take the time from now or an injected clock, or declare the date "
                     "fixed in tests/test_no_aging_dates.py::FIXED or with '# fixed-date: <why>'):\n"
                     + "\n".join(f"  {d.path}:{d.line}: {d.text[:80]} ({d.date})" for d in bad))


def test_every_declared_fixed_date_still_occurs() -> None:
    """A stale entry would quietly allow the date to come back for another reason."""
    seen = {(d.path, d.date) for d in tree_literals()}
    stale = sorted((path, date) for path, entry in FIXED.items() for date in entry.dates if (path, date) not in seen)
    assert not stale, f"FIXED entries no longer in the tree (remove them): {stale}"
    assert all(entry.reason for entry in FIXED.values())


@pytest.mark.parametrize(("source", "date"), [
    ('scan = {"scanned_at": "2026-11-25T10:00:00Z", "action": "pack"}', "2026-11-25"),
    ('q = f"SELECT * FROM m WHERE t > toDateTime(\'2026-01-01 00:00:00\') AND k = {k}"', "2026-01-01"),
    ("T0 = 1_764_000_000_000_000", "2025-11-24"),
    ("AT_MS = 1764000000123", "2025-11-24"),
    ("AT_S = 1764000000", "2025-11-24"),
    ("when = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)", "2026-03-02"),
    ("expiry = date(2027, 1, 31)", "2027-01-31"),
])
def test_the_guard_finds_a_wall_clock_date(source: str, date: str) -> None:
    (found,) = date_literals("tests/x.py", source)
    assert found.date == date and aging([found], FIXED) == [found]


@pytest.mark.parametrize("source", [
    '"""Replays what happened on 2026-11-25."""\nx = 1',
    "x = 1  # 2026-01-01T00:00:00Z in microseconds",
    "LIMIT = 1_000_000_000\nBIG = 2_000_000_000_000",
    "PORT = 9092\nWINDOW_US = 5_000_000\nEPC = 0x3074257BF7194E4000001A85",
    'name = "batch-2026"\nversion = "3.10.12"',
    'at = "2026-11-25T10:00:00Z"  # fixed-date: the upload is refused before its scans are read',
])
def test_the_guard_leaves_out_what_is_no_wall_clock_date(source: str) -> None:
    assert date_literals("tests/x.py", source) == []
