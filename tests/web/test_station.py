"""The scanning station in a real browser: scans typed as a keyboard wedge types them, checked at
once, queued through an outage of the service, and each stored on Kafka exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
from playwright.sync_api import Page, expect

from tagtrail.kafka import KafkaConnection
from tagtrail.wire import Codec
from tests.scans.barcodes import gtin14, wrong_check_digit
from tests.scans.conftest import read_topic
from tests.web.conftest import GS_SUBSTITUTE, StationService, save_screenshot, sign_in

pytestmark = pytest.mark.kafka

GTIN = gtin14("0950600013435")
S = GS_SUBSTITUTE


def scan(page: Page, text: str, end: str = "Enter") -> None:
    """A keyboard-wedge scanner: the characters, then its terminator key."""
    page.keyboard.type(text)
    page.keyboard.press(end)


def newest(page: Page):
    return page.locator("#scans li").first


def test_scans_are_checked_at_once_and_reach_kafka_exactly_once_across_an_outage(
        page: Page, station: StationService, kafka: KafkaConnection, tmp_path: Path) -> None:
    page.goto(station.url + "/")
    sign_in(page)
    page.click("#actions button[data-action=receive]")
    expect(page.locator("#location-input")).to_be_focused()
    scan(page, "pack-1")
    expect(page.locator("#scan-input")).to_be_focused()

    online = [
        (f"]d201{GTIN}1727013110LOT1{S}21SER-1", "Enter"),  # AIM prefix, expiry, lot, GS sent as '~', serial
        (f"(01){GTIN}(21)SER-2", "Enter"),                 # human readable
        (f"01{GTIN}21SER-3", "Tab"),                        # a wedge that ends with Tab
    ]
    for text, end in online:
        scan(page, text, end)
        expect(newest(page)).to_have_attribute("data-check", "parsed")
    first = page.locator("#scans li").nth(2)
    expect(first).to_contain_text(f"GTIN {GTIN}")
    expect(first).to_contain_text("serial SER-1")
    expect(first).to_contain_text("lot LOT1")
    expect(first).to_contain_text("expiry 2027-01-31")
    expect(first).to_contain_text("receive @ pack-1")

    bad = f"01{wrong_check_digit(GTIN)}21SER-4"
    scan(page, bad)
    expect(newest(page)).to_have_attribute("data-check", "rejected")
    expect(newest(page)).to_contain_text("bad_check_digit")
    expect(page.locator("#n-accepted")).to_have_text("3")
    expect(page.locator("#n-rejected")).to_have_text("1")

    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # the offline app shell is cached
    station.stop()  # the handheld walks out of Wi-Fi range
    offline = [f"01{GTIN}21SER-{n}" for n in (5, 6, 7)]
    page.click("#actions button[data-action=putaway]")
    for text in offline:
        page.locator("#scan-input").focus()
        scan(page, text)
        expect(newest(page)).to_have_attribute("data-check", "not_validated")
    expect(newest(page)).to_contain_text("not validated")
    expect(page.locator("#n-queued")).to_have_text("3")
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline")

    page.reload()  # offline: the page comes from its service worker, the queue from IndexedDB
    expect(page.locator("#n-queued")).to_have_text("3")
    expect(page.locator("#scans li")).to_have_count(7)

    station.start()  # back in range, same address: the page retries on its own
    expect(page.locator("#n-accepted")).to_have_text("6", timeout=30_000)
    expect(page.locator("#n-queued")).to_have_text("0")
    expect(page.locator("#n-sent")).to_have_text("0")
    expect(page.locator("#scans li[data-state=accepted]")).to_have_count(6)
    save_screenshot(page, tmp_path, "station.png")

    scans = [Codec("Scan").decode(m.value()) for m in read_topic(kafka, kafka.topics.scans, expect=6)]
    sent = [text for text, _ in online] + offline
    assert Counter(s.raw_data for s in scans) == Counter(sent), "every scan on Kafka exactly once"
    assert {s.action for s in scans if s.raw_data in offline} == {"putaway"}
    assert {s.location for s in scans} == {"pack-station-1"}, "the scanned read point placed every scan"
    first_scan = next(s for s in scans if s.serial == "SER-1")
    assert (first_scan.lot, str(first_scan.expiry)) == ("LOT1", "2027-01-31")
    letters = [Codec("DeadLetter").decode(m.value()) for m in read_topic(kafka, kafka.topics.dead_letters, expect=1)]
    assert [(d.reason, d.payload.count(b"SER-4")) for d in letters] == [("bad_check_digit", 1)]
