"""Smoothing: many raw reads of one item at one read point become one observation.

A portal reports a tag dozens of times a second; what the history needs is "seen at this read
point from A to B". Reads whose time ranges lie within the read point's window of each other join
one observation; an item out of the field for longer than the window starts a new one.

Every quantity kept is a commutative merge (min, max, sum, and the peak RSSI of the two earliest
hold-off slots), so the observations are the same whatever order the reads arrive in: the
clusters of points on a line split at gaps wider than the window are unique.
"""

from __future__ import annotations

import msgspec

NO_RSSI = -999.0  # reads without RSSI lose every comparison but still count as presence


class Observation(msgspec.Struct, array_like=True):
    """One stay of an item in one read point's field.

    `slot` is the first hold-off slot (`first // hold_off`); `e0`/`e1` are the peak RSSI in that
    slot and the next one. Their maximum is the observation's *entry RSSI*, the smoothed signal
    strength location resolution compares: fixed early slots (not the whole observation) so a
    decision, once the watermark passes the slots, never changes with later in-order reads.
    """

    read_point: str
    first: int
    last: int
    count: int
    peak: float
    slot: int
    e0: float
    e1: float
    source: str  # event id of the earliest read, for Movement.source_event_ids

    @property
    def entry_rssi(self) -> float:
        return self.e0 if self.e0 >= self.e1 else self.e1


def entry_end_us(obs: Observation, hold_off_us: int) -> int:
    """Event time after which the entry RSSI is final (for reads arriving in order)."""
    return (obs.slot + 2) * hold_off_us


def new_observation(read_point: str, first: int, last: int, count: int, rssi: float, source: str, hold_off_us: int) -> Observation:
    return Observation(read_point, first, last, count, rssi, first // hold_off_us, rssi, NO_RSSI, source)


def absorb(obs: Observation, first: int, last: int, count: int, rssi: float, source: str, hold_off_us: int) -> None:
    """Adds one read (or another observation's aggregate, see `merge`) to `obs`."""
    slot = first // hold_off_us
    if slot < obs.slot:
        if slot == obs.slot - 1:
            obs.e1 = obs.e0
        else:
            obs.e1 = NO_RSSI
        obs.e0 = rssi
        obs.slot = slot
    elif slot == obs.slot:
        if rssi > obs.e0:
            obs.e0 = rssi
    elif slot == obs.slot + 1 and rssi > obs.e1:
        obs.e1 = rssi
    if first < obs.first or (first == obs.first and source < obs.source):
        obs.source = source
        obs.first = first
    if last > obs.last:
        obs.last = last
    obs.count += count
    if rssi > obs.peak:
        obs.peak = rssi


def merge(a: Observation, b: Observation, hold_off_us: int) -> Observation:
    """Joins two observations that a read bridged; the result does not depend on argument order."""
    lo, hi = (a, b) if (a.first, a.source) <= (b.first, b.source) else (b, a)
    out = Observation(lo.read_point, lo.first, max(lo.last, hi.last), lo.count + hi.count, max(lo.peak, hi.peak),
                      lo.slot, lo.e0, lo.e1, lo.source)
    if hi.slot == lo.slot:
        out.e0 = max(lo.e0, hi.e0)
        out.e1 = max(lo.e1, hi.e1)
    elif hi.slot == lo.slot + 1:
        out.e1 = max(lo.e1, hi.e0)
    return out


EXTENDED, APPENDED, RESHAPED = 0, 1, 2


def add_read(observations: list[Observation], read_point: str, first: int, last: int, count: int, rssi: float,
             source: str, window_us: int, hold_off_us: int) -> int:
    """Adds a read to one read point's observations (sorted by `first`).

    Returns EXTENDED (the newest observation grew), APPENDED (a new newest observation) or
    RESHAPED (a late read: observations inserted or merged), so the caller can tell how much of
    the item's history it must look at again.
    """
    if observations:
        tail = observations[-1]
        # Hot path: reads in order extend the newest observation.
        if first >= tail.first:
            if first <= tail.last + window_us:
                absorb(tail, first, last, count, rssi, source, hold_off_us)
                return EXTENDED
            observations.append(new_observation(read_point, first, last, count, rssi, source, hold_off_us))
            return APPENDED
    else:
        observations.append(new_observation(read_point, first, last, count, rssi, source, hold_off_us))
        return APPENDED
    # General case: a late or out-of-order read; absorb it and merge every observation it bridges.
    fresh = new_observation(read_point, first, last, count, rssi, source, hold_off_us)
    keep: list[Observation] = []
    for obs in observations:
        if obs.first <= fresh.last + window_us and fresh.first <= obs.last + window_us:
            fresh = merge(fresh, obs, hold_off_us)
        else:
            keep.append(obs)
    keep.append(fresh)
    keep.sort(key=lambda o: (o.first, o.source))
    observations[:] = keep
    return RESHAPED
