//! The SQLite store: one file in WAL mode, one writer connection (SQLite has one writer at a
//! time; queuing writes in the pool avoids `SQLITE_BUSY`), a few readers.
//!
//! The SQL is kept to what Postgres also speaks (`ON CONFLICT`, `RETURNING`, partial indexes) so
//! the Postgres twin can share its shape; the SQLite-only parts are `json_each` for id lists and
//! `BEGIN IMMEDIATE`.

mod accept;
mod daemon;
mod dead_letters;
mod outbox;
mod overview;
mod raw;
mod recipients;
mod registry;
mod stats;

mod routes;
mod status;
mod webhooks;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::TokenKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::*;

/// How long a statement waits for the database lock or a pooled connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections of sqlx's pool: the cold paths' reads (status, lists, the console); the
/// hot paths read on their own connection (`raw.rs`). Five connections in all bound the page
/// caches' memory (bench/report.py's RSS bound).
const READERS: u32 = 2;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// The hot paths' connection (accepts, claims, outcomes; see `raw.rs`).
    hot: raw::HotConn,
    /// The hot paths' read-only connection (the accept path's lookups, the workers'
    /// notifications).
    hot_reader: raw::HotConn,
    /// Which webhook events the writes keep (see `webhooks.rs`).
    webhooks: webhooks::SharedFilter,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit that answered 202 survives power loss, not only a crash. Group
            // commit keeps the fsyncs per delivery far below one.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Statement journals (a multi-row INSERT may have to undo itself) in memory, not
            // in temporary files: the accept path writes each table with one statement.
            .pragma("temp_store", "memory")
            .busy_timeout(BUSY_TIMEOUT);
        // No ping before handing out a pooled connection (sqlx's default): a connection to a
        // local file does not go stale, and each ping is one more round trip to the
        // connection's thread, as costly as the statement it precedes.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::new)?;
        MIGRATOR.run(&writer).await.map_err(StoreError::new)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .test_before_acquire(false)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options.read_only(true))
            .await
            .map_err(StoreError::new)?;
        let hot = raw::HotConn::open(path, BUSY_TIMEOUT, false)?;
        let hot_reader = raw::HotConn::open(path, BUSY_TIMEOUT, true)?;
        Ok(SqliteStore {
            writer,
            reader,
            hot,
            hot_reader,
            webhooks: webhooks::SharedFilter::default(),
        })
    }

    /// Closes both pools, waiting for statements in progress.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// A write transaction whose commit is durable (`synchronous = FULL`: the WAL is synced
    /// before the commit returns): for everything the API acknowledges.
    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        // Each transaction sets its own level as it begins (one round trip, no state left
        // on the shared connection for the next one).
        self.writer
            .begin_with("PRAGMA synchronous = FULL; BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::new)
    }

    /// A write transaction whose commit is not synced (`synchronous = NORMAL`): for the
    /// workers' own bookkeeping (claims, outcomes), whose loss in a power cut only makes rows
    /// due again (a lease or an outcome forgotten: the row is sent again, at least once, never
    /// lost). The next durable commit syncs the WAL, these frames included. One fsync fewer
    /// per claim and per outcome batch leaves the one writer to the accept path's commits.
    async fn relaxed_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::new)
    }
}

pub(super) fn err(e: sqlx::Error) -> StoreError {
    StoreError::new(e)
}

pub(super) fn kind_label(kind: TokenKind) -> &'static str {
    kind.as_str()
}

pub(super) use super::rows::parse_kind;

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn sync_apps(
        &self,
        apps: &[(String, Vec<[u8; 32]>)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM api_keys")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        for (app, keys) in apps {
            sqlx::query(
                "INSERT INTO apps (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
            )
            .bind(app)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
            for key in keys {
                sqlx::query("INSERT INTO api_keys (hash, app_id) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING")
                    .bind(&key[..])
                    .bind(app)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
            }
        }
        tx.commit().await.map_err(err)
    }

    async fn api_keys(&self) -> Result<Vec<([u8; 32], String)>, StoreError> {
        let rows = sqlx::query("SELECT hash, app_id FROM api_keys")
            .fetch_all(&self.reader)
            .await
            .map_err(err)?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let hash: Vec<u8> = row.try_get(0).map_err(err)?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| StoreError::new("api_keys: a hash is not 32 bytes"))?;
            keys.push((hash, row.try_get(1).map_err(err)?));
        }
        Ok(keys)
    }

    async fn put_device(&self, device: &Device, now: i64) -> Result<PutDevice, StoreError> {
        self.put_device_impl(device, now).await
    }

    async fn delete_device(&self, app: &str, user: &str, device: &str) -> Result<bool, StoreError> {
        self.delete_device_impl(app, user, device).await
    }

    async fn devices(&self, app: &str, user: &str) -> Result<Vec<DeviceState>, StoreError> {
        self.devices_impl(app, user).await
    }

    async fn recipients(
        &self,
        app: &str,
        users: &[String],
    ) -> Result<HashMap<String, RecipientState>, StoreError> {
        self.recipients_impl(app, users).await
    }

    async fn put_settings(
        &self,
        app: &str,
        user: &str,
        settings: &StoredSettings,
        now: i64,
    ) -> Result<(), StoreError> {
        self.put_settings_impl(app, user, settings, now).await
    }

    async fn settings(&self, app: &str, user: &str) -> Result<Option<StoredSettings>, StoreError> {
        self.settings_impl(app, user).await
    }

    async fn set_login(
        &self,
        app: &str,
        user: &str,
        device: Option<&str>,
        state: Login,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.set_login_impl(app, user, device, state, now).await
    }

    async fn find_idempotent(
        &self,
        app: &str,
        key: &str,
    ) -> Result<Option<(String, [u8; 32])>, StoreError> {
        self.find_idempotent_impl(app, key).await
    }

    async fn find_idempotent_many(
        &self,
        app: &str,
        keys: &[String],
    ) -> Result<HashMap<String, (String, [u8; 32])>, StoreError> {
        self.find_idempotent_many_impl(app, keys).await
    }

    async fn accept(&self, messages: &[NewMessage]) -> Result<Vec<Accepted>, StoreError> {
        Ok(self.accept_impl(messages.to_vec(), None).await?.0)
    }

    async fn accept_leasing(
        &self,
        messages: Vec<NewMessage>,
        lease: Option<AcceptLease>,
    ) -> Result<(Vec<Accepted>, LeasedAtAccept), StoreError> {
        self.accept_impl(messages, lease).await
    }

    async fn accept_streamed(
        &self,
        message: NewMessage,
        more: MoreRecipients,
        lease: Option<AcceptLease>,
    ) -> Result<(Accepted, LeasedAtAccept), StoreError> {
        self.accept_streamed_impl(message, more, lease).await
    }

    async fn status(
        &self,
        app: &str,
        message: &str,
        now: i64,
    ) -> Result<Option<MessageStatus>, StoreError> {
        self.status_impl(app, message, now).await
    }

    async fn summary(
        &self,
        app: &str,
        message: &str,
    ) -> Result<Option<MessageSummary>, StoreError> {
        self.summary_impl(app, message).await
    }

    async fn claim(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.claim_impl(now, lease_until, limit).await
    }

    async fn release(&self, ids: &[i64], now: i64) -> Result<u64, StoreError> {
        self.release_impl(ids, now).await
    }

    async fn prune(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        self.prune_impl(before, limit).await
    }

    async fn notifications(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        self.notifications_impl(ids).await
    }

    async fn record(&self, batch: &WriteBatch, now: i64) -> Result<(), StoreError> {
        self.record_impl(batch, now).await
    }

    async fn dead_tokens(
        &self,
        app: &str,
        cursor: i64,
        limit: u32,
    ) -> Result<Vec<DeadTokenEntry>, StoreError> {
        self.dead_tokens_impl(app, cursor, limit).await
    }

    async fn dead_letters(
        &self,
        app: &str,
        filter: &DeadLetterFilter,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.dead_letters_impl(app, filter, after, limit).await
    }

    async fn replay(&self, app: &str, ids: &[i64], now: i64) -> Result<Replayed, StoreError> {
        self.replay_impl(app, ids, now).await
    }

    async fn outbox_stats(&self, now: i64) -> Result<Vec<OutboxStats>, StoreError> {
        self.outbox_stats_impl(now).await
    }

    async fn paused_routes(&self, now: i64) -> Result<Vec<PausedRoute>, StoreError> {
        self.paused_routes_impl(now).await
    }

    async fn recent_deliveries(
        &self,
        app: &str,
        user: &str,
        limit: u32,
    ) -> Result<Vec<RecentDelivery>, StoreError> {
        self.recent_deliveries_impl(app, user, limit).await
    }

    async fn backlog(&self, now: i64) -> Result<Backlog, StoreError> {
        self.backlog_impl(now).await
    }

    async fn resume_route(
        &self,
        app: &str,
        kind: TokenKind,
        credential: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        self.resume_route_impl(app, kind, credential, now).await
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    /// The engine's plan of `sql` (`EXPLAIN QUERY PLAN`), one line per step.
    fn plan(conn: &Connection, sql: &str) -> String {
        let mut statement = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let count = statement.parameter_count();
        let values: Vec<i64> = (1..=count).map(|i| i64::try_from(i).expect("i")).collect();
        let lines: Vec<String> = statement
            .query_map(rusqlite::params_from_iter(values), |row| row.get(3))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        lines.join("; ")
    }

    /// The opcodes SQLite runs for `sql`.
    fn opcodes(conn: &Connection, sql: &str) -> Vec<String> {
        let mut statement = conn.prepare(&format!("EXPLAIN {sql}")).expect("prepare");
        statement
            .query_map([], |row| row.get(1))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// Writing a delivery row builds no temporary table (the due index's predicate is three
    /// comparisons, not an `IN` list: migration 0006), and every read of the unfinished rows
    /// goes through that partial index, whose predicate it states as written there.
    #[tokio::test]
    async fn the_due_index_costs_writes_no_temporary_table_and_serves_every_read_of_unfinished_rows()
     {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite3");
        let store = super::SqliteStore::open(&path).await.expect("open");
        store.close().await;
        let conn = Connection::open(&path).expect("open");
        for write in [
            "INSERT INTO deliveries (message_id, app_id, user_id, device_id, notification_id,
               kind, credential, token, state, run_at, expires_at, created_at, updated_at)
             VALUES ('m', 'a', 'u', 'd', 1, 'xiaomi', 'c', 't', 'in_flight', 1, 2, 3, 4)",
            "UPDATE deliveries SET state = 'delivered', run_at = 5 WHERE id = 1",
            "UPDATE deliveries SET state = 'retrying', run_at = 5 WHERE id = 1",
        ] {
            let ops = opcodes(&conn, write);
            assert!(ops.iter().any(|op| op == "IdxInsert"), "{write}: {ops:?}");
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{write}: {ops:?}"
            );
        }
        for read in [
            super::outbox::CLAIM_DUE,
            super::stats::BACKLOG_DEPTH,
            super::stats::BACKLOG_OLDEST_DUE,
            super::overview::OUTBOX_LIVE,
        ] {
            let plan = plan(&conn, read);
            assert!(
                plan.contains("USING INDEX deliveries_due"),
                "{read}\n{plan}"
            );
        }
    }
}
