"""What happens to each item in the demo: a pure plan of tag sightings and handheld scans.

Every item arrives through a dock door (outer then inner antenna), is put away in storage, and then
either stays there, is picked and packed (and waits at the pack station), or is picked, packed and
shipped out through a door (inner then outer). The plan includes the noise real portals produce:
repeated reads, missed reads, a weak cross-read by the neighbouring door, and a handheld that was
offline and uploads its scans late. Being pure and seeded, it doubles as the ground truth the demo
checks its result against.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from epcpy.epc_schemes.sgtin import SGTIN, SGTINFilterValue

from tagtrail_cli.demo.warehouse import (
    PACK,
    PICK,
    STORAGE,
    ZONE_ANTENNAS,
    ZONE_READER,
    DemoWarehouse,
)

COMPANY_PREFIX, ITEM_REFERENCE = "0614141", "812345"
READ_EVERY_S = 0.25
MISS_RATE = 0.1
FATES = ("stored", "packed", "shipped")
FATE_WEIGHTS = (0.3, 0.2, 0.5)
LIFECYCLE_S = 48.0  # from the first read at the inbound door to the last at the outbound door


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


@dataclass(frozen=True)
class DemoPlan:
    items: tuple[DemoItem, ...]
    reads: tuple[PlannedRead, ...]
    scans: tuple[PlannedScan, ...]
    duration_s: float

    def expected_final_location(self, item: DemoItem) -> str:
        return expected_final_location(item)


def make_item(serial: int, fate: str, door_in: int, door_out: int | None) -> DemoItem:
    sgtin = SGTIN(f"urn:epc:id:sgtin:{COMPANY_PREFIX}.{ITEM_REFERENCE}.{serial}")
    gtin = sgtin.gtin()
    return DemoItem(
        serial=serial,
        epc_hex=sgtin.hex(binary_coding_scheme=SGTIN.BinaryCodingScheme.SGTIN_96, filter_value=SGTINFilterValue.POS_ITEM),
        epc_uri=sgtin.epc_uri,
        item_key=f"01/{gtin}/21/{serial}",
        barcode=f"]d201{gtin}21{serial}",
        fate=fate,
        door_in=door_in,
        door_out=door_out,
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


def plan(*, items: int, doors: int, minutes: float, seed: int = 2026) -> DemoPlan:
    rng = random.Random(seed)
    spread_s = max(5.0, minutes * 60 - LIFECYCLE_S - 5)
    reads: list[PlannedRead] = []
    scans: list[PlannedScan] = []
    made: list[DemoItem] = []
    late_upload_at = spread_s + LIFECYCLE_S + 2  # the pack handheld was offline all along

    def upload_at(device: str, scanned_at: float) -> float:
        return late_upload_at if device == "handheld-pack" else scanned_at + 5

    for i in range(items):
        fate = rng.choices(FATES, FATE_WEIGHTS)[0]
        door_in = 1 + rng.randrange(doors)
        door_out = 1 + rng.randrange(doors) if fate == "shipped" else None
        item = make_item(10_000 + i, fate, door_in, door_out)
        made.append(item)
        item_reads, item_scans = item_lifecycle(rng, item, rng.uniform(0, spread_s), doors, upload_at)
        reads += item_reads
        scans += item_scans
    reads.sort(key=lambda r: r.at_s)
    scans.sort(key=lambda s: s.upload_at_s)
    return DemoPlan(tuple(made), tuple(reads), tuple(scans), late_upload_at + 1)
