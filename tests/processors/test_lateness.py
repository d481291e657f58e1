"""The event-time watermark, pure."""

from tagtrail_processors.decisions.lateness import FROM_THE_FUTURE, TOO_LATE, Watermark

H = 3600 * 1_000_000


def test_watermark_follows_event_time_not_arrival():
    wm = Watermark(lateness_bound_us=24 * H, future_tolerance_us=H)
    now = 1000 * H
    assert wm.admit(now - 10 * H, now - 10 * H, now) is None
    assert wm.admit(now - 20 * H, now - 20 * H, now) is None  # six... ten hours late: still in
    assert wm.value == now - 10 * H


def test_later_than_the_bound_is_too_late():
    wm = Watermark(24 * H, H, value=100 * H)
    assert wm.admit(100 * H - 24 * H - 1, 100 * H, 200 * H) == TOO_LATE
    assert wm.admit(100 * H - 24 * H, 100 * H - 24 * H, 200 * H) is None


def test_a_clock_set_far_ahead_does_not_drag_the_watermark():
    wm = Watermark(24 * H, H, value=100 * H)
    assert wm.admit(300 * H, 300 * H, 100 * H) == FROM_THE_FUTURE
    assert wm.value == 100 * H
