-- A time-ordered access path to event_log, for exports by time range (tagtrail/history/event_versions.py).
--
-- event_log is ordered by item first (the per-item history reads one item's granules), so a range page
-- keyed on (event_time, event_id, item_key) could skip only whole monthly partitions: every page re-read
-- its month and a large export grew quadratic. The projection keeps a second copy of every row ordered by
-- the export's key; ClickHouse picks it for a query on that key when it reads fewer marks (a page reads
-- about one page of rows) and keeps the primary key for a query by item (it reads fewer marks there).
-- A projection, not a second table fed by a view: it is written in the same insert as its part, so it
-- never lags or diverges from event_log, and readers keep naming one table.
--
-- MATERIALIZE builds it for the rows stored before this migration (a mutation, waited for here, so the
-- first export after the migration already reads by time). Repeatable: the projection is added only if
-- missing, and materializing it again rebuilds it from the same rows.
-- A lightweight DELETE on event_log would now need lightweight_mutation_projection_mode; none is run (the
-- log is append-only).
ALTER TABLE event_log ADD PROJECTION IF NOT EXISTS event_log_by_time
(
    SELECT *
    ORDER BY event_time, event_id, item_key
);

ALTER TABLE event_log MATERIALIZE PROJECTION event_log_by_time SETTINGS mutations_sync = 2;
