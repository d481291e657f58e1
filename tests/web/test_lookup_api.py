"""The JSON API behind the pages: validation agrees with uploads, lookups answer from ClickHouse,
and a ClickHouse that cannot answer costs the lookups (503 with the reason), never the uploads."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings, SiteConfig
from tagtrail.history.site_dimension import write_site_dimension
from tagtrail.kafka import KafkaConnection
from tests.scans.barcodes import GS, gtin14, wrong_check_digit
from tests.services import free_port
from tests.web.conftest import DEVICE, GS_SUBSTITUTE, TOKEN, StationService
from tests.web.history_data import GTIN as HISTORY_GTIN
from tests.web.history_data import Move, epc_uri, item_key, store_moves

pytestmark = pytest.mark.kafka

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GTIN = gtin14("0950600013435")
NOW = "2026-01-05T10:00:00+00:00"


def upload(url: str, scans: list[dict]) -> dict:
    body = {"device_id": DEVICE, "upload_id": f"u-{uuid.uuid4().hex}", "scans": scans}
    response = httpx.post(f"{url}/v1/scans", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()


def test_validation_gives_the_answer_an_upload_gives(station: StationService) -> None:
    raws = [
        f"]d201{GTIN}1727013110LOT9{GS_SUBSTITUTE}21A1",  # the keyboard wedge's GS substitute
        f"]d201{GTIN}1727013110LOT9{GS}21A1",             # a real GS
        f"01{wrong_check_digit(GTIN)}21A1",
        f"01{GTIN}",                                      # GTIN without serial
        "",
    ]
    scans = [{"raw_data": raw, "action": "pick", "scanned_at": NOW} for raw in raws]
    checks = [httpx.post(f"{station.url}/v1/validate", json=s, headers=AUTH, timeout=10) for s in scans]
    assert all(c.status_code == 200 for c in checks)
    checks = [c.json() for c in checks]
    verdict = upload(station.url, scans)
    assert [(c["status"], c.get("reason")) for c in checks] == [
        ("parsed" if v["status"] == "accepted" else "rejected", v.get("reason")) for v in verdict["scans"]]
    assert [c.get("reason") for c in checks[2:]] == ["bad_check_digit", "no_serial", "empty"]
    assert checks[0] == {**checks[1]} and {k: checks[0][k] for k in ("gtin", "serial", "lot", "expiry", "item_key")} == {
        "gtin": GTIN, "serial": "A1", "lot": "LOT9", "expiry": "2027-01-31", "item_key": f"01/{GTIN}/21/A1"}
    unscanned = httpx.post(f"{station.url}/v1/validate", json={"raw_data": f"01{GTIN}21A1", "action": "pick"}, headers=AUTH)
    assert unscanned.json()["status"] == "parsed", "without scanned_at a scan is checked as made now"


def test_every_station_endpoint_needs_the_device_token_and_is_in_the_openapi_spec(station: StationService) -> None:
    for method, path in [("GET", "/v1/station"), ("POST", "/v1/validate"), ("GET", f"/v1/items/{item_key('1')}"),
                         ("GET", "/v1/locations/pick-face-1/inventory")]:
        answer = httpx.request(method, station.url + path, json={"raw_data": "x"}, headers={"Authorization": "Bearer nope"})
        assert answer.status_code == 401, path
    me = httpx.get(f"{station.url}/v1/station", headers=AUTH).json()
    assert (me["device_id"], me["gs_substitute"], me["home_location"]) == (DEVICE, GS_SUBSTITUTE, "dock-door-1")
    paths = httpx.get(f"{station.url}/openapi.json").json()["paths"]
    assert {"/v1/validate", "/v1/station", "/v1/items/{key}", "/v1/locations/{location}/inventory"} <= set(paths)
    pages = [httpx.get(station.url + p) for p in ("/", "/items", "/web/station.js", "/sw.js")]
    assert [p.status_code for p in pages] == [200] * 4


def test_lookups_read_clickhouse(station: StationService, clickhouse_settings: ClickHouseSettings) -> None:
    client = connect_clickhouse(clickhouse_settings)
    try:
        store_moves(client, [Move("e1", "5", 0, None, "pack-station-1", "packing", "in_progress", "pack-1")])
    finally:
        client.close()
    names = [epc_uri("5"), item_key("5"), f"(01){HISTORY_GTIN}(21)5", f"]d201{HISTORY_GTIN}215",
             f"https://id.gs1.org/01/{HISTORY_GTIN}/21/5"]
    for name in names:
        item = httpx.get(f"{station.url}/v1/items/{quote(name, safe='')}", headers=AUTH)
        assert item.status_code == 200, name
        body = item.json()
        assert (body["identity"]["item_key"], body["current"]["location"], [h["event_id"] for h in body["history"]]) == (
            item_key("5"), "pack-station-1", ["e1"]), name
    by_read_point = httpx.get(f"{station.url}/v1/locations/pack-1/inventory", headers=AUTH).json()
    assert (by_read_point["location"], [i["item_key"] for i in by_read_point["items"]]) == ("pack-station-1", [item_key("5")])
    assert httpx.get(f"{station.url}/v1/items/{item_key('6')}", headers=AUTH).status_code == 404
    nonsense = httpx.get(f"{station.url}/v1/items/not-an-item", headers=AUTH)
    assert (nonsense.status_code, nonsense.json()["error"]) == (400, "unknown_identity")


@pytest.mark.parametrize("dsn, reason", [
    ("http://127.0.0.1:{port}", "unreachable"),
    ("chdb://{tmp}/chdb", "tagtrail run"),
])
def test_without_clickhouse_lookups_say_why_and_uploads_keep_working(
        dsn: str, reason: str, station_site: SiteConfig, kafka: KafkaConnection, tmp_path: Path) -> None:
    settings = ClickHouseSettings(dsn=dsn.format(port=free_port(), tmp=tmp_path), database="tagtrail")
    service = StationService(replace(station_site, clickhouse=settings), kafka)
    service.start()
    try:
        answer = httpx.get(f"{service.url}/v1/items/{item_key('1')}", headers=AUTH, timeout=30)
        assert answer.status_code == 503 and reason in answer.json()["detail"]
        inventory = httpx.get(f"{service.url}/v1/locations/pick-face-1/inventory", headers=AUTH, timeout=30)
        assert inventory.status_code == 503
        verdict = upload(service.url, [{"raw_data": f"01{GTIN}21Z9", "action": "count", "scanned_at": NOW}])
        assert verdict["accepted"] == 1
    finally:
        service.stop()
    assert not (tmp_path / "chdb").exists(), "the scan service never opens the sink's chdb folder itself"


def test_in_one_process_the_lookup_reads_the_embedded_chdb_it_is_handed(
        station_site: SiteConfig, kafka: KafkaConnection, tmp_path: Path) -> None:
    settings = ClickHouseSettings(dsn=f"chdb://{tmp_path / 'chdb'}", database="tagtrail")
    client = connect_clickhouse(settings)  # as `tagtrail run` opens it for the sink
    try:
        store_moves(client, [Move("e9", "9", 0, None, "storage-b", "storing", "sellable_not_accessible", "aisle-b")])
        service = StationService(replace(station_site, clickhouse=settings), kafka, clickhouse_client=client)
        service.start()
        try:
            answer = httpx.get(f"{service.url}/v1/items/{item_key('9')}", headers=AUTH, timeout=30)
        finally:
            service.stop()
        assert (answer.status_code, answer.json()["current"]["location"]) == (200, "storage-b")
        assert client.query("SELECT count() FROM movements").result_rows == [(1,)], "the handed-in client stays open"
    finally:
        client.close()


def test_lookups_show_zones_and_the_door_a_shipped_item_left_by(
        station_site: SiteConfig, kafka: KafkaConnection, clickhouse_settings: ClickHouseSettings) -> None:
    zones = {"pack-1": "packing", "door-1-inner": "dock"}
    site = replace(station_site, read_points=tuple(replace(rp, zone=zones.get(rp.id, rp.zone)) for rp in station_site.read_points))
    client = connect_clickhouse(clickhouse_settings)
    try:
        store_moves(client, [Move("z1", "5", 0, None, "pack-station-1", "packing", "in_progress", "pack-1"),
                             Move("z2", "6", 0, None, "pack-station-1", "packing", "in_progress", "pack-1"),
                             Move("z3", "6", 30, "pack-station-1", "dock-door-1", "shipping", "in_transit", "door-1-inner")])
        write_site_dimension(client, site)  # what the sink does at start
    finally:
        client.close()
    service = StationService(site, kafka)
    service.start()
    try:
        packed = httpx.get(f"{service.url}/v1/items/{item_key('5')}", headers=AUTH, timeout=30).json()
        assert (packed["current"]["location"], packed["current"]["zone"], packed["current"]["shipped_via"]) == \
            ("pack-station-1", "packing", None)
        assert [h["zone"] for h in packed["history"]] == ["packing"]
        shipped = httpx.get(f"{service.url}/v1/items/{item_key('6')}", headers=AUTH, timeout=30).json()
        assert (shipped["current"]["location"], shipped["current"]["shipped_via"]) == (None, "dock-door-1")
        assert [h["zone"] for h in shipped["history"]] == ["packing", "dock"]
        packing = httpx.get(f"{service.url}/v1/locations/pack-1/inventory", headers=AUTH, timeout=30).json()
        assert (packing["zone"], packing["count"], [i["zone"] for i in packing["items"]]) == ("packing", 1, ["packing"])
        door = httpx.get(f"{service.url}/v1/locations/dock-door-1/inventory", headers=AUTH, timeout=30).json()
        assert (door["zone"], door["count"]) == ("dock", 0)  # a shipped item is not stock at the door
    finally:
        service.stop()
