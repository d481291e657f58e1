"""The demo's progress lines: the live_items column counts what live_items shows now, and the quiet end
of the demo says what it is waiting for."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import replace

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings
from tagtrail.events import Identity, Movement
from tagtrail.history.migrations import migrate
from tagtrail.kafka.topics import Topics
from tagtrail_cli.demo.progress import Progress, Snapshot, progress_line
from tagtrail_cli.demo.runner import _drain
from tests.history.conftest import store


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def provisional(event_id: str, item: str, at_us: int, **fields) -> Movement:
    base = dict(event_id=event_id, identity=Identity(item_key=item, scheme="sgtin"), movement_type="arrived",
                biz_step="receiving", disposition="in_progress", direction="inbound", event_time=at_us,
                recorded_at=at_us, to_location="dock-door-1", read_point="door-1-outer", provisional=True)
    return Movement(**{**base, **fields})


def test_the_live_items_column_counts_items_shown_provisionally_now_not_provisional_messages(clickhouse_server) -> None:
    client = connect_clickhouse(ClickHouseSettings(dsn=clickhouse_server.url, database=f"p{uuid.uuid4().hex[:10]}"))
    try:
        migrate(client)
        t = int(time.time() * 1e6)
        store(client, [
            # item A: one crossing shown provisionally, then a second one: still one item shown
            provisional("a1", "01/1/21/A", t), provisional("a2", "01/1/21/A", t + 5_000_000, to_location="dock-door-2"),
            # item B: shown provisionally, then decided (same event id): no longer provisional
            provisional("b1", "01/1/21/B", t), provisional("b1", "01/1/21/B", t, provisional=False),
            # item C: shown provisionally, then retracted: hidden again
            provisional("c1", "01/1/21/C", t), provisional("c1", "01/1/21/C", t, anomaly="retracted: superseded"),
        ])
        topics = Topics("progress")
        progress = Progress({"bootstrap.servers": f"127.0.0.1:{closed_port()}"}, topics,
                            {topics.reads: 1, topics.scans: 1, topics.movements: 1, topics.dead_letters: 1}, client)
        try:
            snap = progress.sample()
        finally:
            progress.close()
    finally:
        client.close()
    assert snap.provisional_now == 1
    line = progress_line(snap, None)
    assert "live_items:    1 provisional now" in line
    assert "provisional (live_items)" not in line


def test_the_progress_line_keeps_the_running_total_apart_from_what_is_shown_now() -> None:
    snap = Snapshot(at=10.0, reads=3017, scans=84, movements=238, dead_letters=0, rows=238, freshness_s=2.0,
                    provisional_published=94, provisional_now=0)
    assert "live_items:    0 provisional now (94 published)" in progress_line(snap, replace(snap, at=9.0))


class _Instant(threading.Event):
    """A stop event whose waits return at once: the drain loop runs without sleeping."""

    def wait(self, timeout: float | None = None) -> bool:
        return self.is_set()


class _Samples:
    def __init__(self, snaps: list[Snapshot]) -> None:
        self._snaps = iter(snaps)
        self.last = None

    def sample(self) -> Snapshot:
        self.last = next(self._snaps)
        return self.last


class _Emulator:
    def __init__(self, pending: list[int]) -> None:
        self._pending = iter(pending)

    def pending(self) -> int:
        return next(self._pending)


def test_the_quiet_end_of_the_demo_says_what_it_waits_for() -> None:
    base = Snapshot(at=0.0, reads=3000, scans=84, movements=230, dead_letters=0, rows=230, freshness_s=1.0)
    snaps = [base, replace(base, reads=3017, movements=238, rows=238), replace(base, reads=3017, movements=238, rows=238)]
    shown: list[str | None] = []
    _drain(_Samples(snaps), {"door-1": _Emulator([17, 0, 0])}, _Instant(), 60.0,
           lambda snap, _previous: shown.append(snap.waiting_for), settle_s=0.0)
    assert shown[0] == "the reader emulators to report their last 17 reads"
    assert shown[1] == "the stages to catch up with the last reads and scans"
    assert shown[2].startswith("nothing new for 0 s of the 0 s of quiet that end the demo")
    assert "smoothing window" in shown[2]
    assert progress_line(replace(snaps[2], waiting_for=shown[2]), None).splitlines()[1] == f"    waiting: {shown[2]}"
