"""Reader clock correction: trust a reader's UTC clock while it agrees with ours, measure it when not.

A reader whose clock was never set reports years near 2000; others drift or were set by hand.
Each report gives one measurement, receive time minus the newest reader timestamp in it. That
difference is the clock offset plus the report's delay (reporting period, network), so the
smallest recent difference is the best estimate of the offset. Corrections start when that
estimate leaves the tolerance and stop only once it is well back inside (hysteresis), so reads
around the edge do not flap between corrected and uncorrected.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

YEAR_2010_US = 1_262_304_000_000_000  # any reader time before this was never set


@dataclass(frozen=True)
class ClockVerdict:
    offset_us: int  # add to reader time to get true time (0 while the reader clock is trusted)
    unset: bool
    correcting: bool


class ClockCorrector:
    """Per reader; feed `observe(reader_ts, received_at)` once per report or reader event.

    The estimate is the minimum over a sliding time window (ten minutes by default): long
    enough that a backlog (reports queued in socket buffers while the adapter catches up)
    does not pass for a clock error, short enough to follow a clock that drifts.
    """

    def __init__(self, *, tolerance_us: int = 2_000_000, window_us: int = 600_000_000) -> None:
        self.tolerance_us = tolerance_us
        self.window_us = window_us
        self._window: deque[tuple[int, int]] = deque()  # (received_at, sample), samples increasing
        self._correcting = False
        self.offset_us = 0

    def observe(self, reader_ts_us: int, received_at_us: int) -> ClockVerdict:
        unset = reader_ts_us < YEAR_2010_US
        sample = received_at_us - reader_ts_us
        window = self._window
        while window and window[-1][1] >= sample:
            window.pop()
        window.append((received_at_us, sample))
        while window[0][0] < received_at_us - self.window_us:
            window.popleft()
        estimate = window[0][1]
        if unset or abs(estimate) > self.tolerance_us:
            self._correcting = True
        elif abs(estimate) < self.tolerance_us // 2:
            self._correcting = False
        self.offset_us = estimate if self._correcting else 0
        return ClockVerdict(self.offset_us, unset, self._correcting)

    def reset(self) -> None:
        """A reconnect may follow a reader reboot that reset or set its clock: measure afresh."""
        self._window.clear()
        self._correcting = False
        self.offset_us = 0
