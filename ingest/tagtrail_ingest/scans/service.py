"""One upload, start to answer: authenticate, read, look up, assess, publish, record.

Kept apart from the HTTP framework so the order of the steps (and what each failure answers)
reads top to bottom in `handle`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import msgspec
import structlog

from tagtrail.config import SiteConfig
from tagtrail.events import DeadLetter
from tagtrail.kafka import KafkaConnection
from tagtrail.observability import Metrics
from tagtrail.wire import Codec
from tagtrail_ingest.scans.assess import Clock, Rejection, ScanAssessor, wall_clock_micros
from tagtrail_ingest.scans.auth import DeviceTokens
from tagtrail_ingest.scans.ledger import LedgerUnavailable, UploadLedger
from tagtrail_ingest.scans.metering import UploadMeter
from tagtrail_ingest.scans.scan_publisher import KafkaUnavailable, Record, TransactionalPublisher
from tagtrail_ingest.scans.upload import BodyError, Upload, decode_csv, decode_json
from tagtrail_ingest.scans.verdict import UploadVerdict, decode_verdict, encode_verdict, verdict_for

log = structlog.get_logger(__name__)

STAGE = "ingest.scans"
MEDIA_TYPES = ("application/json", "text/csv")
MAX_VERDICT_BYTES = 900_000  # Kafka's default max.message.bytes is 1 MiB
MAX_DEAD_LETTER_PAYLOAD = 64 * 1024


@dataclass
class Answer:
    """What to send back: status, JSON body, extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def error_answer(status: int, error: str, detail: str, headers: dict[str, str] | None = None, **extra: object) -> Answer:
    return Answer(status, msgspec.json.encode({"error": error, "detail": detail, **extra}), headers or {})


class ScanService:
    def __init__(self, site: SiteConfig, conn: KafkaConnection, *, clock: Clock = wall_clock_micros, instance_id: str = "0",
                 metrics: Metrics | None = None) -> None:
        self.site = site
        self.settings = site.scans
        self.conn = conn
        self.clock = clock
        self.tokens = DeviceTokens(site.scanners)
        self.assessor = ScanAssessor(site)
        self.ledger = UploadLedger(conn, timeout_s=self.settings.publish_timeout_s)
        self.publisher = TransactionalPublisher(
            conn,
            transactional_id=f"{conn.topics.prefix}.ingest.scans.{site.site_id}.{instance_id}",
            timeout_s=self.settings.publish_timeout_s,
            on_uncertain=self.ledger.mark_stale,
        )
        self._scan_codec = Codec("Scan")
        self._dead_codec = Codec("DeadLetter")
        self._inflight: dict[str, asyncio.Future] = {}
        self.meter = UploadMeter(metrics)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Blocking: initialises the producer first (fencing any earlier instance, which aborts
        its open transaction) and then reads the ledger, so the ledger's end is final."""
        self.publisher.start()
        try:
            self.ledger.open()
        except LedgerUnavailable as exc:
            log.warning("upload_ledger_unavailable_at_start", error=str(exc))

    def close(self) -> None:
        self.publisher.close()
        self.ledger.close()

    def ready(self) -> tuple[bool, str]:
        if not self.ledger.loaded:
            return False, "upload ledger not loaded (Kafka unreachable at start?)"
        if not self.publisher.ready or not self.publisher.reachable():
            return False, "Kafka unreachable"
        return True, "ok"

    # -- one upload -----------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> str | None:
        return self.tokens.device_for(authorization)

    def decode(self, media_type: str, body: bytes, device_id: str | None, upload_id: str | None) -> Upload:
        if media_type == "text/csv":
            return decode_csv(body, device_id=device_id, upload_id=upload_id, max_scans=self.settings.max_scans_per_upload)
        return decode_json(body, max_scans=self.settings.max_scans_per_upload)

    async def handle(self, device: str, media_type: str, body: bytes, device_id: str | None, upload_id: str | None) -> Answer:
        started = self.meter.started()
        try:
            upload = await asyncio.to_thread(self.decode, media_type, body, device_id, upload_id)
        except BodyError as exc:
            return error_answer(exc.status, exc.error, exc.detail, **exc.extra)
        if upload.device_id != device:
            # Refused before anything reaches Kafka: a token must not let one device write as another.
            error = "wrong_device" if upload.device_id in self.tokens.devices else "unknown_device"
            return error_answer(403, error, f"this token belongs to device {device!r}, not {upload.device_id!r}")
        key = f"{upload.device_id}/{upload.upload_id}"
        while key in self._inflight:  # the same upload sent twice at once: the second waits for the first
            await asyncio.shield(self._inflight[key])
        done = asyncio.get_running_loop().create_future()
        self._inflight[key] = done
        try:
            return await self._handle_new(key, upload, started)
        finally:
            del self._inflight[key]
            done.set_result(None)

    async def _handle_new(self, key: str, upload: Upload, started: float) -> Answer:
        unavailable = {"Retry-After": str(self.settings.retry_after_s)}
        if not self.ledger.loaded:
            try:
                await asyncio.to_thread(self.ledger.open)
            except LedgerUnavailable as exc:
                return error_answer(503, "kafka_unavailable", str(exc), unavailable)
        try:
            stored = await asyncio.to_thread(self.ledger.lookup, key)
        except LedgerUnavailable as exc:
            return error_answer(503, "kafka_unavailable", str(exc), unavailable)
        if stored is not None:
            first = decode_verdict(stored)
            log.info("upload_replayed", device_id=upload.device_id, upload_id=upload.upload_id)
            self.meter.replayed()
            return Answer(202, encode_verdict(msgspec.structs.replace(first, replayed=True)))
        try:
            verdict, records, ledger_record = await asyncio.to_thread(self._prepare, upload)
        except BodyError as exc:
            return error_answer(exc.status, exc.error, exc.detail)
        try:
            future = self.publisher.submit(records, ledger_record)
        except KafkaUnavailable as exc:
            return error_answer(503, "kafka_unavailable", str(exc), unavailable)
        # Recorded by the publishing thread as soon as Kafka committed, even if this request is
        # cancelled meanwhile (client gone): a committed upload must always be found on retry.
        future.add_done_callback(lambda f: self._committed(key, ledger_record.value, f, verdict, started))
        try:
            await asyncio.wrap_future(future)
        except KafkaUnavailable as exc:
            return error_answer(503, "kafka_unavailable", str(exc), unavailable)
        log.info("upload_accepted", device_id=upload.device_id, upload_id=upload.upload_id,
                 accepted=verdict.accepted, rejected=verdict.rejected)
        return Answer(202, ledger_record.value)

    def _committed(self, key: str, verdict: bytes, future, judged: UploadVerdict, started: float) -> None:
        if future.exception() is not None:
            return
        where = future.result()
        if where is None:  # no delivery report for the ledger record: let the ledger read it from Kafka
            self.ledger.mark_stale()
        else:
            self.ledger.record(key, where[0], where[1], verdict)
        # Counted here, after the ledger, not at the answer: a cancelled request was committed too.
        self.meter.committed(judged, started)

    def _prepare(self, upload: Upload) -> tuple[UploadVerdict, list[Record], Record]:
        """CPU work of an upload (parse, encode), run off the event loop."""
        uploaded_at = self.clock()
        outcomes = self.assessor.assess(upload, uploaded_at)
        topics = self.conn.topics
        records: list[Record] = []
        scans, dead, partitions = topics.scans, topics.dead_letters, self.conn.partitions
        device_key = upload.device_id.encode()
        for outcome in outcomes:
            if isinstance(outcome, Rejection):
                payload = msgspec.json.encode(outcome.scan)
                context = {"device_id": upload.device_id, "upload_id": upload.upload_id, "index": str(outcome.index),
                           "event_id": f"{upload.device_id}/{upload.upload_id}/{outcome.index}"}
                if len(payload) > MAX_DEAD_LETTER_PAYLOAD:  # one Kafka record must hold it
                    context["payload_truncated_from"] = str(len(payload))
                    payload = payload[:MAX_DEAD_LETTER_PAYLOAD]
                letter = DeadLetter(source=upload.device_id, stage=STAGE, reason=outcome.reason, error=outcome.error,
                                    payload=payload, occurred_at=uploaded_at, context=context)
                records.append(Record(dead, device_key, self._dead_codec.encode(letter), 1))
            else:
                records.append(Record(scans, outcome.identity.item_key.encode(), self._scan_codec.encode(outcome), partitions))
        verdict = verdict_for(upload.device_id, upload.upload_id, outcomes)
        ledger = Record(self.ledger.topic, f"{upload.device_id}/{upload.upload_id}".encode(), encode_verdict(verdict), 1)
        if len(ledger.value) > MAX_VERDICT_BYTES:
            raise BodyError(413, "too_many_scans", f"the verdict of this upload would be {len(ledger.value)} bytes, more "
                            f"than one Kafka record holds ({MAX_VERDICT_BYTES}); send fewer scans per upload")
        return verdict, records, ledger
