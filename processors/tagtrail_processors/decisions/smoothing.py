"""Smoothing: many raw reads of one item at one read point become one observation.

A portal reports a tag dozens of times a second; what the history needs is "seen at this read
point from A to B". Reads whose time ranges lie within the read point's window of each other join
one observation; an item out of the field for longer than the window starts a new one.

Every window is measured from the reads' own event times, never from a grid of wall-clock slots:
the same reads shifted by any offset give the same observations, shifted. Every quantity kept is
a commutative merge (min, max, sum, and the entry staircase below), so the observations are the
same whatever order the reads arrive in: the clusters of points on a line split at gaps wider than
the window are unique.
"""

from __future__ import annotations

import bisect

import msgspec

NO_RSSI = -999.0  # reads without RSSI lose every comparison but still count as presence
ENTRY_HOLD_OFFS = 2  # the entry RSSI covers this many hold-offs from the observation's first read


class Observation(msgspec.Struct, array_like=True):
    """One stay of an item in one read point's field.

    Its *entry RSSI* is the peak RSSI of the reads in the entry span, `[first, first + 2 hold-offs)`:
    the smoothed signal strength location resolution compares. A fixed span from the first read
    (not the whole observation) so that a decision, once the watermark passes the span, never
    changes with later in-order reads; from the first read (not from slot boundaries) so that it
    does not depend on where the clock's slots fall.

    `entry` is the staircase of the reads in that span that were stronger than every earlier one,
    as (first seen, rssi) pairs: times and RSSI both strictly increasing. A late read can only move
    `first` earlier, hence the span's end earlier, so trimming the staircase's tail keeps the peak
    of exactly the reads still in the span; a handful of pairs however many reads the span holds.
    """

    read_point: str
    first: int
    last: int
    count: int
    peak: float
    entry: list[tuple[int, float]]
    source: str  # event id of the earliest read, for Movement.source_event_ids

    @property
    def entry_rssi(self) -> float:
        return self.entry[-1][1] if self.entry else NO_RSSI


def entry_span_us(hold_off_us: int) -> int:
    return ENTRY_HOLD_OFFS * hold_off_us


def entry_end_us(obs: Observation, hold_off_us: int) -> int:
    """Event time after which the entry RSSI is final (for reads arriving in order)."""
    return obs.first + entry_span_us(hold_off_us)


def new_observation(read_point: str, first: int, last: int, count: int, rssi: float, source: str, hold_off_us: int) -> Observation:
    return Observation(read_point, first, last, count, rssi, [(first, rssi)], source)


def _climb(entry: list[tuple[int, float]], at: int, rssi: float) -> None:
    """Adds a read to a staircase (see Observation) unless an earlier read at least as strong hides it."""
    if entry and at >= entry[-1][0]:  # hot path: reads in order
        if rssi > entry[-1][1]:
            entry.append((at, rssi))
        return
    i = bisect.bisect_right(entry, at, key=lambda step: step[0])
    if i and entry[i - 1][1] >= rssi:
        return
    j = i
    while j < len(entry) and entry[j][1] <= rssi:
        j += 1
    entry[i:j] = [(at, rssi)]


def _trim(entry: list[tuple[int, float]], end: int) -> None:
    while entry and entry[-1][0] >= end:
        entry.pop()


def absorb(obs: Observation, first: int, last: int, count: int, rssi: float, source: str, hold_off_us: int) -> None:
    """Adds one read to `obs`."""
    if first < obs.first or (first == obs.first and source < obs.source):
        obs.source = source
        if first < obs.first:
            obs.first = first
            _trim(obs.entry, first + entry_span_us(hold_off_us))
    if first < obs.first + entry_span_us(hold_off_us):
        _climb(obs.entry, first, rssi)
    if last > obs.last:
        obs.last = last
    obs.count += count
    if rssi > obs.peak:
        obs.peak = rssi


def merge(a: Observation, b: Observation, hold_off_us: int) -> Observation:
    """Joins two observations that a read bridged; the result does not depend on argument order."""
    lo, hi = (a, b) if (a.first, a.source) <= (b.first, b.source) else (b, a)
    entry = list(lo.entry)
    end = lo.first + entry_span_us(hold_off_us)
    for at, rssi in hi.entry:
        if at < end:
            _climb(entry, at, rssi)
    return Observation(lo.read_point, lo.first, max(lo.last, hi.last), lo.count + hi.count, max(lo.peak, hi.peak),
                       entry, lo.source)


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
