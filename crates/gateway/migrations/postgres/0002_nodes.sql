-- The registry of gateway nodes on this database: each node upserts its row at start and
-- every `[cluster] heartbeat_secs`, and deletes it when it stops gracefully; a node whose
-- heartbeat is old died (its row stays until it starts again under the same id). Times are
-- Unix milliseconds from the database's clock, so the nodes' clocks need not agree.
CREATE TABLE nodes (
    id TEXT COLLATE "C" PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    -- Where its API listens, as the node bound it (`host:port`).
    address TEXT NOT NULL
);
