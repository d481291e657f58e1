"""One run of the scenario through the real services, with (seeded) faults and bad input on the side."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import structlog

from tagtrail.clickhouse import connect_clickhouse
from tagtrail.config import ClickHouseSettings, KafkaSettings
from tagtrail.history.queries import history
from tagtrail.kafka.topics import Topics
from tagtrail_cli.demo.warehouse import PICK, ZONE_ANTENNAS, ZONE_READER, DemoWarehouse
from tagtrail_ingest.llrp.emulator import ReaderEmulator
from tagtrail_ingest.llrp.tag_reads import event_id as read_event_id
from tests.e2e import bad_inputs, ground_truth, scenario
from tests.e2e.devices import Handhelds, queue_reads
from tests.e2e.pipeline import Pipeline, write_site
from tests.services import free_port

log = structlog.get_logger(__name__)

PLAN_DOORS = 2
BAD_READER = DemoWarehouse.door_reader(PLAN_DOORS + 1)  # a door of its own sends the broken frames


@dataclass
class Outcome:
    scenario: scenario.Scenario
    histories: dict[str, list[dict]]
    duplicate_event_ids: list[tuple[str, int]]
    tracked_items: set[str]  # every item key with a movement in ClickHouse
    dead_letter_topic: str
    reads_topic: str
    delivered_read_ids: set[str]  # every plan read the emulators wrote into a live connection
    acknowledged_scan_ids: set[str]
    scans_topic: str
    bootstrap: str
    sent: bad_inputs.Sent
    actions: list[str] = field(default_factory=list)  # what the timeline did, in order (faults and bad input)
    crashed: dict[str, object] = field(default_factory=dict)  # services that exited during the run by themselves
    exits: dict[str, int | None] = field(default_factory=dict)  # exit codes on SIGTERM at the end (None: hung)
    acknowledged_scans: int = 0
    rejected_good_scans: list[dict] = field(default_factory=list)
    live_items: int = 0  # items that had a provisional movement (live mode, item_live)
    undecided_live: list[tuple] = field(default_factory=list)  # live_items rows still provisional at the end
    elapsed_s: float = 0.0


class Timeline:
    """Runs actions at seconds after wall0 on one thread, in order; records what it did."""

    def __init__(self, wall0: float, stop: threading.Event) -> None:
        self.wall0, self.stop = wall0, stop
        self.actions: list[tuple[float, str, Callable[[], None], bool]] = []
        self.done: list[str] = []  # "<at> <what> (<took>)" of every action that ran
        self.errors: list[BaseException] = []

    def at(self, t: float, what: str, action: Callable[[], None], *, background: bool = False) -> None:
        """`background` actions (long ones: a broker restart) run on their own thread, so the next
        action still happens on time."""
        self.actions.append((t, what, action, background))

    def run(self) -> None:
        spawned = []
        for t, what, action, background in sorted(self.actions, key=lambda a: a[0]):
            while not self.stop.is_set() and time.time() < self.wall0 + t:
                self.stop.wait(0.05)
            if self.stop.is_set():
                break
            if background:
                th = threading.Thread(target=self._do, args=(what, action), daemon=True)
                th.start()
                spawned.append(th)
            else:
                self._do(what, action)
        for th in spawned:
            th.join(300)

    def _do(self, what: str, action: Callable[[], None]) -> None:
        began = time.time() - self.wall0
        log.warning("e2e_action", at_s=round(began, 1), what=what)
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            self.errors.append(exc)
            return
        self.done.append(f"{began:6.1f}s {what} ({time.time() - self.wall0 - began:.1f} s)")


def run(tmp_path: Path, broker, clickhouse, *, seed: int, waves: int = 3, items_per_wave: int = 8,
        faults: bool = True, bad: bool = True, settle_s: float = 8.0, drain_timeout_s: float = 120.0) -> Outcome:
    started = time.monotonic()
    rng = random.Random(seed)
    plan = scenario.build(waves=waves, items_per_wave=items_per_wave, doors=PLAN_DOORS, seed=seed)
    emulators = {DemoWarehouse.door_reader(d): ReaderEmulator(antennas=2, name=f"door-{d}") for d in range(1, PLAN_DOORS + 2)}
    emulators[ZONE_READER] = ReaderEmulator(antennas=len(ZONE_ANTENNAS), name=ZONE_READER)
    ports = {rid: em.start() for rid, em in emulators.items()}
    warehouse = DemoWarehouse(PLAN_DOORS + 1, ports, free_port(), tmp_path)
    demo = warehouse.site()
    prefix, database = f"e2e{uuid.uuid4().hex[:8]}", f"e2e{uuid.uuid4().hex[:8]}"
    site = dataclasses.replace(
        demo,
        site_id="e2e-warehouse",
        kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix, partitions=3),
        clickhouse=ClickHouseSettings(dsn=clickhouse.url, database=database),
        readers=tuple(dataclasses.replace(r, keepalive_s=1.0) for r in demo.readers),
        scans=dataclasses.replace(demo.scans, allow_internal_barcodes=False, max_body_bytes=256 * 1024),
        processing=dataclasses.replace(demo.processing, idle_advance_s=3.0, session_timeout_s=6.0),
        sink=dataclasses.replace(demo.sink, instance_id="sink-0", retry_max_backoff_s=2.0),
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    site_file = write_site(site, tmp_path / "site.yaml")
    logdir = tmp_path / "logs"
    logdir.mkdir()
    pipeline = Pipeline(site_file, logdir)
    stop = threading.Event()
    scan_url = f"http://127.0.0.1:{warehouse.scan_port}"
    sent = bad_inputs.Sent()
    threads: list[threading.Thread] = []
    timeline: Timeline | None = None
    try:
        pipeline.start_all()
        _wait_until(lambda: all(em.inventorying.is_set() for em in emulators.values()), 60, "readers inventorying",
                    pipeline)
        _wait_until(lambda: _healthy(scan_url), 60, "the scan service", pipeline)
        wall0 = time.time() + 1.0
        queue_reads(plan, emulators, int(wall0 * 1_000_000))
        handhelds = Handhelds(plan, scan_url, warehouse.tokens, wall0)
        timeline = Timeline(wall0, stop)
        if faults:
            _schedule_faults(timeline, rng, pipeline, emulators, broker, clickhouse)
        if bad:
            _schedule_bad_input(timeline, rng, plan, emulators, scan_url, warehouse.tokens, sent, stop)
        for target, name in ((handhelds.run, "handhelds"), (timeline.run, "timeline")):
            t = threading.Thread(target=target, args=(stop,) if target == handhelds.run else (), name=name, daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join(plan.duration_s + 240)
        if timeline.errors:
            raise timeline.errors[0]
        _wait_until(lambda: all(em.pending() == 0 for em in emulators.values()), 60, "every read to be reported", pipeline)
        client = connect_clickhouse(site.clickhouse)
        try:
            histories = _converged(client, plan, pipeline, settle_s, drain_timeout_s)
            dupes = client.query("SELECT event_id, count() AS c FROM movements GROUP BY event_id HAVING c > 1").result_rows
            tracked = {str(r[0]) for r in client.query("SELECT DISTINCT item_key FROM movements").result_rows}
            live = client.query("SELECT uniqExact(item_key) FROM item_live").result_rows[0][0]
            undecided = client.query("SELECT item_key, location, last_event_id FROM live_items WHERE provisional = 1"
                                     ).result_rows
        finally:
            client.close()
        crashed = {**pipeline.crashed(), **{f"crash {i}": c for i, c in enumerate(pipeline.crashes)}}
        exits = pipeline.stop_all()  # SIGTERM: each service finishes its batch and exits 0
        return Outcome(
            scenario=plan, histories=histories, duplicate_event_ids=[(str(a), int(b)) for a, b in dupes],
            tracked_items=tracked,
            dead_letter_topic=Topics(prefix).dead_letters, reads_topic=Topics(prefix).reads,
            delivered_read_ids={read_event_id(rid, s.sighting.antenna, s.sighting.epc_hex.upper(), s.reader_first_seen_us)
                                for rid, em in emulators.items() if rid != BAD_READER for s in em.sent},
            acknowledged_scan_ids=set(handhelds.acknowledged_ids), scans_topic=Topics(prefix).scans,
            bootstrap=broker.bootstrap_servers, sent=sent, crashed=crashed, exits=exits,
            actions=sorted(timeline.done, key=lambda a: float(a.split("s", 1)[0])),
            acknowledged_scans=handhelds.acknowledged, rejected_good_scans=handhelds.rejected,
            elapsed_s=time.monotonic() - started, live_items=int(live), undecided_live=[tuple(r) for r in undecided],
        )
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        pipeline.stop_all()
        for em in emulators.values():
            em.stop()
        if clickhouse.process is None:
            clickhouse.start()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str, pipeline: Pipeline) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        crashed = {**pipeline.crashed(), **{f"crash {i}": c for i, c in enumerate(pipeline.crashes)}}
        if crashed:
            name = next(iter(crashed))
            raise AssertionError(f"{name} exited with {crashed[name]} while waiting for {what}:\n{pipeline.log_tail(name)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


HISTORY_FIELDS = ("event_time", "movement_type", "from_location", "to_location", "read_point", "biz_step",
                  "disposition", "direction", "action", "anomaly", "event_id")


def _histories(client, plan: scenario.Scenario) -> dict[str, list[dict]]:
    out = {}
    for item in plan.items:
        columns, rows = history(client, item.item_key)
        out[item.item_key] = [dict(zip(columns, row)) for row in rows]
    return out


def _converged(client, plan, pipeline: Pipeline, settle_s: float, timeout_s: float) -> dict[str, list[dict]]:
    """The history once it matches the ground truth (or timeout_s passed), and then nothing has
    changed for settle_s more: a late duplicate or extra movement must get its chance to show up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if not ground_truth.mismatches(plan.items, _histories(client, plan)):
                break
        except Exception as exc:  # noqa: BLE001 - the sink may not have created the tables yet
            log.info("e2e_history_not_ready", error=str(exc))
        time.sleep(2.0)
    count = lambda: client.query("SELECT count() FROM movements").result_rows[0][0]
    last, since = count(), time.monotonic()
    while time.monotonic() - since < settle_s and time.monotonic() < deadline + settle_s:
        time.sleep(1.0)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    return _histories(client, plan)


def _schedule_faults(tl: Timeline, rng: random.Random, pipeline: Pipeline, emulators: dict[str, ReaderEmulator],
                     broker, clickhouse) -> None:
    """Every service killed -9 and restarted, the broker restarted, ClickHouse away for 30 s, reader
    links dropped; at seeded random moments. The adapter dies only in a quiet gap of the readers (see
    scenario), the one place where no read can be in flight inside the dying process."""

    def restart(name: str, down_s: float = 0.3) -> Callable[[], None]:
        def act() -> None:
            pipeline.kill(name)
            time.sleep(down_s)
            pipeline.start(name)
        return act

    def broker_restart() -> None:
        broker.stop()
        broker.start()

    wave = scenario.WAVE_EVERY_S
    plan_readers = sorted(r for r in emulators if r != BAD_READER)
    tl.at(rng.uniform(3, 12), "SIGKILL ingest.scans + restart", restart("ingest.scans"))
    for lo, hi in ((5, 30), (120, 140)):
        reader = rng.choice(plan_readers)
        tl.at(rng.uniform(lo, hi), f"drop the link of {reader}", emulators[reader].drop_connection)
    gap = scenario.QUIET_GAPS[2]
    tl.at(0 * wave + gap[0] + 1.0 + rng.uniform(0, 1.5), "SIGKILL ingest.llrp (quiet gap) + restart", restart("ingest.llrp", 0.1))
    tl.at(rng.uniform(40, 52), "SIGKILL process + restart", restart("process"))
    ch_at = rng.uniform(55, 62)
    tl.at(ch_at, "ClickHouse down for 30 s", clickhouse.stop)
    tl.at(ch_at + rng.uniform(5, 20), "SIGKILL sink (ClickHouse down) + restart", restart("sink"))
    tl.at(ch_at + 30, "ClickHouse up", clickhouse.start)
    tl.at(rng.uniform(90, 98), "Kafka broker stop + start", broker_restart, background=True)
    gap = scenario.QUIET_GAPS[1]
    tl.at(2 * wave + gap[0] + 0.5 + rng.uniform(0, 0.5), "SIGKILL ingest.llrp (quiet gap) + restart", restart("ingest.llrp", 0.1))
    tl.at(rng.uniform(125, 140), "SIGKILL ingest.scans + restart", restart("ingest.scans"))
    # A second processor kill, after the broker restart: restoring state from a changelog written
    # across a broker restart (test_stage_bugs.py covers the restart without it).
    tl.at(rng.uniform(130, 145), "SIGKILL process + restart", restart("process"))
    tl.at(rng.uniform(135, 148), "SIGKILL sink + restart", restart("sink"))


def _schedule_bad_input(tl: Timeline, rng: random.Random, plan: scenario.Scenario, emulators: dict[str, ReaderEmulator],
                        scan_url: str, tokens: dict[str, str], sent: bad_inputs.Sent, stop: threading.Event) -> None:
    uploader = bad_inputs.BadUploader(scan_url, "handheld-pick", tokens["handheld-pick"], PICK, sent)
    http = httpx.Client(timeout=15)
    uploads = bad_inputs.bad_scans(plan.items[0].barcode)
    tl.at(rng.uniform(8, 14), f"broken LLRP input from {BAD_READER}",
          lambda: bad_inputs.broken_llrp(emulators[BAD_READER], BAD_READER, sent, stop), background=True)
    tl.at(rng.uniform(20, 45), "garbled and hostile barcodes (1)", lambda: uploader.upload(http, uploads[0], stop), background=True)
    tl.at(rng.uniform(60, 90), "garbled and hostile barcodes (2)", lambda: uploader.upload(http, uploads[1], stop), background=True)
    tl.at(rng.uniform(100, 130), "oversized, malformed, wrong-type uploads", lambda: uploader.refused(http, stop), background=True)
