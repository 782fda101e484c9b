-- Signed delivery webhooks: one row per event, written in the transaction of what caused it
-- (an outcome, a dead token, an accept's suppressed recipients), posted by the webhook worker.
-- `body` is the event's JSON, fixed at creation: every post of the event sends the same bytes.
-- state: 'pending' (due at run_at), 'in_flight' (leased until run_at), 'dead' (max_attempts
-- posts failed; kept for `worker.retention_secs`). Events answered 2xx are deleted.
-- Indexes are what the poster reads (due events of an app) and the pruning of dead events:
-- each one is written once per event, in the writer's transaction, so no more than that (the
-- event id is unique by construction, a random UUID, and never looked up).
CREATE TABLE webhook_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_due ON webhook_events (app_id, run_at, id)
    WHERE state IN ('pending', 'in_flight');
CREATE INDEX webhook_events_dead ON webhook_events (updated_at) WHERE state = 'dead';
