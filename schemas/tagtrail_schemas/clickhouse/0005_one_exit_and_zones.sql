-- One story of leaving the building, and the site's zones.
--
-- Exit: an outbound portal crossing is THE shipping event at that door (bizStep shipping, disposition
-- in_transit, location the door); the item leaves on-hand inventory at once and no `departed` follows.
-- An item has left the site when its latest movement is a shipping/departing one (the processor's own
-- rule for "gone") or has no location; current_items then shows location NULL and `shipped_via` the door.
-- Histories written before this version hold the old pair for one exit: a movement to the door with
-- bizStep shipping, then 2 s later `departed` (location NULL, bizStep departing). movement_history hides
-- such a `departed` (the previous movement already is the exit), so every reader (history, where, EPCIS,
-- the demo) sees one exit event whichever processor wrote it; nothing stored is rewritten. For items
-- whose stored state is such a hidden `departed`, current_items reports its event id and time
-- (item_current keeps only the latest movement). No-op movements older processors stored (same bizStep,
-- disposition, read point and location as the previous one) stay as stored: they change no answer.
--
-- Zones: the site file gives each read point a zone; a location's zone is the zone of its read points.
-- The sink (and `tagtrail migrate --site`) writes both to the two small tables below at start
-- (tagtrail/history/site_dimension.py), so views join them instead of each movement carrying a zone:
-- a zone changed in the site file then applies to the whole history, and the Movement schema and the
-- processor stay as they are. Rows are replaced per key (latest written_at); a read point removed from
-- the site file keeps its last row, because stored history still names it.
--
-- Plain views only are replaced here (CREATE OR REPLACE VIEW): materialized views stay untouched, since
-- ALTER ... MODIFY QUERY on them broke crash deduplication in chdb 26.9 (see 0004).
CREATE TABLE IF NOT EXISTS site_read_points
(
    read_point String,
    location String,
    zone String,
    kind LowCardinality(String),
    written_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY read_point;

CREATE TABLE IF NOT EXISTS site_locations
(
    location String,
    zone String,
    written_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY location;

-- Items with a stored `departed` (histories from older processors: the new one publishes none). Only
-- their histories need the look back at the previous movement, so the other items' rows are read as
-- before (a window over all rows would cost a sort of the whole table on every full read). Filled on
-- insert and, for rows stored before this version, once by the INSERT below (repeatable: a set; on a
-- cluster it fills the shard it runs on: run it on one replica of every shard).
CREATE TABLE IF NOT EXISTS departed_items
(
    item_key String
)
ENGINE = ReplacingMergeTree
ORDER BY item_key
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS departed_items_mv TO departed_items AS
SELECT DISTINCT item_key
FROM movements
WHERE movement_type = 'departed';

INSERT INTO departed_items SELECT DISTINCT item_key FROM movements WHERE movement_type = 'departed';

-- THE history (replaces 0001's definition, same columns): the latest version of each movement, retracted
-- ones left out, and a stored `departed` hidden where the movement before it already is the exit (a
-- shipping movement, or an outbound crossing into the door it departs from). A filter on item_key still
-- reads only that item's range in both branches (the window is partitioned by item_key).
CREATE OR REPLACE VIEW movement_history AS
SELECT event_id, item_key, scheme, epc_uri, gtin, serial, sscc, movement_type, from_location, to_location,
       read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time, recorded_at,
       ingested_at
FROM movements FINAL
WHERE retracted = 0 AND item_key NOT IN (SELECT item_key FROM departed_items)
UNION ALL
SELECT event_id, item_key, scheme, epc_uri, gtin, serial, sscc, movement_type, from_location, to_location,
       read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time, recorded_at,
       ingested_at
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

-- Each item's latest movement, as 0002's current_items computed it (exact under updates and retractions).
CREATE VIEW IF NOT EXISTS item_latest AS
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

-- One row per item with its current state: what dashboards select from, THE answer to "what is in the
-- building" (location IS NOT NULL). An item that left the site has location and zone NULL and
-- `shipped_via` the location it left by (a stored `departed` has no location: its read point's).
CREATE OR REPLACE VIEW current_items AS
SELECT
    latest.item_key AS item_key,
    latest.epc_uri AS epc_uri,
    if(latest.gone, NULL, latest.location) AS location,
    if(latest.gone, NULL, nullIf(zones.zone, '')) AS zone,
    latest.disposition AS disposition,
    latest.biz_step AS biz_step,
    latest.movement_type AS movement_type,
    latest.read_point AS read_point,
    latest.last_event_id AS last_event_id,
    latest.last_seen AS last_seen,
    if(latest.shipped, coalesce(latest.location, nullIf(points.location, ''), latest.read_point), NULL) AS shipped_via
FROM
(
    SELECT *,
           toString(biz_step) IN ('shipping', 'departing') OR toString(movement_type) = 'departed' AS shipped,
           shipped OR location IS NULL AS gone
    FROM item_latest
) AS latest
LEFT JOIN (SELECT location, argMax(zone, written_at) AS zone FROM site_locations GROUP BY location) AS zones
    ON zones.location = ifNull(latest.location, '')
LEFT JOIN (SELECT read_point, argMax(location, written_at) AS location FROM site_read_points GROUP BY read_point) AS points
    ON points.read_point = ifNull(latest.read_point, '');

-- A shipped item's exit from its door, for the flows and dwell: location_flow counts a departure only
-- where the location changes, so the shipping event (which leaves the item at the door's location) never
-- departs from the door. Each outbound crossing adds one departure here at its time; a `departed` that an
-- older processor still publishes after it (already counted by location_flow) subtracts its own, so one
-- exit is one departure whichever processor wrote it. Rows stored before this version need nothing: their
-- `departed` is their departure. Read together with location_flow (tagtrail/history/queries.py).
CREATE TABLE IF NOT EXISTS location_exits
(
    location LowCardinality(String),
    hour DateTime('UTC'),
    exits Int64,
    exit_us_sum Int64
)
ENGINE = SummingMergeTree
ORDER BY (location, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS location_exits_mv TO location_exits AS
SELECT
    if(movement_type = 'departed', ifNull(from_location, ''), ifNull(to_location, '')) AS location,
    toStartOfHour(event_time) AS hour,
    sum(if(movement_type = 'departed', -1, 1)) AS exits,
    sum(if(movement_type = 'departed', -1, 1) * toUnixTimestamp64Micro(event_time)) AS exit_us_sum
FROM movements
WHERE retracted = 0 AND direction = 'outbound' AND location != ''
GROUP BY location, hour;
