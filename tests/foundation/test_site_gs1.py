"""Site master data, GS1 first: the company's GLN, SGLNs for locations and read points, the time zone.

Every mistake is named by its key (a partner's system refuses a wrong check digit, and two places with
one SGLN cannot be told apart), and a site without GS1 ids is warned about by check-config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tagtrail.config import ConfigError, load_site, parse_site
from tagtrail.config.gs1_locations import gs1_locations
from tagtrail.identity.gln import Gs1KeyError, Sgln, parse_gln
from tagtrail_cli.commands import check_config
from tagtrail_cli.demo.warehouse import DemoWarehouse, site_file_text

REPO = Path(__file__).resolve().parents[2]
COMPANY = 'company: {name: Example, gln: "0614141000005", company_prefix: "0614141"}\n'


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_site(text, source="site.yaml")
    return info.value.problems


def test_gln_check_digit_is_gs1_mod_10() -> None:
    assert parse_gln("0614141000005") == "0614141000005"
    with pytest.raises(Gs1KeyError, match="check digit"):
        parse_gln("0614141000006")
    with pytest.raises(Gs1KeyError, match="13 digits"):
        parse_gln("614141000005")


def test_sgln_as_epc_uri_and_digital_link() -> None:
    door = Sgln.of("0614141000012", "door-1", None)  # prefix length from GS1's prefix table
    assert door.epc_uri() == "urn:epc:id:sgln:0614141.00001.door-1"
    assert door.digital_link() == "https://id.gs1.org/414/0614141000012/254/door-1"
    building = Sgln.of("0614141000012", None, "0614141")
    assert building.epc_uri() == "urn:epc:id:sgln:0614141.00001.0"
    assert building.digital_link() == "https://id.gs1.org/414/0614141000012"


def test_wrong_check_digits_are_named_by_key() -> None:
    assert problems('company: {name: X, gln: "0614141000006"}\n') == [
        "site.yaml:1: company.gln: Invalid GLN check digit for '0614141000006': Expected 5, got 6."]
    found = problems(COMPANY + "locations:\n  - {id: dock, gln: \"0614141000013\", sgln_extension: d1}\n")
    assert found == ["site.yaml:3: locations[0].gln: Invalid GLN check digit for '0614141000013': Expected 2, got 3."]


def test_company_prefix_must_start_the_company_gln() -> None:
    (found,) = problems('company: {name: X, gln: "0614141000005", company_prefix: "0614142"}\n')
    assert found.startswith("site.yaml:1: company.company_prefix: '0614142' must be 6 to 12 digits")


def test_sglns_are_unique_and_a_read_point_may_share_only_its_own_location() -> None:
    text = COMPANY + """locations:
  - {id: dock, sgln_extension: d1}
  - {id: store, sgln_extension: d1}
  - {id: shelf, sgln_extension: s1}
read_points:
  - {id: shelf-rp, location: shelf, kind: storage, sgln_extension: s1}
  - {id: dock-rp, location: dock, kind: dock_door_inner, sgln_extension: s1}
  - {id: bad ext, location: dock, kind: dock_door_inner, sgln_extension: "a b"}
"""
    assert problems(text) == [
        "site.yaml:4: locations[1].sgln_extension: SGLN urn:epc:id:sgln:0614141.00000.d1 is also used by location 'dock'",
        "site.yaml:8: read_points[1].sgln_extension: SGLN urn:epc:id:sgln:0614141.00000.s1 is also used by read point 'shelf-rp'",
        "site.yaml:9: read_points[2].sgln_extension: SGLN extension 'a b' is not valid (at most 20 of GS1's AI 254 characters)",
    ]


def test_read_points_name_declared_locations_once() -> None:
    text = COMPANY + """locations:
  - {id: dock, sgln_extension: d1}
  - {id: dock, sgln_extension: d2}
read_points:
  - {id: rp, location: dok, kind: storage}
"""
    assert problems(text) == ["site.yaml:4: locations[1].id: duplicate location id 'dock'",
                              "site.yaml:6: read_points[0].location: location 'dok' is not in locations"]


def test_time_zone_is_an_iana_name() -> None:
    assert parse_site("time_zone: Europe/Berlin\n").time_zone == "Europe/Berlin"
    assert parse_site("").time_zone == "UTC"
    assert problems("time_zone: CEST\n") == [
        "site.yaml:1: time_zone: unknown IANA time zone 'CEST' (e.g. Europe/Berlin, America/New_York, UTC)"]


def test_example_and_demo_sites_ship_with_gln_and_sglns() -> None:
    example = load_site(REPO / "deploy" / "site.example.yaml")
    demo = DemoWarehouse(2, {"door-1": 1, "door-2": 2, "zone-reader": 3}, 4, REPO).site()
    for site in (example, demo):
        found = gs1_locations(site)
        assert parse_gln(site.company.gln) and site.time_zone == "America/New_York"
        assert (found.problems, found.unidentified) == ([], [])
        assert set(found.read_points) == {rp.id for rp in site.read_points}
        # every place an item is read at, and every described location (the demo's trading partners' sites)
        assert set(found.locations) == {rp.location for rp in site.read_points} | {loc.id for loc in site.locations}
        assert all(s.epc_uri().startswith("urn:epc:id:sgln:0614141.") for s in found.read_points.values())


def test_check_config_warns_about_places_without_gs1_ids(tmp_path, capsys) -> None:
    bare = tmp_path / "bare.yaml"
    bare.write_text("read_points:\n  - {id: rp, location: dock, kind: storage}\n")
    assert check_config.handle(argparse.Namespace(file=str(bare))) == 0
    assert "warning: no company (GLN)" in capsys.readouterr().err
    partial = tmp_path / "partial.yaml"
    partial.write_text(COMPANY + "read_points:\n  - {id: rp, location: dock, kind: storage}\n")
    check_config.handle(argparse.Namespace(file=str(partial)))
    assert "warning: read_points[0] (rp): no gln or sgln_extension: exported as urn:tagtrail:" in capsys.readouterr().err
    check_config.handle(argparse.Namespace(file=str(REPO / "deploy" / "site.example.yaml")))
    assert "warning" not in capsys.readouterr().err


def test_demo_writes_a_site_file_that_gives_its_exports_gs1_places(tmp_path) -> None:
    demo = DemoWarehouse(2, {"door-1": 1, "door-2": 2, "zone-reader": 3}, 4, tmp_path).site()
    (tmp_path / "site.yaml").write_text(site_file_text(demo))
    again = load_site(tmp_path / "site.yaml")
    assert again.clickhouse == demo.clickhouse  # `tagtrail epcis --site` reads the demo's database
    assert (again.company, again.time_zone, again.locations) == (demo.company, demo.time_zone, demo.locations)
    assert gs1_locations(again).read_points == gs1_locations(demo).read_points
