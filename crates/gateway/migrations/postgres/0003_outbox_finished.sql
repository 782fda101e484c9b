-- The hot outbox stays small (issue 16): finished rows (delivered, failed, dead) move out of
-- it, in the transaction that records their outcome, into `outbox_finished`, kept there for
-- the status API, the dead letters and the console until the message is pruned.
--
-- Why: every claim and outcome writes a new version of its row. Postgres can reclaim the old
-- versions only once no transaction could still see them, so while another session holds a
-- long transaction open the table and its indexes grow with every claim; with finished rows
-- kept in place the table also grows with everything ever delivered, and each page the claim
-- visits is full of rows it will never take. Out here, the hot table holds only rows that can
-- still be claimed or acked (pending, retrying, in flight, queued for a daemon device).
--
-- `deliveries` becomes a view over both tables (UNION ALL: a row is in exactly one of them,
-- moved within one transaction), so every read of a message's deliveries sees each row once.
-- Writes name the table they mean: `outbox` for claims, leases and outcomes, `outbox_finished`
-- for replays of dead letters and pruning.

ALTER TABLE deliveries RENAME TO outbox;

-- The same columns, in the same order (the view is `SELECT *` of both). No identity: the id
-- moves with the row, and a replayed dead letter moves back under it. No foreign key to
-- messages: its check would cost every finished row a lookup and a lock on its message; the
-- prune deletes a message's finished rows itself (status.rs says how that stays race-free).
CREATE TABLE outbox_finished (
    id BIGINT PRIMARY KEY,
    message_id TEXT COLLATE "C" NOT NULL,
    app_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    notification_id BIGINT NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    credential TEXT COLLATE "C" NOT NULL,
    token TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    attempts BIGINT NOT NULL,
    retries BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    expires_at BIGINT NOT NULL,
    last_outcome TEXT COLLATE "C",
    last_reason TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A message's rows (its status, its prune).
CREATE INDEX outbox_finished_message ON outbox_finished (message_id);
-- Dead letters by app in id order (the admin API): dead rows now live only here.
DROP INDEX deliveries_dead;
CREATE INDEX outbox_finished_dead ON outbox_finished (app_id, id) WHERE state = 'dead';

WITH moved AS (
    DELETE FROM outbox WHERE state IN ('delivered', 'failed', 'dead') RETURNING *
)
INSERT INTO outbox_finished SELECT * FROM moved;

CREATE VIEW deliveries AS
    SELECT * FROM outbox
    UNION ALL
    SELECT * FROM outbox_finished;
