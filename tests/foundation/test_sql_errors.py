"""`tagtrail sql` reports a bad query in terms of the query the user typed, not the one sent
(clickhouse-connect appends `\\n FORMAT Native`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tagtrail.clickhouse.query_errors import describe_query_error


def tagtrail(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagtrail_cli.main", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("sql-errors")
    assert tagtrail("migrate", "--clickhouse", "chdb://ch", cwd=cwd).returncode == 0
    return cwd, "chdb://ch"


@pytest.mark.parametrize("query", [
    "SELECT count() FROM movements WHERE",      # ends inside a WHERE: FORMAT is read as its expression
    "SELECT * FROM movements LIMIT",            # ClickHouse fails "at position N (FORMAT)"
    "SELECT (1",                                # unmatched parenthesis, found at the appended clause
    "SELECT 1 +",                               # FORMAT taken for a column name
])
def test_a_query_that_stops_too_early_is_said_so_without_text_the_user_never_wrote(database, query: str) -> None:
    cwd, dsn = database
    result = tagtrail("sql", query, "--clickhouse", dsn, cwd=cwd)
    assert result.returncode == 2
    assert "query failed" in result.stderr and "failed at the end of the query" in result.stderr
    assert "(FORMAT)" not in result.stderr and "Native" not in result.stderr  # FORMAT may be in "Expected one of"


def test_a_fault_inside_the_query_keeps_its_position(database) -> None:
    cwd, dsn = database
    result = tagtrail("sql", "SELEC 1", "--clickhouse", dsn, cwd=cwd)
    assert result.returncode == 2
    assert "failed at position 7 (1) (line 1, col 7): 1. Expected one of" in result.stderr
    assert "Native" not in result.stderr


def test_a_query_with_its_own_format_clause_is_told_to_use_the_option(database) -> None:
    cwd, dsn = database
    result = tagtrail("sql", "SELECT 1 FORMAT JSON", "--clickhouse", dsn, cwd=cwd)
    assert result.returncode == 2
    assert "the query ends with its own `FORMAT JSON`" in result.stderr and "--format" in result.stderr


def test_the_http_drivers_wording_is_cleaned_the_same_way() -> None:
    sent_error = ("HTTPDriver for http://ch:8123 received ClickHouse error code 62\n Code: 62. DB::Exception: Syntax "
                  "error: failed at position 32 (FORMAT) (line 2, col 2): FORMAT Native. Expected one of: number, "
                  "end of query. (SYNTAX_ERROR)")
    said = describe_query_error("SELECT * FROM movements LIMIT", sent_error)
    assert "failed at the end of the query" in said and "Expected one of: number" in said
    assert "Native" not in said and "position 32" not in said
