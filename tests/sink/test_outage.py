"""ClickHouse stopped for 30 s under load: the sink waits, holds its offsets, and loses nothing."""

from __future__ import annotations

import threading
import time

import pytest

from tests.sink.helpers import (
    SinkThread,
    committed_lag,
    count,
    movement,
    produce_movements,
    read_dead_letters,
    site_for,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.clickhouse_server]


@pytest.mark.parametrize("clickhouse_target", ["http"], indirect=True)
def test_clickhouse_down_30_s_under_load_nothing_lost(kafka, clickhouse_target, clickhouse):
    server = clickhouse_target.server
    produced: list[str] = []
    done = threading.Event()

    def load() -> None:
        i = 0
        while not done.is_set():
            chunk = [movement(i + k, item=(i + k) % 2000) for k in range(200)]
            produce_movements(kafka, chunk)
            produced.extend(m.event_id for m in chunk)
            i += len(chunk)
            time.sleep(0.1)

    producer = threading.Thread(target=load, daemon=True)
    with SinkThread(site_for(kafka, clickhouse_target.settings), kafka, clickhouse):
        producer.start()
        wait_until(lambda: count(clickhouse, "SELECT count() FROM movements") > 0, 60, "first rows")
        server.stop()
        try:
            time.sleep(5)
            lag_during = committed_lag(kafka)
            time.sleep(25)
            assert committed_lag(kafka) > lag_during, "offsets must be held while ClickHouse is down"
        finally:
            server.start()
        time.sleep(3)
        done.set()
        producer.join(30)
        wait_until(lambda: committed_lag(kafka) == 0, 120, "sink caught up")

    assert count(clickhouse, "SELECT count() FROM movements") == len(produced)
    stored = {r[0] for r in clickhouse.query("SELECT event_id FROM movements").result_rows}
    assert stored == set(produced)
    assert count(clickhouse, "SELECT sum(moves) FROM moves_hourly") == len(produced)
    assert read_dead_letters(kafka, expected=0, timeout_s=3) == []
