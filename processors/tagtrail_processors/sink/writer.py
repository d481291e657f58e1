"""Inserts one partition batch of a stream (movements, transactions, item master) into its ClickHouse
ingest table with its deduplication token.

Transient failures (server down, timeouts, overload) are retried with backoff for as long as it takes,
so nothing is skipped; the caller's `wait` keeps the Kafka group membership alive meanwhile and says
when to give up (the service is stopping). When ClickHouse refuses the data itself, the batch is split
in halves until the refused records are isolated; they come back as `Rejected` for the dead-letter
topic and every other record is stored. Each insert's token names the offsets it covers, so the same
split after a crash produces the same tokens and ClickHouse drops what it already has.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from tagtrail.wire import DecodeError
from tagtrail_processors.sink.batches import PartitionBatch, Record, Records
from tagtrail_processors.sink.container import ContainerWriter
from tagtrail_processors.sink.framing import EventFraming
from tagtrail_processors.sink.insert_errors import error_code, is_data_error, server_message
from tagtrail_processors.sink.streams import MOVEMENTS, SinkStream

log = structlog.get_logger(__name__)

# Batches are capped well below max_insert_block_size, so one insert is one block and one token.
MAX_BATCH_ROWS = 1_000_000
INSERT_SETTINGS = {
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    "max_insert_block_size": 1_048_576,
    # Both cost CPU per row for nothing here (figures in docs/benchmarks.md): optimize_on_insert merges
    # duplicate keys inside each inserted block of the Replacing/Summing tables, which every reader
    # already does (FINAL or sum()); the JIT compiled the views' expressions again on every insert.
    "optimize_on_insert": 0,
    "compile_expressions": 0,
}


def group_token(group: list[PartitionBatch]) -> str:
    """Deduplication token of a group insert: a digest of every member's topic, partition and range."""
    spec = ";".join(f"{b.topic}-{b.partition}-{b.first}-{b.last}-{len(b.records)}" for b in group)
    return "group-" + hashlib.blake2b(spec.encode(), digest_size=16).hexdigest()


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


class EventWriter:
    def __init__(
        self,
        client: Any,
        *,
        wait: Callable[[float], bool],
        backoff: Callable[[int], float],
        stream: SinkStream = MOVEMENTS,
        framing: EventFraming | None = None,
    ) -> None:
        self.client = client
        self.wait = wait
        self.backoff = backoff
        self.table = stream.ingest_table
        self.framing = framing or EventFraming(stream.event_type)
        self.container = ContainerWriter(stream.event_type)
        self.inserted_rows = 0

    def write_group(self, group: list[PartitionBatch]) -> dict[int, list[Rejected]]:
        """Several partitions' batches in one insert (members in partition order, as the checkpoint
        names them), so one insert's fixed cost covers them all; the token names every member's
        range. If ClickHouse refuses the group's data, each member is written on its own (and split
        further, as `write` does): the same data always takes the same path, so replays stay exact.
        Returns the refused records per partition."""
        if len(group) == 1:
            return {group[0].partition: self.write(group[0])}
        if all(self.framing.all_bundled(b.records.values) for b in group):
            messages = [m for b in group for m in b.records.values]
            token = group_token(group)
            try:
                self._insert_block(self.container.build(messages, token), token)
                self.inserted_rows += len(messages)
                return {b.partition: [] for b in group}
            except DataRejected as exc:
                log.info("clickhouse_rejected_group_writing_members", token=token, partitions=len(group), code=exc.code)
        # refused data, or records not in the bundled schema (rare): each member on its own
        return {b.partition: self.write(b) for b in group}

    def write(self, batch: PartitionBatch) -> list[Rejected]:
        """Stores every storable record of the batch; returns the others, in offset order."""
        rejected: list[Rejected] = []
        records = batch.records
        if self.framing.all_bundled(records.values):
            messages = records.values  # the common case: ClickHouse reads the messages as they are
        else:
            records, messages = self._frame(records, rejected)
        self._insert(batch.topic, batch.partition, records, messages, rejected)
        rejected.sort(key=lambda r: r.record.offset())
        return rejected

    def _frame(self, records: Records, rejected: list[Rejected]) -> tuple[Records, list[bytes]]:
        """Per record: other writer schemas re-encoded with the bundled one, other events rejected."""
        kept: list[int] = []
        messages: list[bytes] = []
        for i, record in enumerate(records):
            try:
                messages.append(self.framing.message(record.value()))
            except DecodeError as exc:
                rejected.append(Rejected(record, "undecodable", str(exc)))
                continue
            kept.append(i)
        if len(kept) == len(records):
            return records, messages
        return Records([records.offsets[i] for i in kept], [records.keys[i] for i in kept],
                       [records.values[i] for i in kept]), messages

    def _insert(self, topic: str, partition: int, records: Records, messages: list[bytes], rejected: list[Rejected]) -> None:
        if not records:
            return
        offsets = records.offsets
        token = f"{topic}-{partition}-{offsets[0]}-{offsets[-1]}-{len(records)}"
        try:
            self._insert_block(self.container.build(messages, token), token)
            self.inserted_rows += len(records)
            return
        except DataRejected as exc:
            if len(records) == 1:
                rejected.append(self._explain(records[0], exc))
                return
            log.info("clickhouse_rejected_batch_splitting", token=token, rows=len(records), code=exc.code)
        middle = len(records) // 2
        self._insert(topic, partition, records[:middle], messages[:middle], rejected)
        self._insert(topic, partition, records[middle:], messages[middle:], rejected)

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
                    self.table, None, insert_block=data, fmt="Avro",
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


MovementWriter = EventWriter  # writes the movements stream by default; the name benchmarks and history tests use
