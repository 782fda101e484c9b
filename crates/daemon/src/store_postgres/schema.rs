//! The Postgres tables of the daemon channel, created at open when missing (as the SQLite twin
//! does). Every table is prefixed `daemon_` so the gateway's own Postgres schema can live in the
//! same database, and every row carries a `scope` (the gateway's app id): the apps of one
//! gateway share the tables, not their queues.

use sqlx::PgPool;

/// The notification channel of every wake-up, presence change and revocation.
pub(crate) const CHANNEL: &str = "pushway_daemon";

/// The advisory lock class of this crate (two-key form: (class, hash of the key)), so its
/// locks cannot collide with another schema's in the same database.
pub(crate) const LOCK_CLASS: i32 = 0x7064_6D6E; // "pdmn"

/// Runs under an advisory lock: two nodes starting at once would otherwise race on
/// `CREATE … IF NOT EXISTS` (a unique violation in the catalog) or `CREATE OR REPLACE`
/// ("tuple concurrently updated").
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS daemon_queue (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    scope TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device TEXT NOT NULL,
    id TEXT NOT NULL,
    frame TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, user_id, device, seq)
);
CREATE TABLE IF NOT EXISTS daemon_token_generation (
    scope TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device TEXT NOT NULL,
    generation BIGINT NOT NULL,
    PRIMARY KEY (scope, user_id, device)
);
CREATE TABLE IF NOT EXISTS daemon_presence (
    scope TEXT NOT NULL,
    user_id TEXT NOT NULL,
    device TEXT NOT NULL,
    node TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, user_id, device)
);
CREATE INDEX IF NOT EXISTS daemon_presence_node ON daemon_presence (node);
CREATE TABLE IF NOT EXISTS daemon_nodes (
    node TEXT PRIMARY KEY,
    heartbeat_at TIMESTAMPTZ NOT NULL
);
"#;

/// Creates what is missing.
pub(crate) async fn migrate(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
        .bind(LOCK_CLASS)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    tx.commit().await
}
