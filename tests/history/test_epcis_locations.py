"""EPCIS export, where: GS1 SGLNs (or Digital Link) for readPoint/bizLocation, location master data in
the header, eventTimeZoneOffset from the site's time zone per event (DST-correct); schema-valid."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import yaml
from structlog.testing import capture_logs

from tagtrail.config import load_site
from tagtrail.history.epcis import export_epcis
from tagtrail.history.migrations import migrate
from tests.history.conftest import store, store_for_cli
from tests.history.scenario import HOUR, T0, item_key, mv, warehouse_day
from tests.history.test_cli import tagtrail
from tests.history.test_epcis import epcis_schema, validate  # noqa: F401 (the fixture)
from tests.history.test_event_hash import reference_hashes

REPO = Path(__file__).resolve().parents[2]
SGLN = "urn:epc:id:sgln:0614141.00001."
DAY = 24 * HOUR


def example_site():
    return load_site(REPO / "deploy" / "site.example.yaml")  # America/New_York, company prefix 0614141


def summer_packing() -> list:
    """Item 1 packed half a year after the winter day: New York is on daylight saving time then."""
    return [mv(8, 1, T0 + 181 * DAY, "pick-face-1", "pack-station-1", step="packing", disp="in_progress", rp="pack-1")]


def test_places_are_sglns_with_master_data_and_the_site_offset(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, warehouse_day() + summer_packing())
    doc = export_epcis(clickhouse, item_key(1), site=example_site())
    validate(doc, epcis_schema)
    events = doc["epcisBody"]["eventList"]
    assert [(e["readPoint"]["id"], e["bizLocation"]["id"]) for e in events] == [
        (SGLN + "door-1-in", SGLN + "dock-1"), (SGLN + "aisle-a", SGLN + "storage-a"),
        (SGLN + "pick-1-rp", SGLN + "pick-1"), (SGLN + "pack-1-rp", SGLN + "pack-1")]
    # winter events at UTC-5, the summer one at UTC-4: the offset is the zone's at each event's own time
    assert [e["eventTimeZoneOffset"] for e in events] == ["-05:00", "-05:00", "-05:00", "-04:00"]
    assert all(e["eventTime"].endswith("Z") for e in events)  # eventTime itself stays UTC
    (locations, read_points) = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    assert locations["type"] == "urn:epcglobal:epcis:vtype:BusinessLocation"
    assert read_points["type"] == "urn:epcglobal:epcis:vtype:ReadPoint"
    assert [e["id"] for e in locations["vocabularyElementList"]] == sorted(SGLN + x for x in ("dock-1", "storage-a", "pick-1", "pack-1"))
    storage = next(e for e in locations["vocabularyElementList"] if e["id"] == SGLN + "storage-a")
    assert {a["id"]: a["attribute"] for a in storage["attributes"]} == {
        "urn:epcglobal:cbv:mda#name": "Storage aisle A", "urn:epcglobal:cbv:mda#streetAddressOne": "100 Example Way",
        "urn:epcglobal:cbv:mda#city": "Lawrenceville", "urn:epcglobal:cbv:mda#state": "NJ",
        "urn:epcglobal:cbv:mda#postalCode": "08648", "urn:epcglobal:cbv:mda#countryCode": "US",
        "urn:tagtrail:epcis:zone": "storage"}
    assert {e["id"] for e in read_points["vocabularyElementList"]} == {e["readPoint"]["id"] for e in events}


def test_digital_link_on_request(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, warehouse_day())
    doc = export_epcis(clickhouse, item_key(1), site=example_site(), digital_link=True)
    validate(doc, epcis_schema)
    event = doc["epcisBody"]["eventList"][1]
    assert event["readPoint"] == {"id": "https://id.gs1.org/414/0614141000012/254/aisle-a"}
    assert event["bizLocation"] == {"id": "https://id.gs1.org/414/0614141000012/254/storage-a"}
    (locations, _) = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    assert all(e["id"].startswith("https://id.gs1.org/414/0614141000012/254/") for e in locations["vocabularyElementList"])


def test_places_without_gs1_ids_keep_site_uris_and_say_so(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, warehouse_day())
    with capture_logs() as logs:
        bare = export_epcis(clickhouse, item_key(1))
    validate(bare, epcis_schema)
    assert "epcisHeader" not in bare
    assert bare["epcisBody"]["eventList"][1]["readPoint"] == {"id": "urn:tagtrail:readpoint:aisle-a-storage"}
    assert bare["epcisBody"]["eventList"][1]["eventTimeZoneOffset"] == "+00:00"
    assert {(e["kind"], e["id"]) for e in logs if e["event"] == "epcis_location_not_gs1"} >= {
        ("readpoint", "aisle-a-storage"), ("location", "storage-a")}
    site = example_site()  # the storage read point lost its SGLN (e.g. removed from the site file)
    site = dataclasses.replace(site, read_points=tuple(
        dataclasses.replace(rp, gln=None, sgln_extension=None) if rp.id == "aisle-a-storage" else rp for rp in site.read_points))
    with capture_logs() as logs:
        doc = export_epcis(clickhouse, item_key(1), site=site)
    validate(doc, epcis_schema)
    event = doc["epcisBody"]["eventList"][1]
    assert event["readPoint"] == {"id": "urn:tagtrail:readpoint:aisle-a-storage"}
    assert event["bizLocation"] == {"id": SGLN + "storage-a"}
    assert [(e["kind"], e["id"]) for e in logs if e["event"] == "epcis_location_not_gs1"] == [("readpoint", "aisle-a-storage")]
    (_, read_points) = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
    assert "urn:tagtrail:readpoint:aisle-a-storage" not in {e["id"] for e in read_points["vocabularyElementList"]}


def test_reference_hash_covers_the_gs1_places_and_offset(clickhouse):
    migrate(clickhouse)
    store(clickhouse, warehouse_day() + summer_packing())
    doc = export_epcis(clickhouse, item_key(1), site=example_site())
    bare = export_epcis(clickhouse, item_key(1))
    ids = [e["eventID"] for e in doc["epcisBody"]["eventList"]]
    assert ids == reference_hashes(doc)
    assert set(ids).isdisjoint(e["eventID"] for e in bare["epcisBody"]["eventList"])  # the places are hashed


def test_cli_epcis_takes_the_site_and_digital_link(clickhouse_settings, tmp_path):
    text = yaml.safe_load((REPO / "deploy" / "site.example.yaml").read_text())
    text["clickhouse"] = {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database}
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump(text))
    assert tagtrail("migrate", "--site", str(site)).returncode == 0
    store_for_cli(clickhouse_settings, warehouse_day())
    sgln = tagtrail("epcis", "urn:epc:id:sgtin:0614141.012345.1", "--site", str(site))
    assert sgln.returncode == 0, sgln.stderr
    assert json.loads(sgln.stdout)["epcisBody"]["eventList"][1]["readPoint"] == {"id": SGLN + "aisle-a"}
    link = tagtrail("epcis", "urn:epc:id:sgtin:0614141.012345.1", "--site", str(site), "--digital-link")
    assert link.returncode == 0, link.stderr
    event = json.loads(link.stdout)["epcisBody"]["eventList"][1]
    assert event["bizLocation"] == {"id": "https://id.gs1.org/414/0614141000012/254/storage-a"}
