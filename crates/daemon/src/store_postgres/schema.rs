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

-- A run of appends as one statement (one round trip, committed on its own): each device's lock
-- in one order for every caller (no deadlock between two nodes' batches), held to the commit;
-- the rows in order (first result rows: their seq); each device trimmed to the bound of its last
-- push in the run (then one row per push dropped: its device); one wake-up per push kept, sent
-- by Postgres at commit in seq order, carrying the push and the seq before it in the device's
-- queue (`event.rs`), or naming only the device when too long. Each statement of a function
-- sees what the previous ones wrote, which one plain statement with several data-modifying
-- parts would not: the trim must count the new rows, the wake-ups must skip trimmed ones.
CREATE OR REPLACE FUNCTION daemon_append_v1(
    p_scope TEXT, p_class INT4, p_channel TEXT,
    p_users TEXT[], p_devices TEXT[], p_ids TEXT[], p_frames TEXT[], p_expiries INT8[],
    p_trim_users TEXT[], p_trim_devices TEXT[], p_bounds INT8[])
RETURNS TABLE (out_seq INT8, out_user TEXT, out_device TEXT)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_users TEXT[];
    v_devices TEXT[];
    v_seqs INT8[];
BEGIN
    PERFORM pg_advisory_xact_lock(p_class, keys.h) FROM (
        SELECT DISTINCT hashtext(p_scope || '/' || t.u || '/' || t.d) AS h
        FROM unnest(p_users, p_devices) AS t(u, d)
        ORDER BY h) AS keys;
    WITH added AS (
        INSERT INTO daemon_queue (scope, user_id, device, id, frame, expires_at_ms)
        SELECT p_scope, t.u, t.d, t.i, t.f, t.e
        FROM unnest(p_users, p_devices, p_ids, p_frames, p_expiries)
             WITH ORDINALITY AS t(u, d, i, f, e, n)
        ORDER BY t.n
        RETURNING daemon_queue.user_id, daemon_queue.device, daemon_queue.seq)
    SELECT array_agg(added.user_id), array_agg(added.device), array_agg(added.seq)
    INTO v_users, v_devices, v_seqs FROM added;
    RETURN QUERY SELECT s.seq, NULL::TEXT, NULL::TEXT FROM unnest(v_seqs) AS s(seq);
    RETURN QUERY
    WITH gone AS (
        DELETE FROM daemon_queue q
        USING unnest(p_trim_users, p_trim_devices, p_bounds) AS t(u, d, m)
        WHERE q.scope = p_scope AND q.user_id = t.u AND q.device = t.d
          AND q.seq IN (SELECT k.seq FROM daemon_queue k
                        WHERE k.scope = p_scope AND k.user_id = t.u AND k.device = t.d
                        ORDER BY k.seq DESC OFFSET t.m)
        RETURNING q.user_id, q.device)
    SELECT NULL::INT8, gone.user_id, gone.device FROM gone;
    PERFORM pg_notify(p_channel, CASE
            WHEN octet_length(w.carried) < 7900 THEN w.carried
            WHEN octet_length(w.named) < 7900 THEN w.named
            ELSE json_build_array('*', p_scope)::TEXT END)
    FROM (SELECT q.seq,
                 json_build_array('q', p_scope, q.user_id || '/' || q.device, q.seq,
                     (SELECT max(k.seq) FROM daemon_queue k
                      WHERE k.scope = p_scope AND k.user_id = q.user_id
                        AND k.device = q.device AND k.seq < q.seq),
                     q.id, q.expires_at_ms, q.frame)::TEXT AS carried,
                 json_build_array('p', p_scope, q.user_id || '/' || q.device)::TEXT AS named
          FROM unnest(v_users, v_devices, v_seqs) AS a(u, d, s)
          JOIN daemon_queue q
            ON q.scope = p_scope AND q.user_id = a.u AND q.device = a.d AND q.seq = a.s) AS w
    ORDER BY w.seq;
END
$fn$;

-- A run of removes (acks) as one statement, committed without waiting for its WAL flush (the
-- setting is local to this statement's transaction): see `commit.rs` for why that is safe.
CREATE OR REPLACE FUNCTION daemon_remove_v1(
    p_scope TEXT, p_users TEXT[], p_devices TEXT[], p_ids TEXT[])
RETURNS TABLE (out_user TEXT, out_device TEXT, out_id TEXT)
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    RETURN QUERY
    WITH gone AS (
        DELETE FROM daemon_queue q
        USING unnest(p_users, p_devices, p_ids) AS t(u, d, i)
        WHERE q.scope = p_scope AND q.user_id = t.u AND q.device = t.d AND q.id = t.i
        RETURNING q.user_id, q.device, q.id)
    SELECT gone.user_id, gone.device, gone.id FROM gone;
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
