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
-- One append: the device's lock, the row, the trim to the bound and the wake-up, in one round
-- trip. The lock (held to the end of the transaction, so past its commit) makes the pushes of
-- one device commit in the order of their sequence numbers, even when several nodes append at
-- once: a connection reading after its cursor can never see seq 11 committed and seq 10 not yet,
-- then skip 10 for good. Each statement of a volatile function takes a new snapshot, so the
-- trim sees every push committed before the lock was granted. pg_notify is sent at commit only.
CREATE OR REPLACE FUNCTION daemon_queue_append(
    p_scope TEXT, p_user TEXT, p_device TEXT, p_id TEXT, p_frame TEXT, p_expires_at_ms BIGINT,
    p_max_len BIGINT, p_payload TEXT
) RETURNS TABLE (new_seq BIGINT, dropped BIGINT) LANGUAGE plpgsql AS $fn$
DECLARE
    appended BIGINT;
    trimmed BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(1885629806, hashtext(p_scope || '/' || p_user || '/' || p_device));
    INSERT INTO daemon_queue (scope, user_id, device, id, frame, expires_at_ms)
        VALUES (p_scope, p_user, p_device, p_id, p_frame, p_expires_at_ms)
        RETURNING daemon_queue.seq INTO appended;
    WITH gone AS (
        DELETE FROM daemon_queue q
        WHERE q.scope = p_scope AND q.user_id = p_user AND q.device = p_device
          AND q.seq IN (SELECT k.seq FROM daemon_queue k
                        WHERE k.scope = p_scope AND k.user_id = p_user AND k.device = p_device
                        ORDER BY k.seq DESC OFFSET p_max_len)
        RETURNING 1)
    SELECT count(*) INTO trimmed FROM gone;
    PERFORM pg_notify('pushway_daemon', p_payload);
    RETURN QUERY SELECT appended, trimmed;
END
$fn$;
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_function_uses_the_lock_class_and_channel() {
        // The function's text cannot bind the constants: they are checked to agree.
        assert!(super::SCHEMA.contains(&super::LOCK_CLASS.to_string()));
        assert!(super::SCHEMA.contains(&format!("'{}'", super::CHANNEL)));
    }
}
