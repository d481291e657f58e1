"""The same exactly-once processor runs on the embedded mock cluster (`tagtrail demo`, first runs)."""

from __future__ import annotations

import pytest

from tagtrail.config import KafkaSettings
from tagtrail.kafka import connect, ensure_topics
from tests.processors.conftest import EventProducer, ThreadedProcessor, movements, sentinels
from tests.processors.scenarios import identity, pallet_journey, site


@pytest.fixture
def embedded():
    conn = connect(KafkaSettings(topic_prefix="emb", partitions=3))
    ensure_topics(conn)
    yield conn
    conn.close()


def test_pallet_journey_on_the_embedded_cluster(embedded):
    pallet = identity(90)
    s = sentinels(embedded, 2000, pallet_journey(pallet))
    producer = EventProducer(embedded)
    producer.send(s.events())
    del producer
    proc = ThreadedProcessor(site("  session_timeout_s: 6\n"), embedded)
    got = [m for m in movements(embedded, until=lambda ms: sum(m.identity == pallet for m in ms) >= 5, idle_s=10)
           if m.identity == pallet]
    proc.close()
    assert [m.movement_type for m in got] == ["arrived", "moved", "moved", "moved", "moved"]
    assert (got[-1].biz_step, got[-1].to_location) == ("shipping", "dock-door-1")
    assert embedded.embedded.guard.used_fraction() > 0  # the processor's producer charged the capacity guard
