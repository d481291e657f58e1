"""The sweep: one item's sightings, scans and missing marks, in event-time order, to movements.

Pure and deterministic: the same log and watermark give the same movements, whatever order the
log was filled in. Location rules (all in event time):

* Nobody has the item (first sighting, or it left every field): the sighting starting first
  opens a contest that lasts one smoothing window from its first read; the strongest entry RSSI
  among the sightings that start in it wins (ties: earliest, then read point id). A move to a new
  location follows, dated at the contest's first read. A weak cross-read at a neighbouring read
  point that the item's own field outvotes within the window therefore never becomes a movement.
  Every window here is measured from the reads' own event times: shifting all input by any offset
  shifts the history by that offset and changes nothing else.
* The item is in a field and another location starts seeing it: it moves only if the newcomer's
  entry RSSI beats the current one by `rssi_margin_db` and the newcomer lasts at least the
  hold-off. Otherwise the newcomer waits as a *shadow*.
* The current field stops seeing it (no read for its window): the strongest shadow still being
  read takes over at that moment; with none, the item stays where it was last seen.

Leaving the building (CBV 2.0): the outbound portal crossing *is* the shipping event, at that door's
location and read point (bizStep `shipping`, disposition `in_transit`); the item leaves on-hand
inventory with it. Nothing follows it for the same exit: CBV makes `shipping` exclusive with
`departing`, so there is no second "departed" event. An item that vanishes without an outbound
crossing did not ship: it becomes `missing` (tracker) after `missing_after_s`, disposition `unknown`.

An event that changes nothing (same location, read point, step and disposition as the item has)
is not emitted: see `_Sweep.changes_nothing`.

Lot (AI 10) and expiry (AI 17): the item is known by the lot of its earliest scan (by scanned_at, then
event id) that carries one, and likewise for expiry, so the same log gives the same lot whatever order
the scans were uploaded in. Every transition carries the lot and expiry known at its event time (none
before the first scan that names them). A later scan naming another lot never overwrites the known one:
its movement carries the known lot and an anomaly `lot_mismatch: ...` naming both (`expiry_mismatch:`
likewise). A scan that disagrees with the known lot is emitted even where it would otherwise change
nothing, so the disagreement stays in the history. One that only teaches the item its lot is not: the
lot is the item's master data, not an event (an EPCIS export would show the same event twice), and
every later movement carries it.

A decision is made only once the watermark shows every fact it depends on (`Pending`), so
in-order input never revises an emitted movement; only late input can.

Live mode (`LocationRules.provisional`): a portal crossing is decided only once the item has left both
fields plus the window, seconds after it was first read. While an arrival contest that involves a
crossing is pending, the sweep also returns the arrival its leader so far would make, as a
*provisional* transition: the same anchor and time as the decision it anticipates (hence the same
event id: the decided movement replaces it), but direction "unknown" and the step and disposition of
an undecided crossing. When a stronger read changes the leader, or the decision goes another way,
the provisional movement is retracted. Contests without a crossing are decided within the hold-off
anyway and get no provisional movement.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import msgspec

from tagtrail_processors.decisions.direction import NONE, UNKNOWN
from tagtrail_processors.decisions.disposition import StepTable, anomaly, scan_step
from tagtrail_processors.decisions.sightings import Sighting

FOREVER = 2**62


class ScanFact(msgspec.Struct, array_like=True):
    time: int
    event_id: str
    action: str
    location: str | None
    read_point: str | None
    # Last in the array, with defaults: changelogs written before lots were kept still decode.
    lot: str | None = None
    expiry: dt.date | None = None


class BaseState(msgspec.Struct, array_like=True):
    """Where the sweep starts: the state folded from log entries older than the lateness bound."""

    location: str | None = None
    read_point: str | None = None
    step: str | None = None
    disposition: str | None = None
    lot: str | None = None  # the lot and expiry known so far (see the module docstring)
    expiry: dt.date | None = None


@dataclass(slots=True)
class Transition:
    """A movement before it gets an identity and an id: what the sweep decided."""

    movement_type: str
    event_time: int
    from_location: str | None
    to_location: str | None
    read_point: str | None
    biz_step: str
    disposition: str
    direction: str
    anomaly: str | None
    anchor: str
    sources: list[str] = field(default_factory=list)
    provisional: bool = False
    lot: str | None = None
    expiry: dt.date | None = None


@dataclass(frozen=True)
class LocationRules:
    hold_off_us: int
    margin_db: float
    steps: StepTable
    provisional: bool = False  # live mode: also return arrivals not decided yet (see the module docstring)


def contest_end(first: Sighting) -> int:
    """When the arrival contest that `first` opens stops taking candidates: one smoothing window
    after its first read, measured from the read itself, so where the clock's slots fall changes
    nothing, and a weak glimpse that a stronger field outvotes within the window never moves the item."""
    return first.first + first.window_us


def _rank(s: Sighting) -> tuple[float, int, str]:
    return (s.entry, -s.first, s.read_point)


def _movement_type(before: str | None, to_location: str | None) -> str:
    if to_location is None or to_location == before:
        return "state_changed"
    return "arrived" if before is None else "moved"


class _Sweep:
    def __init__(self, base: BaseState, rules: LocationRules) -> None:
        self.rules = rules
        self.location = base.location
        self.read_point = base.read_point
        self.step = base.step
        self.disposition = base.disposition
        self.lot = base.lot
        self.expiry = base.expiry
        self.cur: Sighting | None = None
        self.shadows: list[Sighting] = []
        self.out: list[Transition] = []

    def state(self) -> BaseState:
        return BaseState(self.location, self.read_point, self.step, self.disposition, self.lot, self.expiry)

    def emit(self, time: int, to_location: str | None, read_point: str | None, step: str, disposition: str,
             direction: str, anchor: str, sources: list[str], movement_type: str | None = None,
             notes: tuple[str, ...] = ()) -> None:
        """`notes` are anomalies found before the graph check (lot and expiry mismatches): an event that
        carries one is emitted even without a move, so the disagreement stays in the history."""
        before = self.location
        if movement_type is None:
            movement_type = _movement_type(before, to_location)
            if movement_type == "state_changed" and not notes \
                    and self.changes_nothing(read_point, step, disposition):
                return
        flag = None if movement_type == "missing" else anomaly(self.step, step)
        if notes:
            flag = "; ".join((*notes, flag) if flag else notes)
        self.out.append(Transition(movement_type, time, before, to_location, read_point, step, disposition,
                                   direction, flag, anchor, sources, lot=self.lot, expiry=self.expiry))
        self.location = to_location
        self.read_point = read_point
        self.step = step
        self.disposition = disposition

    def changes_nothing(self, read_point: str | None, step: str, disposition: str) -> bool:
        """An event at the item's location that repeats its read point, step and disposition (a pick scan
        confirming the pick face's read) is not an event. A function of the sweep's state only, so every
        recompute, replay and fold agrees; a movement that late input turns into one is retracted."""
        return read_point == self.read_point and step == self.step and disposition == self.disposition

    def learn(self, sc: ScanFact) -> tuple[bool, tuple[str, ...]]:
        """Takes the scan's lot and expiry where the item has none yet; returns whether it learned one, and
        the mismatches where it had another (the known values stay: the first scan in event time names them).
        Lots are quoted as JSON strings: AI 10 allows commas, semicolons and quotes, and a reader of the
        anomaly must still tell the two lots apart."""
        learned = False
        notes: list[str] = []
        if sc.lot is not None:
            if self.lot is None:
                self.lot, learned = sc.lot, True
            elif sc.lot != self.lot:
                notes.append(f"lot_mismatch: scanned {json.dumps(sc.lot)}, known {json.dumps(self.lot)}")
        if sc.expiry is not None:
            if self.expiry is None:
                self.expiry, learned = sc.expiry, True
            elif sc.expiry != self.expiry:
                notes.append(f"expiry_mismatch: scanned {sc.expiry.isoformat()}, known {self.expiry.isoformat()}")
        return learned, tuple(notes)

    def move_to(self, s: Sighting, time: int, anchor: str) -> None:
        step, disposition = self.rules.steps.for_location(s.kind, s.direction)
        self.emit(time, s.location, s.read_point, step, disposition, s.direction, anchor, [s.source])

    def provisional_arrival(self, s: Sighting, time: int, anchor: str) -> Transition:
        """What `move_to` will most likely emit once `s` is decided, without changing the sweep's state.
        A crossing's direction is not known before the item left the portal: "unknown" until then."""
        direction = NONE if not s.is_crossing else UNKNOWN
        step, disposition = self.rules.steps.for_location(s.kind, direction)
        before = self.location
        return Transition(_movement_type(before, s.location), time, before, s.location, s.read_point, step, disposition, direction, None,
                          anchor, [s.source], provisional=True, lot=self.lot, expiry=self.expiry)

    def close_current(self) -> None:
        cur = self.cur
        live = [s for s in self.shadows if s.last > cur.last]
        if live:
            best = max(live, key=_rank)
            live.remove(best)
            self.shadows = live
            self.cur = best
            if best.is_crossing or best.location != self.location:
                self.move_to(best, cur.last, f"take:{best.read_point}:{best.source}")
            return
        self.shadows = []
        self.cur = None


@dataclass
class SweepResult:
    transitions: list[Transition]
    pending_at: int | None  # watermark the next undecided step waits for; None: nothing pending
    state: BaseState
    undecided_from: int | None = None  # event time of that step: movements from here on may still change
    settled_until: int = 0  # decisions taken assumed no further input before this event time
    # The last moment, before anything undecided, at which no field held the item: a later sweep may
    # start there, from this state, with only the log entries from that time on.
    quiet: tuple[int, BaseState] | None = None


def sweep(sightings: list[Sighting], scans: list[ScanFact], missing: list[int], base: BaseState,
          rules: LocationRules, watermark: int, scan_locations: dict[str, str] | None = None) -> SweepResult:
    """Decides every movement the watermark allows, in event-time order.

    `scan_locations` maps a scan's read point id to its location (for scans without one).
    """
    points: list[tuple[int, int, str, object]] = []
    for s in sightings:
        points.append((s.first, 0, s.read_point + "\x00" + s.source, s))
    for sc in scans:
        points.append((sc.time, 1, sc.event_id, sc))
    for t in missing:
        points.append((t, 2, "", t))
    points.sort(key=lambda p: (p[0], p[1], p[2]))
    n = len(points)
    st = _Sweep(base, rules)
    consumed: set[int] = set()
    i = 0
    pending: int | None = None
    undecided: int | None = None
    settled = 0
    quiet: tuple[int, BaseState] | None = None
    last_key: int | None = None
    while True:
        while i < n and i in consumed:
            i += 1
        nxt = points[i] if i < n else None
        cur = st.cur
        if cur is not None and (nxt is None or cur.last < nxt[0]):
            need = cur.last + cur.window_us
            live = [s.final_at for s in st.shadows if s.last > cur.last and s.is_crossing]
            if live:
                need = max(need, *live)
            if watermark < need:
                pending, undecided = need, cur.last
                break
            settled = max(settled, need)
            st.close_current()
            continue
        if nxt is None:
            break
        key, order, _, obj = nxt
        if st.cur is None and not st.shadows and (last_key is None or last_key < key):
            quiet = (key, st.state())
        last_key = key
        if order == 0:
            s: Sighting = obj  # type: ignore[assignment]
            if cur is None:
                cands = [(i, s)]
                closes = contest_end(s)
                j = i + 1
                while j < n and points[j][0] < closes:
                    if points[j][1] == 0 and j not in consumed:
                        cands.append((j, points[j][3]))  # type: ignore[arg-type]
                    j += 1
                need = max(closes, *(c.final_at for _, c in cands))
                best = max((c for _, c in cands), key=_rank)
                moves = best.is_crossing or best.location != st.location
                anchor = f"arrive:{best.read_point}:{best.source}"
                if watermark < need:
                    pending, undecided = need, key
                    if rules.provisional and moves and any(c.is_crossing for _, c in cands):
                        st.out.append(st.provisional_arrival(best, key, anchor))
                    break
                settled = max(settled, need)
                for j, _c in cands:
                    consumed.add(j)
                st.cur = best
                st.shadows = [c for _, c in cands if c is not best]
                if moves:
                    st.move_to(best, key, anchor)
            else:
                if watermark < s.final_at:
                    pending, undecided = s.final_at, key
                    break
                consumed.add(i)
                settled = max(settled, s.final_at)
                if not s.is_crossing and s.location == cur.location:
                    st.shadows.append(s)
                elif s.entry >= cur.entry + rules.margin_db and s.last - s.first >= rules.hold_off_us:
                    st.shadows.append(cur)
                    st.cur = s
                    st.move_to(s, key, f"switch:{s.read_point}:{s.source}")
                else:
                    st.shadows.append(s)
        elif order == 1:
            sc: ScanFact = obj  # type: ignore[assignment]
            consumed.add(i)
            settled = max(settled, sc.time)
            location = sc.location
            if location is None and sc.read_point and scan_locations:
                location = scan_locations.get(sc.read_point)
            step, disposition = scan_step(sc.action, st.disposition)
            _, notes = st.learn(sc)
            st.emit(sc.time, location or st.location, sc.read_point, step, disposition, NONE,
                    f"scan:{sc.event_id}", [sc.event_id], notes=notes)
        else:
            consumed.add(i)
            settled = max(settled, key)
            st.cur = None
            st.shadows = []
            st.emit(key, None, None, st.step or "inspecting", "unknown", NONE, f"missing:{key}", [],
                    movement_type="missing")
        i += 1
    return SweepResult(st.out, pending, st.state(), undecided, settled, quiet)
