"""Inserts one partition batch into ClickHouse with its deduplication token.

Transient failures (server down, timeouts, overload) are retried with backoff for as long as it takes,
so nothing is skipped; the caller's `wait` keeps the Kafka group membership alive meanwhile and says
when to give up (the service is stopping). When ClickHouse refuses the data itself, the batch is split
in halves until the refused records are isolated; they come back as `Rejected` for the dead-letter
topic and every other record is stored. Each insert's token names the offsets it covers, so the same
split after a crash produces the same tokens and ClickHouse drops what it already has.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from tagtrail.processors.sink.batches import PartitionBatch, Record
from tagtrail.processors.sink.container import ContainerWriter
from tagtrail.processors.sink.errors import error_code, is_data_error, server_message
from tagtrail.processors.sink.framing import MovementFraming

from tagtrail.wire import DecodeError

log = structlog.get_logger(__name__)

INGEST_TABLE = "movements_ingest"
# Batches are capped well below max_insert_block_size, so one insert is one block and one token.
MAX_BATCH_ROWS = 1_000_000
INSERT_SETTINGS = {
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "max_insert_block_size": 1_048_576,
}


class Stopping(Exception):
    """The service was asked to stop while waiting for ClickHouse; nothing was committed."""


class DataRejected(Exception):
    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Rejected:
    record: Record
    reason: str  # "undecodable" or "rejected_by_clickhouse"
    error: str


class MovementWriter:
    def __init__(
        self,
        client: Any,
        *,
        wait: Callable[[float], bool],
        backoff: Callable[[int], float],
        framing: MovementFraming | None = None,
    ) -> None:
        self.client = client
        self.wait = wait
        self.backoff = backoff
        self.framing = framing or MovementFraming()
        self.container = ContainerWriter("Movement")
        self.inserted_rows = 0

    def write(self, batch: PartitionBatch) -> list[Rejected]:
        """Stores every storable record of the batch; returns the others, in offset order."""
        rejected: list[Rejected] = []
        records: list[Record] = []
        bodies: list[bytes] = []
        header, header_len = self.framing.header, len(self.framing.header)
        for record in batch.records:
            value = record.value()
            if value is not None and value.startswith(header) and len(value) > header_len:
                bodies.append(value[header_len:])  # the common case, inlined: this loop runs per row
            else:
                try:
                    bodies.append(self.framing.body(value))
                except DecodeError as exc:
                    rejected.append(Rejected(record, "undecodable", str(exc)))
                    continue
            records.append(record)
        self._insert(batch.topic, batch.partition, records, bodies, rejected)
        rejected.sort(key=lambda r: r.record.offset())
        return rejected

    def _insert(self, topic: str, partition: int, records: list[Record], bodies: list[bytes], rejected: list[Rejected]) -> None:
        if not records:
            return
        token = f"{topic}-{partition}-{records[0].offset()}-{records[-1].offset()}-{len(records)}"
        try:
            self._insert_block(self.container.build(bodies, token), token)
            self.inserted_rows += len(records)
            return
        except DataRejected as exc:
            if len(records) == 1:
                rejected.append(self._explain(records[0], exc))
                return
            log.info("clickhouse_rejected_batch_splitting", token=token, rows=len(records), code=exc.code)
        middle = len(records) // 2
        self._insert(topic, partition, records[:middle], bodies[:middle], rejected)
        self._insert(topic, partition, records[middle:], bodies[middle:], rejected)

    def _explain(self, record: Record, exc: DataRejected) -> Rejected:
        try:
            self.framing.check(record.value())
        except DecodeError as decode_error:
            return Rejected(record, "undecodable", f"{decode_error} (ClickHouse: {exc})")
        return Rejected(record, "rejected_by_clickhouse", str(exc))

    def _insert_block(self, data: bytes, token: str) -> None:
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                self.client.raw_insert(
                    INGEST_TABLE, None, insert_block=data, fmt="Avro",
                    settings={**INSERT_SETTINGS, "insert_deduplication_token": token},
                )
                if attempt:
                    log.info("clickhouse_insert_recovered", token=token, attempts=attempt + 1)
                log.debug("clickhouse_insert", token=token, bytes=len(data), seconds=round(time.perf_counter() - started, 3))
                return
            except Exception as exc:  # clickhouse-connect raises per backend; classified below
                if is_data_error(exc):
                    raise DataRejected(server_message(exc), error_code(exc)) from exc
                delay = self.backoff(attempt)
                attempt += 1
                log.warning("clickhouse_insert_failed_retrying", token=token, attempt=attempt, retry_in_s=round(delay, 2),
                            error=server_message(exc, 300))
                if not self.wait(delay):
                    raise Stopping() from exc
