-- Latest location and state per item, kept current on every insert. The version orders movements by
-- (event_time, event_id): a late event (older event_time) never replaces newer state, whatever order the
-- inserts arrive in, and ties resolve the same way every time. Read it with FINAL (the current_items view
-- does). ReplacingMergeTree rather than AggregatingMergeTree + argMaxState: same semantics, but measured
-- here it costs a fifth of the insert time and answers inventory queries ~25x faster (see README).
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
    version UInt128
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
    bitShiftLeft(toUInt128(toUnixTimestamp64Micro(event_time)), 64) + cityHash64(event_id) AS version
FROM movements;

-- When each item arrived where it is now: the latest movement that changed its location (state changes in
-- place do not count). Open visits for dwell time.
CREATE TABLE IF NOT EXISTS item_arrival
(
    item_key String,
    location LowCardinality(String),
    arrived_at DateTime64(6, 'UTC'),
    version UInt128
)
ENGINE = ReplacingMergeTree(version)
ORDER BY item_key
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS item_arrival_mv TO item_arrival AS
SELECT
    item_key,
    ifNull(to_location, '') AS location,
    event_time AS arrived_at,
    bitShiftLeft(toUInt128(toUnixTimestamp64Micro(event_time)), 64) + cityHash64(event_id) AS version
FROM movements
WHERE ifNull(to_location, '') != ifNull(from_location, '');

-- One row per item with its current state: what dashboards select from.
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
FROM item_current FINAL;
