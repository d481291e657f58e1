"""The site config: the example ships valid, and every mistake is named with its file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagtrail.config import ConfigError, load_site, parse_site

REPO = Path(__file__).resolve().parents[2]


def test_example_site_loads_with_every_antenna_mapped() -> None:
    site = load_site(REPO / "deploy" / "site.example.yaml")
    assert site.site_id == "dc-example"
    ids = {rp.id for rp in site.read_points}
    assert all(a.read_point in ids for r in site.readers for a in r.antennas)
    assert site.reader("storage-a").rssi_scale == 0.01
    assert site.read_point("pack-1").smoothing_window_s == 10.0
    assert site.processing.steps == {"storage": "storing/sellable_not_accessible"}


def test_empty_file_gives_embedded_defaults() -> None:
    site = parse_site("")
    assert site.kafka.embedded
    assert site.clickhouse.dsn.startswith("chdb://")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_site(text, source="site.yaml")
    return info.value.problems


def test_unknown_key_is_named_with_its_line() -> None:
    found = problems("site_id: x\nkafka:\n  bootstrap: localhost:9092\n")
    assert found == [
        "site.yaml:3: kafka.bootstrap: unknown key (allowed: bootstrap_servers, topic_prefix, partitions, "
        "replication_factor, schema_registry_url, client)"
    ]


def test_wrong_type_and_missing_keys_are_all_reported() -> None:
    found = problems(
        "kafka:\n  partitions: many\nreaders:\n  - id: door-1\n    antennas: []\n"
    )
    assert "site.yaml:2: kafka.partitions: expected an int, got 'many'" in found
    assert "site.yaml:4: readers[0].host: required key is missing" in found


def test_cross_references_are_checked() -> None:
    found = problems(
        "read_points:\n"
        "  - {id: a, location: l, kind: shelf}\n"
        "readers:\n"
        "  - id: r\n"
        "    host: h\n"
        "    port: 70000\n"
        "    antennas:\n"
        "      - {port: 1, read_point: nowhere}\n"
        "scanners:\n"
        "  - {id: s, token_sha256: secret}\n"
    )
    assert any(p.startswith("site.yaml:2: read_points[0].kind: unknown kind 'shelf'") for p in found)
    assert "site.yaml:6: readers[0].port: port 70000 is out of range" in found
    assert "site.yaml:8: readers[0].antennas[0].read_point: unknown read point 'nowhere'" in found
    assert any(p.startswith("site.yaml:10: scanners[0].token_sha256: must be the 64-hex-digit SHA-256") for p in found)


def test_broken_yaml_names_the_line() -> None:
    found = problems("readers:\n  - id: [unclosed\n")
    assert len(found) == 1 and found[0].startswith("site.yaml:3: not valid YAML")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_site(tmp_path / "missing.yaml")
