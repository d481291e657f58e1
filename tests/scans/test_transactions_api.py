"""POST /v1/transactions and .../close against the scan service and a real Kafka broker.

The app runs in-process (its lifespan starts the publisher) with an injected clock, so the times the
records carry are asserted exactly.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tagtrail.config import Company, KafkaSettings, Location, ReadPoint, Scanner, ScanServiceSettings, SiteConfig
from tagtrail.events import BusinessTransaction, PartyOrPlace
from tagtrail.kafka import KafkaConnection, connect
from tagtrail.wire import Codec
from tests.scans.conftest import TOKENS, auth, read_topic
from tests.services import free_port

COMPANY_GLN = "0614141000005"
CUSTOMER_GLN = "4012345000009"
CUSTOMER_DC = "9501101530003"
SUPPLIER_GLN = "0614141000029"
T0 = 1_764_000_000_000_000  # fixed-date: the service's injected clock; nothing compares it with now


def transaction_site(kafka: KafkaConnection) -> SiteConfig:
    return SiteConfig(
        site_id="test-site",
        company=Company(name="Example Distribution", gln=COMPANY_GLN, company_prefix="0614141"),
        locations=(Location(id="dock-door-2", name="Dock door 2", sgln_extension="door-2"),
                   Location(id="dock-door-1", name="Dock door 1")),
        kafka=KafkaSettings(bootstrap_servers=kafka.bootstrap_servers, topic_prefix=kafka.topics.prefix, partitions=kafka.partitions),
        read_points=(ReadPoint(id="door-2-outer", location="dock-door-2", kind="dock_door_outer"),),
        scanners=tuple(Scanner(id=d, token_sha256=hashlib.sha256(t.encode()).hexdigest(), location="dock-door-2")
                       for d, t in TOKENS.items()),
        scans=replace(ScanServiceSettings(), publish_timeout_s=15.0, retry_after_s=3),
    )


class StepClock:
    """Each reading one second after the last."""

    def __init__(self, start: int = T0) -> None:
        self._ticks = itertools.count(start, 1_000_000)

    def __call__(self) -> int:
        return next(self._ticks)


@contextmanager
def running(site: SiteConfig, kafka: KafkaConnection, clock: StepClock) -> Iterator[TestClient]:
    from tagtrail_ingest.scans.scan_api import create_app

    with TestClient(create_app(site, kafka, clock=clock), headers=auth("handheld-01")) as client:
        yield client


@pytest.fixture
def site(kafka: KafkaConnection) -> SiteConfig:
    return transaction_site(kafka)


def shipment(**extra: object) -> dict:
    return {"type": "desadv", "document_number": "DA-1001", "direction": "outbound", "location": "dock-door-2",
            "partner_gln": CUSTOMER_GLN, "partner_location_gln": CUSTOMER_DC, "partner_location_extension": "7", **extra}


def records(kafka: KafkaConnection, expect: int) -> list[tuple[str, BusinessTransaction]]:
    codec = Codec("BusinessTransaction")
    return [(m.key().decode(), codec.decode(m.value())) for m in read_topic(kafka, kafka.topics.transactions, expect=expect)]


DA = f"desadv:urn:epcglobal:cbv:bt:{COMPANY_GLN}:DA-1001"


def test_an_opened_shipment_is_one_record_with_complete_sources_and_destinations(site, kafka) -> None:
    with running(site, kafka, StepClock()) as client:
        response = client.post("/v1/transactions", json=shipment(ssccs=["106141412345678908"]))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["transaction_id"] == DA and answer["status"] == "open" and answer["closed_at"] is None
    assert answer["opened_at"] == "2025-11-24T16:00:00Z"  # fixed-date: injected clock
    ((key, record),) = records(kafka, 1)
    assert key == DA
    assert (record.type, record.id, record.direction, record.location) == (
        "desadv", f"urn:epcglobal:cbv:bt:{COMPANY_GLN}:DA-1001", "outbound", "dock-door-2")
    assert record.sources == [PartyOrPlace(type="owning_party", id=f"https://id.gs1.org/417/{COMPANY_GLN}"),
                              PartyOrPlace(type="location", id=f"https://id.gs1.org/414/{COMPANY_GLN}/254/door-2")]
    assert record.destinations == [PartyOrPlace(type="owning_party", id=f"https://id.gs1.org/417/{CUSTOMER_GLN}"),
                                   PartyOrPlace(type="location", id=f"https://id.gs1.org/414/{CUSTOMER_DC}/254/7")]
    assert (record.opened_at, record.recorded_at, record.ssccs) == (T0, T0, ["106141412345678908"])
    assert record.event_id.startswith("api/") and record.event_id == answer["event_id"]


def test_a_receipt_has_the_supplier_as_source_and_this_site_as_destination(site, kafka) -> None:
    body = {"type": "po", "document_number": "PO-77", "direction": "inbound", "location": "door-2-outer",
            "partner_gln": SUPPLIER_GLN}
    with running(site, kafka, StepClock()) as client:
        answer = client.post("/v1/transactions", json=body).json()
    assert answer["location"] == "dock-door-2"  # a read point id names its location
    assert answer["sources"] == [{"type": "owning_party", "id": f"https://id.gs1.org/417/{SUPPLIER_GLN}"}]
    assert [d["id"] for d in answer["destinations"]] == [f"https://id.gs1.org/417/{COMPANY_GLN}",
                                                         f"https://id.gs1.org/414/{COMPANY_GLN}/254/door-2"]


def test_a_retried_open_with_the_same_idempotency_key_records_one_transaction(site, kafka) -> None:
    with running(site, kafka, StepClock()) as client:
        first = client.post("/v1/transactions", json=shipment(), headers={"Idempotency-Key": "open-1"})
        again = client.post("/v1/transactions", json=shipment(), headers={"Idempotency-Key": "open-1"})
        closed = client.post(f"/v1/transactions/{quote(DA, safe='')}/close", headers={"Idempotency-Key": "close-1"})
        # After the close, the open's retry must not open it again, nor the close's retry close twice.
        late = client.post("/v1/transactions", json=shipment(), headers={"Idempotency-Key": "open-1"})
        close_again = client.post(f"/v1/transactions/{quote(DA, safe='')}/close", headers={"Idempotency-Key": "close-1"})
    assert (first.status_code, again.status_code, late.status_code) == (201, 201, 201)
    assert (again.json()["replayed"], late.json()["replayed"], close_again.json()["replayed"]) == (True, True, True)
    assert again.json()["event_id"] == first.json()["event_id"]
    assert closed.status_code == 200 and close_again.status_code == 200
    assert [r.status for _, r in records(kafka, 2)] == ["open", "closed"]


def test_a_transaction_opened_before_a_restart_can_be_closed_after_it(site, kafka) -> None:
    with running(site, kafka, StepClock()) as client:
        assert client.post("/v1/transactions", json=shipment()).status_code == 201
    with running(site, kafka, StepClock(T0 + 3600 * 1_000_000)) as client:
        listed = client.get("/v1/transactions", params={"status": "open", "location": "dock-door-2"}).json()
        closed = client.post(f"/v1/transactions/{DA}/close")  # unencoded slashes and colons work too
        after = client.get(f"/v1/transactions/{quote(DA, safe='')}").json()
    assert [t["transaction_id"] for t in listed["transactions"]] == [DA]
    assert closed.status_code == 200, closed.text
    closing_answer = closed.json()
    assert (closing_answer["status"], closing_answer["closed_at"]) == ("closed", "2025-11-24T17:00:00Z")  # fixed-date: clock
    assert after["status"] == "closed" and after["opened_at"] == "2025-11-24T16:00:00Z"  # fixed-date: injected clock
    opened, closing = (r for _, r in records(kafka, 2))
    assert closing.opened_at == opened.opened_at == T0 and closing.closed_at == closing.recorded_at == T0 + 3600 * 1_000_000
    assert closing.destinations == opened.destinations and closing.event_id != opened.event_id


def test_opening_what_is_open_changes_nothing_and_elsewhere_is_a_conflict(site, kafka) -> None:
    with running(site, kafka, StepClock()) as client:
        first = client.post("/v1/transactions", json=shipment())
        assert first.status_code == 201, first.text
        same = client.post("/v1/transactions", json=shipment())
        elsewhere = client.post("/v1/transactions", json=shipment(location="dock-door-1"))
        unknown = client.post("/v1/transactions/desadv:urn:epcglobal:cbv:bt:0614141000005:NOPE/close")
    assert same.status_code == 200 and same.json()["event_id"]
    assert elsewhere.status_code == 409 and "open at dock-door-2" in elsewhere.json()["detail"]
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_transaction"
    assert len(records(kafka, 1)) == 1


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"partner_gln": "4012345000008"}, "partner_gln", "check digit"),
    ({"partner_location_gln": "95011015300"}, "partner_location_gln", "13 digits"),
    ({"location": "roof"}, "location", "not a location or read point"),
    ({"direction": "sideways"}, "direction", "outbound"),
    ({"type": "invoice"}, "type", "CBV business transaction type"),
    ({"document_number": None}, "id", "give id"),
    ({"id": "DA-1001"}, "id", "a URI"),
    ({"ssccs": ["106141412345678909"]}, "ssccs[0]", "not an SSCC"),
    ({"document_number": "DA 1001"}, "document_number", "A-Z"),
    ({"partner_location_extension": "a b"}, "partner_location_extension", "254"),
])
def test_a_refused_open_names_the_field_and_records_nothing(site, kafka, change, field, words) -> None:
    with running(site, kafka, StepClock()) as client:
        response = client.post("/v1/transactions", json={k: v for k, v in shipment(**change).items() if v is not None})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and words in response.json()["detail"]
    assert read_topic(kafka, kafka.topics.transactions, idle_s=0.5) == []


def test_a_site_without_a_company_gln_is_told_so(kafka) -> None:
    site = replace(transaction_site(kafka), company=None)
    with running(site, kafka, StepClock()) as client:
        response = client.post("/v1/transactions", json=shipment())
    assert response.status_code == 422 and response.json()["field"] == "company.gln"


def test_the_api_needs_a_device_token(site, kafka) -> None:
    with running(site, kafka, StepClock()) as client:
        response = client.post("/v1/transactions", json=shipment(), headers={"Authorization": "Bearer nope"})
        listing = client.get("/v1/transactions", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, listing.status_code) == (401, 401)


def test_a_shipment_label_names_the_shipment_and_its_destination(site, kafka) -> None:
    body = {"barcode": "(402)06141411234567890(410)9501101530003", "direction": "outbound", "location": "dock-door-2"}
    with running(site, kafka, StepClock()) as client:
        answer = client.post("/v1/transactions", json=body).json()
        order = client.post("/v1/transactions", json={"barcode": "]C1400PO-77", "direction": "inbound",
                                                      "location": "dock-door-1"}).json()
        refused = client.post("/v1/transactions", json={**body, "barcode": "(402)06141411234567891"})
        item = client.post("/v1/transactions", json={**body, "barcode": "(01)00614141123452(21)X"})
    assert (answer["type"], answer["id"]) == ("desadv", "https://id.gs1.org/402/06141411234567890")
    assert answer["destinations"] == [{"type": "location", "id": f"https://id.gs1.org/414/{CUSTOMER_DC}"}]
    assert (order["type"], order["id"]) == ("po", f"urn:epcglobal:cbv:bt:{COMPANY_GLN}:PO-77")
    assert refused.status_code == 422 and "check digit" in refused.json()["detail"]
    assert item.status_code == 422 and item.json()["error"] == "not_a_transaction_barcode"


def test_the_openapi_document_describes_the_transactions_api(site, kafka) -> None:
    with running(site, kafka, StepClock()) as client:
        doc = client.get("/openapi.json").json()
    assert {"post"} <= set(doc["paths"]["/v1/transactions"]) and "get" in doc["paths"]["/v1/transactions"]
    assert "post" in doc["paths"]["/v1/transactions/{transaction_id}/close"]
    assert {"TransactionIn", "TransactionOut"} <= set(doc["components"]["schemas"])


def test_kafka_unreachable_answers_503_with_retry_after_and_records_nothing(kafka) -> None:
    dead = connect(KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", topic_prefix=kafka.topics.prefix))
    site = transaction_site(kafka)
    site = replace(site, kafka=replace(site.kafka, bootstrap_servers=dead.bootstrap_servers),
                   scans=replace(site.scans, publish_timeout_s=2.0))
    with running(site, dead, StepClock()) as client:
        response = client.post("/v1/transactions", json=shipment())
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert response.json()["error"] == "kafka_unavailable"
