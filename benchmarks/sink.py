"""Rows per second the sink moves from Kafka into ClickHouse (chdb by default), end to end.

Produces N Movement events (default 1,000,000 over 100,000 items, 12 partitions) to a fresh topic on a
real broker, then runs the sink (run_sink, default batch settings) in this process and times it until
every offset is committed, i.e. every row is acknowledged by ClickHouse with all materialized views
updated. Reports the steady rate (from the first committed batch to the end) and the total.

Then, in the same process and ClickHouse, the ceilings it runs under (skip with --no-limits), so the
ratios hold even on a machine shared with other work:
- engine: the sink's own inserts (MovementWriter, same Avro messages, inserts of the catch-up size,
  as the sink's group inserts are while draining this backlog) without Kafka,
  into a fresh database with every view: what ClickHouse alone takes per row.
- bare insert: limits.py's clickhouse-connect insert of movement-shaped rows into one plain MergeTree.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python -m benchmarks.sink [--rows 1000000] [--clickhouse DSN]
    ... --batch-rows 200000 --configuration batch200k

Target: >= 300,000 rows/s into chdb. Prints and records it in benchmarks/results/sink.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from benchmarks import limits
from benchmarks.harness import add_result_options, record
from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings, KafkaSettings, SiteConfig
from tagtrail.config.site import SinkSettings
from tagtrail.events import Identity, Movement
from tagtrail.history.migrations import migrate
from tagtrail.kafka import connect, ensure_topics
from tagtrail.wire import Codec
from tagtrail_processors.sink.batches import PartitionBatch, Records
from tagtrail_processors.sink.sink_service import run_sink
from tagtrail_processors.sink.writer import MovementWriter

GTIN = "00614141123452"
T0 = 1_767_225_600_000_000


def produce(conn, rows: int, items: int, keep: list[bytes]) -> float:
    codec = Codec("Movement")
    producer = Producer(conn.producer_config(**{"linger.ms": 50, "batch.size": 1_000_000}))
    t0 = time.perf_counter()
    for i in range(rows):
        item = i % items
        seq = i // items
        m = Movement(
            event_id=f"{i:012d}",
            identity=Identity(item_key=f"01/{GTIN}/21/{item}", scheme="sgtin", gtin=GTIN, serial=str(item)),
            movement_type="arrived" if seq == 0 else "moved",
            biz_step="storing", disposition="sellable_not_accessible",
            event_time=T0 + seq * 3_600_000_000 + item, recorded_at=T0 + seq * 3_600_000_000 + item + 1000,
            from_location=None if seq == 0 else f"loc-{(item + seq - 1) % 50}", to_location=f"loc-{(item + seq) % 50}",
            read_point=f"rp-{(item + seq) % 50}", source_event_ids=[f"r{i}"],
        )
        value = codec.encode(m)
        keep.append(value)
        while True:
            try:
                producer.produce(conn.topics.movements, key=m.identity.item_key.encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return time.perf_counter() - t0


def engine_ceiling(client, database: str, values: list[bytes], batch_rows: int) -> float:
    """Rows/s of the sink's inserts alone (same writer, messages and batch size; no Kafka, no threads)."""
    home = client.database
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.database = database
    try:
        migrate(client)
        writer = MovementWriter(client, wait=lambda s: True, backoff=lambda a: 0.1)
        t0 = time.perf_counter()
        for start in range(0, len(values), batch_rows):
            chunk = values[start:start + batch_rows]
            writer.write(PartitionBatch("bench", 0, Records(list(range(start, start + len(chunk))), [None] * len(chunk), chunk)))
        took = time.perf_counter() - t0
        assert int(client.command("SELECT count() FROM movements")) == len(values)
        return len(values) / took
    finally:
        client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
        client.database = home


def lag(conn, group: str) -> int:
    consumer = Consumer(conn.consumer_config(group))
    try:
        parts = [TopicPartition(conn.topics.movements, p) for p in range(conn.partitions)]
        total = 0
        for tp in consumer.committed(parts, timeout=10):
            _low, high = consumer.get_watermark_offsets(tp, timeout=10)
            total += high - max(tp.offset, 0)
        return total
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"))
    parser.add_argument("--clickhouse", help="DSN (default: a fresh chdb folder in a temp dir)")
    parser.add_argument("--batch-rows", type=int, default=SinkSettings.batch_rows)
    parser.add_argument("--catch-up-batch-rows", type=int, default=SinkSettings.catch_up_batch_rows,
                        help="batch size while behind (default %(default)s; at or below --batch-rows: off)")
    add_result_options(parser, "sink")
    parser.add_argument("--no-limits", action="store_true", help="skip the engine and bare-insert ceilings")
    args = parser.parse_args(argv)

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    conn = connect(KafkaSettings(bootstrap_servers=args.bootstrap, topic_prefix=prefix, partitions=args.partitions))
    ensure_topics(conn)
    tmp = None
    dsn = args.clickhouse
    if not dsn:
        tmp = tempfile.mkdtemp(prefix="tagtrail-bench-sink-")
        dsn = f"chdb://{tmp}/chdb"
    settings = ClickHouseSettings(dsn=dsn, database=f"bench_sink_{prefix}")
    client = connect_clickhouse(settings)
    try:
        values: list[bytes] = []
        produce_s = produce(conn, args.rows, args.items, values)
        print(f"produced {args.rows} movements in {produce_s:.1f} s", flush=True)
        site = SiteConfig(kafka=KafkaSettings(bootstrap_servers=args.bootstrap, topic_prefix=prefix, partitions=args.partitions),
                          clickhouse=settings, sink=SinkSettings(batch_rows=args.batch_rows, catch_up_batch_rows=args.catch_up_batch_rows))
        stop = threading.Event()
        sink = threading.Thread(target=run_sink, args=(site, conn, client), kwargs={"stop": stop}, daemon=True)
        group = f"{prefix}.sink"
        t_start = time.perf_counter()
        sink.start()
        first_at = first_lag = None
        while True:
            remaining = lag(conn, group)
            now = time.perf_counter()
            if first_at is None and remaining < args.rows:
                first_at, first_lag = now, remaining
            if remaining == 0:
                break
            if not sink.is_alive():
                raise RuntimeError("sink stopped early")
            time.sleep(0.05)
        t_end = time.perf_counter()
        stop.set()
        sink.join(60)
        stored = int(client.command("SELECT count() FROM movements"))
        assert stored == args.rows, f"stored {stored} rows, expected {args.rows}"
        steady_rows = first_lag
        steady = round(steady_rows / (t_end - first_at)) if steady_rows and t_end > first_at else None
        load_after_sink = round(os.getloadavg()[0], 2)
        ceilings = {}
        if not args.no_limits:
            # the sink's inserts while draining this backlog: groups of partitions up to the catch-up size
            insert_rows = min(max(args.batch_rows, args.catch_up_batch_rows), args.rows)
            engine = engine_ceiling(client, f"{settings.database}_engine", values, insert_rows)
            bare = limits.clickhouse_limit(client, 200_000).per_second
            ceilings = {
                "engine_rows_per_s": round(engine),
                "bare_insert_rows_per_s": round(bare),
                "steady_over_engine": round(steady / engine, 2) if steady else None,
                "steady_over_bare_insert": round(steady / bare, 2) if steady else None,
                "engine_insert_rows": insert_rows,
                "ceilings_note": "same process and ClickHouse, right after the sink run: engine = the sink's own inserts "
                                 "(MovementWriter, same messages, engine_insert_rows per insert) without Kafka; bare insert = limits.py "
                                 "clickhouse-connect insert into one plain MergeTree table, 50k-row batches",
            }
        result = {
            "benchmark": "sink",
            "backend": dsn.split(":")[0],
            "rows": args.rows,
            "items": args.items,
            "partitions": args.partitions,
            "batch_rows": args.batch_rows,
            "catch_up_batch_rows": args.catch_up_batch_rows,
            "total_s": round(t_end - t_start, 2),
            "rows_per_s_total": round(args.rows / (t_end - t_start)),
            "rows_per_s_steady": steady,
            **ceilings,
            "startup_s": round(first_at - t_start, 2),
            "target_rows_per_s": 300_000,
            "note": "end to end: Kafka consume (read_committed) -> Avro container -> ClickHouse insert with dedup token "
                    "and all materialized views -> offsets committed",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_1m_after_sink": load_after_sink,
                        "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        }
    finally:
        client.close()
        conn.close()
        admin = AdminClient({"bootstrap.servers": args.bootstrap})
        for future in admin.delete_topics([t.name for t in conn.topics.specs()]).values():
            future.result()  # wait: the request is dropped if the client goes away first
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    print(f"saved {record('sink', result, args)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
