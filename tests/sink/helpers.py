"""Building blocks for sink tests: movements, producing them, reading dead letters, running the sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Self

from confluent_kafka import Consumer, Producer

from tagtrail.config import ClickHouseSettings, KafkaSettings, SiteConfig
from tagtrail.config.site import SinkSettings
from tagtrail.events import DeadLetter, Identity, Movement
from tagtrail.kafka import KafkaConnection
from tagtrail.wire import Codec
from tagtrail_processors.sink.streams import MOVEMENTS as MOVEMENTS_STREAM
from tagtrail_processors.sink.streams import SinkStream

GTIN = "00614141123452"
T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
MOVEMENTS = Codec("Movement")


@dataclass(frozen=True)
class ClickHouseTarget:
    kind: str
    settings: ClickHouseSettings
    server: Any


def movement(i: int, *, item: int | None = None, to: str | None = "storage-a", frm: str | None = None,
             at_us: int | None = None, **fields: Any) -> Movement:
    item = i if item is None else item
    return Movement(
        event_id=f"ev-{i:08d}",
        identity=Identity(item_key=f"01/{GTIN}/21/{item}", scheme="sgtin", gtin=GTIN, serial=str(item),
                          epc_uri=f"urn:epc:id:sgtin:0614141.012345.{item}"),
        movement_type=fields.pop("movement_type", "moved" if frm else "arrived"),
        biz_step=fields.pop("biz_step", "storing"),
        disposition=fields.pop("disposition", "sellable_not_accessible"),
        event_time=T0 + i * 1_000_000 if at_us is None else at_us,
        recorded_at=T0 + i * 1_000_000 + 500,
        from_location=frm,
        to_location=to,
        read_point=fields.pop("read_point", "aisle-a-storage"),
        **fields,
    )


def produce(conn: KafkaConnection, values: list[tuple[bytes, bytes]], topic: str | None = None) -> None:
    producer = Producer(conn.producer_config(**{"linger.ms": 20}))
    for key, value in values:
        producer.produce(topic or conn.topics.movements, key=key, value=value)
        producer.poll(0)
    assert producer.flush(30) == 0


def produce_movements(conn: KafkaConnection, movements: list[Movement]) -> None:
    produce(conn, [(m.identity.item_key.encode(), MOVEMENTS.encode(m)) for m in movements])


def read_dead_letters(conn: KafkaConnection, expected: int, timeout_s: float = 30.0) -> list[DeadLetter]:
    codec = Codec("DeadLetter")
    consumer = Consumer(conn.consumer_config(f"dl-reader-{time.monotonic_ns()}"))
    consumer.subscribe([conn.topics.dead_letters])
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(100, timeout=0.5):
                if m.error() is None:
                    letters.append(codec.decode(m.value()))
            if len(letters) >= expected:
                # a little longer, to catch letters that should not be there
                for m in consumer.consume(100, timeout=1.0):
                    if m.error() is None:
                        letters.append(codec.decode(m.value()))
                break
    finally:
        consumer.close()
    return letters


def site_for(conn: KafkaConnection, clickhouse: ClickHouseSettings, **sink: Any) -> SiteConfig:
    kafka = KafkaSettings(bootstrap_servers=conn.bootstrap_servers, topic_prefix=conn.topics.prefix, partitions=conn.partitions)
    defaults = {"batch_rows": 2000, "batch_seconds": 0.2, "retry_max_backoff_s": 1.0}
    return SiteConfig(kafka=kafka, clickhouse=clickhouse, sink=replace(SinkSettings(), **{**defaults, **sink}))


class SinkThread:
    """run_sink in a thread of the test process (its ClickHouse client is shared with the test)."""

    def __init__(self, site: SiteConfig, conn: KafkaConnection, client: Any) -> None:
        from tagtrail_processors.sink.sink_service import run_sink

        self.stop = threading.Event()
        self.error: BaseException | None = None

        def body() -> None:
            try:
                run_sink(site, conn, client, stop=self.stop)
            except BaseException as exc:  # noqa: BLE001 - surfaced by join()
                self.error = exc

        self.thread = threading.Thread(target=body, name="sink", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.join()

    def join(self, timeout_s: float = 60.0) -> None:
        self.stop.set()
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "sink did not stop within its timeout"
        if self.error is not None:
            raise self.error


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception as exc:  # noqa: BLE001 - e.g. tables not created yet by the sink's migrations
            last_error = exc
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last error: {last_error})")


def count(client: Any, sql: str) -> int:
    return int(client.command(sql))


def committed_lag(conn: KafkaConnection, stream: SinkStream = MOVEMENTS_STREAM) -> int:
    """Messages on a stream's topic (default: movements) not yet committed by the sink's group for it."""
    from confluent_kafka import TopicPartition

    consumer = Consumer(conn.consumer_config(stream.group_id(conn.topics)))
    try:
        parts = [TopicPartition(stream.topic(conn.topics), p) for p in range(conn.partitions)]
        committed = committed_offsets(consumer, parts)
        lag = 0
        for tp in committed:
            _low, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - (max(tp.offset, 0))
        return lag
    finally:
        consumer.close()


def committed_offsets(consumer: Consumer, parts: list, timeout_s: float = 30.0) -> list:
    """The group's committed offsets, asked again while a fresh broker's group coordinator is not ready
    (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS): the sink's groups may be new to the broker."""
    from confluent_kafka import KafkaError, KafkaException

    not_ready = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.committed(parts, timeout=10)
        except KafkaException as exc:
            if exc.args[0].code() not in not_ready or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_as_the_sink(conn: KafkaConnection, expected: int, per_partition: int,
                     stream: SinkStream = MOVEMENTS_STREAM) -> tuple[Consumer, list]:
    """Joins the sink's consumer group for `stream` and reads `expected` records, as a sink that is about
    to crash would: returns the consumer (to commit a crash state with) and the first `per_partition`
    records of each partition as PartitionBatches, in partition order."""
    from tagtrail_processors.sink.batches import PartitionBatch, Record

    topic = stream.topic(conn.topics)
    consumer = Consumer(conn.consumer_config(stream.group_id(conn.topics)))
    consumer.subscribe([topic])
    got: dict[int, list] = {}

    def consumed_all() -> bool:
        for m in consumer.consume(expected, 0.5):
            got.setdefault(m.partition(), []).append(m)
        return sum(len(v) for v in got.values()) >= expected

    wait_until(consumed_all, 30, "consumed all")
    return consumer, [PartitionBatch(topic, p, [Record(m.offset(), m.key(), m.value()) for m in got[p][:per_partition]])
                      for p in sorted(got)]
