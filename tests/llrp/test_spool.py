"""The disk spool: nothing leaves it before confirmation, it survives restarts, and it pushes back when full."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tagtrail_ingest.llrp.spool import Spool, SpoolLockedError


def records(n: int, start: int = 0, size: int = 100) -> list[tuple[int, bytes, bytes]]:
    return [(i % 2, f"key-{i}".encode(), f"value-{i}-".encode().ljust(size, b"x")) for i in range(start, start + n)]


def test_records_come_back_in_order_and_leave_only_when_confirmed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10_000_000, segment_bytes=4096)
    for start in range(0, 100, 10):  # one report at a time
        spool.append(records(10, start=start))
    got = spool.read(60) + spool.read(1000)
    assert [(t, k, v) for _s, t, k, v in got] == records(100)
    assert spool.read(10) == []  # handed out once
    used = spool.bytes_used
    for segment, *_ in got[:50]:
        spool.confirm(segment)
    assert spool.bytes_used < used  # fully confirmed sealed segments are deleted
    for segment, *_ in got[50:]:
        spool.confirm(segment)
    assert len(list(tmp_path.glob("*.spool"))) <= 1  # at most the active segment is left
    spool.close()


def test_unconfirmed_records_are_sent_again_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10_000_000, segment_bytes=4096)
    for start in range(0, 80, 10):
        spool.append(records(10, start=start))
    got = spool.read(1000)
    for segment, *_ in got[:30]:
        spool.confirm(segment)
    spool.close()  # the adapter stops (or crashes) with 50 records unconfirmed

    reopened = Spool(tmp_path, 10_000_000, segment_bytes=4096)
    again = [(t, k, v) for _s, t, k, v in reopened.read(1000)]
    assert again[-50:] == records(50, start=30)  # every unconfirmed record is there, in order
    assert set(again) <= set(records(80))  # possibly with some confirmed ones of a partly confirmed segment
    reopened.close()


def test_a_torn_write_at_the_end_of_a_segment_is_skipped_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 10_000_000)
    spool.append(records(5))
    spool.close()
    segment = max(tmp_path.glob("*.spool"))
    segment.write_bytes(segment.read_bytes() + b"\x00\x00\x01\x00garbage")  # crash mid-append
    reopened = Spool(tmp_path, 10_000_000)
    assert [(t, k, v) for _s, t, k, v in reopened.read(100)] == records(5)
    reopened.close()


def test_a_full_spool_blocks_appends_until_records_are_confirmed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 8192, segment_bytes=1024)
    spool.append(records(60))  # about 7 KiB: nearly full
    done = threading.Event()

    def producer() -> None:
        spool.append(records(20, start=60))
        done.set()

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    assert not done.wait(0.5), "append should wait while the spool is full"
    assert spool.blocked_since is not None
    for segment, *_ in spool.read(1000):
        spool.confirm(segment)
    assert done.wait(5), "append should resume once confirmed records free space"
    assert [(t, k, v) for _s, t, k, v in spool.read(1000)] == records(20, start=60)
    spool.close()


def test_a_stopping_append_does_not_wait_and_a_forced_one_never_does(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 4096, segment_bytes=1024)
    spool.append(records(40))
    stop = threading.Event()
    stop.set()
    start = time.monotonic()
    spool.append(records(5, start=40), stop=stop)
    spool.append(records(5, start=45), force=True)
    assert time.monotonic() - start < 1.0
    assert len(spool.read(1000)) == 50  # over the limit rather than lost
    spool.close()


def test_two_adapters_cannot_share_a_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1_000_000)
    with pytest.raises(SpoolLockedError):
        Spool(tmp_path, 1_000_000)
    spool.close()


@pytest.mark.parametrize("memory_tail_bytes", [0, 3_000, 8 * 1024 * 1024])
def test_records_come_back_once_and_in_order_from_memory_or_file_at_any_read_size(
        tmp_path: Path, memory_tail_bytes: int) -> None:
    """The in-memory tail is an optimisation only: a publisher reading in odd-sized pieces, or falling
    behind what memory holds, gets the same records in the same order as from the file alone."""
    spool = Spool(tmp_path, 10_000_000, segment_bytes=4096, memory_tail_bytes=memory_tail_bytes)
    got: list = []
    sizes = iter([3, 25, 7, 1, 40, 13] * 20)
    for start in range(0, 200, 10):
        spool.append(records(10, start=start))
        if start % 30 == 0:
            got += spool.read(next(sizes))
    while more := spool.read(next(sizes)):
        got += more
    assert [(t, k, v) for _s, t, k, v in got] == records(200)
    for segment, *_ in got:
        spool.confirm(segment)
    assert len(list(tmp_path.glob("*.spool"))) <= 1
    spool.close()
    reopened = Spool(tmp_path, 10_000_000, segment_bytes=4096)
    assert reopened.read(1000) == []  # everything confirmed: nothing comes back after a restart
    reopened.close()
