"""Live progress from the outside: topic watermarks and consumer-group offsets, as an operator sees them.

Reading offsets rather than stage internals keeps the demo honest: it measures the pipeline the way
a dashboard would, through Kafka.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition


@dataclass(frozen=True)
class Snapshot:
    at: float
    reads: int
    scans: int
    movements: int
    processor_lag: int
    sink_lag: int


class Progress:
    def __init__(self, base_config: dict, topics, partitions: dict[str, int], processor_group: str, sink_group: str) -> None:
        self._consumer = Consumer({**base_config, "group.id": f"tagtrail-demo-progress-{uuid.uuid4()}", "enable.auto.commit": False})
        self._topics = topics
        self._partitions = partitions
        self._groups = {"processor": processor_group, "sink": sink_group}
        self._committed = {g: Consumer({**base_config, "group.id": g, "enable.auto.commit": False}) for g in self._groups.values()}
        # Counting movements by offsets would include transaction markers: tail the topic instead.
        self._tail = Consumer({**base_config, "group.id": f"tagtrail-demo-tail-{uuid.uuid4()}",
                               "enable.auto.commit": False, "isolation.level": "read_committed"})
        self._tail.assign([TopicPartition(t, p, 0) for t in (topics.movements, topics.dead_letters)
                           for p in range(partitions[t])])
        self.movements = 0
        self.dead_letters = 0
        self.first: Snapshot | None = None
        self.last: Snapshot | None = None

    def _ends(self, topic: str) -> dict[int, int]:
        return {p: self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1]
                for p in range(self._partitions[topic])}

    def _committed_offsets(self, group: str, topic: str) -> dict[int, int]:
        tps = [TopicPartition(topic, p) for p in range(self._partitions[topic])]
        return {tp.partition: max(tp.offset, 0) for tp in self._committed[group].committed(tps, timeout=5)}

    def _count_tail(self) -> None:
        while True:
            batch = self._tail.consume(10_000, 0.05)
            if not batch:
                return
            for msg in batch:
                if msg.error():
                    continue
                if msg.topic() == self._topics.movements:
                    self.movements += 1
                else:
                    self.dead_letters += 1

    def sample(self) -> Snapshot:
        self._count_tail()
        reads, scans, moves = self._ends(self._topics.reads), self._ends(self._topics.scans), self._ends(self._topics.movements)
        proc = self._groups["processor"]
        processor_lag = sum(
            max(0, end - self._committed_offsets(proc, topic).get(p, 0))
            for topic, ends in ((self._topics.reads, reads), (self._topics.scans, scans))
            for p, end in ends.items()
        )
        sink_done = self._committed_offsets(self._groups["sink"], self._topics.movements)
        # A transactional topic ends with a commit marker the sink never consumes: allow one per partition.
        sink_lag = sum(max(0, end - sink_done.get(p, 0) - 1) for p, end in moves.items())
        snap = Snapshot(time.monotonic(), sum(reads.values()), sum(scans.values()), self.movements, processor_lag, sink_lag)
        self.first = self.first or snap
        self.last = snap
        return snap

    def close(self) -> None:
        self._consumer.close()
        self._tail.close()
        for c in self._committed.values():
            c.close()
