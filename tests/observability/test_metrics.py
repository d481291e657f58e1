"""What operators scrape: each service's counters move by what it did, under the right labels."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from tagtrail.observability import Metrics
from tests.observability.conftest import Scraper


def test_tag_reads_are_counted_per_reader(metrics: Metrics, scraper: Scraper) -> None:
    metrics.tag_reads("door-1", 40)
    metrics.tag_reads("door-1", 2)
    metrics.tag_reads("storage-a")
    assert scraper.value("tagtrail_reads_total", reader="door-1") == 42
    assert scraper.value("tagtrail_reads_total", reader="storage-a") == 1


def test_reader_link_state_sets_connected_and_counts_transitions(metrics: Metrics, scraper: Scraper) -> None:
    metrics.reader_known("door-2")
    assert scraper.value("tagtrail_reader_connected", reader="door-2") == 0
    for state, up in [("connecting", False), ("connected", True), ("disconnected", False), ("connecting", False), ("connected", True)]:
        metrics.reader_state("door-2", state, connected=up)
    assert scraper.value("tagtrail_reader_connected", reader="door-2") == 1
    assert scraper.value("tagtrail_reader_state_changes_total", reader="door-2", state="connected") == 2
    assert scraper.value("tagtrail_reader_state_changes_total", reader="door-2", state="disconnected") == 1
    metrics.reader_state("door-2", "dead", connected=False)
    assert scraper.value("tagtrail_reader_connected", reader="door-2") == 0


def test_known_reader_shows_zero_reads_before_its_first_report(metrics: Metrics, scraper: Scraper) -> None:
    """A dashboard must show a configured but silent reader as 0, not leave it out."""
    metrics.reader_known("door-9")
    assert scraper.value("tagtrail_reads_total", reader="door-9") == 0


def test_spool_depth_follows_the_latest_value(metrics: Metrics, scraper: Scraper) -> None:
    metrics.spool_bytes(1_048_576)
    assert scraper.value("tagtrail_spool_bytes") == 1_048_576
    metrics.spool_bytes(0)
    assert scraper.value("tagtrail_spool_bytes") == 0


def test_scans_by_device_and_verdict(metrics: Metrics, scraper: Scraper) -> None:
    metrics.scans("handheld-01", "accepted", 10)
    metrics.scans("handheld-01", "no_serial")
    metrics.scans("pack-1-wedge", "accepted", 3)
    assert scraper.value("tagtrail_scans_total", device="handheld-01", verdict="accepted") == 10
    assert scraper.value("tagtrail_scans_total", device="handheld-01", verdict="no_serial") == 1
    assert scraper.value("tagtrail_scans_total", device="pack-1-wedge", verdict="accepted") == 3


def test_dedup_ratio_is_reads_over_observations(metrics: Metrics, scraper: Scraper) -> None:
    metrics.reads_smoothed(1_000)
    metrics.observations(40)
    metrics.reads_smoothed(1_000)
    metrics.observations(10)
    samples = scraper.samples()
    ratio = samples[("tagtrail_reads_smoothed_total", frozenset())] / samples[("tagtrail_observations_total", frozenset())]
    assert ratio == pytest.approx(40.0)


def test_movements_by_type(metrics: Metrics, scraper: Scraper) -> None:
    metrics.movements("moved", 5)
    metrics.movements("departed")
    assert scraper.value("tagtrail_movements_total", type="moved") == 5
    assert scraper.value("tagtrail_movements_total", type="departed") == 1


def test_sink_batches_fill_both_histograms(metrics: Metrics, scraper: Scraper) -> None:
    metrics.sink_batch(50_000, 0.8)
    metrics.sink_batch(120, 0.02)
    assert scraper.value("tagtrail_sink_batch_rows_count") == 2
    assert scraper.value("tagtrail_sink_batch_rows_sum") == 50_120
    assert scraper.value("tagtrail_sink_batch_rows_bucket", le="1000.0") == 1
    assert scraper.value("tagtrail_sink_batch_seconds_sum") == pytest.approx(0.82)
    assert scraper.value("tagtrail_sink_batch_seconds_bucket", le="0.025") == 1


def test_consumer_lag_per_partition_and_forgotten_after_rebalance(metrics: Metrics, scraper: Scraper) -> None:
    metrics.consumer_lag("process", "tagtrail.reads", 0, 120)
    metrics.consumer_lag("process", "tagtrail.reads", 1, 0)
    assert scraper.value("tagtrail_consumer_lag", stage="process", topic="tagtrail.reads", partition="0") == 120
    metrics.forget_partition("process", "tagtrail.reads", 0)
    metrics.forget_partition("process", "tagtrail.reads", 7)  # never reported: no error
    assert scraper.value("tagtrail_consumer_lag", stage="process", topic="tagtrail.reads", partition="0") is None
    assert scraper.value("tagtrail_consumer_lag", stage="process", topic="tagtrail.reads", partition="1") == 0


def test_dead_letters_by_stage_and_reason(metrics: Metrics, scraper: Scraper) -> None:
    metrics.dead_letter("process", "undecodable", 2)
    metrics.dead_letter("ingest-scans", "bad_check_digit")
    assert scraper.value("tagtrail_dead_letters_total", stage="process", reason="undecodable") == 2
    assert scraper.value("tagtrail_dead_letters_total", stage="ingest-scans", reason="bad_check_digit") == 1


def test_each_metrics_object_counts_only_on_its_own_registry() -> None:
    """No globals: two services in one process (tagtrail run, tests) must not share counts."""
    a, b = Metrics(CollectorRegistry()), Metrics(CollectorRegistry())
    a.tag_reads("door-1", 5)
    assert a.registry.get_sample_value("tagtrail_reads_total", {"reader": "door-1"}) == 5
    assert b.registry.get_sample_value("tagtrail_reads_total", {"reader": "door-1"}) is None


def test_free_text_label_values_are_truncated(metrics: Metrics, scraper: Scraper) -> None:
    metrics.dead_letter("process", "x" * 1000)
    reasons = [dict(labels)["reason"] for (name, labels) in scraper.samples() if name == "tagtrail_dead_letters_total"]
    assert len(reasons) == 1 and len(reasons[0]) <= 120 and reasons[0].startswith("xxx")


def test_scan_uploads_by_status_replays_and_latency(metrics: Metrics, scraper: Scraper) -> None:
    for status in (202, 202, 503, 401):
        metrics.scan_upload(status)
    metrics.scan_upload_replayed()
    metrics.scan_upload_committed(0.03)
    assert scraper.value("tagtrail_scan_uploads_total", status="202") == 2
    assert scraper.value("tagtrail_scan_uploads_total", status="503") == 1
    assert scraper.value("tagtrail_scan_uploads_total", status="401") == 1
    assert scraper.value("tagtrail_scan_upload_replays_total") == 1
    assert scraper.value("tagtrail_scan_upload_seconds_count") == 1
    assert scraper.value("tagtrail_scan_upload_seconds_bucket", le="0.05") == 1
    assert scraper.value("tagtrail_scan_upload_seconds_bucket", le="0.025") == 0


def test_sink_rows_total_adds_up_the_batches(metrics: Metrics, scraper: Scraper) -> None:
    metrics.sink_batch(400, 0.1)
    metrics.sink_batch(37, 0.05)
    assert scraper.value("tagtrail_sink_rows_total") == 437
