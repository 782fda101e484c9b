//! The Postgres queue store: the queues of a cluster of hubs (gateway nodes) in one database,
//! so a device gets its pushes whichever node it connects to, and a push accepted by any node
//! reaches the node the device is connected to (see [`PgCluster`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use crate::key::DeviceKey;
use crate::queue::{Appended, NewPush, Pending, QueueStore, StoreError, StoredPush, unique};

mod cluster;
mod commit;
mod event;
pub mod listen;
mod presence;
mod schema;

pub use cluster::{ClusterOptions, PgCluster};

use commit::{Append, Committer, Remove};

/// How long a query waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the pool [`PgStore::connect`] makes.
const POOL_SIZE: u32 = 8;

/// Queues in a Postgres database, shared by every hub (node) that opens the same database and
/// scope: what one node appends, another's connection sends.
///
/// Same behaviour as [`SqliteStore`](crate::SqliteStore), method by method. Appends and removes
/// are group-committed (the writes of concurrent callers share one transaction, and each call
/// returns once its own write committed). Removes (acks) commit with `synchronous_commit =
/// off`: a crash of Postgres may undo the last few hundred milliseconds of them, and those
/// pushes are sent again (the device drops duplicates); appends are always durable. Each write is one statement (a function created with the
/// tables) and one round trip. An append notifies the channel `pushway_daemon` at commit, with
/// the push in the notification, which wakes the node the device is connected to when a
/// [`PgCluster`] runs there (and spares it a read of the queue). A
/// device's pushes commit in the order of their sequence numbers even when several nodes append
/// to it at once (a per-device advisory lock held to the commit).
///
/// Tables are prefixed `daemon_` and created at open when missing; every row carries the
/// store's *scope* (the gateway's app id), so several apps share the tables, not their queues.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    scope: Arc<str>,
    /// Appends go through it: group commit, see [`commit`].
    committer: Committer<Append>,
    /// Removes go through it: group commit without waiting for the WAL flush.
    removals: Committer<Remove>,
}

impl PgStore {
    /// Connects to the database at `url` (a pool of its own) and creates the tables when
    /// missing.
    pub async fn connect(url: &str, scope: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(StoreError::new)?;
        PgStore::with_pool(pool, scope).await
    }

    /// Uses `pool` (shared with the caller, e.g. the gateway's store) and creates the tables
    /// when missing.
    pub async fn with_pool(pool: PgPool, scope: &str) -> Result<PgStore, StoreError> {
        schema::migrate(&pool).await.map_err(StoreError::new)?;
        let scope: Arc<str> = Arc::from(scope);
        Ok(PgStore {
            committer: Committer::spawn(pool.clone(), scope.clone()),
            removals: Committer::spawn(pool.clone(), scope.clone()),
            pool,
            scope,
        })
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The scope this store's queues are kept under.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Closes the pool, waiting for queries in progress.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts this node's part of the cluster over this store's database: the listener that
    /// wakes local connections when another node appends to their queues, the presence table
    /// and the node's heartbeat. Give it to the hub with
    /// [`HubBuilder::cluster`](crate::HubBuilder::cluster).
    pub async fn start_cluster(&self, options: ClusterOptions) -> Result<PgCluster, StoreError> {
        PgCluster::start(self.clone(), options).await
    }
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

pub(crate) fn len_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl QueueStore for PgStore {
    async fn append(
        &self,
        device: &DeviceKey,
        push: NewPush<'_>,
        max_len: usize,
    ) -> Result<Appended, StoreError> {
        self.committer
            .write(Append {
                device: device.clone(),
                id: push.id.to_owned(),
                frame: push.frame.clone(),
                expires_at_ms: push.expires_at_ms,
                max_len,
            })
            .await
    }

    async fn pending(
        &self,
        device: &DeviceKey,
        after: u64,
        now_ms: u64,
        limit: usize,
    ) -> Result<Pending, StoreError> {
        // One statement: the expired pushes are deleted and counted (first row, seq -1), and the
        // page read beside it. Both parts see the same snapshot, so the page filters the expired
        // ones out itself.
        let rows = sqlx::query(
            "WITH gone AS (
                 DELETE FROM daemon_queue
                 WHERE scope = $1 AND user_id = $2 AND device = $3 AND expires_at_ms <= $4
                 RETURNING 1)
             SELECT -1::BIGINT, NULL::TEXT, NULL::TEXT, (SELECT count(*) FROM gone)
             UNION ALL
             (SELECT seq, id, frame, expires_at_ms FROM daemon_queue
              WHERE scope = $1 AND user_id = $2 AND device = $3 AND seq > $5
                AND expires_at_ms > $4
              ORDER BY seq LIMIT $6)",
        )
        .bind(&*self.scope)
        .bind(device.user())
        .bind(device.device())
        .bind(to_i64(now_ms))
        .bind(to_i64(after))
        .bind(len_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::new)?;
        let mut pending = Pending::default();
        for row in rows {
            let seq: i64 = row.try_get(0).map_err(StoreError::new)?;
            if seq < 0 {
                pending.expired = to_u64(row.try_get(3).map_err(StoreError::new)?);
                continue;
            }
            pending.pushes.push(StoredPush {
                seq: to_u64(seq),
                id: row.try_get(1).map_err(StoreError::new)?,
                frame: Arc::from(row.try_get::<String, _>(2).map_err(StoreError::new)?),
                expires_at_ms: to_u64(row.try_get(3).map_err(StoreError::new)?),
            });
        }
        Ok(pending)
    }

    async fn remove(&self, device: &DeviceKey, id: &str) -> Result<u64, StoreError> {
        self.removals
            .write(Remove {
                device: device.clone(),
                id: id.to_owned(),
            })
            .await
    }

    async fn clear(&self, device: &DeviceKey) -> Result<Vec<String>, StoreError> {
        let mut rows = sqlx::query(
            "DELETE FROM daemon_queue WHERE scope = $1 AND user_id = $2 AND device = $3
             RETURNING seq, id",
        )
        .bind(&*self.scope)
        .bind(device.user())
        .bind(device.device())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::new)?
        .into_iter()
        .map(|row| Ok((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(StoreError::new)?;
        // `RETURNING` gives no order: oldest first, as the trait says.
        rows.sort_unstable_by_key(|(seq, _)| *seq);
        Ok(unique(rows.into_iter().map(|(_, id)| id)))
    }

    async fn len(&self, device: &DeviceKey) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query(
            "SELECT count(*) FROM daemon_queue WHERE scope = $1 AND user_id = $2 AND device = $3",
        )
        .bind(&*self.scope)
        .bind(device.user())
        .bind(device.device())
        .fetch_one(&self.pool)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(StoreError::new)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        let generation: Option<i64> = sqlx::query(
            "SELECT generation FROM daemon_token_generation
             WHERE scope = $1 AND user_id = $2 AND device = $3",
        )
        .bind(&*self.scope)
        .bind(device.user())
        .bind(device.device())
        .fetch_optional(&self.pool)
        .await
        .and_then(|row| row.map(|row| row.try_get(0)).transpose())
        .map_err(StoreError::new)?;
        Ok(generation.map_or(0, to_u64))
    }

    async fn bump_token_generation(&self, device: &DeviceKey) -> Result<u64, StoreError> {
        // The other nodes are told at commit, so the one holding the device's connection closes
        // it (a revocation is cluster-wide, as the token check at `hello` already is).
        let mut tx: Transaction<'_, Postgres> = self.pool.begin().await.map_err(StoreError::new)?;
        let generation: i64 = sqlx::query(
            "INSERT INTO daemon_token_generation (scope, user_id, device, generation)
             VALUES ($1, $2, $3, 1)
             ON CONFLICT (scope, user_id, device)
             DO UPDATE SET generation = daemon_token_generation.generation + 1
             RETURNING generation",
        )
        .bind(&*self.scope)
        .bind(device.user())
        .bind(device.device())
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(StoreError::new)?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(schema::CHANNEL)
            .bind(event::revoked(&self.scope, device, to_u64(generation)))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::new)?;
        tx.commit().await.map_err(StoreError::new)?;
        Ok(to_u64(generation))
    }
}
