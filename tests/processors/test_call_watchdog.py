"""The watchdog that turns a Kafka call hung past its timeout into a visible, recoverable exit."""

from __future__ import annotations

import threading
import time

from tagtrail_processors.stream.call_watchdog import CallWatchdog


def test_a_call_blocked_past_its_limit_is_reported_once_with_its_name() -> None:
    reports: list[tuple[str, float]] = []
    reported = threading.Event()

    def on_stall(what: str, seconds: float) -> None:
        reports.append((what, seconds))
        reported.set()

    watchdog = CallWatchdog(on_stall, poll_s=0.05)
    try:
        with watchdog.watch("send_offsets_to_transaction", limit_s=0.2):
            assert reported.wait(5), "a call blocked past its limit was never reported"
            time.sleep(0.3)  # still blocked: must not be reported again
        assert [what for what, _ in reports] == ["send_offsets_to_transaction"]
        assert reports[0][1] >= 0.2
    finally:
        watchdog.close()


def test_calls_that_return_within_their_limit_are_never_reported() -> None:
    reports: list[str] = []
    watchdog = CallWatchdog(lambda what, seconds: reports.append(what), poll_s=0.02)
    try:
        for _ in range(10):
            with watchdog.watch("commit_transaction", limit_s=0.5):
                time.sleep(0.03)
            time.sleep(0.03)  # between calls nothing is watched, however long it takes
        time.sleep(0.6)
        assert reports == []
    finally:
        watchdog.close()
