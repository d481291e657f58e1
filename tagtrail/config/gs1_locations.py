"""The site's read points and locations as GS1 SGLNs, with every problem named by its site-file key.

A location or read point gets an SGLN when the site names a company (its GLN is the default GLN) and
the entry gives a `gln` or an `sgln_extension` (an entry with neither has none: it is listed in
`unidentified`, which check-config warns about, and exports fall back to urn:tagtrail:...). Two locations, or
two read points, may not share an SGLN (a partner could not tell them apart); a read point may share
its own location's SGLN (a storage shelf read by one antenna), no other location's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tagtrail.config.site import SiteConfig
from tagtrail.identity.gln import Gs1KeyError, Sgln, parse_gln


@dataclass(frozen=True)
class Gs1Locations:
    read_points: dict[str, Sgln] = field(default_factory=dict)  # read point id -> SGLN
    locations: dict[str, Sgln] = field(default_factory=dict)  # location id -> SGLN
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, message)
    unidentified: list[str] = field(default_factory=list)  # keys of entries without GS1 id (warnings)


def gs1_locations(site: SiteConfig) -> Gs1Locations:
    out = Gs1Locations()
    company = site.company
    if company is None:
        return out
    prefix = company.company_prefix
    try:
        parse_gln(company.gln)
    except Gs1KeyError as exc:
        out.problems.append(("company.gln", str(exc)))
        return out
    if prefix is not None and (not prefix.isdigit() or not 6 <= len(prefix) <= 12 or not company.gln.startswith(prefix)):
        out.problems.append(("company.company_prefix",
                             f"{prefix!r} must be 6 to 12 digits that company.gln {company.gln} starts with"))
        return out

    def sgln(key: str, gln: str | None, extension: str | None) -> Sgln | None:
        if gln is not None:
            try:
                parse_gln(gln)
            except Gs1KeyError as exc:
                out.problems.append((f"{key}.gln", str(exc)))
                return None
        try:
            return Sgln.of(gln or company.gln, extension, prefix)
        except Gs1KeyError as exc:
            out.problems.append((f"{key}.sgln_extension" if "extension" in str(exc) else f"{key}.gln", str(exc)))
            return None

    seen: dict[Sgln, str] = {}
    for i, loc in enumerate(site.locations):
        key = f"locations[{i}]"
        if loc.gln is None and loc.sgln_extension is None:
            out.unidentified.append(f"{key} ({loc.id}): no gln or sgln_extension")
            continue
        found = sgln(key, loc.gln, loc.sgln_extension)
        if found is None:
            continue
        if found in seen:
            out.problems.append((f"{key}.sgln_extension", f"SGLN {found.epc_uri()} is also used by {seen[found]}"))
            continue
        seen[found] = f"location {loc.id!r}"
        out.locations[loc.id] = found
    by_location = {sg: loc_id for loc_id, sg in out.locations.items()}
    points: dict[Sgln, str] = {}
    for i, rp in enumerate(site.read_points):
        key = f"read_points[{i}]"
        if rp.gln is None and rp.sgln_extension is None:
            out.unidentified.append(f"{key} ({rp.id}): no gln or sgln_extension")
            continue
        found = sgln(key, rp.gln, rp.sgln_extension)
        if found is None:
            continue
        owner = by_location.get(found)
        if found in points or (owner is not None and owner != rp.location):
            other = f"read point {points[found]!r}" if found in points else f"location {owner!r}"
            out.problems.append((f"{key}.sgln_extension", f"SGLN {found.epc_uri()} is also used by {other}"))
            continue
        points[found] = rp.id
        out.read_points[rp.id] = found
    return out
