-- Live mode (processing.provisional_movements): the processor publishes where an item is being read as soon as
-- the location contest is settled, before the movement is decided (a portal crossing is decided only once the
-- item left both antennas' fields plus the smoothing window). Such provisional movements are not history:
-- the decided movement replaces one (same event_id) or a retraction takes it back. So they are kept apart:
-- `movements` and everything fed from it (item_current, the hourly flows) hold decided movements only, as
-- before, and `item_live` holds each item's latest provisional movement. `live_items` answers "where is it
-- being read now": the decided state, or the provisional one where that is newer.
--
-- The sink inserts into movements_ingest_v2 (the Movement schema with `provisional`). A new ingest table and
-- new views rather than ALTER ... MODIFY QUERY on the 0001 views: with chdb 26.9, an insert killed midway
-- and replayed with the same deduplication token was counted twice (or lost) in the views below a modified
-- view (tests/sink/test_crash.py failed 4 of 6 runs; fresh views pass). It also keeps a rolling upgrade
-- safe: sinks not upgraded yet go on inserting into movements_ingest, whose view still feeds movements.
CREATE TABLE IF NOT EXISTS movements_ingest_v2
(
    event_id String,
    identity Tuple(
        item_key String,
        scheme String,
        epc_uri Nullable(String),
        gtin Nullable(String),
        serial Nullable(String),
        sscc Nullable(String)),
    movement_type String,
    from_location Nullable(String),
    to_location Nullable(String),
    read_point Nullable(String),
    biz_step String,
    disposition String,
    direction String,
    action String,
    event_time DateTime64(6, 'UTC'),
    recorded_at DateTime64(6, 'UTC'),
    anomaly Nullable(String),
    source_event_ids Array(String),
    provisional Bool DEFAULT false
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS movements_ingest_v2_mv TO movements AS
SELECT
    event_id,
    identity.item_key AS item_key,
    identity.scheme AS scheme,
    identity.epc_uri AS epc_uri,
    identity.gtin AS gtin,
    identity.serial AS serial,
    identity.sscc AS sscc,
    movement_type,
    from_location,
    to_location,
    read_point,
    biz_step,
    disposition,
    direction,
    action,
    anomaly,
    source_event_ids,
    event_time,
    recorded_at,
    toUInt8(startsWith(ifNull(anomaly, ''), 'retracted:')) AS retracted,
    now64(6) AS ingested_at
FROM movements_ingest_v2
WHERE NOT provisional;

CREATE TABLE IF NOT EXISTS item_live
(
    item_key String,
    epc_uri Nullable(String),
    location LowCardinality(String),
    read_point LowCardinality(String),
    biz_step LowCardinality(String),
    disposition LowCardinality(String),
    direction LowCardinality(String),
    movement_type LowCardinality(String),
    event_id String,
    event_time DateTime64(6, 'UTC'),
    recorded_at DateTime64(6, 'UTC'),
    retracted UInt8,
    ingested_at DateTime64(6, 'UTC') DEFAULT now64(6),
    version UInt256
)
ENGINE = ReplacingMergeTree(version)
ORDER BY item_key
SETTINGS non_replicated_deduplication_window = 10000;

-- The same version order as item_current: a later movement wins, and a newer version (the retraction of a
-- provisional movement) replaces an older one of the same event_id.
CREATE MATERIALIZED VIEW IF NOT EXISTS item_live_mv TO item_live AS
SELECT
    identity.item_key AS item_key,
    identity.epc_uri AS epc_uri,
    ifNull(to_location, '') AS location,
    ifNull(read_point, '') AS read_point,
    biz_step,
    disposition,
    direction,
    movement_type,
    event_id,
    event_time,
    recorded_at,
    toUInt8(startsWith(ifNull(anomaly, ''), 'retracted:')) AS retracted,
    now64(6) AS ingested_at,
    bitShiftLeft(toUInt256(toUnixTimestamp64Micro(event_time)), 128)
        + bitShiftLeft(toUInt256(reinterpretAsUInt64(reverse(rightPad(substring(event_id, 1, 8), 8, '\0')))), 64)
        + toUInt256(toUnixTimestamp64Micro(recorded_at)) AS version
FROM movements_ingest_v2
WHERE provisional;

-- One row per item: its current_items row, or its provisional movement where that is later than the decided
-- state (`provisional` = 1). A decided movement shares its provisional version's event_id and time, so once
-- it lands the decided row is shown. A retracted provisional movement hides nothing.
CREATE VIEW IF NOT EXISTS live_items AS
SELECT
    item_key,
    if(newer, l_epc_uri, c_epc_uri) AS epc_uri,
    if(newer, l_location, c_location) AS location,
    if(newer, l_disposition, c_disposition) AS disposition,
    if(newer, l_biz_step, c_biz_step) AS biz_step,
    if(newer, l_movement_type, c_movement_type) AS movement_type,
    if(newer, l_read_point, c_read_point) AS read_point,
    if(newer, l_last_event_id, c_last_event_id) AS last_event_id,
    if(newer, l_last_seen, c_last_seen) AS last_seen,
    toUInt8(newer) AS provisional
FROM
(
    SELECT item_key,
           c.epc_uri AS c_epc_uri, l.epc_uri AS l_epc_uri,
           c.location AS c_location, nullIf(l.location, '') AS l_location,
           c.disposition AS c_disposition, l.disposition AS l_disposition,
           c.biz_step AS c_biz_step, l.biz_step AS l_biz_step,
           c.movement_type AS c_movement_type, l.movement_type AS l_movement_type,
           c.read_point AS c_read_point, nullIf(l.read_point, '') AS l_read_point,
           c.last_event_id AS c_last_event_id, l.event_id AS l_last_event_id,
           c.last_seen AS c_last_seen, l.event_time AS l_last_seen,
           l.event_id != '' AND (c.last_event_id = '' OR (l.event_time, l.event_id) > (c.last_seen, c.last_event_id)) AS newer
    FROM current_items AS c
    FULL OUTER JOIN (SELECT * FROM item_live FINAL WHERE retracted = 0) AS l USING (item_key)
);
