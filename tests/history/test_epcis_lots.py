"""Lot (AI 10) and expiry (AI 17) where GS1 puts them: ILMD on the event that commissions the item, else
EPCInstance master data in the header; the known lot (migration 0008 item_lots) is item_master's, else the
first scanned, and a scanned lot that disagrees is an anomaly `where` shows, never an overwrite."""

from __future__ import annotations

import datetime as dt
import json

import yaml

from tagtrail.events.item_master import ItemMaster
from tagtrail.history.epcis import export_epcis
from tagtrail.history.epcis_lots import VTYPE_EPC_INSTANCE
from tagtrail.history.migrations import migrate
from tagtrail.history.queries import item_lot
from tests.history.business import crossing, store_item_master
from tests.history.conftest import store, store_for_cli
from tests.history.scenario import HOUR, T0, item_key, mv
from tests.history.test_cli import tagtrail
from tests.history.test_epcis import epcis_schema, validate  # noqa: F401 (the fixture)
from tests.history.test_event_hash import reference_hashes

EXPIRY = dt.date.fromtimestamp(T0 / 1e6) + dt.timedelta(days=400)  # from the scenario's own day
MDA = "urn:epcglobal:cbv:mda#"


def lots(client, key: str) -> dict:
    names, rows = item_lot(client, key)
    return dict(zip(names, rows[0])) if rows else {}


def instance_data(doc: dict) -> dict[str, dict[str, str]]:
    vocabularies = doc.get("epcisHeader", {}).get("epcisMasterData", {}).get("vocabularyList", [])
    return {e["id"]: {a["id"]: a["attribute"] for a in e["attributes"]}
            for v in vocabularies if v["type"] == VTYPE_EPC_INSTANCE for e in v["vocabularyElementList"]}


def test_commissioning_carries_ilmd_and_other_events_none(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, [
        crossing(1, 1, T0, "pack-station-1", step="commissioning", action="ADD", lot="L-42", expiry=EXPIRY),
        crossing(2, 1, T0 + HOUR, "dock-door-2", step="shipping", lot="L-42", expiry=EXPIRY),
        crossing(3, 2, T0, "dock-door-1", step="receiving", action="ADD", lot="L-43")])  # receiving creates nothing
    doc = export_epcis(clickhouse, item_key(1))
    validate(doc, epcis_schema)
    commissioned, shipped = doc["epcisBody"]["eventList"]
    assert commissioned["ilmd"] == {"cbvmda:lotNumber": "L-42", "cbvmda:itemExpirationDate": EXPIRY.isoformat()}
    assert "ilmd" not in shipped
    assert [commissioned["eventID"], shipped["eventID"]] == reference_hashes(doc)
    received = export_epcis(clickhouse, item_key(2))
    validate(received, epcis_schema)
    assert "ilmd" not in received["epcisBody"]["eventList"][0]
    # the scanned lot is known and named as master data of the instance, in the header
    assert instance_data(received) == {"urn:epc:id:sgtin:0614141.012345.2": {MDA + "lotNumber": "L-43"}}


def test_an_import_names_the_lot_in_the_header_without_changing_any_event_id(clickhouse, epcis_schema):
    migrate(clickhouse)
    store(clickhouse, [mv(1, 1, T0, None, "dock-door-1", step="receiving", disp="in_progress", rp="door-1-inner",
                          action="ADD", epc=False)])
    before = export_epcis(clickhouse, item_key(1))
    assert instance_data(before) == {}
    store_item_master(clickhouse, [ItemMaster(event_id="import/ab12/2", item_key=item_key(1), lot="L-7", expiry=EXPIRY,
                                              source="import", recorded_at=T0 + HOUR)])
    after = export_epcis(clickhouse, item_key(1))
    validate(after, epcis_schema)
    assert after["epcisBody"] == before["epcisBody"]  # header master data is no part of any eventID
    assert instance_data(after) == {"https://id.gs1.org/01/00614141123452/21/1": {
        MDA + "lotNumber": "L-7", MDA + "itemExpirationDate": EXPIRY.isoformat()}}
    assert lots(clickhouse, item_key(1)) == {"item_key": item_key(1), "lot": "L-7", "expiry": EXPIRY,
                                             "lot_source": "import", "conflicting_lot": None}


def test_a_scanned_lot_that_disagrees_is_a_conflict_not_an_overwrite(clickhouse):
    migrate(clickhouse)
    store(clickhouse, [crossing(1, 1, T0, "dock-door-1", step="receiving", lot="L-1"),
                       crossing(2, 1, T0 + HOUR, "dock-door-2", step="shipping", lot="L-2"),
                       crossing(3, 2, T0, "dock-door-1", step="receiving", lot="L-5", expiry=EXPIRY),
                       crossing(4, 2, T0 + HOUR, "dock-door-2", step="shipping", lot="L-5", expiry=EXPIRY)])
    assert lots(clickhouse, item_key(1)) == {"item_key": item_key(1), "lot": "L-1", "expiry": None,
                                             "lot_source": "scan", "conflicting_lot": "L-2"}
    assert lots(clickhouse, item_key(2))["conflicting_lot"] is None  # the same lot twice agrees
    store_item_master(clickhouse, [ItemMaster(event_id="import/cd34/2", item_key=item_key(2), lot="L-6",
                                              source="import", recorded_at=T0 + 2 * HOUR)])
    assert lots(clickhouse, item_key(2)) == {"item_key": item_key(2), "lot": "L-6", "expiry": EXPIRY,
                                             "lot_source": "import", "conflicting_lot": "L-5"}
    assert lots(clickhouse, item_key(3)) == {}


def test_where_shows_the_lot_and_a_conflicting_one_as_an_anomaly(clickhouse_settings, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"clickhouse": {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database}}))
    assert tagtrail("migrate", "--site", str(site)).returncode == 0
    store_for_cli(clickhouse_settings, [crossing(1, 1, T0, "dock-door-1", step="receiving", lot="L-1", expiry=EXPIRY),
                                        mv(2, 1, T0 + HOUR, "dock-door-1", "storage-a", step="storing",
                                           disp="sellable_not_accessible", rp="aisle-a-storage"),
                                        crossing(3, 1, T0 + 2 * HOUR, "dock-door-1", step="receiving", lot="L-9")])
    where = tagtrail("where", item_key(1), "--site", str(site))
    assert where.returncode == 0, where.stderr
    lines = where.stdout.splitlines()
    assert f"lot L-1, expiry {EXPIRY.isoformat()} (from scan)" in lines
    assert ("anomaly: scanned with lot L-9, but the item is known by lot L-1 (from scan); the known lot is kept"
            in lines)
    as_json = json.loads(tagtrail("where", item_key(1), "--site", str(site), "--format", "json").stdout)
    assert (as_json["lot"], as_json["conflicting_lot"], as_json["location"]) == ("L-1", "L-9", "dock-door-1")
    plain = tagtrail("where", item_key(2), "--site", str(site))
    assert plain.returncode == 1 and "no movements recorded" in plain.stderr
