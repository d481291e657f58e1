"""The pure core for one input partition: reads and scans in, movements out. No I/O.

It owns the per-item logs, the partition's watermark and the missing timers, and knows which
items changed since the changelog was last written. The clock (`now`, µs) is always passed in.
"""

from __future__ import annotations

import heapq

from tagtrail.events import Identity, Movement, Scan
from tagtrail_processors.decisions.disposition import SHIPPED_STEPS
from tagtrail_processors.decisions.item_state import GONE, MISSING, PRESENT, ItemState
from tagtrail_processors.decisions.lateness import Watermark
from tagtrail_processors.decisions.movement_diff import IdCache, diff
from tagtrail_processors.decisions.rules import Rules
from tagtrail_processors.decisions.sightings import build_sightings
from tagtrail_processors.decisions.smoothing import APPENDED, EXTENDED, NO_RSSI, RESHAPED, add_read, entry_end_us
from tagtrail_processors.decisions.timeline import FOREVER, ScanFact, sweep

UNKNOWN_READ_POINT = "unknown_read_point"
__all__ = ["PartitionTracker", "Rules", "UNKNOWN_READ_POINT"]


class PartitionTracker:
    def __init__(self, rules: Rules, watermark: int = 0) -> None:
        self.rules = rules
        self.items: dict[str, ItemState] = {}
        self.watermark = Watermark(rules.lateness_bound_us, rules.future_tolerance_us, watermark)
        self.touched: set[str] = set()  # log changed: recompute
        self.dirty: set[str] = set()  # log reshaped: write the whole log to the changelog
        self.dirty_hot: set[str] = set()  # only open observations or scalars changed: write the hot part
        self.dirty_emitted: set[str] = set()  # emitted movements changed: write that part too
        self.hot_written: set[str] = set()  # the changelog holds a hot part newer than the item's log
        self._due: list[tuple[int, str]] = []  # (watermark needed, item) for pending decisions
        self._timers: list[tuple[int, str]] = []  # (processing time, item) for missing checks
        self._armed: set[str] = set()  # items with an entry in _timers (one each, re-armed lazily)
        self._hold_off = rules.location.hold_off_us
        self._provisional = rules.location.provisional  # live mode: a new portal observation may move the live view
        self._points = rules.points.points
        # Portal antennas: their observations are decided as crossings (see sightings), never before
        # the crossing's end plus the window.
        self._crossing_windows = {rp: info.window_us for rp, info in self._points.items() if info.side is not None}
        self._ids = IdCache()
        self._last_input_at: int | None = None  # processing time of the partition's latest input
        self._idle_floor = 0  # decision watermark granted by idleness (never used for lateness)

    # -- input ----------------------------------------------------------------------------------
    def add_read(self, item_key: str, identity: Identity | None, read_point: str, first: int, last: int, count: int,
                 rssi: float | None, source: str, now: int) -> str | None:
        """Adds one TagRead; returns a dead-letter reason instead when it cannot be used.

        `identity` may be None for an item already tracked (the caller skips decoding it then).
        """
        info = self._points.get(read_point)
        if info is None:
            return UNKNOWN_READ_POINT
        reason = self.watermark.admit(first, last, now)
        if reason is not None:
            return reason
        item = self.items.get(item_key)
        if item is None:
            if identity is None:
                raise ValueError("identity needed for an item not tracked yet")
            item = self.items[item_key] = ItemState(identity)
        obs = item.observations.get(read_point)
        if obs is None:
            obs = item.observations[read_point] = []
        how = add_read(obs, read_point, first, last, count, NO_RSSI if rssi is None else rssi, source,
                       info.window_us, self._hold_off)
        if last > item.last_event:
            item.last_event = last
        item.last_input_at = now
        self._last_input_at = now
        if how == EXTENDED:
            self.dirty_hot.add(item_key)
        else:
            self.dirty.add(item_key)
        if item_key not in self._armed:
            self._arm(item_key, now + self.rules.missing_after_us)
        if how == RESHAPED or first < item.settled_until or (item.quiet_at is not None and first < item.quiet_at):
            self.touched.add(item_key)  # it may change what was decided: look again now, from the start
            item.quiet_at = item.quiet_state = None
        elif how == APPENDED:
            # In order and after everything decided: nothing to look at before the watermark
            # passes the new observation's entry span, or, at a portal, the end of its crossing
            # (its final_at is at least this read plus the window): looking earlier only finds the
            # decision still pending, and costs a recompute and a changelog write each time.
            need = entry_end_us(obs[-1], self._hold_off)
            window = self._crossing_windows.get(read_point)
            if window is not None:
                if self._provisional and self._may_move_live_view(item, info.portal):
                    self.touched.add(item_key)  # live mode: publish where it is being read now (see timeline)
                if obs[-1].last + window > need:
                    need = obs[-1].last + window
            if item.pending_at is None or need < item.pending_at:
                item.pending_at = need
                heapq.heappush(self._due, (need, item_key))
        return None

    def _may_move_live_view(self, item: ItemState, portal: str | None) -> bool:
        """Live mode: whether a new observation at `portal` can change the provisional movement. Not when
        a decision is pending and every read point in the item's log is this portal's: the observation
        joins the crossing already leading (its other side), and the pending decision will see it. That
        skips one of the two extra recomputes live mode would make per crossing."""
        if item.pending_at is None:
            return True
        points = self._points
        return any(points[rp].portal != portal for rp in item.observations if rp in points)

    def add_scan(self, scan: Scan, now: int) -> str | None:
        reason = self.watermark.admit(scan.scanned_at, scan.scanned_at, now)
        if reason is not None:
            return reason
        key = scan.identity.item_key
        item = self.items.get(key)
        if item is None:
            item = self.items[key] = ItemState(scan.identity)
        if any(s.event_id == scan.event_id for s in item.scans):
            return None  # the same scan uploaded twice: already in the log
        item.scans.append(ScanFact(scan.scanned_at, scan.event_id, scan.action, scan.location, scan.read_point,
                                   scan.lot, scan.expiry))
        item.scans.sort(key=lambda s: (s.time, s.event_id))
        if scan.scanned_at < item.settled_until or (item.quiet_at is not None and scan.scanned_at < item.quiet_at):
            item.quiet_at = item.quiet_state = None
        if scan.scanned_at > item.last_event:
            item.last_event = scan.scanned_at
        self._note_input(key, item, now)
        return None

    def needs_identity(self, item_key: str) -> bool:
        return item_key not in self.items

    def _note_input(self, key: str, item: ItemState, now: int, recompute: bool = True) -> None:
        item.last_input_at = now
        self._last_input_at = now
        if recompute:
            self.touched.add(key)
        self.dirty.add(key)
        self._arm(key, now + self.rules.missing_after_us)

    def _arm(self, key: str, deadline: int) -> None:
        if key not in self._armed:
            self._armed.add(key)
            heapq.heappush(self._timers, (deadline, key))

    # -- output ---------------------------------------------------------------------------------
    def advance(self, now: int) -> list[tuple[Movement, bool]]:
        """Recomputes what changed or came due, fires missing timers; returns what to publish."""
        self._fire_timers(now)
        idle = self.rules.idle_advance_us
        if self._last_input_at is None:
            self._last_input_at = now  # the idle clock starts with the tracker
        if idle and now - self._last_input_at >= idle and now - idle > self._idle_floor:
            self._idle_floor = now - idle
        wm = self.decision_watermark
        while self._due and self._due[0][0] <= wm:
            _, key = heapq.heappop(self._due)
            item = self.items.get(key)
            if item is not None and item.pending_at is not None and item.pending_at <= wm:
                self.touched.add(key)
        out: list[tuple[Movement, bool]] = []
        for key in self.touched:
            item = self.items.get(key)
            if item is not None:
                out.extend(self._recompute(key, item, now))
                self.dirty_hot.add(key)
        self.touched.clear()
        return out

    def _recompute(self, key: str, item: ItemState, now: int) -> list[tuple[Movement, bool]]:
        rules = self.rules
        horizon = self.watermark.horizon
        self._compact(key, item, horizon)
        wm = self.decision_watermark
        if item.missing:
            wm = max(wm, item.missing[-1])  # a missing mark means nothing more is coming for it
        since = item.quiet_at
        if since is None:
            observations, scans, missing, base = item.observations, item.scans, item.missing, item.base
        else:  # nothing landed before the last quiet moment: start there (the log may be long)
            observations = {rp: [o for o in obs if o.first >= since] for rp, obs in item.observations.items()}
            scans = [sc for sc in item.scans if sc.time >= since]
            missing = [t for t in item.missing if t >= since]
            base = item.quiet_state
            horizon = max(horizon, since)
        sightings = build_sightings(observations, rules.points, self._hold_off)
        result = sweep(sightings, scans, missing, base, rules.location, wm, rules.scan_locations)
        if result.quiet is not None:
            item.quiet_at, item.quiet_state = result.quiet
        before = len(item.emitted)
        published = diff(key, item.identity, result.transitions, item.emitted, now, horizon, result.undecided_from,
                         self._ids)
        if published or len(item.emitted) != before:
            self.dirty_emitted.add(key)
        if result.pending_at is not None and result.pending_at != item.pending_at:
            heapq.heappush(self._due, (result.pending_at, key))
        item.pending_at = result.pending_at
        item.settled_until = result.settled_until
        last = result.transitions[-1] if result.transitions else None
        if last is not None and last.movement_type == "missing":
            item.status = MISSING
        elif result.state.step in SHIPPED_STEPS:
            item.status = GONE
        else:
            item.status = PRESENT
        return published

    @property
    def decision_watermark(self) -> int:
        """Event time up to which decisions may assume all input is in: the watermark, or, on a
        partition idle for `idle_advance_s`, the wall clock minus that (live data only lags so much)."""
        return max(self.watermark.value, self._idle_floor)

    def _compact(self, key: str, item: ItemState, horizon: int) -> None:
        """Folds log entries that no accepted event can change any more into the base state."""
        earliest = min((obs[0].first for obs in item.observations.values() if obs), default=horizon)
        if item.scans:
            earliest = min(earliest, item.scans[0].time)
        if item.missing:
            earliest = min(earliest, item.missing[0])
        if earliest >= horizon:
            return
        starts: list[tuple[int, int]] = []
        sightings = build_sightings(item.observations, self.rules.points, self._hold_off)
        starts += [(s.first, s.last + s.window_us) for s in sightings]
        starts += [(sc.time, sc.time) for sc in item.scans]
        starts += [(t, t) for t in item.missing]
        if not starts or min(s for s, _ in starts) >= horizon:
            return
        starts.sort()
        end = -1
        cut = None
        for i, (start, stop) in enumerate(starts):
            if i and start > end:
                cut = end
            if stop >= horizon:
                break
            end = max(end, stop)
        else:
            cut = end
        if cut is None:
            return
        old = [s for s in sightings if s.last + s.window_us <= cut]
        scans = [sc for sc in item.scans if sc.time <= cut]
        marks = [t for t in item.missing if t <= cut]
        folded = sweep(old, scans, marks, item.base, self.rules.location, FOREVER, self.rules.scan_locations)
        item.base = folded.state
        item.quiet_at = item.quiet_state = None
        self.dirty.add(key)
        for rp, obs in list(item.observations.items()):
            kept = [o for o in obs if o.last > cut]
            if kept:
                item.observations[rp] = kept
            else:
                del item.observations[rp]
        item.scans = [sc for sc in item.scans if sc.time > cut]
        item.missing = [t for t in item.missing if t > cut]
        for event_id in [k for k, e in item.emitted.items() if e.event_time <= cut]:
            del item.emitted[event_id]
            self.dirty_emitted.add(key)

    def _fire_timers(self, now: int) -> None:
        while self._timers and self._timers[0][0] <= now:
            _, key = heapq.heappop(self._timers)
            self._armed.discard(key)
            item = self.items.get(key)
            if item is None or item.status != PRESENT:
                continue
            deadline = item.last_input_at + self.rules.missing_after_us
            if deadline > now:
                self._arm(key, deadline)
                continue
            mark = item.last_event + self.rules.missing_after_us
            if self._gone_by(item, mark):
                # Its shipping is only waiting for the watermark: it left, it is not missing.
                self._arm(key, now + self.rules.missing_after_us)
                continue
            item.missing.append(mark)
            item.last_input_at = now
            self.touched.add(key)
            self.dirty.add(key)

    def _gone_by(self, item: ItemState, watermark: int) -> bool:
        sightings = build_sightings(item.observations, self.rules.points, self._hold_off)
        result = sweep(sightings, item.scans, item.missing, item.base, self.rules.location, watermark,
                       self.rules.scan_locations)
        return result.state.step in SHIPPED_STEPS

    # -- restore --------------------------------------------------------------------------------
    def restore_item(self, key: str, item: ItemState) -> None:
        """Puts an item back from the changelog and re-arms its timers."""
        self.items[key] = item
        if item.pending_at is not None:
            heapq.heappush(self._due, (item.pending_at, key))
        if item.status == PRESENT:
            self._arm(key, item.last_input_at + self.rules.missing_after_us)
