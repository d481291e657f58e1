"""Fuzzing the running service: schemathesis from the published OpenAPI document, and hypothesis
uploads from an authenticated device with arbitrary scan values. No input may cause a 5xx."""

from __future__ import annotations

import uuid

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.scans.barcodes import GS
from tests.scans.conftest import RunningService, auth


def test_the_api_never_fails_on_what_its_spec_allows(service: RunningService) -> None:
    # Loaded inside the test (not via schemathesis.pytest.from_fixture, which breaks on pytest 9).
    api = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    # The item lookups read ClickHouse, which this test does not run: they answer 503 by design
    # (tests/web covers them against a real ClickHouse).
    operations = [op for op in operations if not op.path.startswith(("/v1/items/", "/v1/locations/"))]
    assert {(op.method.upper(), op.path) for op in operations} >= {("POST", "/v1/scans"), ("GET", "/readyz")}

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=st.one_of([op.as_strategy() for op in operations]), as_own_device=st.booleans())
    def call(case, as_own_device: bool) -> None:
        if as_own_device:  # else nearly every generated upload names another device and stops at 403
            if isinstance(case.body, dict):
                case.body["device_id"] = "handheld-01"
            if case.query:
                case.query["device_id"] = "handheld-01"
        case.call_and_validate(base_url=service.url, headers=auth("handheld-01"),
                               checks=[not_a_server_error, status_code_conformance, response_schema_conformance])

    call()


text = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(["receive", "pick", "2025-01-01T00:00:00Z", "]C1", "pack-1"]))
raw = st.one_of(st.text(max_size=60), st.text("0123456789()]Cd1" + GS, max_size=40))
scans = st.lists(st.fixed_dictionaries({"raw_data": raw}, optional={
    "scanned_at": text, "action": text, "symbology": text, "location": text, "read_point": text}), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(scans=scans)
def test_arbitrary_scan_values_get_a_verdict_each(service: RunningService, scans: list[dict]) -> None:
    body = {"device_id": "handheld-01", "upload_id": uuid.uuid4().hex, "scans": scans}
    response = httpx.post(f"{service.url}/v1/scans", json=body, headers=auth("handheld-01"), timeout=30)
    assert response.status_code == 202, response.text
    verdict = response.json()
    assert [s["index"] for s in verdict["scans"]] == list(range(len(scans)))
    assert verdict["accepted"] + verdict["rejected"] == len(scans)
    assert all(s["status"] == "accepted" or s["reason"] for s in verdict["scans"])
