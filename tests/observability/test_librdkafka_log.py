"""librdkafka's lines as log events: fields kept, a line repeated dozens of times a second logged once
per quiet period with the count of those left out (clock injected)."""

from __future__ import annotations

import logging

from structlog.testing import capture_logs

from tagtrail.kafka.client_log import LibrdkafkaLog

REFUSED = "[thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_repeated_line_is_logged_once_per_quiet_period_with_the_count_left_out() -> None:
    clock = Clock()
    sink = LibrdkafkaLog(quiet_s=10.0, clock=clock)
    with capture_logs() as events:
        for step in range(50):  # five seconds of a broker refusing, ten lines a second
            clock.now = step * 0.1
            sink.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", REFUSED)
        sink.log(logging.WARNING, "%s [%s] %s", "REQTMOUT", "rdkafka#producer-1", "timed out")  # another line
        clock.now = 10.0
        sink.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", REFUSED)
    assert [(e["facility"], e["log_level"], e.get("repeated")) for e in events] == [
        ("FAIL", "error", None), ("REQTMOUT", "warning", None), ("FAIL", "error", 49)]
    assert events[0] == {"event": "librdkafka", "log_level": "error", "facility": "FAIL",
                         "client": "rdkafka#producer-1", "message": REFUSED}
