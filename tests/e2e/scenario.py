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

from tagtrail_cli.demo.flow import (
    FATES,
    DemoItem,
    PlannedRead,
    PlannedScan,
    expected_final_location,
    item_lifecycle,
    make_item,
)

WAVE_EVERY_S = 50.0
JITTER_S = 1.0  # items of a wave start within this much of each other
# Seconds after a wave's start where no read of that wave is due (the lifecycle below, plus jitter).
QUIET_GAPS = ((4.0, 8.5), (15.5, 19.5), (34.5, 43.5))
UPLOAD_DELAY_S = 1.0  # handhelds upload a scan this long after it was made


# Reads and scans are the demo's: the scenario runs the same item lifecycle, in waves.
Read = PlannedRead  # at_s: seconds after the scenario's start (true time)
HandheldScan = PlannedScan


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

    def upload_at(device: str, scanned_at: float) -> float:
        return scanned_at + UPLOAD_DELAY_S

    for wave in range(waves):
        # every fate in every wave, the rest at random
        fates = list(FATES) + [rng.choice(FATES) for _ in range(items_per_wave - len(FATES))]
        for k, fate in enumerate(fates):
            door_in = 1 + rng.randrange(doors)
            door_out = 1 + rng.randrange(doors) if fate == "shipped" else None
            item = make_item(20_000 + wave * 100 + k, fate, door_in, door_out)
            items.append(item)
            item_reads, item_scans = item_lifecycle(rng, item, wave * WAVE_EVERY_S + rng.uniform(0, JITTER_S), doors,
                                                    upload_at)
            reads += item_reads
            scans += item_scans
    reads.sort(key=lambda r: r.at_s)
    scans.sort(key=lambda s: s.upload_at_s)
    return Scenario(tuple(items), tuple(reads), tuple(scans), waves, (waves - 1) * WAVE_EVERY_S + 48.0)
