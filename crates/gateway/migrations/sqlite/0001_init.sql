-- pushway gateway schema. Times are Unix milliseconds (INTEGER). Written in the subset of SQL
-- that SQLite and Postgres share (BIGINT, TEXT, partial indexes, ON CONFLICT) so the Postgres
-- twin differs only in its key generation (BIGSERIAL) and BYTEA for hashes.

CREATE TABLE apps (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    hash BLOB PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE
);

-- A token belongs to one user of an app: registering it elsewhere moves it.
CREATE TABLE devices (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    credential TEXT NOT NULL,
    token TEXT NOT NULL,
    locale TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id),
    UNIQUE (app_id, kind, credential, token)
);

-- Kept apart from devices: an IM server may report a login before the device registers, and a
-- re-registration must not log a device back in.
CREATE TABLE device_logins (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id)
);

-- NULL = never set (the system default), so a read returns exactly what was set.
CREATE TABLE user_settings (
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    enabled INTEGER,
    c2c_sound TEXT,
    group_sound TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id)
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (app_id, idempotency_key)
);
CREATE INDEX messages_created ON messages (created_at);

-- Rendered notifications, shared by the deliveries that got the same rendering.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    body TEXT NOT NULL
);
CREATE INDEX notifications_message ON notifications (message_id);

CREATE TABLE recipients (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    unread INTEGER NOT NULL,
    suppressed TEXT,
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE suppressed_devices (
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (message_id, user_id, device_id)
);

-- The outbox: one row per (message, device). run_at is when the row is due: for pending and
-- retrying rows the next attempt, for in-flight rows the end of the lease, so one index serves
-- both first claims and re-claims after a crash.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    app_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    credential TEXT NOT NULL,
    token TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- Retryable failures so far: what `max_attempts` bounds. Sends to a paused route (held)
    -- and re-claims after a crash count as attempts, not as retries.
    retries INTEGER NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    expires_at BIGINT NOT NULL,
    last_outcome TEXT,
    last_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (message_id, user_id, device_id)
);
CREATE INDEX deliveries_due ON deliveries (run_at)
    WHERE state IN ('pending', 'retrying', 'in_flight');
CREATE INDEX deliveries_message ON deliveries (message_id);

-- Routes whose credential the vendor refused: their rows are held until `until`.
CREATE TABLE paused_routes (
    app_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    credential TEXT NOT NULL,
    until BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (app_id, kind, credential)
);

CREATE TABLE dead_tokens (
    cursor INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id TEXT NOT NULL,
    user_id TEXT,
    device_id TEXT,
    kind TEXT NOT NULL,
    credential TEXT NOT NULL,
    token TEXT NOT NULL,
    reason TEXT NOT NULL,
    removed INTEGER NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX dead_tokens_app ON dead_tokens (app_id, cursor);
CREATE INDEX dead_tokens_at ON dead_tokens (at);
