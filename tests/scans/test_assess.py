"""The pure core: what each scan becomes, for the settings a site can choose."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest

from tagtrail.config import ReadPoint, Scanner, ScanServiceSettings, SiteConfig
from tagtrail_ingest.scans.assess import Rejection, ScanAssessor
from tagtrail_ingest.scans.auth import DeviceTokens
from tagtrail_ingest.scans.upload import ScanIn, Upload
from tests.scans.barcodes import gtin14

GTIN = gtin14("0061414112345")
UPLOADED = int(dt.datetime(2025, 3, 4, 12, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)
SITE = SiteConfig(
    read_points=(ReadPoint(id="pack-1", location="pack-station-1", kind="pack_station"),),
    scanners=(Scanner(id="hh", token_sha256=hashlib.sha256(b"secret").hexdigest(), location="receiving"),),
)


def assess_one(raw: str, site: SiteConfig = SITE, **fields: object):
    scan = ScanIn(**{"raw_data": raw, "scanned_at": "2025-03-04T11:00:00+00:00", "action": "pick", **fields})
    return ScanAssessor(site).assess(Upload("hh", "u", [scan]), UPLOADED)[0]


def with_scans(**changes: object) -> SiteConfig:
    return dataclasses.replace(SITE, scans=dataclasses.replace(ScanServiceSettings(), **changes))


def test_scanned_at_keeps_the_instant_whatever_the_offset() -> None:
    a = assess_one(f"]C101{GTIN}21A", scanned_at="2025-03-04T13:00:00.5+02:00")
    b = assess_one(f"]C101{GTIN}21A", scanned_at="2025-03-04T11:00:00.500000Z")
    assert a.scanned_at == b.scanned_at == UPLOADED - 3600 * 1_000_000 + 500_000


def test_clock_skew_is_measured_from_the_upload_time() -> None:
    assert not isinstance(assess_one(f"]C101{GTIN}21A", scanned_at="2025-03-04T12:04:00Z"), Rejection)
    late = assess_one(f"]C101{GTIN}21A", scanned_at="2025-03-04T12:06:00Z")
    assert isinstance(late, Rejection) and late.reason == "scanned_in_future"


def test_symbology_field_is_applied_when_the_data_has_no_prefix() -> None:
    event = assess_one(f"01{GTIN}21A\x1d10L1", symbology="]d2")
    assert (event.symbology, event.lot, event.raw_data) == ("]d2", "L1", f"01{GTIN}21A\x1d10L1")
    bad = assess_one(f"01{GTIN}21A", symbology="C1")
    assert bad.reason == "bad_symbology"


@pytest.mark.parametrize(
    ("fields", "location", "read_point"),
    [
        ({}, "receiving", None),  # the device's home location
        ({"read_point": "pack-1"}, "pack-station-1", "pack-1"),
        ({"location": "pack-1"}, "pack-station-1", "pack-1"),  # a read point label scanned as location
        ({"location": "(414)0614141000005"}, "414/0614141000005", None),
        ({"location": "]C14140614141000005254B7"}, "414/0614141000005/254/B7", None),
        ({"location": "aisle 7 bay 3"}, "aisle 7 bay 3", None),
    ],
)
def test_locations(fields: dict, location: str, read_point: str | None) -> None:
    event = assess_one(f"]C101{GTIN}21A", **fields)
    assert (event.location, event.read_point) == (location, read_point)


def test_site_settings_change_what_is_accepted() -> None:
    assert assess_one(GTIN).reason == "no_serial"
    assert assess_one(GTIN, site=with_scans(require_serial=False)).identity.item_key == f"01/{GTIN}"
    assert assess_one("BIN-7").identity.item_key == "internal/BIN-7"
    assert assess_one("BIN-7", site=with_scans(allow_internal_barcodes=False)).reason == "unparseable"
    assert assess_one(f"]C101{GTIN}21A~10L", site=with_scans(gs_substitute="~")).lot == "L"


def test_device_tokens() -> None:
    tokens = DeviceTokens(SITE.scanners)
    assert tokens.device_for("Bearer secret") == "hh"
    assert tokens.device_for("bearer  secret ") == "hh"
    assert tokens.device_for("Bearer secret2") is None
    assert tokens.device_for("secret") is None
    assert tokens.device_for(None) is None
