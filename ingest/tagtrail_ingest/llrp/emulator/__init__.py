"""An LLRP 1.0.1 reader emulator speaking real binary frames over TCP.

sllurp decodes LLRP but cannot play the reader, so the demo, the tests and the benchmarks
use this one: `ReaderEmulator(port).start()`, `queue(sightings)`, faults, `stop()`.
"""

from tagtrail_ingest.llrp.emulator.reader import (
           UNSET_CLOCK_BASE_US,
           InstantReplies,
           Quirks,
           ReaderEmulator,
           SentTag,
           Sighting,
)
from tagtrail_ingest.llrp.emulator.scenarios import (
           flood,
           pallet_through_dock_door,
           sgtin96,
           sscc96,
)

__all__ = [
           "UNSET_CLOCK_BASE_US",
           "InstantReplies",
           "Quirks",
           "ReaderEmulator",
           "SentTag",
           "Sighting",
           "flood",
           "pallet_through_dock_door",
           "sgtin96",
           "sscc96",
]
