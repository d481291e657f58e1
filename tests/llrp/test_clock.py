"""Reader clock correction: trusted when right, measured when unset or drifting, not fooled by backlog."""

from __future__ import annotations

from tagtrail_ingest.llrp.clock import ClockCorrector

NOW = 1_764_000_000_000_000
S = 1_000_000


def test_a_reader_clock_that_agrees_is_trusted() -> None:
    clock = ClockCorrector(tolerance_us=2 * S)
    for i in range(20):
        verdict = clock.observe(NOW + i * S - 150_000, NOW + i * S)  # 150 ms report delay
    assert verdict.offset_us == 0 and not verdict.correcting and not verdict.unset


def test_an_unset_clock_is_detected_and_corrected_to_receive_time() -> None:
    clock = ClockCorrector()
    unset_now = 946_684_800_000_000 + 3600 * S  # an hour after power-on, clock never set
    verdict = clock.observe(unset_now, NOW)
    assert verdict.unset and verdict.correcting
    assert unset_now + verdict.offset_us == NOW


def test_a_drifting_clock_is_corrected_by_the_smallest_delay_seen() -> None:
    clock = ClockCorrector(tolerance_us=2 * S)
    ahead = 90 * S  # reader clock 90 s fast
    delays = [400_000, 120_000, 800_000, 50_000, 300_000]
    for i, delay in enumerate(delays):
        verdict = clock.observe(NOW + i * S + ahead - delay, NOW + i * S)
    assert verdict.correcting
    assert verdict.offset_us == -ahead + 50_000  # best estimate: the least-delayed report


def test_a_backlog_after_a_fresh_connection_sample_is_not_taken_for_clock_error() -> None:
    clock = ClockCorrector(tolerance_us=2 * S)
    clock.observe(NOW, NOW + 1_000)  # the connection event: the reader's clock read just now
    for i in range(500):  # then reports that waited 5 s in socket buffers
        verdict = clock.observe(NOW + i * 10_000, NOW + i * 10_000 + 5 * S)
    assert verdict.offset_us == 0 and not verdict.correcting


def test_correction_stops_only_once_the_clock_is_well_back_and_reset_forgets() -> None:
    clock = ClockCorrector(tolerance_us=2 * S, window_us=10 * S)
    assert clock.observe(NOW - 3 * S, NOW).correcting
    # after the window passes, the clock is 1.5 s off: inside tolerance but not well inside
    assert clock.observe(NOW + 20 * S - int(1.5 * S), NOW + 20 * S).correcting
    assert not clock.observe(NOW + 40 * S - 200_000, NOW + 40 * S).correcting
    clock.observe(NOW - 30 * S, NOW)
    clock.reset()
    assert clock.offset_us == 0
    assert not clock.observe(NOW, NOW + 100_000).correcting
