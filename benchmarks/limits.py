"""The ceilings the pipeline works under, measured on the same bytes and rows it moves.

- Avro: encode and decode TagRead events (fastavro through tagtrail.wire.Codec).
- Kafka: produce and consume those encoded bytes, bare confluent-kafka, same broker.
- ClickHouse: insert movement-shaped rows into a MergeTree table (clickhouse-connect).

Imported by benchmarks/pipeline.py and benchmarks/sink.py; runnable alone: `python -m benchmarks.limits --help`.
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import asdict, dataclass

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks.harness import add_result_options, record
from tagtrail.events import Identity, TagRead
from tagtrail.wire import Codec

T0 = 1_764_000_000_000_000


@dataclass(frozen=True)
class Limit:
    name: str
    per_second: float
    count: int
    seconds: float
    note: str = ""


def sample_reads(n: int, items: int = 2000) -> list[TagRead]:
    out = []
    for i in range(n):
        serial = str(10_000 + i % items)
        identity = Identity(item_key=f"01/80614141123458/21/{serial}", scheme="sgtin",
                            epc_uri=f"urn:epc:id:sgtin:0614141.812345.{serial}", gtin="80614141123458", serial=serial)
        t = T0 + i * 1000
        out.append(TagRead(event_id=f"door-1/1/{i:024X}/{t}", reader_id="door-1", antenna_id=1 + i % 2,
                           read_point="door-1-inner", epc_hex=f"{i:024X}", identity=identity, first_seen=t,
                           last_seen=t, reader_first_seen=t, received_at=t + 500, peak_rssi_dbm=-55.0,
                           channel_index=3, seen_count=1))
    return out


def avro_limits(n: int) -> tuple[Limit, Limit, list[bytes]]:
    codec = Codec("TagRead")
    reads = sample_reads(n)
    t = time.perf_counter()
    encoded = [codec.encode(r) for r in reads]
    enc = time.perf_counter() - t
    t = time.perf_counter()
    for b in encoded:
        codec.decode(b)
    dec = time.perf_counter() - t
    size = sum(len(b) for b in encoded) / n
    return (Limit("avro_encode", n / enc, n, enc, f"TagRead, {size:.0f} bytes each"),
            Limit("avro_decode", n / dec, n, dec, "TagRead to event struct"), encoded)


def kafka_limits(bootstrap: str, payloads: list[bytes], partitions: int = 8) -> tuple[Limit, Limit]:
    topic = f"bench-limits-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result()
    except Exception:
        pass  # the mock cluster auto-creates topics
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5, "compression.type": "lz4", "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 2_000_000})
    keys = [f"01/80614141123458/21/{10_000 + i % 2000}".encode() for i in range(len(payloads))]
    t = time.perf_counter()
    for k, v in zip(keys, payloads):
        while True:
            try:
                producer.produce(topic, key=k, value=v)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(120)
    prod = time.perf_counter() - t
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = 0
    t = time.perf_counter()
    deadline = t + 120
    while got < len(payloads) and time.perf_counter() < deadline:
        for m in consumer.consume(10_000, 1.0):
            if not m.error():
                got += 1
    cons = time.perf_counter() - t
    consumer.close()
    return (Limit("kafka_produce", len(payloads) / prod, len(payloads), prod, "idempotent, acks=all, lz4"),
            Limit("kafka_consume", got / cons, got, cons, "consume(10000) batches"))


def clickhouse_limit(client, n: int) -> Limit:
    """Insert movement-shaped rows (the sink's unit of work) in 50k-row batches."""
    table = f"bench_limit_{uuid.uuid4().hex[:8]}"
    client.command(
        f"CREATE TABLE {table} (item_key String, event_time DateTime64(6, 'UTC'), to_location LowCardinality(String), "
        "read_point LowCardinality(String), biz_step LowCardinality(String), disposition LowCardinality(String), "
        "event_id String) ENGINE = MergeTree ORDER BY (item_key, event_time)"
    )
    rows = [[f"01/80614141123458/21/{10_000 + i % 10_000}", T0 + i * 1000, "storage-a", "aisle-a", "storing",
             "sellable_not_accessible", f"m-{i}"] for i in range(n)]
    names = ["item_key", "event_time", "to_location", "read_point", "biz_step", "disposition", "event_id"]
    import datetime as dt

    for r in rows:
        r[1] = dt.datetime.fromtimestamp(r[1] / 1e6, dt.timezone.utc)
    t = time.perf_counter()
    for i in range(0, n, 50_000):
        client.insert(table, rows[i:i + 50_000], column_names=names)
    took = time.perf_counter() - t
    client.command(f"DROP TABLE {table}")
    return Limit("clickhouse_insert", n / took, n, took, "clickhouse-connect insert, 50k-row batches")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: embedded mock cluster)")
    parser.add_argument("--clickhouse", default="chdb://.tagtrail/bench-limits", help="ClickHouse DSN")
    parser.add_argument("--n", type=int, default=200_000)
    add_result_options(parser, "limits")
    args = parser.parse_args()
    from tagtrail.clickhouse import connect_clickhouse
    from tagtrail.config import ClickHouseSettings, KafkaSettings
    from tagtrail.kafka import connect

    conn = connect(KafkaSettings(bootstrap_servers=args.bootstrap))
    enc, dec, payloads = avro_limits(args.n)
    kp, kc = kafka_limits(conn.bootstrap_servers, payloads)
    client = connect_clickhouse(ClickHouseSettings(dsn=args.clickhouse, database="bench"))
    ch = clickhouse_limit(client, args.n)
    client.close()
    conn.close()
    results = [enc, dec, kp, kc, ch]
    for r in results:
        print(f"{r.name:<20} {r.per_second:>12,.0f} /s   ({r.count:,} in {r.seconds:.2f} s; {r.note})")
    print(f"saved {record('limits', [asdict(r) for r in results], args)}")


if __name__ == "__main__":
    main()
