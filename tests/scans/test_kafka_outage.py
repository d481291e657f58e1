"""Kafka goes away while devices upload: answers are 503 with Retry-After, nothing half stored,
and once Kafka is back every upload ends up on Kafka exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tagtrail.wire import Codec
from tests.scans.barcodes import gtin14
from tests.scans.conftest import auth, kafka_for_broker, make_site, read_topic, start_service

GTIN = gtin14("0061414112345")
pytestmark = pytest.mark.slow


def body(n: int, size: int = 200) -> dict:
    return {"device_id": "handheld-01", "upload_id": f"outage-{n}",
            "scans": [{"raw_data": f"]C101{GTIN}21U{n}-{i}", "scanned_at": "2025-03-04T10:00:00Z", "action": "count"}
                      for i in range(size)]}


def test_kafka_stopped_mid_upload(own_kafka_broker) -> None:
    conn = kafka_for_broker(own_kafka_broker.bootstrap_servers)
    service = start_service(make_site(conn, publish_timeout_s=5.0), conn)
    answers: dict[int, list[int]] = {}
    retry_after: set[str | None] = set()
    done = threading.Event()

    def devices() -> None:
        with service.client(timeout=90) as client:
            n = 0
            while not done.is_set():
                response = client.post("/v1/scans", json=body(n), headers=auth("handheld-01"))
                answers.setdefault(n, []).append(response.status_code)
                if response.status_code == 503:
                    retry_after.add(response.headers.get("Retry-After"))
                    time.sleep(0.5)  # a device backs off (less than Retry-After, to keep the test short)
                n += 1

    uploader = threading.Thread(target=devices)
    try:
        uploader.start()
        time.sleep(1.5)  # uploads flowing
        own_kafka_broker.stop()
        time.sleep(8)  # long enough for publish_timeout_s (5 s) to expire on uploads in flight
        with service.client() as client:
            assert client.get("/readyz").status_code == 503
        done.set()
        uploader.join(60)
        own_kafka_broker.start()

        # Devices retry every upload not acknowledged, as the Retry-After tells them.
        pending = [n for n, codes in answers.items() if codes[-1] != 202]
        last_error: list[str] = []
        deadline = time.monotonic() + 90
        with service.client(timeout=90) as client:
            while pending and time.monotonic() < deadline:
                response = client.post("/v1/scans", json=body(pending[0]), headers=auth("handheld-01"))
                answers[pending[0]].append(response.status_code)
                if response.status_code == 202:
                    pending.pop(0)
                else:
                    assert response.status_code == 503
                    last_error.append(response.json()["detail"])
                    time.sleep(1)
            assert client.get("/readyz").status_code == 200
    finally:
        done.set()
        service.shutdown()
        try:
            own_kafka_broker.start()
        except Exception:
            pass

    first = [codes[0] for codes in answers.values()]
    assert 202 in first and 503 in first, answers  # the outage happened during the uploads
    assert retry_after == {"3"}
    assert not pending, f"uploads never accepted after Kafka came back: {pending}: {last_error[-3:]}"
    codec = Codec("Scan")
    per_upload = Counter(codec.decode(m.value()).upload_id for m in read_topic(conn, conn.topics.scans, idle_s=3.0))
    # Every upload whole and once: no half upload, no duplicate from a retry after an unsure commit.
    assert per_upload == {f"outage-{n}": 200 for n in answers}


def test_service_started_while_kafka_is_down_answers_503_until_it_is_back(own_kafka_broker) -> None:
    conn = kafka_for_broker(own_kafka_broker.bootstrap_servers)
    own_kafka_broker.stop()
    service = start_service(make_site(conn, publish_timeout_s=5.0), conn)
    try:
        # While Kafka starts, one upload may wait on several 5 s timeouts (ledger, transaction init).
        with service.client(timeout=90) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 503
            down = client.post("/v1/scans", json=body(0, size=5), headers=auth("handheld-01"))
            assert down.status_code == 503 and down.headers["Retry-After"] == "3"
            own_kafka_broker.start()
            deadline = time.monotonic() + 120
            while (up := client.post("/v1/scans", json=body(0, size=5), headers=auth("handheld-01"))).status_code == 503:
                assert time.monotonic() < deadline, up.text
                time.sleep(1)
            assert up.status_code == 202 and up.json()["accepted"] == 5
            assert client.get("/readyz").status_code == 200
    finally:
        service.shutdown()
        own_kafka_broker.start()
    assert len(read_topic(conn, conn.topics.scans, expect=5)) == 5
