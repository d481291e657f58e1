"""Real services for the test suite: an Apache Kafka broker and a ClickHouse HTTP server.

Both run as separate processes on 127.0.0.1 so tests can stop, kill and restart them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KAFKA_SCRIPT = REPO / "deploy" / "local" / "kafka.sh"
CLICKHOUSE_SCRIPT = REPO / "deploy" / "local" / "clickhouse_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answers(url: str, process: subprocess.Popen | None = None, *, timeout_s: float = 60.0,
                       what: str = "the service") -> None:
    """Polls `url` until it answers 200, failing at once if `process` (the service) exited meanwhile.
    For /healthz and /readyz of services the tests start as subprocesses."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:  # refused, timed out, or an HTTP error status (HTTPError is an OSError)
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200 within {timeout_s:g} s ({what})")


def free_port_pair() -> int:
    """A port whose successor is free too (Kafka's controller listens on port + 1)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair found")


@dataclass
class KafkaBroker:
    """A broker started by deploy/local/kafka.sh, or an external one (`managed` False)."""

    bootstrap_servers: str
    data_dir: Path | None = None
    managed: bool = True

    def _script(self, action: str) -> None:
        if not self.managed:
            raise RuntimeError("cannot control an external broker (KAFKA_BOOTSTRAP_SERVERS)")
        subprocess.run([str(KAFKA_SCRIPT), action, str(self.data_dir)], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._script("start")
        wait_for_kafka(self.bootstrap_servers)

    def stop(self) -> None:
        self._script("stop")

    def kill(self) -> None:
        self._script("kill")


def wait_for_kafka(bootstrap: str, timeout_s: float = 60.0) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if admin.list_topics(timeout=5).brokers:
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kafka at {bootstrap} did not answer within {timeout_s} s")
        time.sleep(0.5)


def start_kafka(data_dir: Path) -> KafkaBroker:
    port = free_port_pair()
    subprocess.run([str(KAFKA_SCRIPT), "start", str(data_dir), str(port)], check=True, timeout=600)
    broker = KafkaBroker(f"127.0.0.1:{port}", data_dir)
    wait_for_kafka(broker.bootstrap_servers)
    return broker


@dataclass
class ClickHouseServer:
    """The chdb engine serving ClickHouse's HTTP protocol, in its own process."""

    data_dir: Path
    http_port: int
    tcp_port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout_s: float = 30.0) -> None:
        log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, str(CLICKHOUSE_SCRIPT), "--data", str(self.data_dir),
             "--http-port", str(self.http_port), "--tcp-port", str(self.tcp_port)],
            stdout=log, stderr=log, start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ClickHouse server exited with {self.process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as r:
                    if r.read().strip() == b"Ok.":
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"ClickHouse server did not answer /ping within {timeout_s} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def start_clickhouse(data_dir: Path) -> ClickHouseServer:
    server = ClickHouseServer(data_dir, free_port(), free_port())
    data_dir.mkdir(parents=True, exist_ok=True)
    server.start()
    return server
