"""What happens to each item in the demo: a pure plan of tag sightings and handheld scans.

Every item arrives through a dock door (outer then inner antenna), is put away in storage, and then
either stays there, is picked and packed (and waits at the pack station), or is picked, packed and
shipped out through a door (inner then outer). The plan includes the noise real portals produce:
repeated reads, missed reads, a weak cross-read by the neighbouring door, and a handheld that was
offline and uploads its scans late. Being pure and seeded, it doubles as the ground truth the demo
checks its result against.

Business context, as a real site has it: each door that receives goods has an inbound receipt (the
supplier's goods against a purchase order) open from before its first arrival until after its last,
and each door that ships has an outbound shipment (a despatch advice to the customer) open around its
items' exits. Handhelds read the package's 2D code with its lot (AI 10) and expiry (AI 17), as a
pharmaceutical package carries them; the lot is the item's production batch.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from epcpy.epc_schemes.sgtin import SGTIN, SGTINFilterValue

from tagtrail_cli.demo.warehouse import (
    COMPANY,
    CUSTOMER,
    PACK,
    PICK,
    STORAGE,
    SUPPLIER,
    ZONE_ANTENNAS,
    ZONE_READER,
    DemoWarehouse,
    TradingPartner,
)

COMPANY_PREFIX, ITEM_REFERENCE = "0614141", "812345"
READ_EVERY_S = 0.25
MISS_RATE = 0.1
FATES = ("stored", "packed", "shipped")
FATE_WEIGHTS = (0.3, 0.2, 0.5)
LIFECYCLE_S = 48.0  # from the first read at the inbound door to the last at the outbound door
INBOUND_S, OUTBOUND_S = (0.0, 2.7), (44.0, 46.7)  # an item's door reads, from its first read (item_lifecycle)
TRANSACTION_MARGIN_S = 3.0  # a transaction opens this long before its door's first crossing and closes after the last
ITEMS_PER_LOT = 20
SHELF_LIFE_DAYS = 730


@dataclass(frozen=True)
class PlannedRead:
    at_s: float
    reader_id: str
    antenna: int
    epc_hex: str
    rssi_dbm: int


@dataclass(frozen=True)
class PlannedScan:
    at_s: float
    upload_at_s: float
    device_id: str
    barcode: str
    action: str
    location: str


@dataclass(frozen=True)
class DemoItem:
    serial: int
    epc_hex: str
    epc_uri: str
    item_key: str
    barcode: str
    fate: str
    door_in: int
    door_out: int | None
    lot: str | None = None
    expiry: dt.date | None = None


@dataclass(frozen=True)
class PlannedTransaction:
    """A shipment or receipt at one dock door, opened at `open_at_s` and closed at `close_at_s` of the plan.
    The scan service fills in the warehouse's own side (company GLN, the door's SGLN); the partner is the
    other side: the destination of a shipment, the source of a receipt."""

    open_at_s: float
    close_at_s: float
    type: str  # CBV bizTransaction type: desadv (our despatch advice) | po (our purchase order)
    id: str  # urn:epcglobal:cbv:bt:<issuer GLN>:<document number>
    direction: str  # outbound | inbound
    location: str  # the door's location id
    partner: TradingPartner
    items: tuple[str, ...] = ()  # item keys that cross the door while it is open

    @property
    def transaction_id(self) -> str:
        """The key the scan service names it by (`<type>:<id>`)."""
        return f"{self.type}:{self.id}"


@dataclass(frozen=True)
class DemoPlan:
    items: tuple[DemoItem, ...]
    reads: tuple[PlannedRead, ...]
    scans: tuple[PlannedScan, ...]
    duration_s: float
    transactions: tuple[PlannedTransaction, ...] = field(default=())

    def expected_final_location(self, item: DemoItem) -> str:
        return expected_final_location(item)


def make_item(serial: int, fate: str, door_in: int, door_out: int | None, *, lot: str | None = None,
              expiry: dt.date | None = None) -> DemoItem:
    """An SGTIN-96 tagged item; with `lot` and `expiry` its package's code carries them (AI 17, AI 10)."""
    sgtin = SGTIN(f"urn:epc:id:sgtin:{COMPANY_PREFIX}.{ITEM_REFERENCE}.{serial}")
    gtin = sgtin.gtin()
    batch = (f"17{expiry:%y%m%d}" if expiry else "") + (f"10{lot}\x1d" if lot else "")  # GS ends the variable-length lot
    return DemoItem(
        serial=serial,
        epc_hex=sgtin.hex(binary_coding_scheme=SGTIN.BinaryCodingScheme.SGTIN_96, filter_value=SGTINFilterValue.POS_ITEM),
        epc_uri=sgtin.epc_uri,
        item_key=f"01/{gtin}/21/{serial}",
        barcode=f"]d201{gtin}{batch}21{serial}",
        fate=fate,
        door_in=door_in,
        door_out=door_out,
        lot=lot,
        expiry=expiry,
    )


def item_lifecycle(rng: random.Random, item: DemoItem, t0: float, doors: int,
                   upload_at: Callable[[str, float], float]) -> tuple[list[PlannedRead], list[PlannedScan]]:
    """One item's reads and scans from `t0` on, with the noise real portals make (repeats, misses, a
    neighbour's cross-read). `upload_at(device, scanned_at)` says when a handheld uploads a scan.
    Shared by the demo and the e2e suite, so both exercise the same warehouse behaviour."""
    reads: list[PlannedRead] = []
    scans: list[PlannedScan] = []

    def dwell(reader: str, antenna: int, start: float, end: float, rssi: int) -> None:
        t, kept = start, 0
        while t <= end:
            if rng.random() >= MISS_RATE or kept == 0 and t + READ_EVERY_S > end:
                reads.append(PlannedRead(t0 + t, reader, antenna, item.epc_hex, rssi + rng.randrange(-3, 4)))
                kept += 1
            t += READ_EVERY_S

    def scan(at_s: float, device: str, action: str, location: str) -> None:
        scans.append(PlannedScan(t0 + at_s, upload_at(device, t0 + at_s), device, item.barcode, action, location))

    door = DemoWarehouse.door_reader(item.door_in)
    dwell(door, 1, 0.0, 1.2, -58)   # outer antenna first: inbound
    dwell(door, 2, 1.5, 2.7, -56)
    if doors > 1:  # the neighbouring portal catches a faint read
        neighbour = DemoWarehouse.door_reader(item.door_in % doors + 1)
        reads.append(PlannedRead(t0 + 0.6, neighbour, 1, item.epc_hex, -84))
    dwell(ZONE_READER, ZONE_ANTENNAS[STORAGE], 9.0, 14.0, -52)
    if item.fate == "stored":
        return reads, scans
    dwell(ZONE_READER, ZONE_ANTENNAS[PICK], 20.0, 23.0, -50)
    scan(21.5, "handheld-pick", "pick", PICK)
    dwell(ZONE_READER, ZONE_ANTENNAS[PACK], 30.0, 33.0, -50)
    scan(31.0, "handheld-pack", "pack", PACK)
    if item.fate == "shipped":
        door = DemoWarehouse.door_reader(item.door_out or 1)
        dwell(door, 2, 44.0, 45.2, -56)  # inner antenna first: outbound
        dwell(door, 1, 45.5, 46.7, -58)
    return reads, scans


def expected_final_location(item: DemoItem) -> str:
    return {"stored": STORAGE, "packed": PACK, "shipped": DemoWarehouse.door_location(item.door_out or 1)}[item.fate]


def plan(*, items: int, doors: int, minutes: float, seed: int = 2026, today: dt.date | None = None) -> DemoPlan:
    """The seeded plan; `today` (the run's date) dates the lots' expiry (none without it), so a plan is pure given it."""
    rng = random.Random(seed)
    expiry = today + dt.timedelta(days=SHELF_LIFE_DAYS) if today else None
    spread_s = max(5.0, minutes * 60 - LIFECYCLE_S - 5)
    reads: list[PlannedRead] = []
    scans: list[PlannedScan] = []
    made: list[DemoItem] = []
    starts: list[float] = []
    late_upload_at = spread_s + LIFECYCLE_S + 2  # the pack handheld was offline all along

    def upload_at(device: str, scanned_at: float) -> float:
        return late_upload_at if device == "handheld-pack" else scanned_at + 5

    for i in range(items):
        fate = rng.choices(FATES, FATE_WEIGHTS)[0]
        door_in = 1 + rng.randrange(doors)
        door_out = 1 + rng.randrange(doors) if fate == "shipped" else None
        item = make_item(10_000 + i, fate, door_in, door_out, lot=f"L{seed}-{i // ITEMS_PER_LOT + 1:03d}", expiry=expiry)
        made.append(item)
        starts.append(rng.uniform(0, spread_s))
        item_reads, item_scans = item_lifecycle(rng, item, starts[-1], doors, upload_at)
        reads += item_reads
        scans += item_scans
    reads.sort(key=lambda r: r.at_s)
    scans.sort(key=lambda s: s.upload_at_s)
    return DemoPlan(tuple(made), tuple(reads), tuple(scans), late_upload_at + 1,
                    door_transactions(made, starts, doors, seed))


def door_transactions(items: list[DemoItem], starts: list[float], doors: int, seed: int) -> tuple[PlannedTransaction, ...]:
    """One receipt per door that receives (from the supplier, against our PO) and one shipment per door that
    ships (our despatch advice to the customer), each open around its door's crossings."""
    found: list[PlannedTransaction] = []
    for door in range(1, doors + 1):
        location = DemoWarehouse.door_location(door)
        for direction, window, crossing in (("inbound", INBOUND_S, lambda item: item.door_in),
                                            ("outbound", OUTBOUND_S, lambda item: item.door_out)):
            at = [(start, item.item_key) for item, start in zip(items, starts, strict=True)
                  if crossing(item) == door and (direction == "inbound" or item.fate == "shipped")]
            if not at:
                continue
            partner = SUPPLIER if direction == "inbound" else CUSTOMER
            kind, number = ("po", f"PO-{seed}-{door:02d}") if direction == "inbound" else ("desadv", f"DA-{seed}-{door:02d}")
            found.append(PlannedTransaction(
                open_at_s=max(0.0, min(s for s, _ in at) + window[0] - TRANSACTION_MARGIN_S),
                close_at_s=max(s for s, _ in at) + window[1] + TRANSACTION_MARGIN_S,
                type=kind, id=f"urn:epcglobal:cbv:bt:{COMPANY.gln}:{number}", direction=direction, location=location,
                partner=partner, items=tuple(key for _, key in at)))
    return tuple(sorted(found, key=lambda t: t.open_at_s))
