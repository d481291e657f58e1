"""`--log-json` means JSON on every stderr line, including what sllurp and librdkafka log."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_site(tmp_path: Path, *, reader_port: int, bootstrap: str | None) -> Path:
    kafka = f"kafka: {{bootstrap_servers: '{bootstrap}'}}\n" if bootstrap else ""
    site = tmp_path / "site.yaml"
    site.write_text(
        "site_id: logs\n" + kafka +
        "read_points:\n  - {id: rp-1, location: storage-a, zone: storage, kind: storage}\n"
        f"readers:\n  - {{id: r1, host: 127.0.0.1, port: {reader_port}, antennas: [{{port: 1, read_point: rp-1}}]}}\n"
        f"llrp: {{spool_dir: '{tmp_path / 'spool'}'}}\n"
    )
    return site


def stderr_until(args: list[str], seen_enough: Callable[[list[str]], bool], timeout_s: float = 60.0) -> list[str]:
    """The complete stderr lines of `tagtrail ARGS` up to the point where `seen_enough` holds."""
    proc = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            if line.endswith("\n"):
                lines.append(line.rstrip("\n"))
                if seen_enough(list(lines)):
                    done.set()
        done.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        done.wait(timeout_s)
    finally:
        proc.kill()
        proc.wait(10)
    return list(lines)


def parsed(lines: list[str]) -> list[dict]:
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return events


def test_sllurp_messages_are_json_lines(tmp_path: Path) -> None:
    # sllurp logs its settings ("using antennas: [1]") each time a link is built, whatever the reader
    # answers; at --log-level debug libraries' info messages show too. Embedded Kafka: nothing fails there.
    site = write_site(tmp_path, reader_port=closed_port(), bootstrap=None)
    lines = stderr_until(["--log-json", "--log-level", "debug", "ingest", "llrp", "--site", str(site)],
                         lambda seen: any("using antennas" in line for line in seen))
    events = parsed(lines)
    sllurp = [e for e in events if str(e.get("logger", "")).startswith("sllurp")]
    assert any(e["event"] == "using antennas: [1]" and e["level"] == "info" for e in sllurp), lines


def test_librdkafka_messages_are_json_lines(tmp_path: Path) -> None:
    site = write_site(tmp_path, reader_port=closed_port(), bootstrap=f"127.0.0.1:{closed_port()}")
    started = time.monotonic()
    lines = stderr_until(["--log-json", "ingest", "llrp", "--site", str(site)],
                         lambda seen: any("Connection refused" in line for line in seen))
    events = parsed(lines)
    refused = [e for e in events if e["event"] == "librdkafka" and "Connection refused" in e["message"]]
    assert refused, lines
    assert refused[0]["level"] == "error" and refused[0]["facility"] == "FAIL"
    # logged while tagtrail waits for the broker, not only when it gives up after 30 s
    assert time.monotonic() - started < 25


def test_a_failed_command_says_why_in_json_too(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tagtrail_cli.main", "--log-json", "sql", "SELECT 1",
                             "--clickhouse", f"chdb://{tmp_path / 'missing'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    events = parsed(result.stderr.splitlines())
    assert events[-1]["event"] == "command_failed" and events[-1]["command"] == "sql"
    assert events[-1]["error"] == f"no tagtrail database at {tmp_path / 'missing'}: the folder does not exist"


def test_library_warnings_show_at_the_default_level_and_their_info_only_at_debug() -> None:
    emit = ("import logging, sys; from tagtrail.structured_logs import configure_logging; "
            "configure_logging(level=sys.argv[1], json=True); "
            "log = logging.getLogger('sllurp.llrp_proto'); "
            "log.warning('Unknown Status code %s', 112); log.info('using antennas: %s', [1])")
    for level, expected in (("info", ["Unknown Status code 112"]),
                            ("debug", ["Unknown Status code 112", "using antennas: [1]"])):
        result = subprocess.run([sys.executable, "-c", emit, level], capture_output=True, text=True, timeout=60)
        events = parsed(result.stderr.splitlines())
        assert [e["event"] for e in events] == expected, result.stderr
        assert {e["logger"] for e in events} == {"sllurp.llrp_proto"}
