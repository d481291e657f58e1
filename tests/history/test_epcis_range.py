"""EPCIS export by time range and location: the events in range across items, in time order, with the
eventIDs the one-item export gives them; streamed (the document is written as the events come)."""

from __future__ import annotations

import datetime as dt
import io
import json
import tracemalloc
from dataclasses import dataclass
from typing import ClassVar

import yaml
from lxml import etree

from tagtrail.history.epcis import export_epcis, iter_events, site_master_data, write_epcis_json
from tagtrail.history.epcis_places import EpcisPlaces
from tagtrail.history.event_versions import ITEM_EPC_URIS, PAGE_END, PAGE_VERSIONS
from tagtrail.history.migrations import migrate
from tagtrail.history.queries import ANY_TRANSACTIONS
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


class ChunkedHistory:
    """A client whose event_log is `size` single-version events made up page by page, as ClickHouse would
    serve them: it never holds more than the page asked for."""

    COLUMNS: ClassVar[list[str]] = ["event_id", "event_time", "recorded_at", "retracted", "item_key", "epc_uri", "action", "biz_step",
               "disposition", "read_point", "to_location", "from_location", "movement_type", "anomaly"]

    def __init__(self, size: int) -> None:
        self.size = size
        self.pages = 0

    def query(self, sql: str, parameters: dict) -> Result:
        if sql == ITEM_EPC_URIS.sql:
            return Result(["item_key", "epc_uri"], [])
        if sql == ANY_TRANSACTIONS.sql:  # no shipment or receipt recorded: no context query per batch
            return Result(["any"], [(False,)])
        start = int(parameters["after_id"][3:]) + 1 if parameters["after_id"] else 0
        if sql == PAGE_END.sql:
            self.pages += 1
            ends = range(start, min(start + parameters["limit"], self.size))
            return Result(["event_time", "event_id", "item_key"], [(at(T0 + n * 1000), f"ev-{n:07d}", f"01/{GTIN}/21/{n}") for n in ends])
        assert sql == PAGE_VERSIONS.sql
        rows = []
        for n in range(start, int(parameters["last_id"][3:]) + 1):
            time = at(T0 + n * 1000)
            rows.append((f"ev-{n:07d}", time, time, 0, f"01/{GTIN}/21/{n}", None, "OBSERVE", "storing",
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
