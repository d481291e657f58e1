"""Arrival order does not change history (pure core), and in-order input publishes each id once."""

from __future__ import annotations

import random

import pytest

from tagtrail.events import TagRead
from tests.processors.reference import fold, run_core
from tests.processors.scenarios import Script, identity, pallet_journey, sentinels, site


def _busy_site_script() -> Script:
    s = Script()
    for n in range(4):
        pallet_journey(identity(10 + n), s, offset_s=n * 37.0)
    flapper = identity(20)
    s.dwell(flapper, "storage-a", 0, 90, 0.5, rssi=-60, reader="r2")
    for start in range(5, 80, 9):
        s.dwell(flapper, "storage-b", start, start + 2, 0.3, rssi=-58, reader="r5")
    s.dwell(flapper, "pick-1", 85, 95, 0.2, rssi=-44, reader="r3")
    late = identity(21)
    s.dwell(late, "storage-a", 0, 50, 1.0, reader="r2")
    s.dwell(late, "pack-1", 200, 230, 1.0, reader="r4")
    s.scan(late, "receive", 10, location="dock-door-1", uploaded_s=3 * 3600, n=0)
    s.scan(late, "ship", 100, location="dock-door-1", uploaded_s=3 * 3600, n=1)
    s.scan(late, "count", 220, uploaded_s=3 * 3600, n=2)
    return sentinels(3, 20_000, s)  # every partition's watermark passes the end


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_shuffled_arrival_within_the_bound_gives_the_same_history(seed):
    cfg = site()
    events = _busy_site_script().events()
    in_order, dead = run_core(cfg, events)
    assert not dead
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    out_of_order, dead = run_core(cfg, shuffled, advance_every=7)
    assert not dead
    expected = fold(in_order)
    assert fold(out_of_order) == expected
    # not vacuous: every pallet has its five movements, and the late scans are in the history
    assert all(len(expected[identity(10 + n).item_key]) == 5 for n in range(4))
    assert [r[6] for r in expected[identity(21).item_key]][:2] == ["storing", "receiving"]


def test_in_order_arrival_publishes_every_movement_once():
    events = [e for e in _busy_site_script().events() if isinstance(e, TagRead)]
    published, _ = run_core(site(), events)
    ids = [m.event_id for m, _ in published]
    assert len(ids) == len(set(ids))
    assert not any(retracted for _, retracted in published)


def test_a_late_read_that_shows_the_item_never_left_retracts_the_move():
    item = identity(30)
    s = Script()
    s.dwell(item, "storage-a", 0, 20, 1.0, rssi=-60, reader="r2")
    s.dwell(item, "storage-a", 40, 60, 1.0, rssi=-60, reader="r2")
    s.dwell(item, "storage-b", 30, 60, 1.0, rssi=-58, reader="r5")
    sentinels(3, 5000, s)
    events = s.events()
    bridge = Script().dwell(item, "storage-a", 25, 35, 2.5, rssi=-60, reader="r2").events()
    published, _ = run_core(site(), events + bridge)
    moves = [(m.movement_type, m.to_location, r) for m, r in published if m.identity == item]
    # first: storage-a went quiet at 20, storage-b alone saw it from 30 -> moved
    assert moves[:2] == [("arrived", "storage-a", False), ("moved", "storage-b", False)]
    # then the bridging reads show storage-a never lost it, and storage-b is not stronger by the
    # margin: every move published on the way is retracted, only the arrival stays
    assert any(r for _, _, r in moves)
    history = fold(published)
    assert [(r[1], r[4]) for r in history[item.item_key]] == [("arrived", "storage-a")]
    assert history == fold(run_core(site(), sorted(events + bridge, key=lambda e: e.last_seen))[0])


def _random_site_script(seed: int) -> Script:
    """Items wandering between read points and portals with random dwell, gaps, overlaps and RSSI,
    plus scans uploaded later: situations no golden scenario lists one by one."""
    rng = random.Random(seed)
    s = Script()
    points = ["storage-a", "storage-b", "pick-1", "pack-1", "door-1-inner", "door-1-outer"]
    for n in range(6):
        item = identity(200 + n)
        t = rng.uniform(0, 50)
        for _ in range(rng.randint(3, 8)):
            rp = rng.choice(points)
            d = rng.uniform(0.3, 20)
            s.dwell(item, rp, t, t + d, rng.choice([0.2, 0.5, 1.0, 2.0]), rssi=rng.uniform(-75, -45), reader=rp)
            t += d + rng.uniform(-3, 12)
        if rng.random() < 0.5:
            s.scan(item, rng.choice(["receive", "putaway", "pick", "pack", "ship", "count"]), rng.uniform(0, t),
                   location=rng.choice([None, "storage-a", "dock-door-1"]), uploaded_s=t + 100, n=n)
        lots = random.Random(seed * 1000 + n)  # its own generator: the draws above stay what they were
        for k in range(lots.randint(0, 3)):  # count scans naming a lot: learned, repeated or a mismatch
            s.scan(item, "count", lots.uniform(0, t), uploaded_s=t + lots.uniform(100, 3600), n=10 + k,
                   lot=lots.choice(["L1", "L2"]))
    return sentinels(3, 5000, s)


@pytest.mark.parametrize("seed", range(12))
def test_random_wandering_gives_the_same_history_in_any_order_and_batching(seed):
    cfg = site()
    events = _random_site_script(seed).events()
    expected = fold(run_core(cfg, events)[0])
    assert expected
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    assert fold(run_core(cfg, shuffled, advance_every=1 + seed % 7)[0]) == expected
    assert fold(run_core(cfg, events, advance_every=37)[0]) == expected


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_live_mode_ends_with_the_history_decided_without_it(seed):
    """Provisional movements are replaced or retracted: once everything is decided, the history is the
    one published without live mode, whatever the arrival order."""
    events = _busy_site_script().events()
    expected = fold(run_core(site(), events)[0])
    if seed is not None:
        events = list(events)
        random.Random(seed).shuffle(events)
    published, dead = run_core(site("  provisional_movements: true\n"), events, advance_every=7)
    assert not dead
    assert any(m.provisional for m, _ in published)  # not vacuous: live mode published early
    assert fold(published) == expected
    assert not any(m.provisional for item in fold_latest(published).values() for m in item)


def fold_latest(published) -> dict[str, list]:
    """The latest version of each movement still in the history, per item."""
    latest = {}
    for m, retracted in published:
        latest[m.event_id] = (m, retracted)
    out: dict[str, list] = {}
    for m, retracted in latest.values():
        if not retracted:
            out.setdefault(m.identity.item_key, []).append(m)
    return out
