"""The metric families every tagtrail service reports, on a registry the caller owns.

One class for all stages so names, labels and buckets are defined once and dashboards can rely on
them; a stage simply never touches the families of other stages. Methods, not raw metric objects,
are the interface: each label value passes the LabelGuard, so a secret can never reach a scrape.

Names (all prefixed `tagtrail_`):
  reads_total{reader}                      tag reads the LLRP adapter accepted from a reader
  reader_connected{reader}                 1 while the LLRP link is up, else 0
  reader_state_changes_total{reader,state} every transition of a reader link
  spool_bytes                              bytes waiting in the adapter's disk spool (Kafka unreachable)
  scans_total{device,verdict}              handheld scans by device and verdict (accepted or a reject reason),
                                           counted once the upload's Kafka transaction committed
  scan_uploads_total{status}               answers to POST /v1/scans, by HTTP status (202, 4xx, 503)
  scan_upload_replays_total                202 answers that replayed a stored verdict (a device retried)
  scan_upload_seconds                      upload received to its scans committed on Kafka (histogram)
  consumer_lag{stage,topic,partition}      records between a consumer's position and the log end
  reads_smoothed_total                     raw reads the smoothing stage consumed
  observations_total                       observations smoothing produced (dedup ratio = reads / observations)
  movements_total{type}                    movements published, by movement type
  sink_batch_rows                          rows per ClickHouse insert (histogram)
  sink_batch_seconds                       seconds per ClickHouse insert (histogram)
  sink_rows_total                          rows ClickHouse acknowledged (replays after a crash count again)
  dead_letters_total{stage,reason}         inputs rejected to the dead-letter topic
  stage_restarts_total{stage}              restarts of a failed stage by `tagtrail run`'s supervisor
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tagtrail.config import SiteConfig
from tagtrail.observability.labels import LabelGuard, site_secrets

BATCH_ROW_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000)
BATCH_SECOND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A device waits for the answer; past the publish timeout (default 10 s) it gets a 503 instead.
UPLOAD_SECOND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """All tagtrail metric families, registered on `registry` (never the process-global one)."""

    def __init__(self, registry: CollectorRegistry, *, guard: LabelGuard | None = None) -> None:
        self.registry = registry
        self._label = guard or LabelGuard()

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"tagtrail_{name}", doc, labels, registry=registry)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(f"tagtrail_{name}", doc, labels, registry=registry)

        self._reads = counter("reads", "Tag reads accepted from each LLRP reader.", ("reader",))
        self._reader_connected = gauge("reader_connected", "1 while the LLRP link to the reader is up.", ("reader",))
        self._reader_state_changes = counter(
            "reader_state_changes", "Transitions of each LLRP reader link, by the state entered.", ("reader", "state")
        )
        self._spool_bytes = gauge("spool_bytes", "Bytes of tag reads spooled to disk while Kafka is unreachable.")
        self._scans = counter("scans", "Handheld scans by device and verdict.", ("device", "verdict"))
        self._scan_uploads = counter("scan_uploads", "Answers to scan uploads, by HTTP status.", ("status",))
        self._scan_upload_replays = counter("scan_upload_replays", "Uploads answered with the verdict stored for an earlier try.")
        self._scan_upload_seconds = Histogram(
            "tagtrail_scan_upload_seconds", "Seconds from an upload's arrival to its scans committed on Kafka.",
            buckets=UPLOAD_SECOND_BUCKETS, registry=registry,
        )
        self._consumer_lag = gauge(
            "consumer_lag", "Records between the consumer position and the end of the partition.", ("stage", "topic", "partition")
        )
        self._reads_smoothed = counter("reads_smoothed", "Raw reads consumed by the smoothing stage.")
        self._observations = counter("observations", "Observations produced by smoothing (one per item, read point and window).")
        self._movements = counter("movements", "Movements published, by movement type.", ("type",))
        self._sink_batch_rows = Histogram(
            "tagtrail_sink_batch_rows", "Rows per ClickHouse insert.", buckets=BATCH_ROW_BUCKETS, registry=registry
        )
        self._sink_batch_seconds = Histogram(
            "tagtrail_sink_batch_seconds", "Seconds per ClickHouse insert, until acknowledged.", buckets=BATCH_SECOND_BUCKETS, registry=registry
        )
        self._sink_rows = counter("sink_rows", "Rows ClickHouse acknowledged.")
        self._dead_letters = counter("dead_letters", "Inputs rejected to the dead-letter topic.", ("stage", "reason"))
        self._stage_restarts = counter("stage_restarts", "Restarts of a failed stage by the tagtrail run supervisor.", ("stage",))

    @classmethod
    def for_site(cls, registry: CollectorRegistry, site: SiteConfig) -> Metrics:
        """The usual constructor in a service: label values are guarded against the site's secrets."""
        return cls(registry, guard=LabelGuard(site_secrets(site)))

    # LLRP adapter
    def tag_reads(self, reader: str, count: int = 1) -> None:
        self._reads.labels(reader=self._label(reader)).inc(count)

    def reader_state(self, reader: str, state: str, *, connected: bool) -> None:
        """A reader link entered `state` (e.g. connecting, connected, disconnected, dead)."""
        reader_label = self._label(reader)
        self._reader_state_changes.labels(reader=reader_label, state=self._label(state)).inc()
        self._reader_connected.labels(reader=reader_label).set(1 if connected else 0)

    def reader_known(self, reader: str) -> None:
        """Publishes a configured reader as disconnected before its first connect, so it shows up as down."""
        self._reader_connected.labels(reader=self._label(reader)).set(0)
        self._reads.labels(reader=self._label(reader))

    def spool_bytes(self, size: int) -> None:
        self._spool_bytes.set(size)

    # scan service
    def scans(self, device: str, verdict: str, count: int = 1) -> None:
        self._scans.labels(device=self._label(device), verdict=self._label(verdict)).inc(count)

    def scan_upload(self, status: int) -> None:
        """One answer to an upload; `status` is the HTTP status code."""
        self._scan_uploads.labels(status=str(int(status))).inc()

    def scan_upload_replayed(self) -> None:
        self._scan_upload_replays.inc()

    def scan_upload_committed(self, seconds: float) -> None:
        self._scan_upload_seconds.observe(seconds)

    # consumers (processor, sink)
    def consumer_lag(self, stage: str, topic: str, partition: int, lag: int) -> None:
        self._consumer_lag.labels(stage=self._label(stage), topic=self._label(topic), partition=str(int(partition))).set(max(lag, 0))

    def forget_partition(self, stage: str, topic: str, partition: int) -> None:
        """Drops the lag series of a partition this consumer no longer owns (after a rebalance)."""
        try:
            self._consumer_lag.remove(self._label(stage), self._label(topic), str(int(partition)))
        except KeyError:
            pass

    # processor
    def reads_smoothed(self, count: int) -> None:
        self._reads_smoothed.inc(count)

    def observations(self, count: int) -> None:
        self._observations.inc(count)

    def movements(self, movement_type: str, count: int = 1) -> None:
        self._movements.labels(type=self._label(movement_type)).inc(count)

    # sink
    def sink_batch(self, rows: int, seconds: float) -> None:
        """One insert ClickHouse acknowledged: its rows and how long it took."""
        self._sink_batch_rows.observe(rows)
        self._sink_batch_seconds.observe(seconds)
        self._sink_rows.inc(rows)

    # every stage
    def dead_letter(self, stage: str, reason: str, count: int = 1) -> None:
        self._dead_letters.labels(stage=self._label(stage), reason=self._label(reason)).inc(count)

    def stage_restarted(self, stage: str) -> None:
        """`tagtrail run` restarted this stage after it failed."""
        self._stage_restarts.labels(stage=self._label(stage)).inc()
