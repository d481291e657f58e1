"""A sink told to stop while its group rebalances ends cleanly (found when a stop came right after a
killed member's session expired: the assignment served inside close() failed the clean stop)."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import Consumer

from tagtrail_processors.sink import sink_service
from tagtrail_processors.sink.streams import MOVEMENTS as MOVEMENTS_STREAM
from tests.sink.helpers import SinkThread, committed_lag, count, movement, produce_movements, site_for, wait_until

pytestmark = pytest.mark.kafka


def test_a_stop_at_a_revoke_ends_cleanly_and_the_other_member_takes_over(kafka, clickhouse_target, clickhouse, monkeypatch):
    """Another member joins the movements group; the sink is told to stop the moment its partitions
    are revoked, so the rebalance completes while it closes. The stop must end without an error,
    with every movement stored once, and the other member must then own every partition."""
    first = [movement(i, item=i % 50) for i in range(400)]
    produce_movements(kafka, first)
    armed = threading.Event()
    real_revoked = sink_service.SinkLoop._revoked

    def revoked_then_stop(self, consumer, partitions):
        real_revoked(self, consumer, partitions)
        if armed.is_set() and self.stream is MOVEMENTS_STREAM:
            self.stop.set()

    monkeypatch.setattr(sink_service.SinkLoop, "_revoked", revoked_then_stop)
    other = Consumer(kafka.consumer_config(MOVEMENTS_STREAM.group_id(kafka.topics)))
    owned: list[int] = []
    try:
        sink = SinkThread(site_for(kafka, clickhouse_target.settings), kafka, clickhouse)
        with sink:
            wait_until(lambda: committed_lag(kafka) == 0, 60, "first movements stored")
            armed.set()
            other.subscribe([kafka.topics.movements], on_assign=lambda c, ps: owned.extend(tp.partition for tp in ps))
            wait_until(lambda: other.poll(0.1) is None and sink.stop.is_set() and not sink.thread.is_alive(), 90,
                       "sink stopped at the rebalance")
        # SinkThread.join (on leaving the block) re-raises what run_sink raised
        wait_until(lambda: other.poll(0.1) is None and len(set(owned)) == kafka.partitions, 60,
                   "other member owns every partition")
    finally:
        other.close()
    assert count(clickhouse, "SELECT count() FROM movements") == len(first)
