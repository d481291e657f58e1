"""A stop whose final commit aborts loses nothing: the revoke that follows must not commit past it."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from tagtrail_processors.stream import transaction_checkpoint as checkpoint_module
from tests.processors.conftest import is_sentinel, kafka_yaml, read_topic, sentinels
from tests.processors.reference import fold, run_core
from tests.processors.scenarios import Script, identity, pallet_journey, site

pytestmark = pytest.mark.kafka

# Periodic commits never come due for the first processor: its only commit is the one at its stop.
NO_PERIODIC_COMMIT = "  session_timeout_s: 6\n  commit_every_s: 3600\n"


def _produced(kafka, want: int, timeout_s: float = 60.0) -> int:
    """How many movements the processor has produced, committed or not (read_uncommitted)."""
    config = {**kafka.consumer_config(f"peek-{time.monotonic_ns()}"), "isolation.level": "read_uncommitted"}
    consumer = Consumer(config)
    topic = kafka.topics.movements
    md = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    seen = 0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < want and time.monotonic() < deadline:
            seen += sum(1 for m in consumer.consume(1000, timeout=0.3) if not m.error())
    finally:
        consumer.close()
    return seen


def test_movements_of_an_aborted_final_commit_are_produced_again_after_the_restart(kafka, events_out,
                                                                                    processor_thread, monkeypatch):
    items = [identity(n) for n in range(30, 34)]
    script = Script()
    for n, item in enumerate(items):
        pallet_journey(item, script, offset_s=n * 400.0)
    sentinels(kafka, 4000, script)
    events = script.events()
    expected = fold(run_core(site(), events)[0])
    config = site(NO_PERIODIC_COMMIT, kafka_yaml(kafka))

    abort_next = {"armed": False}
    real_commit = checkpoint_module.Checkpoint.commit

    def commit(self, positions):
        if abort_next["armed"]:
            abort_next["armed"] = False
            self.abort()  # aborts the open transaction for real and raises Rewind, as a failed commit does
        return real_commit(self, positions)

    monkeypatch.setattr(checkpoint_module.Checkpoint, "commit", commit)
    events_out.send(events)
    first = processor_thread(config)
    want = sum(len(v) for v in expected.values())
    assert _produced(kafka, want) >= want, "the processor did not produce the scenario's movements"
    abort_next["armed"] = True
    first.close()  # its final commit aborts; the revoke in consumer.close() comes next
    assert not abort_next["armed"], "the final commit was never attempted"

    second = processor_thread()  # commits as usual
    published = read_topic(kafka, kafka.topics.movements, "Movement", idle_s=8,
                           until=lambda ms: len(fold([(m, False) for m in ms if not is_sentinel(m)])) >= len(expected)
                           and len(ms) >= want)
    second.close()
    assert fold([(m, h.get("tagtrail-retracted") == b"1") for m, h in published]) == expected
