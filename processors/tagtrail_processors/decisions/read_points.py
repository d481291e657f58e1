"""The site's read points as the processor needs them: location, kind, portal, window in µs."""

from __future__ import annotations

from dataclasses import dataclass

from tagtrail.config import SiteConfig

PORTAL_KINDS = ("dock_door_inner", "dock_door_outer")


@dataclass(frozen=True)
class PointInfo:
    id: str
    location: str
    kind: str
    portal: str | None
    window_us: int

    @property
    def side(self) -> str | None:
        """'inner' or 'outer' for a portal antenna, else None."""
        if self.portal is None or self.kind not in PORTAL_KINDS:
            return None
        return "inner" if self.kind == "dock_door_inner" else "outer"


class ReadPointIndex:
    """Lookup built once from the site config; the hot path only does dict gets."""

    def __init__(self, site: SiteConfig) -> None:
        default_window = site.processing.smoothing_window_s
        self.points: dict[str, PointInfo] = {
            rp.id: PointInfo(
                rp.id, rp.location, rp.kind, rp.portal,
                int((rp.smoothing_window_s or default_window) * 1_000_000),
            )
            for rp in site.read_points
        }
        self.by_location: dict[str, PointInfo] = {}
        for info in self.points.values():
            self.by_location.setdefault(info.location, info)

    def get(self, read_point_id: str) -> PointInfo | None:
        return self.points.get(read_point_id)
