"""The scan service's counts: verdicts of a committed upload, with reject reasons kept to a known set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from tagtrail.observability import Metrics
from tagtrail_ingest.scans.metering import OTHER_REASON, REJECT_REASONS, UploadMeter
from tagtrail_ingest.scans.verdict import ScanVerdict, UploadVerdict


def verdict(*reasons: str | None) -> UploadVerdict:
    scans = [ScanVerdict(i, "accepted") if r is None else ScanVerdict(i, "rejected", reason=r) for i, r in enumerate(reasons)]
    rejected = sum(1 for r in reasons if r is not None)
    return UploadVerdict("handheld-01", "u1", len(reasons) - rejected, rejected, scans)


def test_a_committed_upload_counts_its_scans_by_verdict_and_its_rejects_as_dead_letters() -> None:
    metrics = Metrics(CollectorRegistry())
    ticks = iter([10.0, 10.25])
    meter = UploadMeter(metrics, timer=lambda: next(ticks))
    meter.committed(verdict(None, None, "bad_check_digit", None, "bad_check_digit", "empty"), meter.started())
    value = metrics.registry.get_sample_value
    assert value("tagtrail_scans_total", {"device": "handheld-01", "verdict": "accepted"}) == 3
    assert value("tagtrail_scans_total", {"device": "handheld-01", "verdict": "bad_check_digit"}) == 2
    assert value("tagtrail_scans_total", {"device": "handheld-01", "verdict": "empty"}) == 1
    assert value("tagtrail_dead_letters_total", {"stage": "ingest.scans", "reason": "bad_check_digit"}) == 2
    assert value("tagtrail_scan_upload_seconds_sum") == 0.25


def test_an_unknown_reason_is_counted_as_other_so_series_stay_bounded() -> None:
    metrics = Metrics(CollectorRegistry())
    meter = UploadMeter(metrics)
    meter.committed(verdict("GTIN 0061414 not understood: quoted data", "no_serial"), meter.started())
    verdicts = {s.labels["verdict"] for f in metrics.registry.collect() if f.name == "tagtrail_scans" for s in f.samples
                if s.name == "tagtrail_scans_total"}
    assert verdicts == {OTHER_REASON, "no_serial"}
    assert verdicts <= REJECT_REASONS | {OTHER_REASON}

