"""Sightings: what location resolution sweeps over.

An observation at an ordinary read point is one sighting. The observations of a portal's inner
and outer antennas that follow each other within the window are one *crossing*: one sighting at
the dock door, whose direction comes from the order of its sides. A crossing's direction is only
final once the item has left both fields, so its `final_at` is its end plus the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagtrail_processors.decisions.direction import NONE, crossing_direction
from tagtrail_processors.decisions.read_points import ReadPointIndex
from tagtrail_processors.decisions.smoothing import Observation, entry_end_us

DOCK_DOOR = "dock_door"


@dataclass(slots=True)
class Sighting:
    location: str
    read_point: str
    kind: str
    first: int
    last: int
    window_us: int
    entry: float
    entry_end: int  # event time after which `entry` is final
    final_at: int  # event-time watermark from which everything this sighting decides is known
    direction: str = NONE
    is_crossing: bool = False
    source: str = ""

    def sort_key(self) -> tuple[int, str, str]:
        return (self.first, self.read_point, self.source)


def build_sightings(observations: dict[str, list[Observation]], points: ReadPointIndex, hold_off_us: int) -> list[Sighting]:
    out: list[Sighting] = []
    portals: dict[str, list[tuple[Observation, str]]] = {}
    for rp_id, obs_list in observations.items():
        info = points.get(rp_id)
        if info is None:
            continue  # a read point removed from the site config since: its reads no longer place anything
        side = info.side
        if side is not None:
            portals.setdefault(info.portal, []).extend((o, side) for o in obs_list)
            continue
        for o in obs_list:
            out.append(Sighting(info.location, rp_id, info.kind, o.first, o.last, info.window_us, o.entry_rssi,
                                entry_end_us(o, hold_off_us), entry_end_us(o, hold_off_us), source=o.source))
    for members in portals.values():
        members.sort(key=lambda m: (m[0].first, m[0].source))
        cluster: list[tuple[Observation, str]] = []
        end = 0
        for obs, side in members:
            window = points.get(obs.read_point).window_us
            if cluster and obs.first > end + window:
                out.append(_crossing(cluster, points, hold_off_us))
                cluster = []
            cluster.append((obs, side))
            end = obs.last if len(cluster) == 1 else max(end, obs.last)
        if cluster:
            out.append(_crossing(cluster, points, hold_off_us))
    out.sort(key=Sighting.sort_key)
    return out


def _crossing(cluster: list[tuple[Observation, str]], points: ReadPointIndex, hold_off_us: int) -> Sighting:
    spans: dict[str, tuple[int, int]] = {}
    for obs, side in cluster:
        lo, hi = spans.get(side, (obs.first, obs.last))
        spans[side] = (min(lo, obs.first), max(hi, obs.last))
    first_obs = cluster[0][0]
    info = points.get(first_obs.read_point)
    window = max(points.get(o.read_point).window_us for o, _ in cluster)
    last = max(o.last for o, _ in cluster)
    return Sighting(
        location=info.location,
        read_point=first_obs.read_point,
        kind=DOCK_DOOR,
        first=first_obs.first,
        last=last,
        window_us=window,
        entry=max(o.entry_rssi for o, _ in cluster),
        entry_end=entry_end_us(first_obs, hold_off_us),
        final_at=max(last + window, max(entry_end_us(o, hold_off_us) for o, _ in cluster)),
        direction=crossing_direction(spans.get("inner"), spans.get("outer")),
        is_crossing=True,
        source=first_obs.source,
    )
