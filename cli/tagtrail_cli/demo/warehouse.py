"""The demo site: dock doors with inner/outer antennas, a storage/pick/pack zone, two handhelds."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tagtrail.config import (
    Address,
    Antenna,
    ClickHouseSettings,
    Company,
    KafkaSettings,
    LlrpSettings,
    Location,
    ProcessingSettings,
    Reader,
    ReadPoint,
    Scanner,
    ScanServiceSettings,
    SiteConfig,
)
from tagtrail.identity.gln import Sgln

ZONE_READER = "zone-reader"
STORAGE, PICK, PACK = "storage-a", "pick-face-1", "pack-station-1"
ZONE_ANTENNAS = {STORAGE: 1, PICK: 2, PACK: 3}
HANDHELDS = ("handheld-pick", "handheld-pack")
DOCK_TERMINAL = "dock-terminal"  # the dock office's device: opens and closes shipments and receipts at the doors
# GS1 identity: GS1's example company prefix 0614141; the company's GLN, the building's GLN (whose SGLN
# extensions name the doors, zones and read points), both with valid check digits.
COMPANY = Company(name="Demo Distribution Inc.", gln="0614141000005", company_prefix="0614141")
BUILDING_GLN = "0614141000012"
ADDRESS = Address(street_address="1 Demo Way", city="Lawrenceville", region="NJ", postal_code="08648", country_code="US")
TIME_ZONE = "America/New_York"


@dataclass(frozen=True)
class TradingPartner:
    """A company the demo warehouse trades with: the party (its GLN) and the site goods come from or go to
    (its own GLN). The site is in the demo's site file as a location without read points, so an export's
    header describes the source or destination it names (name, address) next to the warehouse's own places."""

    role: str  # supplier | customer
    name: str
    gln: str
    site_id: str
    site_name: str
    site_gln: str
    address: Address

    def site_uri(self) -> str:
        return Sgln.of(self.site_gln, None, None).epc_uri()


# GS1 example-style prefixes other than the warehouse's own; check digits valid.
SUPPLIER = TradingPartner("supplier", "Acme Pharma Manufacturing LLC", "0012345000003", "acme-plant", "Acme Pharma plant",
                          "0012345000010", Address(street_address="200 Industrial Pkwy", city="Raleigh", region="NC",
                                                   postal_code="27601", country_code="US"))
CUSTOMER = TradingPartner("customer", "Northside Pharmacy Group", "0098765000007", "northside-dc", "Northside distribution center",
                          "0098765000014", Address(street_address="75 Harbor Rd", city="Newark", region="NJ",
                                                   postal_code="07105", country_code="US"))
TRADING_PARTNERS = (SUPPLIER, CUSTOMER)




@dataclass(frozen=True)
class DemoWarehouse:
    """Where things are in the demo, and the tokens its simulated handhelds use."""

    doors: int
    reader_ports: dict[str, int]
    scan_port: int
    workdir: Path
    tokens: dict[str, str] = field(default_factory=lambda: {d: secrets.token_urlsafe(16) for d in (*HANDHELDS, DOCK_TERMINAL)})

    @staticmethod
    def door_reader(door: int) -> str:
        return f"door-{door}"

    @staticmethod
    def door_location(door: int) -> str:
        return f"dock-door-{door}"

    def site(self) -> SiteConfig:
        read_points: list[ReadPoint] = []
        readers: list[Reader] = []
        for d in range(1, self.doors + 1):
            rid = self.door_reader(d)
            for side in ("outer", "inner"):
                read_points.append(
                    ReadPoint(id=f"{rid}-{side}", location=self.door_location(d), zone="dock",
                              kind=f"dock_door_{side}", portal=rid, gln=BUILDING_GLN, sgln_extension=f"{rid}-{side}")
                )
            readers.append(
                Reader(id=rid, host="127.0.0.1", port=self.reader_ports[rid], report_every_ms=100,
                       antennas=(Antenna(1, f"{rid}-outer"), Antenna(2, f"{rid}-inner")))
            )
        read_points += [
            ReadPoint(id=STORAGE, location=STORAGE, zone="storage", kind="storage", gln=BUILDING_GLN, sgln_extension=STORAGE),
            ReadPoint(id=PICK, location=PICK, zone="picking", kind="pick_face", gln=BUILDING_GLN, sgln_extension=PICK),
            ReadPoint(id=PACK, location=PACK, zone="packing", kind="pack_station", gln=BUILDING_GLN, sgln_extension=PACK),
        ]
        locations = tuple(
            Location(id=loc, name=loc.replace("-", " ").capitalize(), gln=BUILDING_GLN, sgln_extension=loc, address=ADDRESS)
            for loc in dict.fromkeys(rp.location for rp in read_points))
        locations += tuple(Location(id=p.site_id, name=p.site_name, gln=p.site_gln, address=p.address)
                           for p in TRADING_PARTNERS)
        readers.append(
            Reader(id=ZONE_READER, host="127.0.0.1", port=self.reader_ports[ZONE_READER], report_every_ms=100,
                   antennas=tuple(Antenna(port, rp) for rp, port in ZONE_ANTENNAS.items()))
        )
        scanners = (
            Scanner(id="handheld-pick", token_sha256=_sha256(self.tokens["handheld-pick"]), location=PICK),
            Scanner(id="handheld-pack", token_sha256=_sha256(self.tokens["handheld-pack"]), location=PACK),
            Scanner(id=DOCK_TERMINAL, token_sha256=_sha256(self.tokens[DOCK_TERMINAL])),
        )
        return SiteConfig(
            site_id="demo-warehouse",
            company=COMPANY,
            time_zone=TIME_ZONE,
            locations=locations,
            kafka=KafkaSettings(topic_prefix="demo", partitions=8),
            clickhouse=ClickHouseSettings(dsn=f"chdb://{self.workdir / 'chdb'}", database="tagtrail"),
            read_points=tuple(read_points),
            readers=tuple(readers),
            scanners=scanners,
            llrp=LlrpSettings(spool_dir=str(self.workdir / "spool")),
            scans=ScanServiceSettings(host="127.0.0.1", port=self.scan_port),
            # The simulation goes quiet at its end: let idle partitions decide after 3 s, not 30 s. Live mode:
            # live_items shows what the dock doors are reading before crossings are decided.
            processing=ProcessingSettings(idle_advance_s=3.0, provisional_movements=True),
        )


def site_file_text(site: SiteConfig) -> str:
    """The site file a user passes to `tagtrail epcis|where|sql --site` after the demo: its ClickHouse and
    its GS1 master data (company, time zone, locations, read points), without readers, ports or tokens."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if v is not None}
        return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value

    whole = dataclasses.asdict(site)
    kept = {key: whole[key] for key in ("site_id", "company", "time_zone", "locations", "read_points", "clickhouse")}
    return yaml.safe_dump(plain(kept), sort_keys=False)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
