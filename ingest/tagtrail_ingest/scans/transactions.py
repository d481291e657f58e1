"""Opening and closing shipments and receipts, start to answer: check, decide against the book, publish.

One request at a time (an asyncio lock): transactions are few, and deciding "is it open?" and
publishing the answer must not interleave with another request for the same transaction. A record
is answered only after Kafka committed it (the scan publisher's transaction), like an upload.

Idempotency: a request with an `Idempotency-Key` header gets the event_id `api/<uuid5 of device and
key>`, so a retry finds the record its first attempt made (in the book, read back from Kafka) and gets
the same answer, marked `replayed`. Without a key, opening what is already open at the same place and
closing what is already closed change nothing and answer the current record (200).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable

import msgspec
import structlog

from tagtrail.config import SiteConfig
from tagtrail.events import BusinessTransaction
from tagtrail.kafka import KafkaConnection
from tagtrail.wire import Codec
from tagtrail_ingest.scans.assess import Clock
from tagtrail_ingest.scans.scan_publisher import KafkaUnavailable, Record, TransactionalPublisher
from tagtrail_ingest.scans.service import Answer, error_answer
from tagtrail_ingest.scans.transaction_answer import encode_answer, encode_list
from tagtrail_ingest.scans.transaction_barcode import TransactionBarcodeError, parse_transaction_barcode
from tagtrail_ingest.scans.transaction_book import BookUnavailable, TransactionBook
from tagtrail_ingest.scans.transaction_request import RequestError, SiteParties, build_transaction, decode_request

log = structlog.get_logger(__name__)

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# Names the event_ids of retried requests; fixed, so the same device and key give the same id after a restart.
EVENT_ID_NAMESPACE = uuid.UUID("6f1b2c9e-1d0a-4a57-9a43-6b1c0f5e2d17")


class TransactionDesk:
    def __init__(self, site: SiteConfig, conn: KafkaConnection, publisher: TransactionalPublisher, clock: Clock, *,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.site = site
        self.conn = conn
        self.publisher = publisher
        self.clock = clock
        self.new_id = new_id
        self.parties = SiteParties(site)
        self.book = TransactionBook(conn, timeout_s=site.scans.publish_timeout_s)
        self._codec = Codec("BusinessTransaction")
        self._lock = asyncio.Lock()
        self._separators = ("\x1d", site.scans.gs_substitute) if site.scans.gs_substitute else ("\x1d",)
        self._unavailable = {"Retry-After": str(site.scans.retry_after_s)}

    def close(self) -> None:
        self.book.close()

    # -- requests ---------------------------------------------------------------------------
    async def open(self, device: str, body: bytes, idempotency_key: str | None) -> Answer:
        try:
            event_id = self._event_id(device, idempotency_key)
            request = decode_request(body)
            barcode = None
            if request.barcode is not None:
                try:
                    barcode = parse_transaction_barcode(request.barcode, self._separators)
                except TransactionBarcodeError as exc:
                    raise RequestError("barcode", f"barcode: {exc}", "not_a_transaction_barcode") from exc
            record = build_transaction(request, self.parties, event_id=event_id, now=self.clock(), barcode=barcode)
        except RequestError as exc:
            return _refused(exc)
        async with self._lock:
            if (problem := await self._catch_up()) is not None:
                return problem
            prior = self.book.made_by(event_id)
            if prior is not None:
                return self._replay(prior, record.transaction_id, 201)
            current = self.book.current(record.transaction_id)
            if current is not None and current.status == "open":
                if (current.location, current.direction) == (record.location, record.direction):
                    return Answer(200, encode_answer(current))
                return error_answer(409, "already_open", f"{record.transaction_id} is open at {current.location} "
                                    f"({current.direction}); close it there first", transaction_id=record.transaction_id)
            return await self._publish(record, 201)

    async def close_transaction(self, device: str, transaction_id: str, idempotency_key: str | None) -> Answer:
        try:
            event_id = self._event_id(device, idempotency_key)
        except RequestError as exc:
            return _refused(exc)
        async with self._lock:
            if (problem := await self._catch_up()) is not None:
                return problem
            prior = self.book.made_by(event_id)
            if prior is not None:
                return self._replay(prior, transaction_id, 200)
            current = self.book.current(transaction_id)
            if current is None:
                return error_answer(404, "unknown_transaction", f"no transaction {transaction_id!r} was opened",
                                    transaction_id=transaction_id)
            if current.status == "closed":
                return Answer(200, encode_answer(current))
            now = max(self.clock(), current.recorded_at + 1)  # the close must be the latest version
            closed = msgspec.structs.replace(current, event_id=event_id, status="closed", closed_at=now, recorded_at=now)
            return await self._publish(closed, 200)

    async def listing(self, status: str | None, location: str | None) -> Answer:
        if location is not None:
            try:
                location = self.parties.location_id(location)
            except RequestError:
                pass  # not a place of this site: nothing is there
        async with self._lock:
            if (problem := await self._catch_up()) is not None:
                return problem
            found = [t for t in self.book.all() if (status is None or t.status == status)
                     and (location is None or t.location == location)]
        return Answer(200, encode_list(found))

    async def one(self, transaction_id: str) -> Answer:
        async with self._lock:
            if (problem := await self._catch_up()) is not None:
                return problem
            current = self.book.current(transaction_id)
        if current is None:
            return error_answer(404, "unknown_transaction", f"no transaction {transaction_id!r} was opened",
                                transaction_id=transaction_id)
        return Answer(200, encode_answer(current))

    # -- steps ------------------------------------------------------------------------------
    def _event_id(self, device: str, key: str | None) -> str:
        if key is None:
            return f"api/{self.new_id()}"
        if not IDEMPOTENCY_KEY.match(key):
            raise RequestError("Idempotency-Key", "the Idempotency-Key header must be 1-128 of A-Z a-z 0-9 . _ : -")
        return f"api/{uuid.uuid5(EVENT_ID_NAMESPACE, f'{device}/{key}')}"

    async def _catch_up(self) -> Answer | None:
        try:
            await asyncio.to_thread(self.book.catch_up)
        except BookUnavailable as exc:
            return error_answer(503, "kafka_unavailable", str(exc), self._unavailable)
        return None

    def _replay(self, prior: BusinessTransaction, transaction_id: str, status: int) -> Answer:
        if prior.transaction_id != transaction_id:
            return error_answer(422, "idempotency_key_reused", f"this Idempotency-Key was used for {prior.transaction_id}",
                                field="Idempotency-Key")
        return Answer(status, encode_answer(prior, replayed=True))

    async def _publish(self, record: BusinessTransaction, status: int) -> Answer:
        value = self._codec.encode(record)
        topic = self.conn.topics.transactions
        try:
            future = self.publisher.submit([], Record(topic, record.transaction_id.encode(), value, self.conn.partitions))
        except KafkaUnavailable as exc:
            return error_answer(503, "kafka_unavailable", str(exc), self._unavailable)
        # Noted as soon as Kafka committed, even if the request is cancelled meanwhile.
        future.add_done_callback(lambda f: None if f.exception() is not None else self.book.note(record))
        try:
            await asyncio.wrap_future(future)
        except KafkaUnavailable as exc:
            return error_answer(503, "kafka_unavailable", str(exc), self._unavailable)
        log.info("business_transaction_recorded", transaction_id=record.transaction_id, status=record.status,
                 location=record.location, direction=record.direction, event_id=record.event_id)
        return Answer(status, encode_answer(record))


def _refused(exc: RequestError) -> Answer:
    status = 400 if exc.error == "malformed_json" else 422
    return error_answer(status, exc.error, str(exc), field=exc.field)
