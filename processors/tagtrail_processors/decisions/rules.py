"""The site's processing settings, checked and converted to what the core computes with (µs)."""

from __future__ import annotations

from dataclasses import dataclass

from tagtrail.config import ConfigError, SiteConfig
from tagtrail_processors.decisions.disposition import StepTable
from tagtrail_processors.decisions.read_points import ReadPointIndex
from tagtrail_processors.decisions.timeline import LocationRules

S = 1_000_000


@dataclass(frozen=True)
class Rules:
    """The site's processing settings in the units the core computes with."""

    points: ReadPointIndex
    location: LocationRules
    lateness_bound_us: int
    missing_after_us: int
    future_tolerance_us: int
    scan_locations: dict[str, str]
    idle_advance_us: int = 0

    @classmethod
    def from_site(cls, site: SiteConfig) -> Rules:
        p = site.processing
        problems = []
        windows = [rp.smoothing_window_s or p.smoothing_window_s for rp in site.read_points] or [p.smoothing_window_s]
        if not 0 < p.location_hold_off_s <= min(windows):
            problems.append(f"processing.location_hold_off_s: must be positive and at most the smallest smoothing "
                            f"window ({min(windows)} s), got {p.location_hold_off_s}")
        if p.lateness_bound_s <= 0 or p.missing_after_s <= 0:
            problems.append("processing.lateness_bound_s and processing.missing_after_s must be positive")
        try:
            steps = StepTable.from_settings(p.steps)
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ConfigError(problems)
        points = ReadPointIndex(site)
        hold_off = max(1, int(p.location_hold_off_s * S))
        return cls(
            points=points,
            location=LocationRules(hold_off, p.rssi_margin_db, steps, p.provisional_movements),
            lateness_bound_us=int(p.lateness_bound_s * S),
            missing_after_us=int(p.missing_after_s * S),
            future_tolerance_us=int(p.future_tolerance_s * S),
            scan_locations={rp_id: info.location for rp_id, info in points.points.items()},
            idle_advance_us=int(p.idle_advance_s * S),
        )
