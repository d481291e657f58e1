"""What the scan service tells /metrics: scans by verdict, answers by status, upload latency.

Scans are counted when the upload's Kafka transaction committed, not when they were assessed: a
503 (Kafka unreachable) publishes nothing, and the device's retry must not count its scans twice.
A reject reason becomes a label only if it is one of the known codes; anything else (a future
parser's code, free text) is counted as `other`, so a bug cannot grow the number of series.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from tagtrail.observability import Metrics
from tagtrail_ingest.scans.verdict import UploadVerdict

STAGE = "ingest.scans"
ACCEPTED = "accepted"
OTHER_REASON = "other"
# The reject reasons of assess.py, barcode parsing (tagtrail.identity) and locations.py.
REJECT_REASONS = frozenset({
    "empty", "unparseable", "bad_check_digit", "no_item_key", "no_serial", "too_long", "bad_symbology",
    "unknown_action", "bad_scanned_at", "scanned_in_future", "unknown_read_point", "bad_location",
})


def reason_label(reason: str | None) -> str:
    return reason if reason in REJECT_REASONS else OTHER_REASON


class UploadMeter:
    """Counts uploads on a `Metrics` (or does nothing without one, e.g. in tests of the API alone)."""

    def __init__(self, metrics: Metrics | None, *, timer: Callable[[], float] = time.perf_counter) -> None:
        self.metrics = metrics
        self.timer = timer

    def started(self) -> float:
        return self.timer()

    def committed(self, verdict: UploadVerdict, started: float) -> None:
        """The upload's scans, dead letters and verdict are committed on Kafka."""
        if self.metrics is None:
            return
        self.metrics.scan_upload_committed(self.timer() - started)
        if verdict.accepted:
            self.metrics.scans(verdict.device_id, ACCEPTED, verdict.accepted)
        if verdict.rejected:
            reasons = Counter(reason_label(s.reason) for s in verdict.scans if s.status != ACCEPTED)
            for reason, count in reasons.items():
                self.metrics.scans(verdict.device_id, reason, count)
                self.metrics.dead_letter(STAGE, reason, count)  # each rejected scan went to the dead-letter topic

    def replayed(self) -> None:
        if self.metrics is not None:
            self.metrics.scan_upload_replayed()

    def answered(self, status: int) -> None:
        if self.metrics is not None:
            self.metrics.scan_upload(status)
