"""A little language for processor scenarios: a site, and reads/scans built as real events.

Times are seconds after T0 in the helpers and microseconds on the events, as on the wire.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from tagtrail.config import parse_site
from tagtrail.events import Identity, Scan, TagRead

T0 = 1_764_000_000_000_000  # 2025-11-24T16:00:00Z
S = 1_000_000

SITE_YAML = """
site_id: test-dc
read_points:
  - {id: door-1-outer, location: dock-door-1, zone: dock, kind: dock_door_outer, portal: door-1}
  - {id: door-1-inner, location: dock-door-1, zone: dock, kind: dock_door_inner, portal: door-1}
  - {id: storage-a, location: storage-a, zone: storage, kind: storage}
  - {id: storage-b, location: storage-b, zone: storage, kind: storage}
  - {id: pick-1, location: pick-face-1, zone: picking, kind: pick_face}
  - {id: pack-1, location: pack-station-1, zone: packing, kind: pack_station, smoothing_window_s: 10}
processing:
  smoothing_window_s: 5
  location_hold_off_s: 0.5
  rssi_margin_db: 6
  missing_after_s: 3600
  lateness_bound_s: 86400
"""


def site(extra_yaml: str = "", kafka_yaml: str = ""):
    return parse_site(SITE_YAML + extra_yaml + kafka_yaml)


def identity(n: int) -> Identity:
    serial = str(1000 + n)
    return Identity(item_key=f"01/80614141123458/21/{serial}", scheme="sgtin-96", gtin="80614141123458", serial=serial,
                    epc_uri=f"urn:epc:id:sgtin:0614141.812345.{serial}")


@dataclass
class Script:
    """Collects the events of a scenario in the order they happen (event time)."""

    reads: list[TagRead] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)

    def dwell(self, item: Identity, read_point: str, start_s: float, end_s: float, every_s: float = 0.2,
              rssi: float = -60.0, reader: str = "r1", antenna: int = 1) -> Script:
        """The reader reports the item every `every_s` seconds between start and end."""
        t = start_s
        while t <= end_s + 1e-9:
            us = T0 + round(t * S)
            self.reads.append(TagRead(
                event_id=f"{reader}/{antenna}/{item.item_key}/{us}", reader_id=reader, antenna_id=antenna,
                read_point=read_point, epc_hex="3074257BF7194E4000001A85", identity=item, first_seen=us, last_seen=us,
                reader_first_seen=us, received_at=us, peak_rssi_dbm=rssi, seen_count=1))
            t += every_s
        return self

    def scan(self, item: Identity, action: str, at_s: float, location: str | None = None, uploaded_s: float | None = None,
             n: int = 0, lot: str | None = None, expiry: dt.date | None = None) -> Script:
        at = T0 + round(at_s * S)
        self.scans.append(Scan(
            event_id=f"hh-1/up-{at}/{n}", device_id="hh-1", upload_id=f"up-{at}", raw_data="(01)...", identity=item,
            action=action, scanned_at=at, uploaded_at=T0 + round((uploaded_s if uploaded_s is not None else at_s) * S),
            location=location, lot=lot, expiry=expiry))
        return self

    def events(self) -> list[TagRead | Scan]:
        """Everything in arrival order: by upload time for scans, by last seen for reads."""
        keyed = [(r.last_seen, 0, r.event_id, r) for r in self.reads] + [(s.uploaded_at, 1, s.event_id, s) for s in self.scans]
        return [e for *_, e in sorted(keyed, key=lambda k: k[:3])]


def pallet_journey(item: Identity, script: Script | None = None, offset_s: float = 0.0) -> Script:
    """Inbound through door 1, put away, picked, packed, outbound through door 1."""
    s = script or Script()
    o = offset_s
    s.dwell(item, "door-1-outer", o + 0, o + 2, 0.1, rssi=-58, antenna=1)
    s.dwell(item, "door-1-inner", o + 1.5, o + 4, 0.1, rssi=-57, antenna=2)
    s.dwell(item, "storage-a", o + 60, o + 120, 1.0, rssi=-55, reader="r2")
    s.dwell(item, "pick-1", o + 300, o + 310, 0.5, rssi=-50, reader="r3")
    s.dwell(item, "pack-1", o + 400, o + 420, 0.5, rssi=-52, reader="r4")
    s.dwell(item, "door-1-inner", o + 500, o + 502, 0.1, rssi=-57, antenna=2)
    s.dwell(item, "door-1-outer", o + 501.5, o + 504, 0.1, rssi=-58, antenna=1)
    return s


def sentinels(partitions: int, at_s: float, script: Script | None = None) -> Script:
    """One read per partition far after the scenario, so every partition's watermark passes it
    (in a warehouse, other tags being read do this all the time). Sentinels have serial >= 1900."""
    import zlib

    s = script or Script()
    covered: set[int] = set()
    n = 900
    while len(covered) < partitions:
        ident = identity(n)
        p = zlib.crc32(ident.item_key.encode()) % partitions
        if p not in covered:
            covered.add(p)
            s.dwell(ident, "storage-b", at_s, at_s, reader="sentinel")
        n += 1
    return s
