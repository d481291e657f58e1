"""The site file's read points, locations and zones as two small ClickHouse tables the views join.

Zones live in the site file, not in movements: a movement names its read point and location, and the
views look the zone up in `site_read_points` / `site_locations` (migration 0005). Written by the sink at
start and by `tagtrail migrate --site`, so the history always reads the zones the site declares now.
A location's zone is the zone its read points declare; read points of one location that declare
different zones are refused (the zone a location is shown in must not depend on file order).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from tagtrail.config import SiteConfig

log = structlog.get_logger(__name__)


class ZoneConflict(ValueError):
    """Two read points of one location declare different zones."""


@dataclass(frozen=True)
class SiteDimension:
    read_points: list[tuple[str, str, str, str]]  # read point, location, zone ('' = none), kind
    locations: list[tuple[str, str]]  # location, zone ('' = none)


def site_dimension(site: SiteConfig) -> SiteDimension:
    zones: dict[str, tuple[str, str]] = {}  # location -> (zone, read point that declared it)
    for i, rp in enumerate(site.read_points):
        if not rp.zone:
            zones.setdefault(rp.location, ("", rp.id))
            continue
        known, declared_by = zones.get(rp.location, ("", ""))
        if known and known != rp.zone:
            raise ZoneConflict(
                f"read_points[{i}].zone: read point {rp.id!r} puts location {rp.location!r} in zone {rp.zone!r}, "
                f"but read point {declared_by!r} puts it in zone {known!r}")
        if not known:
            zones[rp.location] = (rp.zone, rp.id)
    return SiteDimension(
        read_points=[(rp.id, rp.location, rp.zone or "", rp.kind) for rp in site.read_points],
        locations=[(location, zone) for location, (zone, _) in sorted(zones.items())],
    )


def write_site_dimension(client: Any, site: SiteConfig,
                         clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> SiteDimension:
    """Replaces the site's rows (the newest written_at wins per key); a site without read points writes none."""
    dimension = site_dimension(site)
    written_at = clock().astimezone(dt.UTC).replace(tzinfo=None)
    if dimension.read_points:
        client.insert("site_read_points", [[*row, written_at] for row in dimension.read_points],
                      column_names=["read_point", "location", "zone", "kind", "written_at"])
    if dimension.locations:
        client.insert("site_locations", [[*row, written_at] for row in dimension.locations],
                      column_names=["location", "zone", "written_at"])
    log.info("site_dimension_written", read_points=len(dimension.read_points), locations=len(dimension.locations))
    return dimension
