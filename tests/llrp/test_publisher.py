"""Replacing the producer (after a fatal error or a delivery stall) loses nothing: its records go back to the spool."""

from __future__ import annotations

from pathlib import Path

from tagtrail.ingest.llrp.metrics import AdapterMetrics
from tagtrail.ingest.llrp.publisher import TOPIC_READS, Publisher
from tagtrail.ingest.llrp.spool import Spool

from tagtrail.kafka import KafkaConnection
from tagtrail.kafka.topics import Topics
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
