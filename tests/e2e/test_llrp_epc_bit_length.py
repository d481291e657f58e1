"""An EPCData whose declared bit length is not the EPC's (found by the fault suite).

The LLRP EPCData parameter carries EPCLengthBits; a tag report saying 90 bits with 12 bytes of
data is not an SGTIN-96, whatever the 12 bytes look like. The adapter must dead-letter it as
bad_epc, as it does a 104-bit EPC, instead of publishing a read for an item the tag never named.
sllurp drops EPCLengthBits; ingest/tagtrail_ingest/llrp/epc_data.py keeps it.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tagtrail.config import KafkaSettings, LlrpSettings, SiteConfig
from tagtrail.wire import Codec
from tagtrail_ingest.llrp.adapter_service import run_adapter
from tagtrail_ingest.llrp.emulator import ReaderEmulator, Sighting, sgtin96
from tests.e2e.topics import read_all
from tests.llrp.conftest import dock_points, dock_reader

pytestmark = pytest.mark.kafka


def test_an_epc_whose_declared_bit_length_disagrees_with_its_data_is_dead_lettered(kafka, tmp_path) -> None:
    emu = ReaderEmulator(antennas=2, name="door7")
    emu.start()
    site = SiteConfig(kafka=KafkaSettings(bootstrap_servers=kafka.bootstrap_servers, topic_prefix=kafka.topics.prefix,
                                            partitions=3),
                      read_points=dock_points(["door7"]),
                      readers=(dock_reader("door7-reader", emu.port, "door7"),),
                      llrp=LlrpSettings(spool_dir=str(tmp_path / f"spool-{uuid.uuid4().hex[:6]}")))
    stop = threading.Event()
    adapter = threading.Thread(target=run_adapter, args=(site, kafka), kwargs={"stop": stop}, daemon=True)
    adapter.start()
    try:
        assert emu.inventorying.wait(20)
        declared_90 = sgtin96("0614141", "812345", 99_999)
        marker = sgtin96("0614141", "812345", 99_997)
        emu.queue([Sighting(epc_hex=declared_90, antenna=1, epc_bits=90), Sighting(epc_hex=marker, antenna=1)])
        deadline = time.monotonic() + 20
        reads: list = []
        while time.monotonic() < deadline:
            reads = [Codec("TagRead").decode(m.value()) for m in read_all(kafka.bootstrap_servers, kafka.topics.reads)]
            if any(r.epc_hex == marker for r in reads):
                break
            time.sleep(0.5)
        assert any(r.epc_hex == marker for r in reads), "the report never arrived"
        letters = [Codec("DeadLetter").decode(m.value())
                   for m in read_all(kafka.bootstrap_servers, kafka.topics.dead_letters)]
    finally:
        stop.set()
        adapter.join(30)
        emu.stop()
    assert [r.epc_hex for r in reads if r.epc_hex == declared_90] == []
    assert [d.reason for d in letters] == ["bad_epc"]
