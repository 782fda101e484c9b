-- The due index's predicate as three comparisons instead of an `IN` list. SQLite evaluates a
-- partial index's predicate for every row a statement writes, and codes an `IN` list of more
-- than two constants with an ephemeral table built anew at each evaluation: a temporary b-tree
-- created, filled and dropped for every delivery row inserted and twice for every outcome
-- recorded (the row before and after), a quarter of the writer's time while it records
-- outcomes (profiled). The comparisons cost three string compares. SQLite uses a partial index
-- only for a query whose WHERE contains its predicate as written, so the queries that read the
-- unfinished rows say it the same way (`state = 'pending' OR state = 'retrying' OR
-- state = 'in_flight'`, in that order).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (run_at, notification_id)
    WHERE state = 'pending' OR state = 'retrying' OR state = 'in_flight';
