-- The one model of an event's business context (event_transactions) and of an item's lot (item_lots): the
-- EPCIS export, `tagtrail where` and the shipment export all read these two views, nothing else decides it.
-- Plain views over 0007's tables (no data is copied, nothing to backfill): a transaction opened, updated or
-- closed later changes the context of the events it covers at the next read.
--
-- event_transactions: one row per (event version, transaction it belongs to). The matching rule:
--   * the event is a decided version that holds (event_log, retracted = 0; every version is matched on its
--     own time and places, so an original and its corrected version each get their own context);
--   * the transaction is in effect at the event's time: opened_at <= event_time < end, where end is
--     closed_at, or (a closed record without closed_at) its recorded_at, or never for an open one.
--     The window is half-open: an event AT closed_at is after the transaction;
--   * the event happened at the transaction's location: that location is the event's place
--     (coalesce(to_location, from_location): the door a crossing arrived at or left by) or the location of
--     the event's read point (site_read_points: a handheld at the door scanning an item bound elsewhere);
--   * the event goes the transaction's way:
--       outbound (a shipment): bizStep shipping, departing, loading, staging_outbound or packing, or the
--                              movement's direction is outbound;
--       inbound (a receipt):   bizStep receiving, arriving, accepting or unloading, or direction inbound.
--     So a storing or picking move at the door, or a receiving crossing at a door with only a shipment
--     open, carries no transaction. Several transactions in effect (a PO and its despatch advice) each
--     give a row; the export lists them all.
-- The latest record of each transaction counts (FINAL), and only that: a window moved later moves the
-- events it covers.
CREATE OR REPLACE VIEW event_transactions AS
SELECT
    e.event_id AS event_id,
    e.recorded_at AS recorded_at,
    e.item_key AS item_key,
    e.event_time AS event_time,
    t.transaction_id AS transaction_id,
    t.type AS type,
    t.id AS id,
    t.direction AS direction,
    t.location AS location,
    t.sources AS sources,
    t.destinations AS destinations,
    t.ssccs AS ssccs
FROM
(
    SELECT event_id, recorded_at, item_key, event_time, toString(biz_step) AS biz_step,
           toString(direction) AS direction, place
    FROM
    (
        SELECT log.event_id AS event_id, log.recorded_at AS recorded_at, log.item_key AS item_key,
               log.event_time AS event_time, log.biz_step AS biz_step, log.direction AS direction,
               arrayDistinct(arrayFilter(p -> p != '', [ifNull(toString(coalesce(log.to_location, log.from_location)), ''),
                                                        ifNull(points.location, '')])) AS places
        FROM event_log AS log
        LEFT JOIN (SELECT read_point, argMax(location, written_at) AS location FROM site_read_points GROUP BY read_point)
            AS points ON points.read_point = ifNull(toString(log.read_point), '')
        WHERE log.retracted = 0
    )
    ARRAY JOIN places AS place
) AS e
INNER JOIN
(
    SELECT transaction_id, type, id, direction, location, opened_at,
           if(closed_at IS NOT NULL, closed_at, if(status = 'closed', recorded_at, NULL)) AS ends,
           sources, destinations, ssccs
    FROM business_transactions FINAL
) AS t ON t.location = e.place
WHERE e.event_time >= t.opened_at AND (t.ends IS NULL OR e.event_time < t.ends)
  AND ((t.direction = 'outbound' AND (e.biz_step IN ('shipping', 'departing', 'loading', 'staging_outbound', 'packing')
                                      OR e.direction = 'outbound'))
    OR (t.direction = 'inbound' AND (e.biz_step IN ('receiving', 'arriving', 'accepting', 'unloading')
                                     OR e.direction = 'inbound')));

-- item_lots: one row per item whose lot or expiry is known, and only the known one counts:
--   * lot: item_master's lot (an import, or captured commissioning data) if it has one, else the first lot
--     the item's events carry (event_log, by event_time, then recorded_at); lot_source says which
--     (item_master's source, or 'scan');
--   * expiry: item_master's expiry, else the one carried with that first lot;
--   * conflicting_lot: the latest lot an event carried that is NOT the known lot (NULL when none): an item
--     scanned with a lot that disagrees with the one it is known by is an anomaly to show, never an
--     overwrite of the known lot.
-- Grouped by item_key with no join, so a filter on item_key reaches both tables' primary keys.
CREATE OR REPLACE VIEW item_lots AS
SELECT
    item_key,
    known_lot AS lot,
    if(master_expiry IS NOT NULL, master_expiry, scanned_expiry) AS expiry,
    multiIf(master_lot IS NOT NULL, master_source, scanned_lot IS NOT NULL, 'scan', master_source) AS lot_source,
    if(known_lot IS NULL, NULL, nullIf(arrayLast(x -> x.2 != '' AND x.2 != known_lot, scans).2, '')) AS conflicting_lot
FROM
(
    SELECT
        item_key,
        anyIf(lot, from_master = 1) AS master_lot,
        anyIf(expiry, from_master = 1) AS master_expiry,
        anyIf(source, from_master = 1) AS master_source,
        arraySort(x -> x.1, groupArrayIf((at, ifNull(lot, ''), expiry), from_master = 0)) AS scans,
        nullIf(scans[1].2, '') AS scanned_lot,
        scans[1].3 AS scanned_expiry,
        if(master_lot IS NOT NULL, master_lot, scanned_lot) AS known_lot
    FROM
    (
        SELECT item_key, lot, expiry, toString(source) AS source, (toDateTime64('1970-01-01', 6, 'UTC'), recorded_at) AS at,
               toUInt8(1) AS from_master
        FROM item_master FINAL
        WHERE lot IS NOT NULL OR expiry IS NOT NULL
        UNION ALL
        SELECT item_key, lot, expiry, 'scan' AS source, (event_time, recorded_at) AS at, toUInt8(0) AS from_master
        FROM event_log
        WHERE retracted = 0 AND lot IS NOT NULL
    )
    GROUP BY item_key
);
