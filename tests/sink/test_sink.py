"""The sink stores every committed movement exactly once and reports what it cannot store."""

from __future__ import annotations

import msgspec
import pytest

from tagtrail.events import Identity, TagRead
from tagtrail.history import queries
from tagtrail.wire import Codec
from tagtrail_processors.sink.offset_checkpoint import after_offsets, before_offsets
from tagtrail_processors.sink.writer import MovementWriter
from tests.sink.helpers import (
    MOVEMENTS,
    SinkThread,
    committed_lag,
    count,
    movement,
    produce,
    produce_movements,
    read_as_the_sink,
    read_dead_letters,
    site_for,
    wait_until,
)

pytestmark = pytest.mark.kafka


def test_a_backlog_is_drained_in_fewer_larger_inserts(kafka, clickhouse_target, clickhouse):
    """After an outage the sink reads a backlog: batches grow to catch_up_batch_rows, still exactly once."""
    backlog = [movement(i, item=i % 500) for i in range(6000)]
    produce_movements(kafka, backlog)  # 3 partitions, ~2000 each, before the sink starts
    site = site_for(kafka, clickhouse_target.settings, batch_rows=250, batch_seconds=0.2, catch_up_batch_rows=2500)
    with SinkThread(site, kafka, clickhouse):
        wait_until(lambda: committed_lag(kafka) == 0, 60, "backlog stored and committed")
    assert count(clickhouse, "SELECT count() FROM movements") == len(backlog)
    assert count(clickhouse, "SELECT uniqExact(event_id) FROM movements") == len(backlog)
    inserts = count(clickhouse, "SELECT uniqExact(ingested_at) FROM movements")  # now64() is one value per insert
    # at batch_rows alone 24 or more inserts; catching up, about one per partition (a fetch may split one)
    assert inserts <= 3 * kafka.partitions, inserts


def test_movements_stored_once_with_views_and_bad_messages_dead_lettered(kafka, clickhouse_target, clickhouse):
    good = [movement(i, item=i % 300) for i in range(3000)]
    bogus_action = movement(90001, action="BOGUS")  # valid Avro, refused by the movements table's constraint
    truncated = MOVEMENTS.encode(movement(90002))[:-9]
    tag_read = Codec("TagRead").encode(TagRead(
        event_id="r1", reader_id="door-1", antenna_id=1, read_point="door-1-inner", epc_hex="30",
        identity=Identity(item_key="epc/30", scheme="unknown"), first_seen=1, last_seen=1, reader_first_seen=1, received_at=1))
    produce_movements(kafka, good[:1500])
    produce(kafka, [(b"bad", b"not avro at all"), (b"01/x", truncated), (b"epc/30", tag_read),
                    (bogus_action.identity.item_key.encode(), MOVEMENTS.encode(bogus_action))])
    produce_movements(kafka, good[1500:])

    with SinkThread(site_for(kafka, clickhouse_target.settings), kafka, clickhouse):
        wait_until(lambda: count(clickhouse, "SELECT count() FROM movements") >= len(good), 60, "all movements stored")
        wait_until(lambda: committed_lag(kafka) == 0, 30, "offsets committed")

    stored = clickhouse.query("SELECT event_id, count() FROM movements GROUP BY event_id").result_rows
    assert sorted(e for e, _ in stored) == sorted(m.event_id for m in good)
    assert all(n == 1 for _, n in stored)
    # views kept current on insert: 300 items, the latest movement of each wins
    assert count(clickhouse, "SELECT count() FROM current_items") == 300
    names, rows = queries.where_is(clickhouse, good[-1].identity.item_key)
    assert dict(zip(names, rows[0]))["last_event_id"] == good[-1].event_id
    assert count(clickhouse, "SELECT sum(moves) FROM moves_hourly") == len(good)

    letters = read_dead_letters(kafka, expected=4)
    by_offset_payload = {bytes(dl.payload): dl for dl in letters}
    assert len(letters) == 4
    assert {dl.stage for dl in letters} == {"sink"}
    assert by_offset_payload[b"not avro at all"].reason == "undecodable"
    assert by_offset_payload[truncated].reason == "undecodable"
    assert by_offset_payload[tag_read].reason == "undecodable"
    refused = by_offset_payload[MOVEMENTS.encode(bogus_action)]
    assert refused.reason == "rejected_by_clickhouse"
    assert "known_action" in refused.error and "469" in refused.error
    assert refused.context["topic"] == kafka.topics.movements and refused.context["offset"].isdigit()


def test_pending_batch_replayed_after_crash_is_not_duplicated(kafka, clickhouse_target, clickhouse):
    """The state a crash leaves behind: BEFORE committed, the batch inserted, AFTER not committed."""
    from tagtrail.history.migrations import migrate

    migrate(clickhouse)
    produce_movements(kafka, [movement(i) for i in range(500)])
    consumer, batches = read_as_the_sink(kafka, 500, per_partition=120)
    consumer.commit(offsets=before_offsets([[b] for b in batches]), asynchronous=False)
    writer = MovementWriter(clickhouse, wait=lambda s: True, backoff=lambda a: 0.1)
    for b in batches:
        writer.write(b)
    consumer.close()
    written = sum(len(b.records) for b in batches)
    assert count(clickhouse, "SELECT count() FROM movements") == written

    restart_and_check_every_movement_stored_once(kafka, clickhouse_target, clickhouse, 500)


def restart_and_check_every_movement_stored_once(kafka, clickhouse_target, clickhouse, produced: int) -> None:
    """The sink restarted on a crash state: once it has caught up, every movement is in the table
    and in the views exactly once."""
    with SinkThread(site_for(kafka, clickhouse_target.settings, batch_rows=50), kafka, clickhouse):
        wait_until(lambda: committed_lag(kafka) == 0, 60, "offsets committed")
    assert count(clickhouse, "SELECT count() FROM movements") == produced
    assert count(clickhouse, "SELECT uniqExact(event_id) FROM movements") == produced
    assert count(clickhouse, "SELECT sum(moves) FROM moves_hourly") == produced
    assert count(clickhouse, "SELECT sum(arrivals) FROM location_flow") == produced


@pytest.mark.parametrize(("pending", "landed"), [("all", False), ("all", True), ("one", True)])
def test_pending_group_insert_replayed_after_crash_is_stored_once(kafka, clickhouse_target, clickhouse, pending, landed):
    """A crash during a group insert (one insert for several partitions' batches). "one": the other
    members' owners already replayed the group and committed; this sink rebuilds it from Kafka
    anyway (reading partitions it may not own) and ClickHouse keeps one copy."""
    from tagtrail.history.migrations import migrate

    migrate(clickhouse)
    produce_movements(kafka, [movement(i) for i in range(600)])
    consumer, group = read_as_the_sink(kafka, 600, per_partition=150)
    assert len(group) > 1
    consumer.commit(offsets=before_offsets([group]), asynchronous=False)
    if pending == "one":
        consumer.commit(offsets=after_offsets(group[1:]), asynchronous=False)
    written = sum(len(b.records) for b in group)
    if landed:
        MovementWriter(clickhouse, wait=lambda s: True, backoff=lambda a: 0.1).write_group(group)
        assert count(clickhouse, "SELECT count() FROM movements") == written
    consumer.close()

    restart_and_check_every_movement_stored_once(kafka, clickhouse_target, clickhouse, 600)


def test_late_event_does_not_overwrite_newer_state(kafka, clickhouse_target, clickhouse):
    key_item = 7
    newer = movement(100, item=key_item, to="pack-station-1", frm="storage-a", biz_step="packing", disposition="in_progress")
    late = movement(50, item=key_item, to="pick-face-1", frm="storage-a", biz_step="picking", disposition="in_progress")
    produce_movements(kafka, [newer])
    with SinkThread(site_for(kafka, clickhouse_target.settings), kafka, clickhouse):
        wait_until(lambda: count(clickhouse, "SELECT count() FROM movements") == 1, 30, "first movement")
        produce_movements(kafka, [late])
        wait_until(lambda: count(clickhouse, "SELECT count() FROM movements") == 2, 30, "late movement")

    item_key = newer.identity.item_key
    names, rows = queries.where_is(clickhouse, item_key)
    now = dict(zip(names, rows[0]))
    assert (now["location"], now["biz_step"], now["last_event_id"]) == ("pack-station-1", "packing", newer.event_id)
    names, rows = queries.history(clickhouse, item_key)
    assert [dict(zip(names, r))["event_id"] for r in rows] == [late.event_id, newer.event_id]


def test_settings_that_break_batch_boundaries_are_refused(kafka, clickhouse_target, clickhouse):
    import threading

    from tagtrail_processors.sink.sink_service import run_sink

    with pytest.raises(ValueError, match="batch_rows"):
        run_sink(site_for(kafka, clickhouse_target.settings, batch_rows=2_000_000), kafka, clickhouse, stop=threading.Event())


def test_provisional_movements_show_live_and_never_enter_the_history(kafka, clickhouse_target, clickhouse):
    """Live mode through the sink: a provisional arrival is visible in live_items at once; the history, the
    state and the hourly flows hold decided movements only; the decided version replaces the provisional
    one; a retracted provisional movement no longer shows."""
    stored = movement(1, item=1, to="storage-a")  # item 1 sits in storage-a, decided
    early = movement(2, item=1, frm="storage-a", to="dock-door-1", biz_step="arriving", disposition="unknown",
                     direction="unknown", provisional=True)
    wrong = movement(3, item=2, to="dock-door-2", biz_step="arriving", disposition="unknown", provisional=True)
    produce_movements(kafka, [stored, early, wrong])
    with SinkThread(site_for(kafka, clickhouse_target.settings, batch_seconds=0.2), kafka, clickhouse):
        wait_until(lambda: committed_lag(kafka) == 0, 30, "provisional movements stored")
        live = {r[0]: r[1:] for r in clickhouse.query(
            "SELECT item_key, location, biz_step, provisional FROM live_items").result_rows}
        assert live == {stored.identity.item_key: ("dock-door-1", "arriving", 1),
                        wrong.identity.item_key: ("dock-door-2", "arriving", 1)}
        assert [r[0] for r in clickhouse.query("SELECT event_id FROM movement_history").result_rows] == [stored.event_id]
        assert count(clickhouse, "SELECT sum(arrivals) FROM location_flow") == 1
        names, rows = queries.where_is(clickhouse, stored.identity.item_key)
        assert dict(zip(names, rows[0]))["location"] == "storage-a"  # the decided state

        decided = msgspec.structs.replace(early, biz_step="receiving", disposition="in_progress", direction="inbound",
                                          recorded_at=early.recorded_at + 5_000_000, provisional=False)
        retraction = msgspec.structs.replace(wrong, anomaly="retracted: superseded by late input",
                                             recorded_at=wrong.recorded_at + 5_000_000)
        produce_movements(kafka, [decided, retraction])
        wait_until(lambda: committed_lag(kafka) == 0, 30, "decided movement stored")
    live = {r[0]: r[1:] for r in clickhouse.query(
        "SELECT item_key, location, biz_step, provisional FROM live_items").result_rows}
    assert live == {stored.identity.item_key: ("dock-door-1", "receiving", 0)}
    assert [r[0] for r in clickhouse.query("SELECT event_id FROM movement_history ORDER BY event_time").result_rows] == [
        stored.event_id, decided.event_id]
    assert count(clickhouse, "SELECT sum(arrivals) FROM location_flow") == 2
    assert count(clickhouse, "SELECT sum(moves) FROM moves_hourly") == 2
