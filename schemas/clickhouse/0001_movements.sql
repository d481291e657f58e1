-- The movement history: one row per movement, what `tagtrail history`, EPCIS export and dashboards read.
-- Ordered by item so one item's history is a single range read; partitioned by month so old months can be
-- moved or dropped whole. The deduplication window makes retried sink batches (same insert token) no-ops.
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
    ingested_at DateTime64(6, 'UTC') DEFAULT now64(6),
    CONSTRAINT known_action CHECK action IN ('ADD', 'OBSERVE', 'DELETE'),
    CONSTRAINT has_item_key CHECK item_key != ''
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (item_key, event_time, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- The sink inserts Movement events exactly as they travel on Kafka (Avro, field for field) into this
-- table; ClickHouse decodes them, and the view below flattens them into `movements`. Null engine: it
-- stores nothing itself.
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
    now64(6) AS ingested_at
FROM movements_ingest;

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
