"""Stage bugs the fault suite ran into, each reproduced on its own so a regression shows by name."""

from __future__ import annotations

import time
import uuid

import pytest

from tagtrail.config import (
    Antenna,
    ClickHouseSettings,
    KafkaSettings,
    LlrpSettings,
    ProcessingSettings,
    Reader,
    ReadPoint,
    SiteConfig,
)
from tagtrail.wire import Codec
from tagtrail_cli.demo.flow import make_item
from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting
from tests.e2e.pipeline import Pipeline, write_site
from tests.e2e.topics import read_all
from tests.services import free_port

pytestmark = [pytest.mark.slow, pytest.mark.kafka]


def one_door_site(tmp_path, bootstrap: str, reader_port: int, clickhouse_dsn: str) -> SiteConfig:
    return SiteConfig(
        site_id="bugs",
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bug{uuid.uuid4().hex[:8]}", partitions=3),
        clickhouse=ClickHouseSettings(dsn=clickhouse_dsn, database=f"bug{uuid.uuid4().hex[:8]}"),
        read_points=(ReadPoint(id="door-1-outer", location="dock-door-1", kind="dock_door_outer", portal="door-1"),
                     ReadPoint(id="door-1-inner", location="dock-door-1", kind="dock_door_inner", portal="door-1")),
        readers=(Reader(id="door-1", host="127.0.0.1", port=reader_port, keepalive_s=1.0, report_every_ms=100,
                        antennas=(Antenna(1, "door-1-outer"), Antenna(2, "door-1-inner"))),),
        llrp=LlrpSettings(spool_dir=str(tmp_path / "spool")),
        processing=ProcessingSettings(idle_advance_s=3.0, session_timeout_s=6.0),
    )


def wait_for(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_a_sink_started_while_clickhouse_is_down_waits_for_it(kafka, tmp_path) -> None:
    """Found by the suite (the CLI used to exit 1 when ClickHouse was unreachable at start; fixed in
    cli/tagtrail_cli/launch/stage_resources.py clickhouse_for): a sink restarted during an outage must wait, not die."""
    site = one_door_site(tmp_path, kafka.bootstrap_servers, free_port(), f"http://127.0.0.1:{free_port()}")
    pipeline = Pipeline(write_site(site, tmp_path / "site.yaml"), tmp_path)
    pipeline.start("sink")
    try:
        died = wait_for(lambda: bool(pipeline.crashed()), 15)
        assert not died, pipeline.log_tail("sink", 800)
    finally:
        pipeline.stop_all()


def test_the_processor_keeps_working_through_a_broker_restart(own_kafka_broker, tmp_path) -> None:
    """Found by the suite: after a broker restart the processor used to stop processing for good, its
    send_offsets_to_transaction waiting on a group coordinator librdkafka's re-bootstrap had
    decommissioned (librdkafka #5511, which also ignores the call's timeout, #5456). Fixed by turning
    re-bootstrap off for transactional producers (tagtrail/kafka/clients.py); a watchdog now exits a
    processor whose transactional call hangs anyway (processors/tagtrail_processors/stream/call_watchdog.py)."""
    emu = ReaderEmulator(antennas=2, name="door-1")
    emu.start()
    site = one_door_site(tmp_path, own_kafka_broker.bootstrap_servers, emu.port, "http://127.0.0.1:1")
    pipeline = Pipeline(write_site(site, tmp_path / "site.yaml"), tmp_path)
    movements = Codec("Movement")
    topic = f"{site.kafka.topic_prefix}.movements"

    def arrives(serial: int) -> str:
        item = make_item(serial, "stored", 1, None)
        t0 = time.time_ns() // 1000 + 500_000
        emu.queue([Sighting(epc_hex=item.epc_hex, antenna=antenna, first_seen_us=t0 + k * 250_000 + off,
                            last_seen_us=t0 + k * 250_000 + off)
                   for antenna, off in ((1, 0), (2, 1_500_000)) for k in range(5)])
        return item.item_key

    def moved(item_key: str) -> bool:
        try:
            records = read_all(site.kafka.bootstrap_servers, topic, timeout_s=20)
        except Exception:  # noqa: BLE001 - topic just created (no leader yet) or broker restarting: not yet
            return False
        return any(movements.decode(m.value()).identity.item_key == item_key for m in records)

    try:
        pipeline.start("ingest.llrp")
        pipeline.start("process")
        assert emu.inventorying.wait(60)
        first = arrives(30_001)
        assert wait_for(lambda: moved(first), 60), "no movement even before the broker restart"
        own_kafka_broker.stop()
        own_kafka_broker.start()
        time.sleep(5)
        second = arrives(30_002)
        assert wait_for(lambda: moved(second), 45), pipeline.log_tail("process", 1500)
        assert pipeline.crashed() == {}
    finally:
        pipeline.stop_all()
        emu.stop()


