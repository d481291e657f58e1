"""The item lookup page in a real browser, reading a history stored in a real ClickHouse server."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
from playwright.sync_api import Page, expect

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings, ReadPoint, SiteConfig
from tagtrail.history.site_dimension import write_site_dimension
from tests.web.conftest import StationService, save_screenshot, sign_in
from tests.web.history_data import GTIN, Move, epc_uri, item_key, store_moves

pytestmark = pytest.mark.kafka

JOURNEY = [  # item 7: received, stored, moved to a pick face; item 8 went straight to the same pick face
    Move("ev-1", "7", 0, None, "dock-door-1", "receiving", "in_progress", "door-1-inner"),
    Move("ev-2", "7", 25, "dock-door-1", "storage-a", "storing", "sellable_not_accessible", "aisle-a"),
    Move("ev-3", "7", 190, "storage-a", "pick-face-1", "picking", "sellable_accessible", "pick-face-1"),
    Move("ev-4", "8", 60, None, "pick-face-1", "storing", "sellable_accessible", "pick-face-1"),
]


@pytest.fixture
def stored(clickhouse_settings: ClickHouseSettings) -> None:
    client = connect_clickhouse(clickhouse_settings)
    try:
        store_moves(client, JOURNEY)
    finally:
        client.close()


def test_an_item_found_by_any_of_its_names_shows_where_it_is_and_its_timeline(
        page: Page, station: StationService, stored: None, tmp_path: Path) -> None:
    page.goto(station.url + "/items")
    sign_in(page)
    page.fill("#search-input", epc_uri("7"))
    page.press("#search-input", "Enter")

    expect(page.locator("#item-key")).to_have_text(item_key("7"))
    expect(page.locator("#current-location")).to_have_text("pick-face-1")
    expect(page.locator("#current-state")).to_have_text("sellable_accessible")
    expect(page.locator("#current-since")).to_have_attribute("datetime", "2026-03-02T11:10:00Z")
    timeline = page.locator("#timeline li")
    expect(timeline).to_have_count(3)
    assert [timeline.nth(i).get_attribute("data-event-id") for i in range(3)] == ["ev-1", "ev-2", "ev-3"]
    expect(timeline.nth(1)).to_contain_text("dock-door-1 → storage-a")
    expect(timeline.nth(1)).to_contain_text("storing · sellable_not_accessible")
    save_screenshot(page, tmp_path, "items.png")

    # The same item from its barcode, typed by a scanner into the search box.
    page.fill("#search-input", "")
    page.locator("#search-input").focus()
    page.keyboard.type(f"]C101{GTIN}217")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{station.url}/items?q=%5DC101{GTIN}217")
    expect(page.locator("#timeline li")).to_have_count(3)

    page.click("#current-location a")  # what else is at that pick face?
    expect(page.locator("#inventory-title")).to_have_text("2 items at pick-face-1")
    expect(page.locator("#inventory-rows tr")).to_have_count(2)
    expect(page.locator("#inventory-rows")).to_contain_text(epc_uri("8"))


def test_an_item_never_seen_is_said_so(page: Page, station: StationService, stored: None) -> None:
    page.goto(station.url + "/items?q=" + item_key("999"))
    sign_in(page)
    expect(page.locator("#message")).to_have_text(f"never seen: {item_key('999')}")
    expect(page.locator("#item")).to_be_hidden()


def test_a_shipped_item_shows_the_door_it_left_by_and_locations_show_their_zone(
        page: Page, station: StationService, clickhouse_settings: ClickHouseSettings) -> None:
    client = connect_clickhouse(clickhouse_settings)
    try:
        store_moves(client, JOURNEY + [
            Move("ev-5", "9", 0, None, "dock-door-1", "receiving", "in_progress", "door-1-inner"),
            Move("ev-6", "9", 40, "dock-door-1", "dock-door-1", "shipping", "in_transit", "door-1-outer"),
        ])
        write_site_dimension(client, SiteConfig(read_points=(  # what the sink writes from the site file at start
            ReadPoint(id="door-1-inner", location="dock-door-1", kind="dock_door_inner", zone="dock", portal="door-1"),
            ReadPoint(id="door-1-outer", location="dock-door-1", kind="dock_door_outer", zone="dock", portal="door-1"),
            ReadPoint(id="pick-face-1", location="pick-face-1", kind="pick_face", zone="picking"),
        )))
    finally:
        client.close()
    page.goto(station.url + "/items?q=" + item_key("9"))
    sign_in(page)
    expect(page.locator("#current-shipped-via")).to_have_text("dock-door-1")
    expect(page.locator("#current-since")).to_have_attribute("datetime", "2026-03-02T08:40:00Z")
    expect(page.locator("#current-location")).to_have_count(0)  # it is at no location of the site
    expect(page.locator("#timeline li").nth(0)).to_contain_text("zone dock")

    page.fill("#search-input", item_key("7"))
    page.press("#search-input", "Enter")
    expect(page.locator("#current-location")).to_have_text("pick-face-1")
    expect(page.locator("#current-zone")).to_have_text("zone picking")
