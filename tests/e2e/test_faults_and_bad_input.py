"""The fault and bad-input suite: a scenario with a known ground truth runs through the four real
services while they are killed -9 and restarted, the Kafka broker restarts, ClickHouse is away for
30 s and reader links drop; broken LLRP frames, garbled and hostile barcodes and refused uploads go
in on the side. Afterwards the movement history in ClickHouse is exactly the ground truth, and
every bad input is in the dead-letter topic with its reason (or, refused as a whole, nowhere).

Seeded: TAGTRAIL_E2E_SEED picks other fault moments (the default is fixed so CI is repeatable).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tagtrail.wire import Codec
from tests.e2e import ground_truth
from tests.e2e.run import run
from tests.e2e.topics import read_all

FAULT_MARKS = {"SIGKILL", "ClickHouse", "Kafka", "drop"}

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.clickhouse_server]


@pytest.mark.timeout(900)
def test_history_equals_ground_truth_through_faults_and_bad_input_is_dead_lettered(
        own_kafka_broker, clickhouse_server, tmp_path, capsys) -> None:
    seed = int(os.environ.get("TAGTRAIL_E2E_SEED", "2026"))
    out = run(tmp_path, own_kafka_broker, clickhouse_server, seed=seed)
    letters = [Codec("DeadLetter").decode(m.value()) for m in read_all(out.bootstrap, out.dead_letter_topic)]
    scans = [Codec("Scan").decode(m.value()) for m in read_all(out.bootstrap, out.scans_topic)]
    read_ids = [Codec("TagRead").decode(m.value()).event_id for m in read_all(out.bootstrap, out.reads_topic)]
    faults = [a for a in out.actions if FAULT_MARKS & set(a.split())]
    summary = (f"\ne2e seed {seed}: {len(faults)} faults tried, {out.sent.total} bad inputs tried "
               f"({len(out.sent.frames)} LLRP, {len(out.sent.scans)} scans, {len(out.sent.requests)} refused uploads), "
               f"{len(out.scenario.items)} items checked, {len(out.scenario.reads)} reads, "
               f"{out.acknowledged_scans} scans acknowledged, {len(letters)} dead letters, "
               f"{out.live_items} items shown live before their crossing was decided, "
               f"{len(read_ids) - len(set(read_ids))} reads re-sent after a crash (deduplicated downstream), {out.elapsed_s:.0f} s\n")
    with capsys.disabled():  # the summary shows even without -s
        print(summary + "\n".join(out.actions))
    problems: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    # every fault happened, and every service survived everything it was not killed by
    check(len(faults) == 13, f"faults tried: {faults}")
    check(out.crashed == {}, f"services that exited by themselves: {out.crashed}")
    check(set(out.exits.values()) == {0}, f"exit codes on SIGTERM after the run: {out.exits}")
    # the handhelds got every good scan acknowledged (retrying through outages)
    check(out.rejected_good_scans == [] and out.acknowledged_scans == len(out.scenario.scans),
          f"good scans: {out.acknowledged_scans} of {len(out.scenario.scans)} acknowledged, rejected {out.rejected_good_scans}")

    # nothing a device handed over was lost: every report written into a live reader connection
    # (the adapter died only when none was in flight) and every acknowledged scan is on Kafka
    lost_reads = out.delivered_read_ids - set(read_ids)
    check(not lost_reads, f"{len(lost_reads)} of {len(out.delivered_read_ids)} reads the readers sent are not on Kafka")
    lost_scans = out.acknowledged_scan_ids - {s.event_id for s in scans}
    check(not lost_scans, f"acknowledged scans not on Kafka: {sorted(lost_scans)}")

    # the history is exactly the ground truth, without a duplicate
    problems.extend(ground_truth.mismatches(out.scenario.items, out.histories))
    unplanned = out.tracked_items - {item.item_key for item in out.scenario.items}
    check(not unplanned, f"movements of items nobody planned (a bad input taken for a read or scan?): {sorted(unplanned)}")
    check(out.duplicate_event_ids == [], f"duplicate event ids in ClickHouse: {out.duplicate_event_ids[:10]}")
    # live mode (on in the demo warehouse): items were shown provisionally, and through every fault each
    # provisional movement was decided or retracted: none is left showing in live_items
    check(out.live_items > 0, "live mode published no provisional movement")
    check(out.undecided_live == [], f"provisional movements never decided or retracted: {out.undecided_live[:10]}")

    # every bad scan is in the dead-letter topic once, with its reason
    by_event = Counter((d.stage, d.context.get("event_id"), d.reason) for d in letters)
    for device, upload_id, index, reason in out.sent.scans:
        n = by_event[("ingest.scans", f"{device}/{upload_id}/{index}", reason)]
        check(n == 1, f"bad scan {upload_id}/{index} ({reason}) dead-lettered {n} times")
    # every broken frame or EPC is there with its reason and its bytes
    llrp = [d for d in letters if d.stage == "ingest.llrp"]
    for reader, reason, payload in out.sent.frames:
        check(any(d.source == reader and d.reason == reason and d.payload.startswith(payload) for d in llrp),
              f"no {reason} dead letter from {reader}")
    check(Counter(d.reason for d in llrp) == Counter(reason for _r, reason, _p in out.sent.frames),
          f"LLRP dead letters {Counter(d.reason for d in llrp)}, sent {Counter(r for _x, r, _p in out.sent.frames)}: "
          f"{[(d.reason, d.error[:200], d.context) for d in llrp]}")
    # uploads refused as a whole answer with the right status and publish nothing
    check([(e, g) for _u, e, g in out.sent.requests] == [(413, 413), (400, 400), (415, 415)],
          f"refused uploads (expected, got): {out.sent.requests}")
    refused = {u for u, _e, _g in out.sent.requests}
    check(not [d for d in letters if d.context.get("upload_id") in refused], "a refused upload was dead-lettered")
    check(not [s for s in scans if s.upload_id in refused], "a refused upload published scans")
    # and nothing else was dead-lettered: no good read or scan was turned away by a fault
    expected_letters = len(out.sent.scans) + len(out.sent.frames)
    check(len(letters) == expected_letters, f"{len(letters)} dead letters, {expected_letters} expected: "
          f"{[(d.stage, d.source, d.reason, d.error[:150]) for d in letters]}")
    assert problems == [], "\n".join(problems)
