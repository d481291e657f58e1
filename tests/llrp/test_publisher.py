"""Replacing the producer (after a fatal error or a delivery stall) loses nothing: its records go back to the
spool. On the embedded cluster the publisher stops loudly before a mock partition would drop reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagtrail.config import KafkaSettings
from tagtrail.kafka import KafkaConnection, connect, ensure_topics
from tagtrail.kafka.embedded import RECORD_OVERHEAD_BYTES, CapacityGuard, EmbeddedCapacityError
from tagtrail.kafka.topics import Topics
from tagtrail_ingest.llrp.adapter_metrics import AdapterMetrics
from tagtrail_ingest.llrp.read_publisher import TOPIC_READS, Publisher
from tagtrail_ingest.llrp.spool import Spool
from tests.services import free_port


def test_records_of_a_replaced_producer_are_spooled_again(tmp_path: Path) -> None:
    conn = KafkaConnection(f"127.0.0.1:{free_port()}", Topics("replaced"), 3)  # nobody listens there
    spool = Spool(tmp_path, 1_000_000)
    publisher = Publisher(conn, spool, AdapterMetrics())
    records = [(TOPIC_READS, f"01/0000000000000{i}/21/{i}".encode(), f"read-{i}".encode()) for i in range(10)]
    spool.append(records)
    assert publisher.pump() == 10
    # handed to librdkafka, waiting (its length also counts its own requests to the absent broker, now and then)
    assert len(publisher.producer) >= 10 and spool.read(100) == []

    old = publisher.producer
    publisher._replace_producer()

    again = spool.read(100)
    assert sorted((t, k, v) for _s, t, k, v in again) == sorted(records)
    assert publisher.producer is not old
    assert publisher.metrics.delivery_failures == 10 and publisher.metrics.delivered_reads == 0
    publisher.close()
    spool.close()


def test_a_producer_is_not_replaced_while_kafka_is_down_however_long(tmp_path: Path) -> None:
    conn = KafkaConnection(f"127.0.0.1:{free_port()}", Topics("down"), 3)
    spool = Spool(tmp_path, 1_000_000)
    publisher = Publisher(conn, spool, AdapterMetrics(), stall_s=0.0)
    spool.append([(TOPIC_READS, b"k", b"v")])
    publisher.pump()
    first = publisher.producer
    assert not publisher._stalled()  # no report for ages, but nobody answers: an outage, not a stall
    assert publisher.producer is first and len(first) >= 1
    publisher._replace_producer()
    publisher.close()
    spool.close()


def test_on_the_embedded_cluster_the_publisher_refuses_the_read_its_partition_could_not_keep(tmp_path: Path) -> None:
    conn = connect(KafkaSettings(topic_prefix="full", partitions=1))
    ensure_topics(conn)
    assert conn.embedded is not None
    record = (TOPIC_READS, b"01/00000000000001/21/1", b"read")
    conn.embedded.guard = CapacityGuard(capacity_bytes=3 * (len(record[1]) + len(record[2]) + RECORD_OVERHEAD_BYTES))
    spool = Spool(tmp_path, 1_000_000)
    publisher = Publisher(conn, spool, AdapterMetrics())
    try:
        spool.append([record] * 5)
        with pytest.raises(EmbeddedCapacityError, match=r"full.reads\[0\] would exceed"):
            publisher.pump()
        publisher.producer.flush(10)
        publisher.pump(limit=0)  # serves the delivery reports of the three it took
        assert publisher.metrics.delivered_reads == 3
        assert spool.bytes_used > 0  # the refused reads stay in the spool, unconfirmed
    finally:
        publisher.close()
        spool.close()
        conn.close()
