-- Events, not only movements: the history keeps every version of every decided event (event_log), lot and
-- expiry per movement, and the two inputs the EPCIS export joins to events: business transactions
-- (shipments, receipts) and item master data (lot/expiry from an import, a scan or commissioning).
--
-- `movements` gains lot and expiry (NULL for every row written before). The sink now inserts into
-- movements_ingest_v3 (the Movement schema with lot and expiry). As in 0004, a new ingest table and new
-- views rather than ALTER ... MODIFY QUERY on the old views (which broke crash deduplication in chdb 26.9).
-- Rolling upgrade: movements_ingest_v2 and its views are KEPT, unchanged. A sink not upgraded yet goes on
-- inserting there (Movement without lot/expiry) and its rows still reach movements, item_live and, since
-- event_log is fed from `movements` itself, event_log too. Drop v2 in a later migration once no sink
-- older than this version can run.
--
-- event_log: EVERY version of every decided event (a revision or retraction is one more row under the same
-- event_id, later recorded_at; retracted = 1 means "this event no longer holds"), never merged away: plain
-- MergeTree. It is what corrections (errorDeclaration) are built from, which `movements` (Replacing) cannot
-- give once merged. Fed by a view on `movements`, so whichever ingest table a row came through (v1, v2, v3)
-- it lands in both; a retried sink insert (same token) is dropped in both (deduplication window). Backfilled
-- below from every physical row of `movements` (the versions not merged away yet: older ones are gone).
-- event_type, parent_key and child_keys are there for AggregationEvent and TransactionEvent (next issues);
-- every row today is an ObjectEvent.
--
-- business_transactions and item_master: one row per record of the transactions and item-master topics,
-- the latest recorded_at per key kept once merged (ReplacingMergeTree); read them with FINAL. Their
-- constraints refuse records no reader could use (the sink dead-letters them, naming the constraint).
ALTER TABLE movements ADD COLUMN IF NOT EXISTS lot Nullable(String);

ALTER TABLE movements ADD COLUMN IF NOT EXISTS expiry Nullable(Date32);

CREATE TABLE IF NOT EXISTS movements_ingest_v3
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
    provisional Bool DEFAULT false,
    lot Nullable(String),
    expiry Nullable(Date32)
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS event_log
(
    event_id String,
    event_type LowCardinality(String) DEFAULT 'ObjectEvent',
    item_key String,
    scheme LowCardinality(String),
    epc_uri Nullable(String),
    gtin Nullable(String),
    serial Nullable(String),
    sscc Nullable(String),
    parent_key Nullable(String),
    child_keys Array(String),
    movement_type LowCardinality(String),
    from_location LowCardinality(Nullable(String)),
    to_location LowCardinality(Nullable(String)),
    read_point LowCardinality(Nullable(String)),
    biz_step LowCardinality(String),
    disposition LowCardinality(String),
    direction LowCardinality(String),
    action LowCardinality(String),
    anomaly LowCardinality(Nullable(String)),
    lot Nullable(String),
    expiry Nullable(Date32),
    source_event_ids Array(String),
    event_time DateTime64(6, 'UTC'),
    recorded_at DateTime64(6, 'UTC'),
    retracted UInt8,
    ingested_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (item_key, event_time, event_id, recorded_at)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 1024;

-- Created before the backfill, so a row a running sink inserts meanwhile is not missed; the backfill skips
-- the versions this view already wrote.
CREATE MATERIALIZED VIEW IF NOT EXISTS event_log_mv TO event_log AS
SELECT
    event_id,
    'ObjectEvent' AS event_type,
    item_key,
    scheme,
    epc_uri,
    gtin,
    serial,
    sscc,
    CAST(NULL, 'Nullable(String)') AS parent_key,
    CAST([], 'Array(String)') AS child_keys,
    movement_type,
    from_location,
    to_location,
    read_point,
    biz_step,
    disposition,
    direction,
    action,
    anomaly,
    lot,
    expiry,
    source_event_ids,
    event_time,
    recorded_at,
    retracted,
    ingested_at
FROM movements;

-- Every physical row of movements (no FINAL: every version not merged away yet). Repeatable: a version
-- (item, event, recorded_at) already in event_log (a run cut short, or written by the view above) is
-- skipped. On a cluster it fills the shard it runs on: run it on one replica of every shard.
INSERT INTO event_log
SELECT
    event_id, 'ObjectEvent', item_key, scheme, epc_uri, gtin, serial, sscc, NULL, [], movement_type,
    from_location, to_location, read_point, biz_step, disposition, direction, action, anomaly, lot, expiry,
    source_event_ids, event_time, recorded_at, retracted, ingested_at
FROM movements
WHERE (item_key, event_id, recorded_at) NOT IN (SELECT item_key, event_id, recorded_at FROM event_log);

CREATE MATERIALIZED VIEW IF NOT EXISTS movements_ingest_v3_mv TO movements AS
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
    now64(6) AS ingested_at,
    lot,
    expiry
FROM movements_ingest_v3
WHERE NOT provisional;

-- The same rows and version order as 0004's item_live_mv, from the new ingest table.
CREATE MATERIALIZED VIEW IF NOT EXISTS item_live_v3_mv TO item_live AS
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
FROM movements_ingest_v3
WHERE provisional;

-- THE history, as 0005 defines it (latest version per movement, retractions left out, a stored `departed`
-- after an exit hidden), with lot and expiry at the end (readers naming columns keep working).
CREATE OR REPLACE VIEW movement_history AS
SELECT event_id, item_key, scheme, epc_uri, gtin, serial, sscc, movement_type, from_location, to_location,
       read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time, recorded_at,
       ingested_at, lot, expiry
FROM movements FINAL
WHERE retracted = 0 AND item_key NOT IN (SELECT item_key FROM departed_items)
UNION ALL
SELECT event_id, item_key, scheme, epc_uri, gtin, serial, sscc, movement_type, from_location, to_location,
       read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time, recorded_at,
       ingested_at, lot, expiry
FROM
(
    SELECT *,
           lagInFrame((toUInt8(1), toString(biz_step), toString(direction), ifNull(toString(to_location), ''))) OVER item
               AS previous
    FROM movements FINAL
    WHERE retracted = 0 AND item_key IN (SELECT item_key FROM departed_items)
    WINDOW item AS (PARTITION BY item_key ORDER BY event_time, event_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE NOT (movement_type = 'departed' AND previous.1 = 1
           AND (previous.2 = 'shipping' OR (previous.3 = 'outbound' AND previous.4 = ifNull(from_location, ''))));

-- The transactions topic, record for record (Avro tagtrail.events.BusinessTransaction); the view stores it.
CREATE TABLE IF NOT EXISTS business_transactions_ingest
(
    event_id String,
    transaction_id String,
    type String,
    id String,
    direction String,
    location String,
    status String,
    opened_at DateTime64(6, 'UTC'),
    closed_at Nullable(DateTime64(6, 'UTC')),
    sources Array(Tuple(type String, id String)),
    destinations Array(Tuple(type String, id String)),
    ssccs Array(String),
    recorded_at DateTime64(6, 'UTC')
)
ENGINE = Null;

-- Every open, update and close of a shipment or receipt; the latest recorded_at per transaction is kept.
CREATE TABLE IF NOT EXISTS business_transactions
(
    transaction_id String,
    type LowCardinality(String),
    id String,
    direction LowCardinality(String),
    location LowCardinality(String),
    status LowCardinality(String),
    opened_at DateTime64(6, 'UTC'),
    closed_at Nullable(DateTime64(6, 'UTC')),
    sources Array(Tuple(type String, id String)),
    destinations Array(Tuple(type String, id String)),
    ssccs Array(String),
    recorded_at DateTime64(6, 'UTC'),
    event_id String,
    CONSTRAINT has_transaction_id CHECK transaction_id != '',
    CONSTRAINT known_direction CHECK direction IN ('outbound', 'inbound'),
    CONSTRAINT known_status CHECK status IN ('open', 'closed')
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY transaction_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS business_transactions_ingest_mv TO business_transactions AS
SELECT transaction_id, type, id, direction, location, status, opened_at, closed_at, sources, destinations, ssccs,
       recorded_at, event_id
FROM business_transactions_ingest;

-- The item-master topic, record for record (Avro tagtrail.events.ItemMaster); the view stores it.
CREATE TABLE IF NOT EXISTS item_master_ingest
(
    event_id String,
    item_key String,
    lot Nullable(String),
    expiry Nullable(Date32),
    source String,
    recorded_at DateTime64(6, 'UTC')
)
ENGINE = Null;

-- Lot and expiry per item as imported or captured; the latest recorded_at per item is kept.
CREATE TABLE IF NOT EXISTS item_master
(
    item_key String,
    lot Nullable(String),
    expiry Nullable(Date32),
    source LowCardinality(String),
    recorded_at DateTime64(6, 'UTC'),
    event_id String,
    CONSTRAINT has_item_key CHECK item_key != '',
    CONSTRAINT known_source CHECK source IN ('import', 'scan', 'commissioning')
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY item_key
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS item_master_ingest_mv TO item_master AS
SELECT item_key, lot, expiry, source, recorded_at, event_id
FROM item_master_ingest;
