-- Latest state per item, kept current on every insert, so inventory over all items reads one row per item
-- instead of the whole history. The version orders rows by (event_time, event_id, recorded_at): a late
-- event (older event_time) never replaces newer state whatever order inserts arrive in, ties resolve the
-- same way every time, and a newer version of the same movement (same event_id, later recorded_at)
-- replaces the older one. event_id enters the version by its first 8 bytes, big-endian, so the order is
-- the history's string order (ids are hashes: two movements of one item at the same microsecond sharing
-- 8 bytes do not happen). Retractions are stored too, flagged (retracted = 1): an item whose latest
-- movement was retracted has an older movement as its state, which this table cannot know; current_items
-- recomputes the items in retracted_items. Read it with FINAL (current_items does).
-- Location '' means "not on site / unknown".
CREATE TABLE IF NOT EXISTS item_current
(
    item_key String,
    epc_uri Nullable(String),
    location LowCardinality(String),
    disposition LowCardinality(String),
    biz_step LowCardinality(String),
    movement_type LowCardinality(String),
    read_point LowCardinality(String),
    event_id String,
    event_time DateTime64(6, 'UTC'),
    retracted UInt8,
    version UInt256
)
ENGINE = ReplacingMergeTree(version)
ORDER BY item_key
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS item_current_mv TO item_current AS
SELECT
    item_key,
    epc_uri,
    ifNull(to_location, '') AS location,
    disposition,
    biz_step,
    movement_type,
    ifNull(read_point, '') AS read_point,
    event_id,
    event_time,
    retracted,
    bitShiftLeft(toUInt256(toUnixTimestamp64Micro(event_time)), 128)
        + bitShiftLeft(toUInt256(reinterpretAsUInt64(reverse(rightPad(substring(event_id, 1, 8), 8, '\0')))), 64)
        + toUInt256(toUnixTimestamp64Micro(recorded_at)) AS version
FROM movements;

-- When each item arrived where it is now: the latest movement that changed its location (state changes in
-- place do not count). Open visits for dwell time. Retractions are left out; like location_flow it
-- follows first publications (see the README: exact unless late input revised a movement).
CREATE TABLE IF NOT EXISTS item_arrival
(
    item_key String,
    location LowCardinality(String),
    arrived_at DateTime64(6, 'UTC'),
    version UInt256
)
ENGINE = ReplacingMergeTree(version)
ORDER BY item_key
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS item_arrival_mv TO item_arrival AS
SELECT
    item_key,
    ifNull(to_location, '') AS location,
    event_time AS arrived_at,
    bitShiftLeft(toUInt256(toUnixTimestamp64Micro(event_time)), 128)
        + bitShiftLeft(toUInt256(reinterpretAsUInt64(reverse(rightPad(substring(event_id, 1, 8), 8, '\0')))), 64)
        + toUInt256(toUnixTimestamp64Micro(recorded_at)) AS version
FROM movements
WHERE retracted = 0 AND ifNull(to_location, '') != ifNull(from_location, '');

-- Items that ever had a movement retracted (a small set: late input that removes a movement is rare).
-- current_items recomputes their state from their history instead of trusting item_current.
CREATE TABLE IF NOT EXISTS retracted_items
(
    item_key String
)
ENGINE = ReplacingMergeTree
ORDER BY item_key
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS retracted_items_mv TO retracted_items AS
SELECT DISTINCT item_key
FROM movements
WHERE retracted = 1;

-- One row per item with its current state (the last movement of its history): what dashboards select
-- from. item_current is exact for items without retractions (updates replace by version). Items in
-- retracted_items are recomputed from their history: the latest version per event_id, retracted ones
-- left out (what movement_history gives), written out as an aggregation over just those items' rows
-- (PREWHERE on the sorting key) because movement_history's FINAL would merge every granule the items
-- touch (3x slower, measured with 1000 such items). Cost grows with the number of such items.
-- `retracted = 0` in the first branch covers the instant between a retraction reaching item_current and
-- its item reaching retracted_items (views of one insert are filled one after the other).
CREATE VIEW IF NOT EXISTS current_items AS
SELECT
    item_key,
    epc_uri,
    nullIf(location, '') AS location,
    disposition,
    biz_step,
    movement_type,
    nullIf(read_point, '') AS read_point,
    event_id AS last_event_id,
    event_time AS last_seen
FROM item_current FINAL
WHERE retracted = 0 AND item_key NOT IN (SELECT item_key FROM retracted_items)
UNION ALL
SELECT
    item_key,
    last.2 AS epc_uri,
    nullIf(ifNull(last.3, ''), '') AS location,
    last.4 AS disposition,
    last.5 AS biz_step,
    last.6 AS movement_type,
    nullIf(ifNull(last.7, ''), '') AS read_point,
    last.8 AS last_event_id,
    last.9 AS last_seen
FROM
(
    SELECT item_key, argMax(latest_version, (event_time, event_id)) AS last
    FROM
    (
        SELECT item_key, event_time, event_id,
               argMax((retracted, epc_uri, to_location, disposition, biz_step, movement_type, read_point, event_id, event_time),
                      recorded_at) AS latest_version
        FROM movements
        PREWHERE item_key IN (SELECT item_key FROM retracted_items)
        GROUP BY item_key, event_time, event_id
    )
    WHERE latest_version.1 = 0
    GROUP BY item_key
);
