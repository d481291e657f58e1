"""POST /v1/scans against the running service and a real Kafka broker."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tagtrail.config import SiteConfig
from tagtrail.kafka import KafkaConnection
from tagtrail.wire import Codec
from tests.scans.barcodes import GS, gtin14, sscc18, wrong_check_digit
from tests.scans.conftest import RunningService, auth, make_site, read_topic, start_service

GTIN = gtin14("0061414112345")
WHEN = "2025-03-04T10:11:12.345678+01:00"
WHEN_US = int(dt.datetime.fromisoformat(WHEN).timestamp() * 1_000_000)


def scan(raw: str, action: str = "receive", **extra: object) -> dict:
    return {"raw_data": raw, "scanned_at": WHEN, "action": action, **extra}


def upload(upload_id: str, *scans: dict, device: str = "handheld-01") -> dict:
    return {"device_id": device, "upload_id": upload_id, "scans": list(scans)}


def test_accepted_scans_are_scan_events_keyed_by_item(service: RunningService, kafka: KafkaConnection) -> None:
    body = upload(
        "u-1",
        scan(f"]C101{GTIN}21SER-1{GS}10LOT7{GS}17271231", read_point="pack-1"),
        scan(f"https://id.gs1.org/01/{GTIN}/21/SER-2", action="pick", location="(414)0614141000005(254)A-12"),
        scan(f"00{sscc18('10614141123456789')}", action="ship", symbology="]C1"),
    )
    with service.client() as client:
        response = client.post("/v1/scans", json=body, headers=auth("handheld-01"))
    assert response.status_code == 202, response.text
    verdict = response.json()
    assert (verdict["accepted"], verdict["rejected"], verdict["replayed"]) == (3, 0, False)
    keys = [s["item_key"] for s in verdict["scans"]]
    assert keys == [f"01/{GTIN}/21/SER-1", f"01/{GTIN}/21/SER-2", f"00/{sscc18('10614141123456789')}"]

    messages = read_topic(kafka, kafka.topics.scans, expect=3)
    codec = Codec("Scan")
    events = {m.key().decode(): codec.decode(m.value()) for m in messages}
    assert set(events) == set(keys)
    first = events[keys[0]]
    assert (first.event_id, first.device_id, first.upload_id) == ("handheld-01/u-1/0", "handheld-01", "u-1")
    assert (first.gtin, first.serial, first.lot, first.expiry) == (GTIN, "SER-1", "LOT7", dt.date(2027, 12, 31))
    assert (first.location, first.read_point, first.symbology) == ("pack-station-1", "pack-1", "]C1")
    assert first.scanned_at == WHEN_US and first.uploaded_at > first.scanned_at
    assert first.raw_data == body["scans"][0]["raw_data"]
    assert events[keys[1]].location == "414/0614141000005/254/A-12"
    assert events[keys[2]].location == "dock-door-1"  # the scanner's home location from the site config
    assert events[keys[2]].symbology == "]C1"


def test_rejected_scans_carry_a_reason_and_become_dead_letters(service: RunningService, kafka: KafkaConnection) -> None:
    body = upload(
        "u-bad",
        scan(f"]C101{wrong_check_digit(GTIN)}21X"),
        scan(GTIN[1:]),
        scan("]d2not gs1 at all"),
        scan(f"]C101{GTIN}21X", action="teleport"),
        scan(f"]C101{GTIN}21X", scanned_at="yesterday"),
        scan(f"]C101{GTIN}21X", read_point="nowhere"),
        scan(f"]C101{GTIN}21OK"),
    )
    with service.client() as client:
        verdict = client.post("/v1/scans", json=body, headers=auth("handheld-01")).json()
    reasons = [s.get("reason") for s in verdict["scans"]]
    assert reasons == ["bad_check_digit", "no_serial", "unparseable", "unknown_action", "bad_scanned_at", "unknown_read_point", None]
    assert (verdict["accepted"], verdict["rejected"]) == (1, 6)

    letters = [Codec("DeadLetter").decode(m.value()) for m in read_topic(kafka, kafka.topics.dead_letters, expect=6)]
    assert sorted(d.reason for d in letters) == sorted(r for r in reasons if r)
    assert {d.stage for d in letters} == {"ingest.scans"} and {d.source for d in letters} == {"handheld-01"}
    bad_digit = next(d for d in letters if d.reason == "bad_check_digit")
    assert json.loads(bad_digit.payload)["raw_data"] == body["scans"][0]["raw_data"]
    assert bad_digit.context["event_id"] == "handheld-01/u-bad/0"
    assert len(read_topic(kafka, kafka.topics.scans, expect=1)) == 1


def test_a_replayed_upload_gets_the_first_verdict_and_publishes_nothing_again(service: RunningService, kafka: KafkaConnection) -> None:
    body = upload("u-replay", *(scan(f"]C101{GTIN}21R{i}") for i in range(20)), scan("]C1bad"))
    with service.client() as client:
        first = client.post("/v1/scans", json=body, headers=auth("handheld-01"))
        again = client.post("/v1/scans", json=body, headers=auth("handheld-01"))
        # a retry whose content changed (a device bug) still gets the first verdict: the upload id decides
        changed = client.post("/v1/scans", json=upload("u-replay", scan("]C1other")), headers=auth("handheld-01"))
    assert first.status_code == again.status_code == changed.status_code == 202
    assert again.json() == {**first.json(), "replayed": True} == {**changed.json(), "replayed": True}
    assert len(read_topic(kafka, kafka.topics.scans, expect=20)) == 20
    assert len(read_topic(kafka, kafka.topics.dead_letters, expect=1)) == 1


def test_the_idempotency_record_survives_a_restart(site: SiteConfig, kafka: KafkaConnection) -> None:
    body = upload("u-restart", scan(f"]C101{GTIN}21A"), scan(f"]C101{GTIN}21B"))
    first_run = start_service(site, kafka)
    with first_run.client() as client:
        first = client.post("/v1/scans", json=body, headers=auth("handheld-01")).json()
    first_run.shutdown()
    second_run = start_service(site, kafka)
    try:
        with second_run.client() as client:
            again = client.post("/v1/scans", json=body, headers=auth("handheld-01"))
            other = client.post("/v1/scans", json={**body, "upload_id": "u-new"}, headers=auth("handheld-01"))
    finally:
        second_run.shutdown()
    assert again.status_code == 202 and again.json() == {**first, "replayed": True}
    assert other.json()["replayed"] is False
    assert len(read_topic(kafka, kafka.topics.scans, expect=4)) == 4


def test_csv_uploads(service: RunningService, kafka: KafkaConnection) -> None:
    csv = (
        "raw_data,scanned_at,action,location\r\n"
        f"\"]C101{GTIN}21C,1\",2025-03-04T09:00:00Z,putaway,aisle-7\r\n"
        f"{GS}01{GTIN}21C2,2025-03-04T09:00:01Z,count,\r\n"
    )
    with service.client() as client:
        response = client.post("/v1/scans", content=csv.encode(), params={"device_id": "handheld-02", "upload_id": "c-1"},
                               headers={**auth("handheld-02"), "Content-Type": "text/csv; charset=utf-8"})
        no_ids = client.post("/v1/scans", content=csv.encode(), headers={**auth("handheld-02"), "Content-Type": "text/csv"})
        bad_header = client.post("/v1/scans", content=b"barcode,when\r\nx,y\r\n", params={"device_id": "handheld-02", "upload_id": "c-2"},
                                 headers={**auth("handheld-02"), "Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    assert [s["item_key"] for s in response.json()["scans"]] == [f"01/{GTIN}/21/C,1", f"01/{GTIN}/21/C2"]
    events = [Codec("Scan").decode(m.value()) for m in read_topic(kafka, kafka.topics.scans, expect=2)]
    assert {(e.action, e.location) for e in events} == {("putaway", "aisle-7"), ("count", "dock-door-1")}
    assert no_ids.status_code == 422 and bad_header.status_code == 422
    assert "raw_data" in bad_header.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer not-a-token"}, 401), ({"Authorization": "Basic aGk6aG8="}, 401),
     (auth("handheld-02"), 403)],
)
def test_device_tokens(service: RunningService, kafka: KafkaConnection, headers: dict, status: int) -> None:
    with service.client() as client:
        response = client.post("/v1/scans", json=upload("u-auth", scan(f"]C101{GTIN}21T")), headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert response.json()["error"] == "wrong_device"


def test_an_unknown_device_is_refused_and_nothing_is_published(service: RunningService, kafka: KafkaConnection) -> None:
    with service.client() as client:
        response = client.post("/v1/scans", json=upload("u-x", scan(f"]C101{GTIN}21T"), device="stolen-42"), headers=auth("handheld-01"))
    assert response.status_code == 403 and response.json()["error"] == "unknown_device"
    assert read_topic(kafka, kafka.topics.scans, idle_s=1.0) == []


def test_bad_bodies_get_clear_errors_and_publish_nothing(kafka: KafkaConnection) -> None:
    service = start_service(make_site(kafka, max_body_bytes=2000, max_scans_per_upload=3), kafka)
    headers = {**auth("handheld-01"), "Content-Type": "application/json"}
    try:
        with service.client() as client:
            malformed = client.post("/v1/scans", content=b'{"device_id": "handheld-01",\n "upload_id": }', headers=headers)
            wrong_type = client.post("/v1/scans", json={"device_id": "handheld-01", "upload_id": "u", "scans": [{"raw_data": 5}]},
                                     headers=auth("handheld-01"))
            empty = client.post("/v1/scans", json=upload("u-empty"), headers=auth("handheld-01"))
            bad_id = client.post("/v1/scans", json=upload("a/b", scan("x")), headers=auth("handheld-01"))
            too_big = client.post("/v1/scans", content=b"[" + b" " * 3000 + b"]", headers=headers)
            streamed = client.post("/v1/scans", content=iter([b"{" + b" " * 1500, b" " * 1500 + b"}"]), headers=headers)
            too_many = client.post("/v1/scans", json=upload("u-many", *[scan("x")] * 4), headers=auth("handheld-01"))
            xml = client.post("/v1/scans", content=b"<scans/>", headers={**auth("handheld-01"), "Content-Type": "application/xml"})
    finally:
        service.shutdown()
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "malformed_json"
    assert (malformed.json()["line"], malformed.json()["column"]) == (2, 15)
    assert wrong_type.status_code == 422 and "$.scans[0].raw_data" in wrong_type.json()["detail"]
    assert empty.status_code == 422 and bad_id.status_code == 422
    assert too_big.status_code == 413 and streamed.status_code == 413 and too_many.status_code == 413
    assert xml.status_code == 415
    assert read_topic(kafka, kafka.topics.scans, idle_s=1.0) == []
    assert read_topic(kafka, kafka.topics.dead_letters, idle_s=0.5) == []


def test_scans_from_the_future_are_rejected(service: RunningService) -> None:
    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).isoformat()
    naive = "2025-03-04T10:00:00"
    with service.client() as client:
        verdict = client.post("/v1/scans", json=upload("u-clock", scan(f"]C101{GTIN}21F", scanned_at=future),
                                                        scan(f"]C101{GTIN}21N", scanned_at=naive)),
                              headers=auth("handheld-01")).json()
    assert [s["reason"] for s in verdict["scans"]] == ["scanned_in_future", "bad_scanned_at"]


def test_health_readiness_and_openapi(service: RunningService) -> None:
    with service.client() as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").json()["status"] == "ok"
        spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/scans"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "text/csv"}
    assert {"202", "400", "401", "403", "413", "415", "422", "503"} <= set(operation["responses"])
    assert "Upload" in spec["components"]["schemas"] and "HTTPBearer" in spec["components"]["securitySchemes"]


def test_oversized_values_are_rejected_without_blocking_the_upload(service: RunningService, kafka: KafkaConnection) -> None:
    body = upload("u-huge", scan("9" * 5000), scan(f"]C101{GTIN}21H", read_point="x" * 200_000), scan(f"]C101{GTIN}21OK"))
    with service.client() as client:
        response = client.post("/v1/scans", json=body, headers=auth("handheld-01"))
    assert response.status_code == 202, response.text
    assert [s.get("reason") for s in response.json()["scans"]] == ["too_long", "unknown_read_point", None]
    assert all(len(s.get("error", "")) <= 300 for s in response.json()["scans"])
    letters = [Codec("DeadLetter").decode(m.value()) for m in read_topic(kafka, kafka.topics.dead_letters, expect=2)]
    truncated = next(d for d in letters if d.reason == "unknown_read_point")
    assert truncated.context["payload_truncated_from"] == str(len(json.dumps(body["scans"][1], separators=(",", ":"))))


def test_a_verdict_no_longer_in_memory_is_read_back_from_kafka(monkeypatch: pytest.MonkeyPatch, site: SiteConfig,
                                                              kafka: KafkaConnection) -> None:
    from tagtrail_ingest.scans import ledger

    monkeypatch.setattr(ledger, "RECENT_VERDICTS", 1)
    running = start_service(site, kafka)
    try:
        with running.client() as client:
            first = client.post("/v1/scans", json=upload("old", scan(f"]C101{GTIN}21O")), headers=auth("handheld-01")).json()
            client.post("/v1/scans", json=upload("newer", scan(f"]C101{GTIN}21N")), headers=auth("handheld-01"))
            again = client.post("/v1/scans", json=upload("old", scan(f"]C101{GTIN}21O")), headers=auth("handheld-01"))
    finally:
        running.shutdown()
    assert again.json() == {**first, "replayed": True}
    assert len(read_topic(kafka, kafka.topics.scans, expect=2)) == 2
