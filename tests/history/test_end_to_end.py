"""Processor -> Kafka -> sink -> ClickHouse: input arriving shuffled (within the lateness bound) makes the
processor publish updates and retractions; the answers read from ClickHouse must equal those for the same
input arriving in order."""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings, KafkaSettings
from tagtrail.history.migrations import migrate
from tagtrail.kafka import KafkaConnection, connect, ensure_topics
from tests.history.answers import answers, differences
from tests.processors.conftest import (
    TEST_PROCESSING,
    EventProducer,
    ThreadedProcessor,
    kafka_yaml,
    read_topic,
)
from tests.processors.reference import fold, run_core
from tests.processors.scenarios import T0, S, site
from tests.processors.test_order import _busy_site_script
from tests.sink.helpers import SinkThread, committed_lag, site_for, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
CHUNKS = 6
CHUNK_PAUSE_S = 1.0


class Published:
    """One run of the real processor over `events` on topics of its own; what it published."""

    def __init__(self, broker, events: list, name: str) -> None:
        prefix = f"e2e-{name}-{uuid.uuid4().hex[:8]}"
        self.conn: KafkaConnection = connect(KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix, partitions=3))
        ensure_topics(self.conn)
        expected = fold(run_core(site(), events)[0])
        processor = ThreadedProcessor(site(TEST_PROCESSING, kafka_yaml(self.conn)), self.conn)
        try:
            producer = EventProducer(self.conn)
            step = -(-len(events) // CHUNKS)
            for start in range(0, len(events), step):  # in chunks, so the processor publishes between them
                producer.send(events[start:start + step])
                time.sleep(CHUNK_PAUSE_S)
            self.movements = read_topic(
                self.conn, self.conn.topics.movements, "Movement", idle_s=10, timeout_s=90,
                until=lambda ms: fold([(m, False) for m in ms]) == expected)
        finally:
            processor.close()
        got = fold([(m, h.get("tagtrail-retracted") == b"1") for m, h in self.movements])
        assert got == expected, "the processor did not publish the expected history (see tests/processors)"
        self.item_keys = sorted(expected)
        self.raw = self._raw_messages()

    @property
    def retractions(self) -> int:
        return sum(h.get("tagtrail-retracted") == b"1" for _, h in self.movements)

    @property
    def updates(self) -> int:
        counts = Counter(m.event_id for m, _ in self.movements)
        return sum(n - 1 for n in counts.values())

    def into_clickhouse(self, broker, settings: ClickHouseSettings) -> dict:
        """Replays what the processor published (same partitions, order, keys, values and headers) onto
        fresh topics, so each database gets a sink group of its own, and sinks it; every answer."""
        conn = connect(KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"e2e-sink-{uuid.uuid4().hex[:8]}", partitions=3))
        ensure_topics(conn)
        producer = Producer(conn.producer_config())
        for m in self.raw:
            producer.produce(conn.topics.movements, m.value(), m.key(), partition=m.partition(), headers=m.headers())
        assert producer.flush(30) == 0
        client = connect_clickhouse(settings)
        try:
            migrate(client)
            with SinkThread(site_for(conn, settings), conn, client):
                wait_until(lambda: committed_lag(conn) == 0, 60, "the sink committed everything")
            times = [dt.datetime.fromtimestamp((T0 + k * 60 * S) / 1e6, dt.UTC) for k in range(12)]
            return without_record_times(answers(client, self.item_keys, times))
        finally:
            client.close()

    def _raw_messages(self) -> list:
        """The movements topic as stored, in partition then offset order."""
        consumer = Consumer(self.conn.consumer_config(f"raw-{uuid.uuid4().hex[:8]}"))
        consumer.assign([TopicPartition(self.conn.topics.movements, p, 0) for p in range(self.conn.partitions)])
        out = []
        try:
            while len(out) < len(self.movements):
                batch = consumer.consume(500, 5.0)
                assert batch, "movements topic shorter than when the processor run read it"
                out.extend(m for m in batch if m.error() is None)
        finally:
            consumer.close()
        return sorted(out, key=lambda m: (m.partition(), m.offset()))


def without_record_times(found: dict) -> dict:
    """EPCIS recordTime is when the processor published the version: processing time, not history."""
    for key, value in found.items():
        if key.startswith("epcis "):
            for event in value["epcisBody"]["eventList"]:
                event.pop("recordTime")
    return found


@pytest.fixture(scope="module")
def runs(kafka_broker):
    events = _busy_site_script().events()
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    return Published(kafka_broker, events, "in-order"), Published(kafka_broker, shuffled, "shuffled")


@pytest.mark.parametrize("backend", ["chdb", "http"])
def test_shuffled_input_gives_the_same_answers_from_clickhouse(runs, kafka_broker, backend, tmp_path, request):
    in_order, shuffled = runs
    assert shuffled.retractions > 0 and shuffled.updates > shuffled.retractions  # late input revised movements
    if backend == "chdb":
        settings = [ClickHouseSettings(dsn=f"chdb://{tmp_path / name}", database="tagtrail") for name in ("a", "b")]
    else:
        url = request.getfixturevalue("clickhouse_server").url
        settings = [ClickHouseSettings(dsn=url, database=f"t{uuid.uuid4().hex[:10]}") for _ in range(2)]
    want = in_order.into_clickhouse(kafka_broker, settings[0])
    got = shuffled.into_clickhouse(kafka_broker, settings[1])
    assert len([k for k, v in want.items() if k.startswith("history ") and v[1]]) == len(in_order.item_keys)
    assert differences(got, want) == []
