"""kill -9 of a sink subprocess mid-batch, restarted: every movement stored exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tagtrail.clickhouse import connect_clickhouse
from tests.services import REPO
from tests.sink.helpers import (
    committed_lag,
    count,
    movement,
    produce_movements,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOTAL = 60_000
ITEMS = 5_000


def write_site(path: Path, kafka, clickhouse_settings) -> Path:
    site = {
        "site_id": "crash-test",
        "kafka": {"bootstrap_servers": kafka.bootstrap_servers, "topic_prefix": kafka.topics.prefix, "partitions": kafka.partitions},
        "clickhouse": {"dsn": clickhouse_settings.dsn, "database": clickhouse_settings.database},
        # small batches, also while catching up, so kills land inside batches often
        "sink": {"batch_rows": 1000, "catch_up_batch_rows": 3000, "batch_seconds": 0.3, "retry_max_backoff_s": 1.0,
                 "instance_id": "sink-0"},  # static membership: the restarted sink takes over at once
    }
    path.write_text(yaml.safe_dump(site))
    return path


def start_sink(site: Path, log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - the child process keeps it open
    return subprocess.Popen(
        [sys.executable, "-m", "tagtrail_cli.main", "--log-level", "info", "sink", "--site", str(site)],
        cwd=REPO, stdout=out, stderr=out, start_new_session=True,
    )


def replays(log: Path) -> int:
    text = log.read_text()
    return text.count('"replaying_pending_batch"') + text.count('"replaying_pending_group"')


def test_kill_9_mid_batch_then_restart_stores_every_movement_once(kafka, clickhouse_target, tmp_path):
    rng = random.Random(int(os.environ.get("TAGTRAIL_TEST_SEED", "6")))
    movements = [movement(i, item=i % ITEMS, frm=None if i < ITEMS else f"loc-{(i // ITEMS - 1) % 7}",
                          to=f"loc-{(i // ITEMS) % 7}") for i in range(TOTAL)]
    produce_movements(kafka, movements)
    site = write_site(tmp_path / "site.yaml", kafka, clickhouse_target.settings)
    log = tmp_path / "sink.log"

    kills = 0
    for kills in range(1, 9):  # until a kill has landed inside a batch twice (seen as a replay on restart)
        proc = start_sink(site, log)
        before = committed_lag(kafka)
        # progress is visible in the committed offsets whatever the backend (chdb is locked by the sink)
        wait_until(lambda before=before, proc=proc: committed_lag(kafka) < before or proc.poll() is not None, 90,
                   "sink progress", interval_s=0.05)
        assert proc.poll() is None, f"sink exited early: {log.read_text()[-2000:]}"
        time.sleep(rng.uniform(0.0, 0.4))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if replays(log) >= 2 or committed_lag(kafka) == 0:
            break

    started = log.read_text().count('"sink_started"')
    proc = start_sink(site, log)
    try:
        wait_until(lambda: committed_lag(kafka) == 0, 120, "all offsets committed after restart")
        # a SIGTERM before the service set up its handler would end it uncleanly
        wait_until(lambda: log.read_text().count('"sink_started"') > started, 60, "restarted sink running")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log.read_text()[-2000:]
    assert replays(log) >= 1, "no kill landed between a batch's BEFORE and AFTER commits"

    client = connect_clickhouse(clickhouse_target.settings)
    try:
        assert count(client, "SELECT count() FROM movements") == TOTAL
        assert count(client, "SELECT uniqExact(event_id) FROM movements") == TOTAL
        stored = {r[0] for r in client.query("SELECT event_id FROM movements").result_rows}
        assert stored == {m.event_id for m in movements}
        # materialized views saw every movement once too (event_log never merges: a repeat would stay)
        assert count(client, "SELECT count() FROM event_log") == TOTAL
        assert count(client, "SELECT sum(moves) FROM moves_hourly") == TOTAL
        assert count(client, "SELECT sum(arrivals) FROM location_flow") == TOTAL
        assert count(client, "SELECT sum(departures) FROM location_flow") == TOTAL - ITEMS
        assert count(client, "SELECT count() FROM current_items") == ITEMS
        last = {m.identity.item_key: m.event_id for m in movements}
        got = dict(client.query("SELECT item_key, last_event_id FROM current_items").result_rows)
        assert got == last
    finally:
        client.close()
