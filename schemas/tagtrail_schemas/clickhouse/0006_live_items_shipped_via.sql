-- Live mode tells the same exit story as the decided state (0005): `live_items` gains current_items' `zone`
-- and `shipped_via`, so `where --live` on a shipped item says which door it left by instead of showing
-- location NULL. A provisional movement is never an exit (its direction is unknown until the crossing is
-- decided): where it is the newer row, the item is being read at its location (zone from the site file) and
-- `shipped_via` is NULL. Otherwise the row is the item's current_items row, as before.
--
-- A plain view, replaced with the same columns plus two at the end (readers naming columns keep working);
-- no materialized view is touched (see 0004).
CREATE OR REPLACE VIEW live_items AS
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
    toUInt8(newer) AS provisional,
    if(newer, nullIf(zones.zone, ''), c_zone) AS zone,
    if(newer, NULL, c_shipped_via) AS shipped_via
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
           c.zone AS c_zone, c.shipped_via AS c_shipped_via,
           l.event_id != '' AND (c.last_event_id = '' OR (l.event_time, l.event_id) > (c.last_seen, c.last_event_id)) AS newer
    FROM current_items AS c
    FULL OUTER JOIN (SELECT * FROM item_live FINAL WHERE retracted = 0) AS l USING (item_key)
) AS live
LEFT JOIN (SELECT location, argMax(zone, written_at) AS zone FROM site_locations GROUP BY location) AS zones
    ON zones.location = ifNull(live.l_location, '');
