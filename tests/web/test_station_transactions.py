"""The scanning station in a real browser: with action ship, a shipment label opens the shipment at the
station's door, shows it open, and scanning it again (or its Close button) closes it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
from playwright.sync_api import Page, expect

from tagtrail.kafka import KafkaConnection
from tagtrail.wire import Codec
from tests.scans.conftest import read_topic
from tests.scans.test_transactions_api import CUSTOMER_DC, transaction_site
from tests.web.conftest import GS_SUBSTITUTE, StationService, sign_in

pytestmark = pytest.mark.kafka

LABEL = f"(402)06141411234567890(410){CUSTOMER_DC}"
SHIPMENT = "desadv:https://id.gs1.org/402/06141411234567890"


@pytest.fixture
def station(kafka: KafkaConnection) -> Iterator[StationService]:
    site = transaction_site(kafka)
    service = StationService(replace(site, scans=replace(site.scans, gs_substitute=GS_SUBSTITUTE)), kafka)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def scan(page: Page, text: str) -> None:
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_a_shipment_label_opens_and_closes_the_shipment_at_the_station(page: Page, station: StationService,
                                                                         kafka: KafkaConnection) -> None:
    page.goto(station.url + "/")
    sign_in(page)
    page.click("#actions button[data-action=ship]")
    scan(page, "dock-door-2")
    expect(page.locator("#scan-input")).to_be_focused()

    scan(page, LABEL)
    expect(page.locator("#last")).to_contain_text("opened shipment desadv https://id.gs1.org/402/06141411234567890")
    shown = page.locator("#open-transactions li")
    expect(shown).to_have_count(1)
    expect(shown.first).to_have_attribute("data-transaction-id", SHIPMENT)

    scan(page, LABEL)  # the same label again closes it
    expect(page.locator("#last")).to_contain_text("closed shipment desadv")
    expect(shown).to_have_count(0)

    scan(page, f"]C1402{LABEL[5:22]}")  # the label as a GS1-128 element string opens it again
    expect(shown).to_have_count(1)
    page.click("#open-transactions button.close-transaction")
    expect(page.locator("#last")).to_contain_text("closed shipment desadv")
    expect(shown).to_have_count(0)
    expect(page.locator("#scans li")).to_have_count(0)  # none of them was queued as an item scan

    codec = Codec("BusinessTransaction")
    statuses = [codec.decode(m.value()).status for m in read_topic(kafka, kafka.topics.transactions, expect=4)]
    assert statuses == ["open", "closed", "open", "closed"]
