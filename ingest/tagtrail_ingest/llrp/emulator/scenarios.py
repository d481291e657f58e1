"""Tag populations for the emulator: a pallet through a dock door, and a flood for benchmarks."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator

from tagtrail_ingest.llrp import frames
from tagtrail_ingest.llrp.emulator.reader import Sighting

# GS1 EPC TDS partition tables: partition -> (company prefix bits, digits, other bits, digits)
_SGTIN_PARTITIONS = {12: (0, 40, 4), 11: (1, 37, 7), 10: (2, 34, 10), 9: (3, 30, 14), 8: (4, 27, 17), 7: (5, 24, 20), 6: (6, 20, 24)}
_SSCC_PARTITIONS = {12: (0, 40, 18), 11: (1, 37, 21), 10: (2, 34, 24), 9: (3, 30, 28), 8: (4, 27, 31), 7: (5, 24, 34), 6: (6, 20, 38)}


def sgtin96(company_prefix: str, item_reference: str, serial: int, filter_value: int = 1) -> str:
    """SGTIN-96 EPC hex; item_reference includes the indicator digit, as in the pure-identity URI."""
    partition, cp_bits, ir_bits = _SGTIN_PARTITIONS[len(company_prefix)]
    value = 0x30
    for bits, field in ((3, filter_value), (3, partition), (cp_bits, int(company_prefix)),
                        (ir_bits, int(item_reference)), (38, serial)):
        value = (value << bits) | field
    return f"{value:024X}"


def sscc96(company_prefix: str, serial_reference: str, filter_value: int = 2) -> str:
    """SSCC-96 EPC hex; serial_reference includes the extension digit."""
    partition, cp_bits, sr_bits = _SSCC_PARTITIONS[len(company_prefix)]
    value = 0x31
    for bits, field in ((3, filter_value), (3, partition), (cp_bits, int(company_prefix)),
                        (sr_bits, int(serial_reference)), (24, 0)):
        value = (value << bits) | field
    return f"{value:024X}"


def pallet_through_dock_door(start_us: int, *, cases: int = 200, outer_antenna: int = 1, inner_antenna: int = 2,
                             company_prefix: str = "0614141", item_reference: str = "812345", first_serial: int = 1,
                             pallet_serial: str = "1234567890", reads_per_antenna: int = 3,
                             seed: int = 7) -> list[Sighting]:
    """An inbound pallet: every case (and the pallet's SSCC) is seen on the outer antenna, then the inner.

    About a second on each antenna, a few reads each, RSSI rising as the tag nears the antenna;
    sightings come back in time order, as a reader reports them.
    """
    rng = random.Random(seed)
    epcs = [sgtin96(company_prefix, item_reference, first_serial + i) for i in range(cases)]
    epcs.append(sscc96(company_prefix, pallet_serial))
    out: list[Sighting] = []
    for phase, antenna in enumerate((outer_antenna, inner_antenna)):
        phase_start = start_us + phase * 1_500_000
        for epc in epcs:
            for k in range(reads_per_antenna):
                t = phase_start + k * 300_000 + rng.randrange(200_000)
                out.append(Sighting(epc_hex=epc, antenna=antenna, peak_rssi=-70 + 8 * k + rng.randrange(4),
                                    channel_index=1 + rng.randrange(50), seen_count=1 + rng.randrange(3),
                                    first_seen_us=t, last_seen_us=t + rng.randrange(50_000)))
    out.sort(key=lambda s: s.first_seen_us or 0)
    return out


# TagReportData with EPC-96, AntennaID, PeakRSSI, ChannelIndex, First/LastSeenTimestampUTC, TagSeenCount
_FLOOD_TAG = struct.Struct("!HH" "B12s" "BH" "Bb" "BH" "BQ" "BQ" "BH")


def flood(clock_us: Callable[[], int], *, population: int = 2000, tags_per_report: int = 100, antennas: int = 4,
          first_serial: int = 1, total_tags: int | None = None) -> Iterator[tuple[bytes, int]]:
    """RO_ACCESS_REPORT bodies (and their tag counts) of a large population, stamped with the reader's
    clock, endless or total_tags long. First-seen times never repeat, so every entry is a distinct read.
    Packed with one struct call per tag so a benchmark's emulator is cheap next to the adapter."""
    epcs = [bytes.fromhex(sgtin96("0614141", "812345", first_serial + i)) for i in range(population)]
    pack = _FLOOD_TAG.pack
    t = 0
    i = 0
    while total_tags is None or i < total_tags:
        n = tags_per_report if total_tags is None else min(tags_per_report, total_tags - i)
        t = max(t + 1, clock_us() - n)
        parts = []
        for _ in range(n):
            t += 1
            parts.append(pack(frames.P_TAG_REPORT_DATA, _FLOOD_TAG.size, 0x80 | frames.TV_EPC_96, epcs[i % population],
                              0x80 | frames.TV_ANTENNA_ID, 1 + i % antennas, 0x80 | frames.TV_PEAK_RSSI, -60,
                              0x80 | frames.TV_CHANNEL_INDEX, 1, 0x80 | frames.TV_FIRST_SEEN_UTC, t,
                              0x80 | frames.TV_LAST_SEEN_UTC, t, 0x80 | frames.TV_TAG_SEEN_COUNT, 1))
            i += 1
        yield b"".join(parts), n
