-- Claims take due rows in (run_at, notification_id) order: the rows of one rendered notification
-- (a group message's recipients with equal badges) come out of a claim together, so a worker
-- sends them as one dispatch, which the router batches per channel, instead of a few rows per
-- dispatch. The index serves that order, so a claim still reads only the rows it takes.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (run_at, notification_id)
    WHERE state IN ('pending', 'retrying', 'in_flight');

-- The unique key (message_id, user_id, device_id) already serves lookups by message (status,
-- cascading deletes); a second index on message_id only cost every accepted row an insert.
DROP INDEX deliveries_message;
