"""Direction through a portal, pure."""

from tagtrail_processors.decisions.direction import INBOUND, OUTBOUND, UNKNOWN, crossing_direction


def test_inner_then_outer_is_outbound():
    assert crossing_direction(inner=(0, 2), outer=(1, 4)) == OUTBOUND


def test_outer_then_inner_is_inbound():
    assert crossing_direction(inner=(1, 4), outer=(0, 2)) == INBOUND


def test_one_side_only_is_unknown_not_guessed():
    assert crossing_direction(inner=(0, 2), outer=None) == UNKNOWN
    assert crossing_direction(inner=None, outer=(0, 2)) == UNKNOWN


def test_turning_back_is_unknown():
    # entered from outside, touched the inner antenna, went back out
    assert crossing_direction(inner=(1, 2), outer=(0, 4)) == UNKNOWN
