-- Every published version of every movement, what `tagtrail history`, EPCIS export and dashboards read
-- (through the movement_history view below, never directly). The processor re-publishes a movement under
-- the same event_id (same event_time, later recorded_at) when a late event changes it, and retracts one
-- that no longer holds by re-publishing it with anomaly 'retracted: ...'. ReplacingMergeTree(recorded_at)
-- keeps the latest version per (item_key, event_time, event_id) once merged; reads use FINAL so they see
-- only that version before merges too. Ordered by item so one item's history is a single range read;
-- partitioned by month (all versions of a movement share its event_time, hence its partition). Granules
-- of 1024 rows: an item has ~10 rows, so per-item reads touch less than with the default 8192. The
-- deduplication window makes retried sink batches (same insert token) no-ops.
CREATE TABLE IF NOT EXISTS movements
(
    event_id String,
    item_key String,
    scheme LowCardinality(String),
    epc_uri Nullable(String),
    gtin Nullable(String),
    serial Nullable(String),
    sscc Nullable(String),
    movement_type LowCardinality(String),
    from_location LowCardinality(Nullable(String)),
    to_location LowCardinality(Nullable(String)),
    read_point LowCardinality(Nullable(String)),
    biz_step LowCardinality(String),
    disposition LowCardinality(String),
    direction LowCardinality(String),
    action LowCardinality(String),
    anomaly LowCardinality(Nullable(String)),
    source_event_ids Array(String),
    event_time DateTime64(6, 'UTC'),
    recorded_at DateTime64(6, 'UTC'),
    retracted UInt8 DEFAULT 0,
    ingested_at DateTime64(6, 'UTC') DEFAULT now64(6),
    CONSTRAINT known_action CHECK action IN ('ADD', 'OBSERVE', 'DELETE'),
    CONSTRAINT has_item_key CHECK item_key != ''
)
ENGINE = ReplacingMergeTree(recorded_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (item_key, event_time, event_id)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 1024;

-- The sink inserts Movement events exactly as they travel on Kafka (Avro, field for field) into this
-- table; ClickHouse decodes them, and the view below flattens them into `movements`. Null engine: it
-- stores nothing itself. A retraction is recognised by its anomaly text (the processor's contract: the
-- `tagtrail-retracted` Kafka header always comes with anomaly 'retracted: ...'; the sink stores values only).
CREATE TABLE IF NOT EXISTS movements_ingest
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
    source_event_ids Array(String)
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS movements_ingest_mv TO movements AS
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
FROM movements_ingest;

-- THE history: the latest version of each movement, retracted ones left out. Every query on movements
-- reads this view; a filter on item_key still reads only that item's range (ClickHouse pushes it into
-- the FINAL read).
CREATE VIEW IF NOT EXISTS movement_history AS
SELECT event_id, item_key, scheme, epc_uri, gtin, serial, sscc, movement_type, from_location, to_location,
       read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time, recorded_at,
       ingested_at
FROM movements FINAL
WHERE retracted = 0;

-- Smoothed observations kept for audit, dropped after site.sink.reads_ttl_days (the sink sets the TTL
-- at start). No topic feeds it yet: it stays empty until the processor publishes observations.
CREATE TABLE IF NOT EXISTS reads
(
    event_id String,
    item_key String,
    read_point LowCardinality(String),
    reader_id LowCardinality(String),
    antenna_id UInt16,
    first_seen DateTime64(6, 'UTC'),
    last_seen DateTime64(6, 'UTC'),
    peak_rssi_dbm Nullable(Float32),
    seen_count UInt32,
    ingested_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(first_seen)
ORDER BY (item_key, first_seen)
TTL toDateTime(first_seen) + INTERVAL 30 DAY DELETE
SETTINGS non_replicated_deduplication_window = 10000;
