"""The adapter as the operator runs it: `tagtrail ingest llrp` in its own process, and the emulator's CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tagtrail_ingest.llrp.emulator import pallet_through_dock_door
from tagtrail_ingest.llrp.tag_reads import event_id
from tests.llrp.conftest import read_topic
from tests.services import REPO, free_port

SITE = """
site_id: test
kafka: {{bootstrap_servers: "{bootstrap}", topic_prefix: {prefix}, partitions: 3}}
read_points:
  - {{id: door9-outer, location: dock 9, kind: dock_door_outer, portal: door9}}
  - {{id: door9-inner, location: dock 9, kind: dock_door_inner, portal: door9}}
readers:
  - id: door9-reader
    host: 127.0.0.1
    port: {port}
    keepalive_s: 1.0
    report_every_ms: 100
    antennas: [{{port: 1, read_point: door9-outer}}, {{port: 2, read_point: door9-inner}}]
llrp: {{spool_dir: "{spool}"}}
"""


# ensure_topics would wait for the missing broker, so start the adapter directly, as the CLI would after it
RUN_WITHOUT_TOPIC_CHECK = """
import threading
from tagtrail.config import load_site
from tagtrail_ingest.llrp.adapter_service import run_adapter
from tagtrail.kafka import connect
site = load_site({site!r})
run_adapter(site, connect(site.kafka), stop=threading.Event())
"""


def write_site(path: Path, *, bootstrap: str, prefix: str, port: int, spool: Path) -> Path:
    path.write_text(SITE.format(bootstrap=bootstrap, prefix=prefix, port=port, spool=spool))
    return path


def adapter_process(site: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tagtrail_cli.main", "ingest", "llrp", "--site", str(site)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.slow
def test_reads_spooled_while_kafka_is_unreachable_survive_a_kill_9(kafka, emulators, tmp_path) -> None:
    """Kafka unreachable, reads land in the spool, the adapter is killed -9; the next start sends them."""
    emu = emulators()
    spool = tmp_path / "spool"
    unreachable = write_site(tmp_path / "down.yaml", bootstrap=f"127.0.0.1:{free_port()}", prefix=kafka.topics.prefix,
                             port=emu.port, spool=spool)
    first = subprocess.Popen([sys.executable, "-c", RUN_WITHOUT_TOPIC_CHECK.format(site=str(unreachable))],
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert emu.inventorying.wait(20)
        sightings = pallet_through_dock_door(time.time_ns() // 1000, cases=30)
        emu.queue(sightings)
        wait_for(lambda: not emu.pending(), 20, "the pallet to be reported")
        time.sleep(1.0)  # let the last report reach the spool
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert sum(p.stat().st_size for p in spool.glob("*.spool")) > 0

    reachable = write_site(tmp_path / "up.yaml", bootstrap=kafka.bootstrap_servers, prefix=kafka.topics.prefix,
                           port=emu.port, spool=spool)
    second = adapter_process(reachable)
    try:
        messages = read_topic(kafka.bootstrap_servers, kafka.topics.reads, expect=len(sightings), timeout_s=60)
    finally:
        second.send_signal(signal.SIGTERM)
        _out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err[-2000:]
    from tagtrail.wire import Codec

    codec = Codec("TagRead")
    ids = {codec.decode(m.value()).event_id for m in messages}
    expected = {event_id("door9-reader", s.sighting.antenna, s.sighting.epc_hex, s.reader_first_seen_us) for s in emu.sent}
    assert ids == expected and len(expected) == len(sightings)


def test_the_emulator_cli_plays_a_pallet_for_an_llrp_client() -> None:
    from tagtrail.config import Antenna, Reader
    from tagtrail_ingest.llrp.reader_link import ReaderLink

    help_text = subprocess.run([sys.executable, "-m", "tagtrail_ingest.llrp.emulator", "--help"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout
    assert "--scenario" in help_text and "--unset-clock" in help_text
    proc = subprocess.Popen([sys.executable, "-m", "tagtrail_ingest.llrp.emulator", "--readers", "2", "--cases", "5",
                             "--every", "60", "--duration", "20"], cwd=REPO, stdout=subprocess.PIPE, text=True)
    links = []
    try:
        ports = [json.loads(proc.stdout.readline())["port"] for _ in range(2)]
        counts = {p: 0 for p in ports}
        for port in ports:
            reader = Reader(id=f"r{port}", host="127.0.0.1", port=port,
                            antennas=(Antenna(1, "door-outer"), Antenna(2, "door-inner")))
            link = ReaderLink(reader, silence_s=9, on_bad_frame=lambda *a: None)
            link.add_tag_report_callback(lambda _l, tags, port=port: counts.__setitem__(port, counts[port] + len(tags)))
            link.connect()
            links.append(link)
        wait_for(lambda: all(c >= 6 * 2 * 3 for c in counts.values()), 15, "a pallet on both readers")
    finally:
        for link in links:
            link.close()
        proc.terminate()
        proc.wait(10)
