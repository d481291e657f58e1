"""The producers every stage uses: the stage says what to send, this module knows the cluster.

On a real cluster a stage gets librdkafka's own `Producer`, so `produce` stays the bound C method
and a record costs no Python call on top of it. On the embedded mock cluster it gets a
`GuardedProducer`, which charges each record to the cluster's `CapacityGuard` before handing it
over: the guard refuses the record that would push a mock partition past what it keeps, so a demo
stops loudly instead of losing data nobody has read yet. Transactions, polls, flushes and purges
are the underlying producer's, untouched.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from confluent_kafka import Producer

from tagtrail.kafka.embedded import CapacityGuard

if TYPE_CHECKING:
    from tagtrail.kafka.clients import KafkaConnection

UNASSIGNED = -1  # librdkafka's RD_KAFKA_PARTITION_UA: its partitioner picks the partition


class GuardedProducer(Producer):
    """A producer on the embedded cluster: every record is charged to the cluster's capacity guard.

    A record is charged to the partition it lands on (the explicit one, else librdkafka's default
    partitioner for keyed records, crc32 of the key) and refunded if librdkafka did not take it
    (a full queue raises BufferError and the caller retries), so a retry is charged once."""

    def __init__(self, config: Mapping[str, Any], *, guard: CapacityGuard, partitions: Mapping[str, int],
                 default_partitions: int, uncharged: Collection[str] = ()) -> None:
        super().__init__(dict(config))
        self.guard = guard
        self._partitions = partitions  # the cluster's live topic table: topics created later are found too
        self._default_partitions = default_partitions
        self._uncharged = frozenset(uncharged)

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                partition: int = UNASSIGNED, **kwargs: Any) -> None:
        if topic in self._uncharged:
            super().produce(topic, value, key, partition, **kwargs)
            return
        if partition < 0:
            # A record without a key goes to a random partition: charge partition 0, never less than it uses.
            partition = zlib.crc32(key) % self._partitions.get(topic, self._default_partitions) if key else 0
        nbytes = len(key or b"") + len(value or b"")
        self.guard.charge(topic, partition, nbytes)
        try:
            super().produce(topic, value, key, partition, **kwargs)
        except BaseException:
            self.guard.refund(topic, partition, nbytes)
            raise


def open_producer(conn: KafkaConnection, config: Mapping[str, Any]) -> Producer:
    """A producer for `config` on `conn`'s cluster, guarded when that cluster is the embedded one."""
    embedded = conn.embedded
    if embedded is None:
        return Producer(dict(config))
    return GuardedProducer(config, guard=embedded.guard, partitions=embedded.partitions,
                           default_partitions=conn.partitions, uncharged=uncharged_topics(conn))


def uncharged_topics(conn: KafkaConnection) -> frozenset[str]:
    """Topics the guard lets through. The processor's changelog rewrites the same keys all the time
    and would trip the guard in minutes; on the embedded cluster, which dies with this process, it is
    only ever read back after an aborted transaction. Everything downstream reads is charged."""
    return frozenset({conn.topics.processor_state})
