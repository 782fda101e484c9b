-- The due index ends with the row's id, so a position in the claim order (run_at,
-- notification_id, id) is one key of the index: a claim starts its walk there (a row
-- comparison in its Index Cond) instead of at the index's first entry, skipping the entries
-- earlier claims left behind, which a transaction held open elsewhere keeps from being removed
-- (src/store/postgres/claim_start.rs). With two columns, the rows of one group message (one
-- run_at, one notification) were one key and the walk could not start inside them.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON outbox (run_at, notification_id, id)
    WHERE state IN ('pending', 'retrying', 'in_flight');
