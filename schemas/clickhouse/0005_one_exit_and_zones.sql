-- One story of leaving the building, and the site's zones.
--
-- Exit: an outbound portal crossing is THE shipping event at that door (bizStep shipping, disposition
-- in_transit, location the door); the item leaves on-hand inventory at once and no `departed` follows.
-- An item has left the site when its latest movement is a shipping/departing one (the processor's own
-- rule for "gone") or has no location; current_items then shows location NULL and `shipped_via` the door.
-- Histories written before this version hold the old pair for one exit: a movement to the door with
-- bizStep shipping, then 2 s later `departed` (location NULL, bizStep departing). movement_history hides
-- such a `departed` (the previous movement already is the exit), so every reader (history, where, EPCIS,
-- the demo) sees one exit event whichever processor wrote it; nothing stored is rewritten. It hides
-- likewise a movement that repeats the previous one's bizStep, disposition, read point and location
-- (older processors emitted such no-op state changes). For items whose stored state is such a hidden
-- `departed`, current_items reports its event id and time (item_current keeps only the latest movement).
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

-- THE history (replaces 0001's definition, same columns): the latest version of each movement, retracted
-- ones left out, minus the hidden rows described above. A filter on item_key still reads only that
-- item's range (ClickHouse pushes it below the window, which is partitioned by item_key).
CREATE OR REPLACE VIEW movement_history AS
SELECT event_id, item_key, scheme, epc_uri, gtin, serial, sscc, movement_type, from_location, to_location,
       read_point, biz_step, disposition, direction, action, anomaly, source_event_ids, event_time, recorded_at,
       ingested_at
FROM
(
    SELECT *,
           lagInFrame(toUInt8(1)) OVER item AS has_previous,
           lagInFrame(toString(biz_step)) OVER item AS previous_step,
           lagInFrame(toString(disposition)) OVER item AS previous_disposition,
           lagInFrame(toString(direction)) OVER item AS previous_direction,
           lagInFrame(ifNull(toString(read_point), '')) OVER item AS previous_read_point,
           lagInFrame(ifNull(toString(to_location), '')) OVER item AS previous_location
    FROM movements FINAL
    WHERE retracted = 0
    WINDOW item AS (PARTITION BY item_key ORDER BY event_time, event_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
)
WHERE NOT (has_previous = 1 AND (
    (movement_type = 'departed'
        AND (previous_step = 'shipping' OR (previous_direction = 'outbound' AND previous_location = ifNull(from_location, ''))))
    OR (toString(biz_step) = previous_step AND toString(disposition) = previous_disposition
        AND ifNull(toString(read_point), '') = previous_read_point AND ifNull(toString(to_location), '') = previous_location)));

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
