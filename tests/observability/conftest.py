"""A live metrics server per test, scraped over real HTTP like Prometheus does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tagtrail.observability import Metrics, MetricsServer, serve_metrics


@dataclass
class Scraper:
    server: MetricsServer

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.server.url}{path}", timeout=5)

    def samples(self) -> dict[tuple[str, frozenset], float]:
        """Every sample of the tagtrail families, keyed by (sample name, labels)."""
        response = self.get("/metrics")
        assert response.status_code == 200
        return tagtrail_samples(response.text)

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples().get((name, frozenset(labels.items())))


def tagtrail_samples(exposition: str) -> dict[tuple[str, frozenset], float]:
    """The tagtrail samples of a Prometheus text exposition, keyed by (sample name, labels)."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name.startswith("tagtrail_"):
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


@pytest.fixture
def readiness() -> threading.Event:
    """Set = ready; the server's readiness callback reads it on every probe."""
    return threading.Event()


@pytest.fixture
def scraper(metrics: Metrics, readiness: threading.Event) -> Iterator[Scraper]:
    server = serve_metrics(metrics, "127.0.0.1", 0, ready=readiness.is_set)
    try:
        yield Scraper(server)
    finally:
        server.close()
