//! [`ClusterNode`]: one gateway node's part of a cluster on a [`PgStore`]'s database.
//!
//! - Wake-ups: every commit that makes outbox rows due now (accept, leases released at
//!   shutdown) sends `NOTIFY pushway_outbox` inside its transaction, so Postgres delivers it at
//!   commit only, once per transaction. Each node listens on its own connection and wakes its
//!   idle workers on each notification; a commit on node B reaches node A's workers at once,
//!   not after A's poll interval.
//! - Outcomes: every writer commit that records outcomes sends `NOTIFY pushway_recorded` with
//!   the committing node's id, and each other node bumps its `recorded` watch on it, so a
//!   `POST …/messages?wait=` answered by node B returns as soon as node A's workers recorded the
//!   outcomes (A's worker may well be the one that sends what B accepted: every node's workers
//!   are woken). A node ignores its own: its writer already bumped the watch.
//! - Postgres delivers a notification only to the sessions listening when it commits: those
//!   sent while the listener was disconnected are lost for good. So after every (re)connect,
//!   once `LISTEN` is in force, the workers are woken and the waiting requests re-read their
//!   messages: the claim finds whatever was committed meanwhile, and everything after is
//!   notified.
//! - The `nodes` registry: the node upserts its row at start and at every heartbeat, and
//!   deletes it in [`ClusterNode::leave`]; [`PgStore::live_nodes`] reads who is alive. Times
//!   come from the database's clock (`now()` in Unix milliseconds): the nodes' clocks need not
//!   agree.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pushway_daemon::pg_listen::{self, Listen, listen, stopped};
use sqlx::Row;
use sqlx::postgres::{PgListener, PgNotification};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{PgStore, err};
use crate::store::StoreError;

/// The channel of outbox wake-ups.
pub(super) const CHANNEL: &str = "pushway_outbox";
/// The channel of recorded outcomes (the payload is the committing node's id).
pub(super) const RECORDED_CHANNEL: &str = "pushway_recorded";

/// The listener's reconnection backoff: from this, doubling…
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// …up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A node in the `nodes` registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveNode {
    /// Its id (`[cluster] node_id`).
    pub id: String,
    /// Where its API listens (`host:port`, as it bound it).
    pub address: String,
    /// When it started, in Unix milliseconds (the database's clock).
    pub started_at: i64,
    /// Its last heartbeat, in Unix milliseconds (the database's clock).
    pub heartbeat_at: i64,
}

/// This node's listener and heartbeat, running until [`leave`](ClusterNode::leave) or until
/// dropped (then the row stays, and ages out as a dead node's would).
#[derive(Debug)]
pub struct ClusterNode {
    shared: Arc<Shared>,
    /// Dropping it stops the tasks.
    stop: watch::Sender<bool>,
    /// The heartbeat task, awaited before the row is deleted (a beat in progress would
    /// write the row back).
    beat: tokio::sync::Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    store: PgStore,
    id: String,
    address: String,
    heartbeat: Duration,
    wake: Arc<Notify>,
    /// Bumped when another node recorded outcomes (the requests waiting on them re-read).
    recorded: watch::Sender<u64>,
    listener_connections: AtomicU64,
    notifications: AtomicU64,
}

impl PgStore {
    /// Joins the cluster as node `id` (API at `address`): writes its row in `nodes`, starts
    /// listening for outbox wake-ups (each wakes `wake`'s waiters) and for the outcomes other
    /// nodes record (each bumps `recorded`), and beats every `heartbeat`. The listener is
    /// connected and `LISTEN` in force when this returns. This store's commits of outcomes
    /// name node `id` from now on (the first id joined, if joined twice).
    pub async fn join_cluster(
        &self,
        id: &str,
        address: &str,
        heartbeat: Duration,
        wake: Arc<Notify>,
        recorded: watch::Sender<u64>,
    ) -> Result<ClusterNode, StoreError> {
        // Before listening: an outcome this node commits is then never taken for another's.
        let _ = self.node.set(id.to_owned());
        let shared = Arc::new(Shared {
            store: self.clone(),
            id: id.to_owned(),
            address: address.to_owned(),
            heartbeat,
            wake,
            recorded,
            listener_connections: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
        });
        // A node restarted under the same id starts anew (its old row was a dead node's).
        sqlx::query(
            "INSERT INTO nodes (id, started_at, heartbeat_at, address)
             SELECT $1, t, t, $2
             FROM (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT AS t) AS db
             ON CONFLICT (id) DO UPDATE
             SET started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at,
                 address = EXCLUDED.address",
        )
        .bind(id)
        .bind(address)
        .execute(&self.pool)
        .await
        .map_err(err)?;
        let listener = shared.connect_listener().await.map_err(err)?;
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(listen(
            shared.clone(),
            listener,
            stopped.clone(),
            BACKOFF_MIN,
            BACKOFF_MAX,
        ));
        let beat = tokio::spawn(beat(shared.clone(), stopped));
        Ok(ClusterNode {
            shared,
            stop,
            beat: tokio::sync::Mutex::new(Some(beat)),
        })
    }

    /// The nodes whose heartbeat is at most `within` old (by the database's clock), by id.
    pub async fn live_nodes(&self, within: Duration) -> Result<Vec<LiveNode>, StoreError> {
        // At most ~290 million years: `now - within` stays in range.
        let within =
            i64::try_from(within.as_millis()).map_or(i64::MAX / 2, |w| w.min(i64::MAX / 2));
        let rows = sqlx::query(
            "SELECT id, address, started_at, heartbeat_at FROM nodes
             WHERE heartbeat_at >= (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT - $1
             ORDER BY id",
        )
        .bind(within)
        .fetch_all(&self.pool)
        .await
        .map_err(err)?;
        rows.iter()
            .map(|row| {
                Ok(LiveNode {
                    id: row.try_get(0).map_err(err)?,
                    address: row.try_get(1).map_err(err)?,
                    started_at: row.try_get(2).map_err(err)?,
                    heartbeat_at: row.try_get(3).map_err(err)?,
                })
            })
            .collect()
    }
}

impl ClusterNode {
    /// The node id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// How many times the listener connected (1, plus its reconnections).
    pub fn listener_connections(&self) -> u64 {
        self.shared.listener_connections.load(Ordering::Relaxed)
    }

    /// How many outbox notifications the listener received (each woke the workers); the
    /// outcome notifications are not counted.
    pub fn notifications(&self) -> u64 {
        self.shared.notifications.load(Ordering::Relaxed)
    }

    /// Stops listening and beating and removes the node's row: it is no longer live (call at
    /// graceful shutdown, once its workers stopped).
    pub async fn leave(&self) -> Result<(), StoreError> {
        self.stop.send_replace(true);
        if let Some(beat) = self.beat.lock().await.take() {
            // It ends at its next await point; an error is a panic, which wrote nothing more.
            let _ = beat.await;
        }
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(&self.shared.id)
            .execute(&self.shared.store.pool)
            .await
            .map_err(err)?;
        Ok(())
    }
}

impl Shared {
    fn on_notification(&self, notification: &PgNotification) {
        if notification.channel() == RECORDED_CHANNEL {
            // Its own commits were announced by its writer already.
            if notification.payload() != self.id {
                self.bump_recorded();
            }
            return;
        }
        self.notifications.fetch_add(1, Ordering::Relaxed);
        self.wake.notify_waiters();
    }

    fn bump_recorded(&self) {
        self.recorded.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A listener on a connection of its own, named so operators (and tests) find it in
    /// `pg_stat_activity`, listening on both channels.
    async fn connect_listener(&self) -> Result<PgListener, sqlx::Error> {
        let name = format!("pushway-gateway listener {}", self.id);
        let channels = [CHANNEL, RECORDED_CHANNEL];
        let listener =
            pg_listen::connect(&self.store.pool.connect_options(), &name, &channels).await?;
        self.listener_connections.fetch_add(1, Ordering::Relaxed);
        Ok(listener)
    }

    async fn heartbeat(&self) -> Result<(), sqlx::Error> {
        // An upsert: a row removed meanwhile (by an operator) comes back.
        sqlx::query(
            "INSERT INTO nodes (id, started_at, heartbeat_at, address)
             SELECT $1, t, t, $2
             FROM (SELECT (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT AS t) AS db
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at",
        )
        .bind(&self.id)
        .bind(&self.address)
        .execute(&self.store.pool)
        .await
        .map(drop)
    }
}

impl Listen for Shared {
    const NAME: &'static str = "outbox";

    async fn connect(&self) -> Result<PgListener, sqlx::Error> {
        self.connect_listener().await
    }

    /// Notifications committed while no listener was there are lost: the workers' claim finds
    /// those rows now, and the waiting requests read the outcomes recorded meanwhile.
    async fn listening(&self) {
        self.wake.notify_waiters();
        self.bump_recorded();
    }

    fn notified(&self, notification: &PgNotification) {
        self.on_notification(notification);
    }
}

/// The heartbeat loop.
async fn beat(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(shared.heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: the row was just written.
    every.tick().await;
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = every.tick() => {}
        }
        if let Err(error) = shared.heartbeat().await {
            tracing::warn!(%error, "cluster: heartbeat failed");
        }
    }
}
