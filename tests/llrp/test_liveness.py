"""When a quiet link is probed and when it counts as dead, on an injected clock."""

from __future__ import annotations

from tagtrail_ingest.llrp.liveness import Liveness, Verdict


def test_a_quiet_link_is_probed_first_and_dead_only_if_the_probe_goes_unanswered() -> None:
    link = Liveness(silence_s=9.0)
    link.heard(100.0)
    assert link.check(105.9) is Verdict.ALIVE
    assert link.check(106.0) is Verdict.PROBE  # two thirds of the limit
    link.probed(106.0)
    assert link.check(108.9) is Verdict.ALIVE  # the probe has the last third to be answered
    assert link.check(109.0) is Verdict.DEAD
    assert link.dead_reason(109.0).startswith("silent for 9.0 s")


def test_any_byte_answers_a_probe_and_a_clock_jump_never_skips_the_probe() -> None:
    link = Liveness(silence_s=3.0)
    link.heard(0.0)
    link.probed(2.0)
    link.heard(2.1)  # the answer (or a keepalive, or a report)
    assert link.check(4.0) is Verdict.ALIVE
    assert link.check(1000.0) is Verdict.PROBE  # however long the silence, ask before dropping
    assert link.probes == 1
