-- Arrivals into and departures from each location per hour, with the sums of their times. Running sums
-- give the net item count per location at any hour boundary, and with item_arrival the dwell time per
-- location: each completed visit adds (departure time - arrival time), so sums suffice and late events
-- land correctly whatever order they arrive in. State changes in place are neither. Retractions are left
-- out, but a table fed on insert cannot take back an earlier version's counts: this and moves_hourly count
-- every published version that is not a retraction, which is exact unless late input revised a movement
-- (see the README).
CREATE TABLE IF NOT EXISTS location_flow
(
    location LowCardinality(String),
    hour DateTime('UTC'),
    arrivals UInt64,
    departures UInt64,
    arrival_us_sum Int64,
    departure_us_sum Int64
)
ENGINE = SummingMergeTree
ORDER BY (location, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS location_flow_mv TO location_flow AS
SELECT
    step.1 AS location,
    toStartOfHour(event_time) AS hour,
    toUInt64(sum(step.2)) AS arrivals,
    toUInt64(sum(step.3)) AS departures,
    toInt64(sumIf(toUnixTimestamp64Micro(event_time), step.2 = 1)) AS arrival_us_sum,
    toInt64(sumIf(toUnixTimestamp64Micro(event_time), step.3 = 1)) AS departure_us_sum
FROM movements
ARRAY JOIN arrayFilter(
    s -> s.1 != '' AND ifNull(to_location, '') != ifNull(from_location, ''),
    [(ifNull(to_location, ''), 1, 0), (ifNull(from_location, ''), 0, 1)]) AS step
WHERE retracted = 0
GROUP BY location, hour;

-- Moves per hour by location, read point and direction: dock door throughput (direction is set only
-- at portal read points, i.e. dock doors).
CREATE TABLE IF NOT EXISTS moves_hourly
(
    hour DateTime('UTC'),
    location LowCardinality(String),
    read_point LowCardinality(String),
    direction LowCardinality(String),
    movement_type LowCardinality(String),
    moves UInt64
)
ENGINE = SummingMergeTree
ORDER BY (hour, location, read_point, direction, movement_type)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS moves_hourly_mv TO moves_hourly AS
SELECT
    toStartOfHour(event_time) AS hour,
    coalesce(to_location, from_location, '') AS location,
    ifNull(read_point, '') AS read_point,
    direction,
    movement_type,
    toUInt64(count()) AS moves
FROM movements
WHERE retracted = 0
GROUP BY hour, location, read_point, direction, movement_type;
