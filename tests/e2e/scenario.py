"""The e2e scenario: items crossing the demo warehouse in waves, with the ground truth they imply.

Every read carries its true time (first/last seen), so a read the emulator delivers late (the
adapter was down, the link dropped) still lands at the right place in the item's timeline. Items
of one wave move together, which leaves quiet gaps in every wave (no read due anywhere): the
only moments where killing the LLRP adapter cannot lose a read in flight (LLRP has no acks; a
report written into a socket whose reader process dies is gone, and legitimately so).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tagtrail.demo.flow import FATES, DemoItem, make_item
from tagtrail.demo.warehouse import (
    PACK,
    PICK,
    STORAGE,
    ZONE_ANTENNAS,
    ZONE_READER,
    DemoWarehouse,
)

READ_EVERY_S = 0.25
MISS_RATE = 0.1
WAVE_EVERY_S = 50.0
JITTER_S = 1.0  # items of a wave start within this much of each other
# Seconds after a wave's start where no read of that wave is due (the lifecycle below, plus jitter).
QUIET_GAPS = ((4.0, 8.5), (15.5, 19.5), (34.5, 43.5))
UPLOAD_DELAY_S = 1.0  # handhelds upload a scan this long after it was made


@dataclass(frozen=True)
class Read:
    at_s: float  # seconds after the scenario's start (true time)
    reader_id: str
    antenna: int
    epc_hex: str
    rssi_dbm: int


@dataclass(frozen=True)
class HandheldScan:
    at_s: float
    upload_at_s: float
    device_id: str
    barcode: str
    action: str
    location: str


@dataclass(frozen=True)
class Scenario:
    items: tuple[DemoItem, ...]
    reads: tuple[Read, ...]
    scans: tuple[HandheldScan, ...]
    waves: int
    duration_s: float

    def wave_start(self, wave: int) -> float:
        return wave * WAVE_EVERY_S


def build(*, waves: int, items_per_wave: int, doors: int, seed: int) -> Scenario:
    """Pure and seeded: the same arguments give the same plan."""
    rng = random.Random(seed)
    reads: list[Read] = []
    scans: list[HandheldScan] = []
    items: list[DemoItem] = []
    for wave in range(waves):
        # every fate in every wave, the rest at random
        fates = list(FATES) + [rng.choice(FATES) for _ in range(items_per_wave - len(FATES))]
        for k, fate in enumerate(fates):
            door_in = 1 + rng.randrange(doors)
            door_out = 1 + rng.randrange(doors) if fate == "shipped" else None
            item = make_item(20_000 + wave * 100 + k, fate, door_in, door_out)
            items.append(item)
            t0 = wave * WAVE_EVERY_S + rng.uniform(0, JITTER_S)

            def dwell(reader: str, antenna: int, start: float, end: float, rssi: int,
                      t0: float = t0, item: DemoItem = item) -> None:
                t, kept = start, 0
                while t <= end:
                    if rng.random() >= MISS_RATE or kept == 0 and t + READ_EVERY_S > end:
                        reads.append(Read(t0 + t, reader, antenna, item.epc_hex, rssi + rng.randrange(-3, 4)))
                        kept += 1
                    t += READ_EVERY_S

            door = DemoWarehouse.door_reader(door_in)
            dwell(door, 1, 0.0, 1.2, -58)  # outer antenna first: inbound
            dwell(door, 2, 1.5, 2.7, -56)
            if doors > 1:  # the neighbouring portal catches a faint read
                reads.append(Read(t0 + 0.6, DemoWarehouse.door_reader(door_in % doors + 1), 1, item.epc_hex, -84))
            dwell(ZONE_READER, ZONE_ANTENNAS[STORAGE], 9.0, 14.0, -52)
            if fate == "stored":
                continue
            dwell(ZONE_READER, ZONE_ANTENNAS[PICK], 20.0, 23.0, -50)
            scans.append(HandheldScan(t0 + 21.5, t0 + 21.5 + UPLOAD_DELAY_S, "handheld-pick", item.barcode, "pick", PICK))
            dwell(ZONE_READER, ZONE_ANTENNAS[PACK], 30.0, 33.0, -50)
            scans.append(HandheldScan(t0 + 31.0, t0 + 31.0 + UPLOAD_DELAY_S, "handheld-pack", item.barcode, "pack", PACK))
            if fate == "shipped":
                door = DemoWarehouse.door_reader(door_out)
                dwell(door, 2, 44.0, 45.2, -56)  # inner antenna first: outbound
                dwell(door, 1, 45.5, 46.7, -58)
    reads.sort(key=lambda r: r.at_s)
    scans.sort(key=lambda s: s.upload_at_s)
    return Scenario(tuple(items), tuple(reads), tuple(scans), waves, (waves - 1) * WAVE_EVERY_S + 48.0)


def expected_final_location(item: DemoItem) -> str:
    return {"stored": STORAGE, "packed": PACK, "shipped": DemoWarehouse.door_location(item.door_out or 1)}[item.fate]
