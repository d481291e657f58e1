"""Event-time watermark of one input partition, and what counts as too late or too early.

The watermark is the latest event time accepted on the partition, never the wall clock, so a
replay of old data behaves exactly like the live run did. The only wall-clock check guards the
watermark itself: an event stamped far in the future (a reader clock set wrong) would otherwise
make every honest event look too late.
"""

from __future__ import annotations

TOO_LATE = "too_late"
FROM_THE_FUTURE = "from_the_future"


class Watermark:
    def __init__(self, lateness_bound_us: int, future_tolerance_us: int, value: int = 0) -> None:
        self.bound_us = lateness_bound_us
        self.future_us = future_tolerance_us
        self.value = value

    def admit(self, first: int, last: int, now: int) -> str | None:
        """None if the event is accepted (and advances the watermark), else the dead-letter reason."""
        if last > now + self.future_us:
            return FROM_THE_FUTURE
        if first < self.value - self.bound_us:
            return TOO_LATE
        if last > self.value:
            self.value = last
        return None

    @property
    def horizon(self) -> int:
        """Log entries ending before this can no longer be changed by an accepted event."""
        return self.value - self.bound_us
