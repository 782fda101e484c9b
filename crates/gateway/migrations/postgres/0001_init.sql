-- pushway gateway schema on Postgres: the final state of the SQLite migrations 0001..0005 in
-- one file (a new store has no history to replay). Times are Unix milliseconds (BIGINT); every
-- integer column is BIGINT so the back end decodes one integer type; hashes are BYTEA.
-- Text compares byte by byte (COLLATE "C", whatever the database's locale): lists come out in
-- SQLite's order and the key indexes skip locale rules. JSON stays TEXT (message bodies,
-- notifications, receive rules, webhook bodies): each is written once and read whole, never
-- queried inside on a hot path, and TEXT keeps the bytes (a webhook event's body is signed as
-- written; JSONB would reorder its keys).

CREATE TABLE apps (
    id TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    hash BYTEA PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL REFERENCES apps (id) ON DELETE CASCADE
);

-- A token belongs to one user of an app: registering it elsewhere moves it.
CREATE TABLE devices (
    app_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    credential TEXT COLLATE "C" NOT NULL,
    token TEXT COLLATE "C" NOT NULL,
    locale TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id),
    UNIQUE (app_id, kind, credential, token)
);

-- Kept apart from devices: an IM server may report a login before the device registers, and a
-- re-registration must not log a device back in.
CREATE TABLE device_logins (
    app_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id, device_id)
);

-- NULL = never set (the system default), so a read returns exactly what was set. `receive` is
-- pushway-core's ReceiveRules as JSON.
CREATE TABLE user_settings (
    app_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    enabled BOOLEAN,
    c2c_sound TEXT COLLATE "C",
    group_sound TEXT COLLATE "C",
    locale TEXT COLLATE "C",
    receive TEXT COLLATE "C",
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, user_id)
);

CREATE TABLE messages (
    id TEXT COLLATE "C" PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL,
    request_hash BYTEA NOT NULL,
    body TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (app_id, idempotency_key)
);
CREATE INDEX messages_created ON messages (created_at);

-- Rendered notifications, shared by the deliveries that got the same rendering.
CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    body TEXT COLLATE "C" NOT NULL
);
CREATE INDEX notifications_message ON notifications (message_id);

CREATE TABLE recipients (
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    unread BIGINT NOT NULL,
    suppressed TEXT COLLATE "C",
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE suppressed_devices (
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (message_id, user_id, device_id)
);

-- The outbox: one row per (message, device). run_at is when the row is due: for pending and
-- retrying rows the next attempt, for in-flight rows the end of the lease, so one index serves
-- both first claims and re-claims after a crash.
-- notification_id has no foreign key here (SQLite's has one): the rows go with their message
-- (ON DELETE CASCADE) as the notifications do, and a cascade from notifications would need an
-- index on notification_id, one more insert per accepted row, to delete without a scan.
CREATE TABLE deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    app_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    notification_id BIGINT NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    credential TEXT COLLATE "C" NOT NULL,
    token TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- Retryable failures so far: what `max_attempts` bounds. Sends to a paused route (held)
    -- and re-claims after a crash count as attempts, not as retries.
    retries BIGINT NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    expires_at BIGINT NOT NULL,
    last_outcome TEXT COLLATE "C",
    last_reason TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (message_id, user_id, device_id)
);
-- Claims take due rows in (run_at, notification_id) order (see the SQLite migration 0002);
-- partial: only open rows are in it, so it stays small however many finished rows are kept.
CREATE INDEX deliveries_due ON deliveries (run_at, notification_id)
    WHERE state IN ('pending', 'retrying', 'in_flight');
-- Dead letters by app in id order (the admin API), only dead rows pay for it.
CREATE INDEX deliveries_dead ON deliveries (app_id, id) WHERE state = 'dead';

-- Routes whose credential the vendor refused: their rows are held until `until`.
CREATE TABLE paused_routes (
    app_id TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    credential TEXT COLLATE "C" NOT NULL,
    until BIGINT NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (app_id, kind, credential)
);

CREATE TABLE dead_tokens (
    cursor BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C",
    device_id TEXT COLLATE "C",
    kind TEXT COLLATE "C" NOT NULL,
    credential TEXT COLLATE "C" NOT NULL,
    token TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    removed BOOLEAN NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX dead_tokens_app ON dead_tokens (app_id, cursor);
CREATE INDEX dead_tokens_at ON dead_tokens (at);

-- Signed delivery webhooks (see the SQLite migration 0003): one row per event, written in the
-- transaction of what caused it; `body` is fixed at creation. state: 'pending' (due at
-- run_at), 'in_flight' (leased until run_at), 'dead'. Events answered 2xx are deleted.
CREATE TABLE webhook_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id TEXT COLLATE "C" NOT NULL,
    app_id TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    body TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    last_error TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_due ON webhook_events (app_id, run_at, id)
    WHERE state IN ('pending', 'in_flight');
CREATE INDEX webhook_events_dead ON webhook_events (updated_at) WHERE state = 'dead';
