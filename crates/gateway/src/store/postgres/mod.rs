//! The Postgres store: one [`PgPool`] shared by the service and the workers, for several
//! gateway nodes on one database.
//!
//! The SQL follows the SQLite twin method by method (its comments say why each statement is
//! shaped as it is); what differs:
//! - id lists and batch rows are arrays (`= ANY($1)`, `UNNEST($1::text[], ...)`), not JSON;
//! - claims lock the rows they take with `FOR UPDATE SKIP LOCKED` inside the `UPDATE` that
//!   leases them, so two nodes never claim one row;
//! - where SQLite relied on its single writer for a read-then-write, the statement or a lock
//!   makes it hold under concurrent nodes at READ COMMITTED (each place says which);
//! - every commit is durable (`synchronous_commit` as the server has it): no relaxed commits;
//! - commits that make rows due now notify `pushway_outbox`, which wakes every node's idle
//!   workers (`node.rs`), and the nodes keep a registry of who is alive.
//!
//! No TLS: the pool connects to a Postgres on loopback or a private network (sqlx is built
//! without a TLS feature), as the deployment docs say.

mod accept;
mod claim_start;
mod dead_letters;
mod node;
mod outbox;
mod overview;
mod rate_buckets;
mod recipients;
mod registry;
mod routes;
mod stats;
mod status;
mod webhooks;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use pushway_core::TokenKind;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use super::*;

pub use claim_start::{SWEEP_MS, WINDOW_MS};
pub use node::{ClusterNode, LiveNode};
#[doc(hidden)]
pub use outbox::{CLAIM_SQL, OUTCOMES_SQL};
pub use rate_buckets::PgRateSource;

/// How long a request waits for a pooled connection before failing (a 5xx, not a hang).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The Postgres store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Which webhook events the writes keep (see `webhooks.rs`).
    webhooks: webhooks::SharedFilter,
    /// This node's id once it joined the cluster (`node.rs`): named in its outcome
    /// notifications, so its own listener can skip them.
    node: Arc<OnceLock<String>>,
    /// Where this store's claims start their walk of the due index (`claim_start.rs`).
    claim_start: Arc<claim_start::ClaimStart>,
}

/// Parses a `postgres://` (or `postgresql://`) URL into connect options; the error never
/// repeats the URL (it may carry a password).
pub fn connect_options(url: &str) -> Result<PgConnectOptions, String> {
    let scheme = url.split_once("://").map(|(s, _)| s);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        return Err("not a postgres:// or postgresql:// URL".to_owned());
    }
    PgConnectOptions::from_str(url).map_err(|e| format!("not a valid Postgres URL: {e}"))
}

impl PgStore {
    /// Connects to the database at `url` with at most `max_connections` connections and brings
    /// its schema up to date (the migrations take a lock: nodes starting together wait for
    /// each other).
    pub async fn open(url: &str, max_connections: u32) -> Result<PgStore, StoreError> {
        let options = connect_options(url).map_err(StoreError::new)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(StoreError::new)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::new)?;
        Ok(PgStore {
            pool,
            webhooks: webhooks::SharedFilter::default(),
            node: Arc::default(),
            claim_start: Arc::default(),
        })
    }

    /// Closes the pool, waiting for statements in progress.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The pool (for tests and tools that read the tables).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn tx(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(err)
    }
}

pub(super) fn err(e: sqlx::Error) -> StoreError {
    StoreError::new(e)
}

pub(super) fn kind_label(kind: TokenKind) -> &'static str {
    kind.as_str()
}

pub(super) use super::rows::parse_kind;

pub(super) use super::rows::u32_of;

/// A 32-byte hash read from a BYTEA column.
pub(super) fn hash32(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::new(format!("{what}: a hash is not 32 bytes")))
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn sync_apps(
        &self,
        apps: &[(String, Vec<[u8; 32]>)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.tx().await?;
        // Nodes starting together each rewrite the keys: one at a time, so none sees another's
        // half-written set (a transaction-scoped advisory lock, released at commit).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('pushway.sync_apps', 0))")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        sqlx::query("DELETE FROM api_keys")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let ids: Vec<&str> = apps.iter().map(|(app, _)| app.as_str()).collect();
        sqlx::query(
            "INSERT INTO apps (id, created_at) SELECT id, $2 FROM UNNEST($1::text[]) AS a(id)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&ids)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        let (hashes, owners): (Vec<Vec<u8>>, Vec<&str>) = apps
            .iter()
            .flat_map(|(app, keys)| keys.iter().map(move |k| (k.to_vec(), app.as_str())))
            .unzip();
        sqlx::query(
            "INSERT INTO api_keys (hash, app_id) SELECT * FROM UNNEST($1::bytea[], $2::text[])
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&hashes)
        .bind(&owners)
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn api_keys(&self) -> Result<Vec<([u8; 32], String)>, StoreError> {
        let rows = sqlx::query("SELECT hash, app_id FROM api_keys")
            .fetch_all(&self.pool)
            .await
            .map_err(err)?;
        rows.into_iter()
            .map(|row| {
                let hash = hash32(row.try_get(0).map_err(err)?, "api_keys")?;
                Ok((hash, row.try_get(1).map_err(err)?))
            })
            .collect()
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
        let mut found = self
            .find_idempotent_many_impl(app, std::slice::from_ref(&key.to_owned()))
            .await?;
        Ok(found.remove(key))
    }

    async fn find_idempotent_many(
        &self,
        app: &str,
        keys: &[String],
    ) -> Result<HashMap<String, (String, [u8; 32])>, StoreError> {
        self.find_idempotent_many_impl(app, keys).await
    }

    async fn accept(&self, messages: &[NewMessage]) -> Result<Vec<Accepted>, StoreError> {
        self.accept_impl(messages).await
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
