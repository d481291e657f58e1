"""The service on the real broker: bad input becomes dead letters, arrival order does not matter."""

from __future__ import annotations

import random

import pytest

from tagtrail.events import TagRead
from tests.processors.conftest import (
    TEST_PROCESSING,
    is_sentinel,
    kafka_yaml,
    movements,
    read_topic,
    sentinels,
)
from tests.processors.reference import fold, run_core
from tests.processors.scenarios import T0, S, Script, identity, pallet_journey, site
from tests.processors.test_order import _busy_site_script

pytestmark = pytest.mark.kafka


def test_bad_input_is_dead_lettered_and_the_rest_still_flows(kafka, events_out, processor_thread):
    good, stray, late = identity(80), identity(81), identity(82)
    s = pallet_journey(good)
    s.dwell(stray, "storage-a", 10, 10)
    s.reads[-1] = TagRead(**{**{f: getattr(s.reads[-1], f) for f in s.reads[-1].__struct_fields__}, "read_point": "roof"})
    events_out.send_raw(kafka.topics.reads, good.item_key.encode(), b"\x00garbage")
    sentinels(kafka, 2000, s)
    events_out.send(s.events())
    events_out.send(Script().dwell(late, "storage-a", 40 * 3600, 40 * 3600).dwell(late, "pick-1", 40 * 3600 + 100, 40 * 3600 + 100).events())
    proc = processor_thread()
    movements(kafka, until=lambda ms: any(m.identity == late for m in ms), idle_s=8)
    # the watermark of the late item's partition is past 40 h now: a scan made at 2 h is too late
    events_out.send(Script().scan(late, "count", 7200).events())
    letters = read_topic(kafka, kafka.topics.dead_letters, "DeadLetter", until=lambda ls: len(ls) >= 3, idle_s=10)
    got = [m for m in movements(kafka, until=lambda ms: sum(m.identity == good for m in ms) >= 5, idle_s=8)
           if m.identity == good]
    proc.close()
    reasons = sorted(letter.reason for letter, _ in letters)
    assert reasons == ["too_late", "undecodable", "unknown_read_point"]
    assert all(letter.stage == "processor" and letter.payload for letter, _ in letters)
    assert len(got) == 5


def test_shuffled_arrival_on_the_broker_gives_the_same_history(kafka, events_out, processor_thread):
    events = _busy_site_script().events()
    expected = fold(run_core(site(), events)[0])
    shuffled = list(events)
    random.Random(11).shuffle(shuffled)
    body = [e for e in shuffled if not (e.identity.serial and int(e.identity.serial) >= 1900)]
    sentinel_events = [e for e in events if e not in body]
    half = len(body) // 2
    events_out.send(body[:half])
    proc = processor_thread()
    events_out.send(body[half:])
    events_out.send(sentinel_events)
    want = sum(len(v) for v in expected.values())
    published = read_topic(kafka, kafka.topics.movements, "Movement", idle_s=6,
                           until=lambda ms: len(fold([(m, False) for m in ms if not is_sentinel(m)])) >= len(expected) and len(ms) >= want)
    proc.close()
    got = fold([(m, h.get("tagtrail-retracted") == b"1") for m, h in published])
    assert got == expected


class SteerableClock:
    """The processing-time clock the missing timer runs on, moved by the test."""

    def __init__(self) -> None:
        import time

        self.offset_us = 0
        self._time = time

    def __call__(self) -> int:
        return self._time.time_ns() // 1000 + self.offset_us


def test_an_item_not_seen_for_missing_after_is_reported_missing(kafka, events_out, processor_thread, kafka_site):
    lost, shipped = identity(85), identity(86)
    s = Script().dwell(lost, "storage-a", 0, 20, 1.0)
    pallet_journey(shipped, s)
    sentinels(kafka, 2000, s)
    events_out.send(s.events())
    clock = SteerableClock()
    proc = processor_thread(clock=clock)
    movements(kafka, until=lambda ms: sum(m.identity == shipped for m in ms) >= 5, idle_s=8)
    clock.offset_us = 3601 * 1_000_000  # an hour of processing time passes without a sighting
    got = movements(kafka, until=lambda ms: any(m.movement_type == "missing" and m.identity == lost for m in ms), idle_s=8)
    proc.close()
    missing = [m for m in got if m.movement_type == "missing" and not is_sentinel(m)]
    assert [(m.identity, m.from_location, m.to_location) for m in missing] == [(lost, "storage-a", None)]


def test_live_mode_on_the_broker_marks_provisional_movements_and_ends_with_the_same_history(kafka, events_out,
                                                                                         processor_thread):
    """Live mode through Kafka: the first second of a dock door crossing is published at once as a
    provisional movement carrying the `tagtrail-provisional` header (only provisional movements do);
    in the end every provisional movement was decided or retracted, and the history equals the one
    computed without live mode."""
    live_site = site(TEST_PROCESSING + "  provisional_movements: true\n", kafka_yaml(kafka))
    s = Script()
    for n in range(3):
        pallet_journey(identity(90 + n), s, offset_s=n * 11.0)
    s = sentinels(kafka, 2000, s)
    events = s.events()
    expected = fold(run_core(site(), events)[0])
    first_second = [e for e in events if isinstance(e, TagRead) and e.last_seen <= T0 + S]
    proc = processor_thread(live_site)
    events_out.send(first_second)  # the crossing cannot be decided before its end plus the window
    early = read_topic(kafka, kafka.topics.movements, "Movement", idle_s=8, until=lambda ms: len(ms) >= 1)
    assert [(m.identity, m.to_location, m.direction, m.provisional, h.get("tagtrail-provisional")) for m, h in early] == [
        (identity(90), "dock-door-1", "unknown", True, b"1")]
    events_out.send([e for e in events if e not in first_second])
    want = sum(len(v) for v in expected.values())
    published = read_topic(kafka, kafka.topics.movements, "Movement", idle_s=8,
                           until=lambda ms: sum(not m.provisional for m in ms) >= want)
    proc.close()
    assert all((h.get("tagtrail-provisional") == b"1") == m.provisional for m, h in published)
    decided = {m.event_id for m, _ in published if not m.provisional}
    assert all(m.event_id in decided or (m.anomaly or "").startswith("retracted") for m, _ in published)
    retracted = [h.get("tagtrail-retracted") == b"1" for _, h in published]
    assert fold([(m, r) for (m, _), r in zip(published, retracted)]) == expected
