"""The command line as a user meets it: --help everywhere, plain errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tagtrail_cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]


def tagtrail(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tagtrail_cli.main", *args],
        capture_output=True, text=True, input=stdin, cwd=cwd, timeout=120,
    )


def all_command_paths() -> list[list[str]]:
    paths = []
    parser = build_parser()
    for action in parser._subparsers._group_actions:
        for name, sub in action.choices.items():
            paths.append([name])
            for inner in getattr(sub, "_subparsers", None)._group_actions if sub._subparsers else []:
                paths += [[name, inner_name] for inner_name in inner.choices]
    return paths


@pytest.mark.parametrize("path", all_command_paths(), ids=" ".join)
def test_every_command_has_help(path: list[str]) -> None:
    result = tagtrail(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: tagtrail" in result.stdout


def test_decode_prints_identity_json() -> None:
    result = tagtrail("decode", "3074257BF7194E4000001A85")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["identity"]["epc_uri"] == "urn:epc:id:sgtin:0614141.812345.6789"
    assert out["identity"]["item_key"] == "01/80614141123458/21/6789"


def test_decode_of_a_garbled_barcode_is_a_plain_error() -> None:
    result = tagtrail("decode", "(01)80614141123459(21)1")
    assert result.returncode == 2
    assert "Invalid GTIN check digit" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_config_reports_line_and_key_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text("kafka:\n  partitions: 0\nreaders:\n  - {id: r, host: h, antennas: [{port: 1, read_point: x}]}\n")
    result = tagtrail("check-config", str(bad))
    assert result.returncode == 2
    assert f"{bad}:2: kafka.partitions: must be at least 1" in result.stderr
    assert f"{bad}:4: readers[0].antennas[0].read_point: unknown read point 'x'" in result.stderr
    assert "Traceback" not in result.stderr
    ok = tagtrail("check-config", str(REPO / "deploy" / "site.example.yaml"))
    assert ok.returncode == 0 and "OK" in ok.stdout


def test_missing_site_file_is_a_plain_error(tmp_path: Path) -> None:
    result = tagtrail("check-config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_sql_against_embedded_clickhouse(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 'ch'}"
    assert tagtrail("migrate", "--clickhouse", dsn).returncode == 0  # reads never create the database
    result = tagtrail("sql", "SELECT 40 + 2 AS answer", "--clickhouse", dsn, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"answer": 42}
    bad = tagtrail("sql", "SELEC nonsense", "--clickhouse", dsn)
    assert bad.returncode == 2 and "query failed" in bad.stderr and "Traceback" not in bad.stderr


def test_hash_token_matches_sha256() -> None:
    result = tagtrail("hash-token", "s3cret")
    assert result.stdout.strip() == "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
    generated = tagtrail("hash-token", "--new").stdout.splitlines()
    token, digest = generated[0].split()[-1], generated[1].split()[-1]
    assert tagtrail("hash-token", stdin=token + "\n").stdout.strip() == digest
