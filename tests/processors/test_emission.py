"""Movement ids and change detection, pure."""

from tagtrail_processors.decisions.movement_diff import RETRACTED, diff, movement_id
from tagtrail_processors.decisions.timeline import Transition
from tests.processors.scenarios import identity

ITEM = identity(60)


def _t(time=100, to="storage-a", anomaly=None, anchor="arrive:storage-a:e1"):
    return Transition("arrived", time, None, to, "storage-a", "storing", "sellable_not_accessible", "none", anomaly,
                      anchor, ["e1"])


def test_ids_are_derived_from_content_so_recomputing_gives_the_same_id():
    assert movement_id(ITEM.item_key, _t()) == movement_id(ITEM.item_key, _t())
    assert movement_id(ITEM.item_key, _t()) != movement_id(ITEM.item_key, _t(time=101))
    assert movement_id(ITEM.item_key, _t()) != movement_id(identity(61).item_key, _t())


def test_only_new_or_changed_movements_are_published_and_vanished_ones_retracted():
    emitted = {}
    first = diff(ITEM.item_key, ITEM, [_t()], emitted, 1, 0, None)
    assert [(m.movement_type, r) for m, r in first] == [("arrived", False)]
    assert diff(ITEM.item_key, ITEM, [_t()], emitted, 2, 0, None) == []
    changed = diff(ITEM.item_key, ITEM, [_t(anomaly="odd")], emitted, 3, 0, None)
    assert [(m.event_id, m.anomaly) for m, _ in changed] == [(first[0][0].event_id, "odd")]
    gone = diff(ITEM.item_key, ITEM, [], emitted, 4, 0, None)
    assert [(m.event_id, m.anomaly, r) for m, r in gone] == [(first[0][0].event_id, RETRACTED, True)]
    assert emitted == {}


def test_movements_after_an_undecided_step_are_not_retracted_yet():
    emitted = {}
    diff(ITEM.item_key, ITEM, [_t(time=100)], emitted, 1, 0, None)
    assert diff(ITEM.item_key, ITEM, [], emitted, 2, 0, decided_until=50) == []
    assert len(emitted) == 1
