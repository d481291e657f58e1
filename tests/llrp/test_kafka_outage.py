"""Kafka goes away for 30 s while a reader keeps reporting: every read arrives exactly once afterwards."""

from __future__ import annotations

import os
import threading
import time

import pytest

from tagtrail.config import KafkaSettings, LlrpSettings
from tagtrail.kafka import connect, ensure_topics
from tagtrail_ingest.llrp.emulator import pallet_through_dock_door
from tagtrail_ingest.llrp.tag_reads import event_id
from tests.llrp.conftest import dock_reader, read_topic

pytestmark = pytest.mark.slow
# librdkafka debug contexts for a failing run, e.g. TAGTRAIL_RDKAFKA_DEBUG=eos,broker,msg
DEBUG_CLIENT = {"debug": os.environ["TAGTRAIL_RDKAFKA_DEBUG"]} if os.environ.get("TAGTRAIL_RDKAFKA_DEBUG") else {}


def test_reads_spool_through_a_30_s_kafka_outage_and_arrive_exactly_once(
        own_kafka_broker, topic_prefix, emulators, start_adapter, read_codec, tmp_path) -> None:
    settings = KafkaSettings(bootstrap_servers=own_kafka_broker.bootstrap_servers, topic_prefix=topic_prefix, partitions=3,
                             client=DEBUG_CLIENT)
    conn = connect(settings)
    ensure_topics(conn)
    emu = emulators()
    # A small spool and few records in flight, so the outage exercises the disk backlog and backpressure.
    llrp = LlrpSettings(spool_dir=str(tmp_path / "spool"), spool_max_bytes=96 * 1024, max_in_flight=300,
                        delivery_stall_s=30.0)
    adapter = start_adapter(conn, [dock_reader("door8-reader", emu.port, "door8")], kafka=settings, llrp=llrp)
    assert emu.inventorying.wait(10)

    keep_reporting = threading.Event()
    pallets = []

    def dock_traffic() -> None:  # a pallet every 2 s, before, during and after the outage
        serial = 1
        while not keep_reporting.is_set():
            pallet = pallet_through_dock_door(time.time_ns() // 1000, cases=25, first_serial=serial,
                                              pallet_serial=f"{serial:010d}", seed=serial)
            pallets.append(pallet)
            emu.queue(pallet)
            serial += 25
            keep_reporting.wait(2.0)

    traffic = threading.Thread(target=dock_traffic, daemon=True)
    traffic.start()
    adapter.wait(lambda: adapter.metrics.delivered_reads > 100, 20, "reads flowing before the outage")

    own_kafka_broker.stop()
    outage_start = time.monotonic()
    peak_spool = 0
    backpressure_seen = False
    while time.monotonic() - outage_start < 30:
        peak_spool = max(peak_spool, adapter.metrics.spool_bytes())
        backpressure_seen = backpressure_seen or adapter.metrics.backpressure()
        time.sleep(0.2)
    delivered_during_outage = adapter.metrics.delivered_reads
    own_kafka_broker.start()
    time.sleep(3)
    keep_reporting.set()
    traffic.join()

    expected_total = sum(len(p) for p in pallets)
    adapter.wait(lambda: not emu.pending() and len(emu.sent) == expected_total, 90, "the reader's backlog")
    adapter.wait(lambda: adapter.metrics.delivered_reads >= expected_total, 90, "every read confirmed")
    expected = {event_id("door8-reader", s.sighting.antenna, s.sighting.epc_hex, s.reader_first_seen_us) for s in emu.sent}
    messages = read_topic(settings.bootstrap_servers, conn.topics.reads, expect=expected_total, timeout_s=60, settle_s=3)
    ids = [read_codec.decode(m.value()).event_id for m in messages]

    assert len(expected) == expected_total
    assert len(ids) == len(set(ids)) == expected_total  # no duplicates, none missing
    assert set(ids) == expected
    assert peak_spool > 0 and backpressure_seen, "the outage should have filled the spool and pushed back"
    assert delivered_during_outage < expected_total
    assert adapter.metrics.delivered_reads == expected_total
