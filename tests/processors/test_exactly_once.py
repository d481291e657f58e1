"""Crashes, restarts and rebalances on the real broker: the committed movements equal what an
uninterrupted run produces – nothing lost, nothing twice."""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.processors.conftest import EventProducer, read_topic, summary
from tests.processors.reference import run_core
from tests.processors.scenarios import Script, identity, pallet_journey, sentinels, site

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PALLETS = 12


def _scenario() -> Script:
    s = Script()
    for n in range(PALLETS):
        pallet_journey(identity(100 + n), s, offset_s=n * 11.0)
    return sentinels(3, 5000, s)


def _trickle(producer: EventProducer, events, seconds: float) -> threading.Thread:
    """Sends the events in order over about `seconds`, the way live reads arrive."""
    chunks = [events[i:i + 100] for i in range(0, len(events), 100)]

    def body() -> None:
        for chunk in chunks:
            producer.send(chunk)
            time.sleep(seconds / len(chunks))

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def _expected():
    published, dead = run_core(site(), _scenario().events())
    assert not dead and not any(r for _, r in published)
    return [summary(m) for m, _ in published]


def _committed(kafka, count: int):
    got = read_topic(kafka, kafka.topics.movements, "Movement", until=lambda ms: len(ms) >= count, idle_s=15,
                     timeout_s=120)
    return [summary(m) for m, _ in got]


def _per_item(rows):
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r[1], []).append(r)
    return out


def test_kill_9_at_random_points_then_restart_loses_and_duplicates_nothing(kafka, events_out, processor_process):
    expected = _expected()
    assert len(expected) >= PALLETS * 5
    rng = random.Random(20251124)
    sender = _trickle(events_out, _scenario().events(), seconds=12)
    restored = []
    for _ in range(3):
        proc = processor_process("0")
        proc.wait_for_log("partitions_assigned")
        time.sleep(rng.uniform(0.2, 2.5))  # somewhere mid-batch, mid-transaction or mid-commit
        proc.kill9()
        restored.append(proc.log_text())
    proc = processor_process("0")
    sender.join(60)
    got = _committed(kafka, len(expected))
    proc.terminate()
    restored.append(proc.log_text())
    # not vacuous: the restarted incarnations did pick up state the killed ones had committed
    assert sum('"records": 0' not in log and "state_restored" in log for log in restored) >= 2
    assert len(got) == len({r[0] for r in got}), "a movement was committed twice"
    assert _per_item(got) == _per_item(expected)


def test_two_processors_with_a_rebalance_in_the_middle_give_the_same_movements(kafka, events_out, processor_process):
    expected = _expected()
    sender = _trickle(events_out, _scenario().events(), seconds=8)
    first = processor_process("a")
    time.sleep(3)
    second = processor_process("b")  # joins: partitions are split between the two
    time.sleep(4)
    assert first.terminate() == 0  # leaves: its partitions move to the second after the session timeout
    sender.join(60)
    got = _committed(kafka, len(expected))
    second.terminate()
    assert len(got) == len({r[0] for r in got}), "a movement was committed twice"
    assert _per_item(got) == _per_item(expected)
