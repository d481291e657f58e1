"""When a quiet reader link is probed, and when it counts as dead (pure: the caller brings the clock).

Silence alone does not prove a reader dead: LLRP readers configured without keepalives, or that
ignore the KeepaliveSpec, say nothing between passes. So after two thirds of the silence limit the
link asks the reader something (a GET_READER_CONFIG for its KeepaliveSpec, which every reader must
answer); any byte that comes back proves it alive, and only a reader that stays silent for the last
third as well is dropped. A hung reader is still dropped within the silence limit.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    ALIVE = "alive"
    PROBE = "probe"  # quiet long enough: send a probe now (then call probed)
    DEAD = "dead"  # a probe went unanswered


@dataclass
class Liveness:
    silence_s: float  # from the last byte to a dead link, probe included
    last_heard: float = 0.0
    probe_sent_at: float | None = None
    probes: int = 0

    @property
    def probe_after_s(self) -> float:
        return self.silence_s * 2 / 3

    @property
    def answer_within_s(self) -> float:
        return self.silence_s - self.probe_after_s

    def heard(self, now: float) -> None:
        """A byte from the reader: alive, and any probe in flight is answered."""
        self.last_heard = now
        self.probe_sent_at = None

    def probed(self, now: float) -> None:
        self.probe_sent_at = now
        self.probes += 1

    def check(self, now: float) -> Verdict:
        if self.probe_sent_at is None:
            return Verdict.PROBE if now - self.last_heard >= self.probe_after_s else Verdict.ALIVE
        return Verdict.DEAD if now - self.probe_sent_at >= self.answer_within_s else Verdict.ALIVE

    def dead_reason(self, now: float) -> str:
        unanswered = 0.0 if self.probe_sent_at is None else now - self.probe_sent_at
        return (f"silent for {now - self.last_heard:.1f} s (no keepalive or report) and no answer to a "
                f"GET_READER_CONFIG probe in {unanswered:.1f} s")
