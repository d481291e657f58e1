"""The scan publisher on the embedded cluster: an upload its partition could not keep is refused (HTTP 503
upstream) as a whole, and none of it becomes visible."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from tagtrail.config import KafkaSettings
from tagtrail.kafka import connect, ensure_topics
from tagtrail.kafka.embedded import RECORD_OVERHEAD_BYTES, CapacityGuard
from tagtrail_ingest.scans.ledger import ledger_spec
from tagtrail_ingest.scans.scan_publisher import KafkaUnavailable, Record, TransactionalPublisher


def test_an_upload_the_embedded_partition_could_not_keep_is_refused_whole() -> None:
    conn = connect(KafkaSettings(topic_prefix="scanfull", partitions=1))
    ensure_topics(conn, [*conn.topics.specs(), ledger_spec(conn)])
    assert conn.embedded is not None
    scan = Record(conn.topics.scans, b"item", b"scan-event", 1)
    conn.embedded.guard = CapacityGuard(capacity_bytes=3 * (len(scan.key) + len(scan.value) + RECORD_OVERHEAD_BYTES))
    publisher = TransactionalPublisher(conn, transactional_id="scanfull-tx", timeout_s=10)
    publisher.start()
    try:
        ledger = lambda n: Record(ledger_spec(conn).name, f"dev/{n}".encode(), b"verdict", 1)  # noqa: E731
        assert publisher.submit([scan, scan], ledger(1)).result(30) is not None
        with pytest.raises(KafkaUnavailable, match=r"scanfull.scans\[0\] would exceed"):
            publisher.submit([scan, scan], ledger(2)).result(30)
    finally:
        publisher.close()
    consumer = Consumer(conn.consumer_config("scanfull-read"))
    partition = TopicPartition(conn.topics.scans, 0)
    got = []
    try:
        end = consumer.get_watermark_offsets(partition, timeout=10)[1]
        consumer.assign([TopicPartition(conn.topics.scans, 0, 0)])
        deadline = time.monotonic() + 30
        while consumer.position([partition])[0].offset < end and time.monotonic() < deadline:
            got += [m.value() for m in consumer.consume(10, 0.5) if not m.error()]
    finally:
        consumer.close()
        conn.close()
    assert got == [scan.value, scan.value]  # the first upload; nothing of the refused one
