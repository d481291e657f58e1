"""What an EPCIS export says about where: readPoint/bizLocation ids, location master data, time zone.

The export learns the SGLNs from the site config it is given (`tagtrail epcis --site`), not from the
`site_read_points`/`site_locations` tables: those exist so SQL views can join zones; the identifiers,
names, addresses and time zone a partner sees are the site's current declaration, all of which the
site file holds and none of which a query needs. So no migration and no extra sink write is needed,
and the export is a pure function of the stored rows and the site. A read point or location the
history names but the site gives no GS1 id (no company, a removed read point, no sgln_extension)
keeps today's `urn:tagtrail:<kind>:<id>` and the export logs `epcis_location_not_gs1` naming it.

Ids are SGLN EPC URIs (`urn:epc:id:sgln:...`), or GS1 Digital Link (`https://id.gs1.org/414/...`) on
request. Master data uses CBV 2.0 attributes (`urn:epcglobal:cbv:mda#name`, address parts); the zone has
no CBV attribute and is `urn:tagtrail:epcis:zone` (the document's `tagtrail:` extension namespace).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from urllib.parse import quote

import structlog

from tagtrail.config import SiteConfig
from tagtrail.config.gs1_locations import gs1_locations
from tagtrail.identity.gln import DIGITAL_LINK, Gs1KeyError, Sgln, company_prefix_length, parse_gln

log = structlog.get_logger(__name__)

MDA = "urn:epcglobal:cbv:mda#"
ZONE_ATTRIBUTE = "urn:tagtrail:epcis:zone"
VTYPE_LOCATION = "urn:epcglobal:epcis:vtype:BusinessLocation"
VTYPE_READ_POINT = "urn:epcglobal:epcis:vtype:ReadPoint"
ADDRESS_ATTRIBUTES = (("street_address", "streetAddressOne"), ("city", "city"), ("region", "state"),
                      ("postal_code", "postalCode"), ("country_code", "countryCode"))


@dataclass
class EpcisPlaces:
    """The site's places as an export names them; records which places it used, for the master data."""

    site: SiteConfig = field(default_factory=SiteConfig)
    digital_link: bool = False
    read_points: dict[str, Sgln] = field(default_factory=dict)
    locations: dict[str, Sgln] = field(default_factory=dict)
    used: dict[str, dict[str, str]] = field(default_factory=lambda: {"readpoint": {}, "location": {}})
    not_gs1: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def of(cls, site: SiteConfig | None, *, digital_link: bool = False) -> EpcisPlaces:
        site = site or SiteConfig()
        found = gs1_locations(site)
        return cls(site, digital_link, found.read_points, found.locations)

    def read_point(self, read_point_id: str) -> str:
        return self._uri("readpoint", read_point_id, self.read_points.get(read_point_id))

    def location(self, location_id: str) -> str:
        return self._uri("location", location_id, self.locations.get(location_id))

    def company_party(self) -> str | None:
        """The site's own party, the company GLN of the site file: a PGLN EPC URI, or GS1 Digital Link
        https://id.gs1.org/417/<gln> on request; None when the site names no company (or a GLN that is not one)."""
        company = self.site.company
        if company is None:
            return None
        try:
            gln = parse_gln(company.gln)
            prefix = company_prefix_length(gln, company.company_prefix)
        except Gs1KeyError:
            return None  # check-config names the fault; the export leaves the party out
        if self.digital_link:
            return f"{DIGITAL_LINK}417/{gln}"
        return f"urn:epc:id:pgln:{gln[:prefix]}.{gln[prefix:12]}"

    def own(self, uri: str) -> str:
        """`uri` in the form this export names the site's own places and party, when it is one of them in
        any form (a transaction records them as GS1 Digital Link whatever the export form), else as is: a
        partner matches an event's source or destination against the readPoint, bizLocation and header
        master data, so one document names one place one way."""
        for location_id, sgln in self.locations.items():
            if uri in (sgln.epc_uri(), sgln.digital_link()):
                return self.location(location_id)
        company = self.site.company
        party = self.company_party()
        if company is None or party is None:
            return uri
        gln = parse_gln(company.gln)
        prefix = company_prefix_length(gln, company.company_prefix)
        if uri in (f"{DIGITAL_LINK}417/{gln}", f"urn:epc:id:pgln:{gln[:prefix]}.{gln[prefix:12]}"):
            return party
        site = Sgln.of(gln, None, company.company_prefix)
        if uri in (site.epc_uri(), site.digital_link()):
            return site.digital_link() if self.digital_link else site.epc_uri()
        return uri

    def time_zone_offset(self, event_time: dt.datetime) -> str:
        """The site's UTC offset at that instant (naive times are UTC, as ClickHouse returns them)."""
        if event_time.tzinfo is None:
            event_time = event_time.replace(tzinfo=dt.UTC)
        offset = event_time.astimezone(zoneinfo.ZoneInfo(self.site.time_zone)).utcoffset() or dt.timedelta()
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"

    def _uri(self, kind: str, site_id: str, sgln: Sgln | None) -> str:
        if sgln is None:
            uri = f"urn:tagtrail:{kind}:{quote(site_id, safe='')}"
            if (kind, site_id) not in self.not_gs1:
                self.not_gs1.add((kind, site_id))
                log.warning("epcis_location_not_gs1", kind=kind, id=site_id,
                            why="no company in the site config" if self.site.company is None else
                            "the site config gives it no gln or sgln_extension")
        else:
            uri = sgln.digital_link() if self.digital_link else sgln.epc_uri()
        self.used[kind][site_id] = uri
        return uri

    def master_data(self) -> dict | None:
        """epcisHeader.epcisMasterData for the places the events used that have a GS1 id, else None."""
        vocabularies = []
        for vtype, kind, ids in ((VTYPE_LOCATION, "location", self.locations),
                                 (VTYPE_READ_POINT, "readpoint", self.read_points)):
            elements = [{"id": uri, "attributes": self._attributes(kind, site_id)}
                        for site_id, uri in sorted(self.used[kind].items(), key=lambda kv: kv[1]) if site_id in ids]
            if elements:
                vocabularies.append({"type": vtype, "vocabularyElementList": elements})
        return {"epcisMasterData": {"vocabularyList": vocabularies}} if vocabularies else None

    def _attributes(self, kind: str, site_id: str) -> list[dict]:
        attributes = []
        if kind == "location":
            loc = self.site.location(site_id)
            zone = next((rp.zone for rp in self.site.read_points if rp.location == site_id and rp.zone), None)
            attributes.append({"id": MDA + "name", "attribute": (loc.name if loc and loc.name else site_id)})
            address = loc.address if loc else None
            for name, cbv in ADDRESS_ATTRIBUTES:
                value = getattr(address, name, None) if address else None
                if value:
                    attributes.append({"id": MDA + cbv, "attribute": value})
        else:
            rp = self.site.read_point(site_id)
            zone = rp.zone if rp else None
            attributes.append({"id": MDA + "name", "attribute": site_id})
        if zone:
            attributes.append({"id": ZONE_ATTRIBUTE, "attribute": zone})
        return attributes
