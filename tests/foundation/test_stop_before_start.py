"""A stage asked to stop while it still waits for Kafka or ClickHouse ends at once, cleanly: a SIGTERM at
start-up (a rolling restart, an operator's Ctrl-C while the broker is down) must not wait out the broker
timeout and then exit as if it had crashed."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.services import REPO


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_site(path: Path, clickhouse_dsn: str) -> Path:
    path.write_text(yaml.safe_dump({
        "site_id": "stop-before-start",
        "kafka": {"bootstrap_servers": f"127.0.0.1:{closed_port()}", "topic_prefix": "sbs"},
        "clickhouse": {"dsn": clickhouse_dsn, "database": "tagtrail"},
    }))
    return path


def wait_for_line(log: Path, proc: subprocess.Popen, needle: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if needle in log.read_text():
            return
        assert proc.poll() is None, f"exited early ({proc.returncode}): {log.read_text()[-1500:]}"
        time.sleep(0.05)
    raise AssertionError(f"no {needle!r} within {timeout_s} s: {log.read_text()[-1500:]}")


@pytest.mark.parametrize(("command", "awaited", "needle"), [
    ("sink", "ClickHouse", '"clickhouse_unreachable"'),
    ("sink", "Kafka", '"event": "kafka"'),
    ("process", "Kafka", '"event": "kafka"'),
])
def test_sigterm_while_waiting_for_a_service_ends_the_stage_at_once_with_exit_0(tmp_path, command, awaited, needle):
    dsn = f"http://127.0.0.1:{closed_port()}" if awaited == "ClickHouse" else f"chdb://{tmp_path / 'chdb'}"
    site = write_site(tmp_path / "site.yaml", dsn)
    log = tmp_path / "stage.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "--log-json", command, "--site", str(site)],
                                cwd=REPO, stdout=out, stderr=out, start_new_session=True)
    try:
        wait_for_line(log, proc, needle)  # logged once the signal handlers are in place, then it waits
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        code = proc.wait(20)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 0, text[-1500:]
    assert '"stopped_before_start"' in text and f'"waiting_for": "{awaited}"' in text, text[-1500:]
    assert "unexpected_error" not in text
    # the broker wait is 30 s and ClickHouse's backoff goes to 10 s: a stop is seen between rounds
    assert took < 10.0, f"took {took:.1f} s to stop"
