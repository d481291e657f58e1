"""Secrets from the site config never reach a scrape, even when a service puts them in a label."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tagtrail.config import parse_site
from tagtrail.observability import LabelGuard, Metrics, serve_metrics, site_secrets

SITE = """
site_id: dc-test
kafka:
  bootstrap_servers: kafka:9092
  client:
    security.protocol: SASL_SSL
    sasl.mechanism: SCRAM-SHA-512
    sasl.username: tagtrail
    sasl.password: env:TEST_TAGTRAIL_KAFKA_PASSWORD
    ssl.key.password: literal-key-pass-777
clickhouse:
  dsn: https://ingest:dsn-pass-555@clickhouse:8443
  password: ch-pass-999
"""


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEST_TAGTRAIL_KAFKA_PASSWORD", "kafka-pass-123")
    return parse_site(SITE)


def test_site_secrets_resolves_references_and_collects_every_password(site) -> None:
    assert site_secrets(site) == {"kafka-pass-123", "literal-key-pass-777", "ch-pass-999", "dsn-pass-555"}


def test_no_secret_appears_in_scraped_output(site) -> None:
    metrics = Metrics.for_site(CollectorRegistry(), site)
    # Careless callers: an exception message as a reason, a token-ish string as a device.
    metrics.dead_letter("sink", "auth failed: user=ingest password=ch-pass-999")
    metrics.dead_letter("process", "SASL authentication failed for kafka-pass-123")
    metrics.scans("dsn-pass-555", "unauthorized")
    metrics.reader_state("door-1", "error literal-key-pass-777", connected=False)
    metrics.dead_letter("process", "undecodable")
    with serve_metrics(metrics, "127.0.0.1", 0) as server:
        text = httpx.get(f"{server.url}/metrics").text
    for secret in ("kafka-pass-123", "literal-key-pass-777", "ch-pass-999", "dsn-pass-555"):
        assert secret not in text
    assert 'tagtrail_dead_letters_total{reason="redacted",stage="sink"} 1.0' in text
    assert 'tagtrail_dead_letters_total{reason="redacted",stage="process"} 1.0' in text
    assert 'tagtrail_dead_letters_total{reason="undecodable",stage="process"} 1.0' in text
    assert 'tagtrail_scans_total{device="redacted",verdict="unauthorized"} 1.0' in text


def test_guard_leaves_ordinary_labels_alone_and_ignores_tiny_secrets() -> None:
    guard = LabelGuard(["s3cret-value", "ab"])
    assert guard("door-1") == "door-1"
    assert guard("ab-door") == "ab-door"  # a two-letter "secret" would redact half the labels
    assert guard("x s3cret-value y") == "redacted"
    assert guard(None) == ""


def test_clickhouse_password_reference_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_TAGTRAIL_CH_PASSWORD", "from-env-4242")
    site = parse_site("clickhouse:\n  dsn: https://clickhouse:8443\n  password: env:TEST_TAGTRAIL_CH_PASSWORD\n")
    assert site_secrets(site) == {"from-env-4242"}


def test_unresolvable_reference_is_skipped_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_TAGTRAIL_MISSING", raising=False)
    site = parse_site("kafka:\n  client:\n    sasl.password: env:TEST_TAGTRAIL_MISSING\n")
    assert site_secrets(site) == frozenset()
