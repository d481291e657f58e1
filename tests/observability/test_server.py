"""The probe and scrape endpoints: what Kubernetes and Prometheus see from every service."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tagtrail.observability import Metrics, serve_metrics
from tests.observability.conftest import Scraper
from tests.services import free_port


def test_readyz_follows_the_readiness_callback(scraper: Scraper, readiness: threading.Event) -> None:
    assert scraper.get("/readyz").status_code == 503
    readiness.set()
    assert scraper.get("/readyz").status_code == 200
    readiness.clear()
    assert scraper.get("/readyz").status_code == 503


def test_healthz_answers_while_not_ready(scraper: Scraper) -> None:
    """Not ready (e.g. Kafka down) must not fail liveness: a restart would not bring Kafka back."""
    assert scraper.get("/readyz").status_code == 503
    assert scraper.get("/healthz").status_code == 200


def test_liveness_callback_and_a_failing_check_do_not_leak_its_message() -> None:
    alive = threading.Event()

    def ready() -> bool:
        raise ConnectionError("could not reach http://default:hunter2-secret@clickhouse:8123")

    with serve_metrics(Metrics(CollectorRegistry()), "127.0.0.1", 0, ready=ready, live=alive.is_set) as server:
        assert httpx.get(f"{server.url}/healthz").status_code == 503
        alive.set()
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        answer = httpx.get(f"{server.url}/readyz")
        assert answer.status_code == 503
        assert "ConnectionError" in answer.text and "hunter2" not in answer.text


def test_unknown_paths_are_404(scraper: Scraper) -> None:
    assert scraper.get("/").status_code == 404
    assert scraper.get("/metricsx").status_code == 404


def test_port_zero_binds_a_free_port_and_close_releases_it() -> None:
    first = serve_metrics(Metrics(CollectorRegistry()), "127.0.0.1", 0)
    second = serve_metrics(Metrics(CollectorRegistry()), "127.0.0.1", 0)
    try:
        assert first.port != second.port and first.port > 0
        assert httpx.get(f"{second.url}/healthz").status_code == 200
    finally:
        second.close()
    first.close()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", first.port))  # raises if the server still held it
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{first.url}/healthz", timeout=1)


def test_a_given_port_is_used(metrics: Metrics) -> None:
    port = free_port()
    with serve_metrics(metrics, "127.0.0.1", port) as server:
        assert server.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
