"""EPCIS export by time range and location: the events in range across items, in time order, with the
eventIDs the one-item export gives them; streamed (the document is written as the events come)."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import yaml
from lxml import etree

from tagtrail.history.epcis import (
    export_epcis,
    item_uri,
    iter_events,
    site_master_data,
    streamed_lot_master_data,
    write_epcis_json,
)
from tagtrail.history.epcis_lots import instance_vocabulary
from tagtrail.history.epcis_places import EpcisPlaces
from tagtrail.history.event_versions import (
    ITEM_EPC_URIS,
    ITEM_VERSIONS,
    PAGE_END,
    PAGE_VERSIONS,
    version_groups_in_range,
)
from tagtrail.history.migrations import migrate
from tagtrail.history.queries import (
    ANY_TRANSACTIONS,
    LATEST,
    LOTS_IN_RANGE,
    LOTS_PAGE_END_IN_RANGE,
    _utc,
    lots_in_range,
)
from tagtrail_cli.commands.items import with_progress
from tests.history.conftest import store, store_for_cli
from tests.history.scenario import GTIN, HOUR, T0, item_key, mv, warehouse_day
from tests.history.test_cli import tagtrail
from tests.history.test_epcis import epcis_schema, validate  # noqa: F401 (the fixture)
from tests.history.test_epcis_locations import SGLN, example_site


def at(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC)


def a_day_with_a_barcode_scan() -> list:
    """The warehouse day, plus item 1 scanned by barcode later (no EPC URI on that movement)."""
    return warehouse_day() + [mv(8, 1, T0 + 5 * HOUR, "pick-face-1", "storage-a", step="storing",
                                 disp="sellable_not_accessible", rp="aisle-a-storage", epc=False)]


def streamed(header, events) -> dict:
    out = io.StringIO()
    write_epcis_json(out, header, events)
    return json.loads(out.getvalue())


def one_item_events(client, item: int, **site) -> list[dict]:
    return export_epcis(client, item_key(item), **site)["epcisBody"]["eventList"]


def test_range_export_holds_the_events_in_range_across_items_in_time_order(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, a_day_with_a_barcode_scan())
    item = {n: one_item_events(clickhouse, n) for n in (1, 2, 3)}
    # [T0 + 30 min, T0 + 4 h): ev-2 .. ev-6; ev-1 is before, ev-7 (the exit at 4 h) is the open end
    doc = streamed(None, iter_events(clickhouse, since=at(T0 + HOUR // 2), until=at(T0 + 4 * HOUR), page_size=2))
    validate(doc, epcis_schema)
    events = doc["epcisBody"]["eventList"]
    expected = [item[2][0], item[3][0], item[1][1], item[2][1], item[1][2]]  # ev-3 before ev-4 at the same time
    assert [e["eventID"] for e in events] == [e["eventID"] for e in expected]
    assert events == expected
    assert [e["eventTime"] for e in events] == sorted(e["eventTime"] for e in events)
    # a barcode scan of an item RFID named before: the item's EPC URI, as in its own export
    (late,) = streamed(None, iter_events(clickhouse, since=at(T0 + 5 * HOUR)))["epcisBody"]["eventList"]
    assert late == item[1][-1] and late["epcList"] == ["urn:epc:id:sgtin:0614141.012345.1"]
    assert streamed(None, iter_events(clickhouse, since=at(T0 + 6 * HOUR)))["epcisBody"]["eventList"] == []


def test_location_filter_keeps_the_events_at_that_place_and_a_door_keeps_its_exit(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, warehouse_day())
    storage = streamed(None, iter_events(clickhouse, location="storage-a"))["epcisBody"]["eventList"]
    assert storage == [one_item_events(clickhouse, 1)[1], one_item_events(clickhouse, 2)[1]]
    door = streamed(None, iter_events(clickhouse, location="dock-door-2", until=at(T0 + 5 * HOUR)))
    validate(door, epcis_schema)
    assert door["epcisBody"]["eventList"] == one_item_events(clickhouse, 3)  # received there, shipped from there
    assert door["epcisBody"]["eventList"][-1]["bizStep"] == "shipping"


def test_range_export_header_describes_all_site_places_and_ids_match_the_item_export(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, warehouse_day())
    site = example_site()
    places = EpcisPlaces.of(site)
    header = site_master_data(places)
    doc = streamed(header, iter_events(clickhouse, since=at(T0), until=at(T0 + HOUR), places=places))
    validate(doc, epcis_schema)
    assert doc["epcisBody"]["eventList"] == [one_item_events(clickhouse, 1, site=site)[0],
                                            one_item_events(clickhouse, 2, site=site)[0]]
    (locations, read_points) = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    # every place the site gives an SGLN, also those no event in the range uses (the header comes first)
    assert {e["id"] for e in locations["vocabularyElementList"]} == {s.epc_uri() for s in places.locations.values()}
    assert {e["id"] for e in read_points["vocabularyElementList"]} == {s.epc_uri() for s in places.read_points.values()}
    assert SGLN + "pack-1" in {e["id"] for e in locations["vocabularyElementList"]}


def test_cli_range_export_to_a_file_and_clear_exits(clickhouse_settings, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"clickhouse": {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database}}))
    assert tagtrail("migrate", "--site", str(site)).returncode == 0
    store_for_cli(clickhouse_settings, warehouse_day())
    out = tmp_path / "range.json"
    naive = at(T0 + HOUR // 2).replace(tzinfo=None).isoformat()  # no offset: UTC
    done = tagtrail("epcis", "--since", naive, "--until", at(T0 + 4 * HOUR).isoformat(), "--site", str(site), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    ids = [e["eventID"] for e in json.loads(out.read_text())["epcisBody"]["eventList"]]
    assert len(ids) == 5
    for form in ("xml", "xml-1.2"):  # the same events and eventIDs in either XML version
        xml = tagtrail("epcis", "--since", naive, "--until", at(T0 + 4 * HOUR).isoformat(), "--site", str(site), "--format", form)
        assert xml.returncode == 0, xml.stderr
        assert [e.text for e in etree.fromstring(xml.stdout.encode()).iter("{*}eventID", "eventID")] == ids

    later = at(T0 + 10 * HOUR).isoformat()
    empty = tagtrail("epcis", "--since", later, "--site", str(site), "--out", str(tmp_path / "empty.json"))
    assert empty.returncode == 1 and f"no movements recorded since {later}" in empty.stderr
    assert not (tmp_path / "empty.json").exists() and not list(tmp_path.glob("empty.json*"))
    nowhere = tagtrail("epcis", "--location", "no-such-place", "--site", str(site))
    assert nowhere.returncode == 1 and "no movements recorded at no-such-place" in nowhere.stderr and nowhere.stdout == ""
    unknown = tagtrail("epcis", "01/00614141123452/21/999", "--site", str(site), "--out", str(tmp_path / "unknown.json"))
    assert unknown.returncode == 1 and "no movements recorded for 01/00614141123452/21/999" in unknown.stderr
    assert not (tmp_path / "unknown.json").exists()

    both = tagtrail("epcis", "01/00614141123452/21/1", "--since", naive, "--site", str(site))
    assert both.returncode == 2 and "not both" in both.stderr
    neither = tagtrail("epcis", "--site", str(site))
    assert neither.returncode == 2 and "give an item, or a range" in neither.stderr
    bad = tagtrail("epcis", "--since", "yesterday", "--site", str(site))
    assert bad.returncode == 2 and "'yesterday' is not an ISO 8601 time" in bad.stderr


@dataclass
class Result:
    column_names: list[str]
    result_rows: list[tuple]


def serial_key(n: int) -> str:
    return f"01/{GTIN}/21/{n:07d}"  # zero-padded: key order, element id order and number order agree


class ChunkedHistory:
    """A client whose event_log is `size` single-version events made up page by page, as ClickHouse would
    serve them: it never holds more than the page asked for. Each item has a lot; the lots of a range come
    a page of items at a time (queries.lots_in_range), as ClickHouse answers those queries."""

    COLUMNS: ClassVar[list[str]] = ["event_id", "event_time", "recorded_at", "retracted", "item_key", "epc_uri", "action", "biz_step",
               "disposition", "read_point", "to_location", "from_location", "movement_type", "anomaly"]
    LOT_COLUMNS: ClassVar[list[str]] = ["item_key", "epc_uri", "lot", "expiry"]

    def __init__(self, size: int) -> None:
        self.size = size
        self.pages = 0
        self.lot_pages = 0

    def lot_rows(self, start: int = 0, end: int | None = None) -> Iterator[tuple]:
        expiry = dt.date.fromtimestamp(T0 / 1e6) + dt.timedelta(days=730)
        for n in range(start, self.size if end is None else end):
            yield (serial_key(n), None, f"L{n // 1000}", expiry)

    @staticmethod
    def after(key: str) -> int:
        """The number of the first item after `key` ('' is before all)."""
        return int(key.rsplit("/", 1)[1]) + 1 if key else 0

    def close(self) -> None:
        pass

    def query(self, sql: str, parameters: dict) -> Result:
        if sql == ITEM_EPC_URIS.sql:
            return Result(["item_key", "epc_uri"], [])
        if sql == ANY_TRANSACTIONS.sql:  # no shipment or receipt recorded: no context query per batch
            return Result(["any"], [(False,)])
        if sql == LOTS_PAGE_END_IN_RANGE.sql:
            start = self.after(parameters["after_key"])
            ends = range(start, min(start + parameters["limit"], self.size))
            return Result(["last_key", "items"], [(serial_key(ends[-1]) if ends else "", len(ends))])
        if sql == LOTS_IN_RANGE.sql:
            self.lot_pages += 1
            end = self.after(parameters["last_key"])
            return Result(self.LOT_COLUMNS, list(self.lot_rows(self.after(parameters["after_key"]), end)))
        start = int(parameters["after_id"][3:]) + 1 if parameters["after_id"] else 0
        if sql == PAGE_END.sql:
            self.pages += 1
            ends = range(start, min(start + parameters["limit"], self.size))
            return Result(["event_time", "event_id", "item_key"], [(at(T0 + n * 1000), f"ev-{n:07d}", serial_key(n)) for n in ends])
        assert sql == PAGE_VERSIONS.sql
        rows = []
        for n in range(start, int(parameters["last_id"][3:]) + 1):
            time = at(T0 + n * 1000)
            rows.append((f"ev-{n:07d}", time, time, 0, serial_key(n), None, "OBSERVE", "storing",
                         "sellable_not_accessible", "aisle-a-storage", "storage-a", "dock-door-1", "moved", None))
        return Result(self.COLUMNS, rows)


class Discard(io.TextIOBase):
    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def test_streamed_export_does_not_hold_the_events():
    size, page = 50_000, 500
    source = ChunkedHistory(size)
    tracemalloc.start()
    try:
        written = write_epcis_json(Discard(), None, iter_events(source, since=at(T0), page_size=page))
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        held = list(iter_events(ChunkedHistory(size), since=at(T0), page_size=page))
        _, list_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == len(held) == size and source.pages == size // page + 1
    # the list of finished events is what a non-streaming export would hold; the stream holds about a page
    assert streaming_peak * 20 < list_peak, (streaming_peak, list_peak)


@pytest.mark.parametrize("form", ["json", "xml"])
def test_range_export_streams_the_header_lots_as_it_streams_the_events(monkeypatch, tmp_path, form):
    """`tagtrail epcis --since`: a range of many items holds neither its events nor its items' lots (the
    EPCInstance vocabulary, written in the header before any event) as a list; the header says the same."""
    from tagtrail.history import epcis, queries
    from tagtrail_cli.commands import items
    from tagtrail_cli.main import main

    size, page = 30_000, 250
    sources = iter([ChunkedHistory(page), source := ChunkedHistory(size)])
    monkeypatch.setattr(items, "open_clickhouse", lambda args: next(sources))
    monkeypatch.setattr(items, "PROGRESS_EVERY", size)
    monkeypatch.setattr(epcis, "iter_events", functools.partial(epcis.iter_events, page_size=page))
    monkeypatch.setattr(queries, "LOT_PAGE_ITEMS", page)
    out = tmp_path / f"range.{form}"
    assert main(["epcis", "--since", at(T0).isoformat(), "--format", form, "--out", str(out)]) == 0  # imports done
    tracemalloc.start()
    try:
        assert main(["epcis", "--since", at(T0).isoformat(), "--format", form, "--out", str(out)]) == 0
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        held = list(iter_events(ChunkedHistory(size), since=at(T0), page_size=page))
        _, list_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(held) == size and source.pages == size // page + 1
    # the list of finished events is what a non-streaming export would hold; the stream holds about a page
    assert streaming_peak * 20 < list_peak, (streaming_peak, list_peak)
    listed = instance_vocabulary([dict(zip(ChunkedHistory.LOT_COLUMNS, row)) for row in source.lot_rows()], item_uri)
    if form == "json":
        (lots,) = json.loads(out.read_text())["epcisHeader"]["epcisMasterData"]["vocabularyList"]
        assert lots == listed
    else:
        (lots,) = etree.parse(str(out)).iter("Vocabulary")
        assert lots.get("type") == listed["type"]
        assert [e.get("id") for e in lots.iter("VocabularyElement")] == [e["id"] for e in listed["vocabularyElementList"]]
        assert [a.text for a in lots.iter("attribute")] == [a["attribute"] for e in listed["vocabularyElementList"]
                                                            for a in e["attributes"]]
    assert len(listed["vocabularyElementList"]) == size and source.lot_pages == size // page


LOT_KEYS = {  # item key -> EPC URI its events name (None: none): every form item_uri names
    f"01/{GTIN}/21/7": "urn:epc:id:sgtin:0614141.012345.7",
    f"01/{GTIN}/21/a b/c%2F~é": None,  # a serial with '/', '%', a space and a non-ASCII letter
    f"01/{GTIN}/21/10": None,
    "00/106141412345678908": None,
    "8003/006141411234560ABC/1": None,
    "8004/0614141Ä-x_y.z": None,
    "414/0614141000012/254/dock/2": None,
    "epc/3034257BF400B7800004CB2F": None,
    "some reader's own key": None,
    f"01/{GTIN}": None,  # a class: no instance element
}


class QueryCounter:
    """The client, counting the queries run by name of the NamedQuery whose text they are."""

    def __init__(self, client: Any, *queries: Any) -> None:
        self.client, self.names, self.ran = client, {q.sql: q.name for q in queries}, []

    def query(self, sql: str, parameters: dict) -> Any:
        self.ran.append(self.names.get(sql))
        return self.client.query(sql, parameters=parameters)


def test_range_lots_come_a_page_of_items_at_a_time_in_item_key_order(clickhouse):
    """The engine groups the lots of the items it is asked for (embedded chdb in the exporting process), so a
    range's lots are asked for a page of items at a time, in item_key order; every item comes once, whatever
    the page size, named as its events name it."""
    migrate(clickhouse)
    for n, (key, epc_uri) in enumerate(LOT_KEYS.items()):
        clickhouse.command(
            "INSERT INTO event_log (event_id, item_key, scheme, epc_uri, movement_type, biz_step, disposition, direction,"
            " action, event_time, recorded_at, retracted, ingested_at) VALUES ({id:String}, {key:String}, 'sgtin',"
            " {uri:Nullable(String)}, 'moved', 'storing', 'sellable_not_accessible', 'none', 'OBSERVE',"
            " {t:DateTime64(6, 'UTC')}, {t:DateTime64(6, 'UTC')}, 0, {t:DateTime64(6, 'UTC')})",
            parameters={"id": f"ev-{n}", "key": key, "uri": epc_uri, "t": at(T0 + n * 1000)})
        clickhouse.command("INSERT INTO item_master (item_key, lot, expiry, source, recorded_at, event_id) VALUES "
                           "({key:String}, {lot:String}, NULL, 'import', {t:DateTime64(6, 'UTC')}, {id:String})",
                           parameters={"key": key, "lot": f"L{n}", "t": at(T0), "id": f"import/{n}"})
    instances = sorted(key for key in LOT_KEYS if key != f"01/{GTIN}")
    counted = QueryCounter(clickhouse, LOTS_PAGE_END_IN_RANGE, LOTS_IN_RANGE)
    rows = list(lots_in_range(counted, since=at(T0), page_items=2))
    assert [row["item_key"] for row in rows] == instances
    assert [row["lot"] for row in rows] == [f"L{list(LOT_KEYS).index(key)}" for key in instances]
    # the class is one of the range's items too: 10 items in pages of 2, then the page that finds none
    assert counted.ran == ["lots_page_end_in_range", "lots_in_range"] * 5 + ["lots_page_end_in_range"]
    assert list(lots_in_range(clickhouse, since=at(T0))) == rows
    assert [e["id"] for e in streamed_lot_master_data(rows).elements] == [item_uri(key, LOT_KEYS[key]) for key in instances]


class ReadCounter:
    """The client, counting the rows each query read (the ClickHouse server's query summary; embedded chdb's
    summary does not count the rows its reads skipped reliably, so there the plan is checked instead)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.server = type(client).__name__ == "HttpClient"
        self.read: list[tuple[str, int]] = []

    def query(self, sql: str, parameters: dict) -> Any:
        result = self.client.query(sql, parameters=parameters, settings={"wait_end_of_query": 1} if self.server else None)
        self.read.append((sql, int(result.summary["read_rows"])))
        return result

    def reads_from(self, sql: str, parameters: dict) -> list[str]:
        """The tables or projections the plan of `sql` reads (EXPLAIN's ReadFromMergeTree steps)."""
        plan = self.client.query("EXPLAIN " + sql, parameters=parameters).result_rows
        return [line[0].partition("ReadFromMergeTree ")[2] for line in plan if "ReadFromMergeTree" in line[0]]


def test_a_range_page_reads_about_a_page_and_an_item_reads_its_own_rows(clickhouse):
    """Migration 0009: a page of a range export reads about one page of rows of event_log, wherever it
    falls in its month (before it, each page re-read the month: an export grew quadratic), by the
    projection ordered by time; the per-item history still reads by the primary key."""
    migrate(clickhouse)
    size, page = 100_000, 10_000  # one month, pages of many granules
    clickhouse.command(
        f"INSERT INTO event_log (event_id, item_key, scheme, movement_type, biz_step, disposition, direction, action,"
        f" event_time, recorded_at, retracted, ingested_at) SELECT concat('ev-', leftPad(toString(number), 7, '0')),"
        f" concat('01/{GTIN}/21/', toString(number % 997)), 'sgtin', 'moved', 'storing', 'sellable_not_accessible',"
        f" 'none', 'OBSERVE', t, t, 0, t FROM (SELECT number, fromUnixTimestamp64Micro(toInt64({T0} + number * 1000000),"
        f" 'UTC') AS t FROM numbers({size}))")
    counted = ReadCounter(clickhouse)
    events = sum(1 for _ in version_groups_in_range(counted, since=at(T0), page_size=page))
    assert events == size
    pages = [(sql, rows) for sql, rows in counted.read if sql in (PAGE_END.sql, PAGE_VERSIONS.sql)]
    assert len(pages) == 2 * (size // page) + 1
    if counted.server:
        assert max(rows for _, rows in pages) <= 3 * page, pages  # a page and the blocks around it, not the month
    middle = {"since": _utc(at(T0)), "until": _utc(LATEST), "location": "", "after_time": _utc(at(T0 + size // 2 * 10**6)),
              "after_id": f"ev-{size // 2:07d}", "after_item": f"01/{GTIN}/21/{size // 2 % 997}", "limit": page}
    assert counted.reads_from(PAGE_END.sql, middle) == ["(event_log_by_time)"]
    last = {"last_time": middle["after_time"], "last_id": "ev-9999999", "last_item": ""}
    assert counted.reads_from(PAGE_VERSIONS.sql, {**middle, **last}) == ["(event_log_by_time)"]
    item = {"item_key": f"01/{GTIN}/21/5"}
    assert counted.reads_from(ITEM_VERSIONS.sql, item) == [f"({clickhouse.database}.event_log)"]
    counted.read.clear()
    counted.query(ITEM_VERSIONS.sql, item)
    if counted.server:
        assert counted.read[0][1] <= size // 10  # its granules, found by the primary key


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_export_reports_progress_on_stderr(monkeypatch):
    from tagtrail_cli.commands import items

    reported: list[dict] = []
    monkeypatch.setattr(items, "log", type("Log", (), {"info": lambda self, event, **kw: reported.append({"event": event, **kw})})())
    assert list(with_progress(iter(range(25)), every=10)) == list(range(25))
    assert reported == [{"event": "epcis_export_progress", "events": 10}, {"event": "epcis_export_progress", "events": 20}]
    terminal = Terminal()
    monkeypatch.setattr(items.sys, "stderr", terminal)
    list(with_progress(iter(range(25)), every=10))
    assert terminal.getvalue() == "tagtrail epcis: 10 events written\ntagtrail epcis: 20 events written\n"


def test_lot_rows_out_of_item_key_order_are_refused_naming_the_item():
    """Pages that overlapped would list an item twice in the header; the stream stops with the item named."""
    rows = [{"item_key": serial_key(n), "epc_uri": None, "lot": "L1", "expiry": None} for n in (1, 2, 2)]
    vocabulary = streamed_lot_master_data(iter(rows))
    with pytest.raises(ValueError, match=r"item '01/.*/21/0000002' came after '01/.*/21/0000002'"):
        list(vocabulary.elements)
