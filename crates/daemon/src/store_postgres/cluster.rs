//! [`PgCluster`]: one node's part of a cluster of hubs over a [`PgStore`]'s database.
//!
//! - Wake-ups: every append notifies `pushway_daemon` at commit, one notification per push
//!   carrying it and the seq before it in the device's queue; this node's listener hands it to
//!   the local connection of the device named, which sends it when it has sent everything up to
//!   that seq, and otherwise reads its queue after its cursor (the path of any push). A push too
//!   long to carry is notified by device only, and read. Postgres delivers a notification only to the sessions listening when it
//!   is committed: those sent while the listener was disconnected are lost for good. So after
//!   every (re)connect, once `LISTEN` is in force, every local connection re-reads its queue
//!   and the presence table is reloaded: nothing committed before that is missed, and
//!   everything after is notified.
//! - Presence: each node writes its devices' connects and disconnects to `daemon_presence`
//!   (and notifies them); the others mirror the table in memory. A node's entries count only
//!   while its heartbeat in `daemon_nodes` is fresh, so a node that died without cleaning up
//!   stops counting after [`ClusterOptions::stale_after`].
//! - Revocations notify too: the node holding the device's connection closes it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Row;
use sqlx::postgres::{PgListener, PgNotification};
use tokio::sync::{mpsc, watch};

use super::event::{self, Event};
use super::listen::{self, Listen, listen, stopped};
use super::presence::Mirror;
use super::schema::CHANNEL;
use super::{PgStore, to_i64, to_u64};
use crate::cluster::{Cluster, LocalHub};
use crate::key::DeviceKey;
use crate::queue::StoreError;

/// A node's cluster settings.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    node: String,
    heartbeat: Duration,
    stale_after: Duration,
    backoff_min: Duration,
    backoff_max: Duration,
}

impl ClusterOptions {
    /// The settings of node `node`: an id unique among the live nodes of the cluster (a node
    /// restarted with the same id takes its old presence entries over and clears them).
    pub fn new(node: &str) -> ClusterOptions {
        ClusterOptions {
            node: node.to_owned(),
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_secs(10),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }

    /// How often the node writes its heartbeat and reads the others' (default 2 s).
    #[must_use]
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// How old a node's heartbeat may be before its devices count as offline (default 10 s).
    #[must_use]
    pub fn stale_after(mut self, age: Duration) -> Self {
        self.stale_after = age;
        self
    }

    /// The listener's reconnection backoff: from `min`, doubling, up to `max`.
    #[must_use]
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min.max(Duration::from_millis(1));
        self.backoff_max = max.max(self.backoff_min);
        self
    }

    /// The node id.
    pub fn node(&self) -> &str {
        &self.node
    }
}

/// This node's part of a cluster of hubs on Postgres: give it to the hub with
/// [`HubBuilder::cluster`](crate::HubBuilder::cluster), and the same [`PgStore`] as its store.
/// Made by [`PgStore::start_cluster`]; its tasks run until [`PgCluster::leave`] or
/// [`PgCluster::halt`].
#[derive(Debug, Clone)]
pub struct PgCluster {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: PgStore,
    options: ClusterOptions,
    hub: Mutex<Option<LocalHub>>,
    mirror: Mirror,
    writes: mpsc::UnboundedSender<PresenceWrite>,
    stop: watch::Sender<bool>,
    /// How many times the listener connected.
    listener_connections: AtomicU64,
}

#[derive(Debug)]
enum PresenceWrite {
    Connected(DeviceKey, u64),
    Disconnected(DeviceKey),
}

impl PgCluster {
    pub(super) async fn start(
        store: PgStore,
        options: ClusterOptions,
    ) -> Result<PgCluster, StoreError> {
        let (writes, queue) = mpsc::unbounded_channel();
        let (stop, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            mirror: Mirror::new(&options.node),
            store,
            options,
            hub: Mutex::new(None),
            writes,
            stop,
            listener_connections: AtomicU64::new(0),
        });
        // The node's entries of an earlier run are over: none of its connections survived (and
        // the other nodes are told, or they would count them again once this node beats).
        shared.clear_presence().await.map_err(StoreError::new)?;
        shared.heartbeat().await.map_err(StoreError::new)?;
        // Connected before returning, so a bad URL or a refused LISTEN is the caller's error.
        let listener = shared.connect_listener().await.map_err(StoreError::new)?;
        tokio::spawn(listen(
            shared.clone(),
            listener,
            shared.stop.subscribe(),
            shared.options.backoff_min,
            shared.options.backoff_max,
        ));
        tokio::spawn(beat(shared.clone()));
        tokio::spawn(write_presence(shared.clone(), queue));
        Ok(PgCluster { shared })
    }

    /// The node id.
    pub fn node(&self) -> &str {
        &self.shared.options.node
    }

    /// How many times the listener connected (1, plus its reconnections).
    pub fn listener_connections(&self) -> u64 {
        self.shared.listener_connections.load(Ordering::Relaxed)
    }

    /// Stops the node's tasks and removes its presence entries and heartbeat: its devices
    /// count as offline at once (call after the hub closed its connections).
    pub async fn leave(&self) -> Result<(), StoreError> {
        self.halt();
        self.shared
            .clear_presence()
            .await
            .map_err(StoreError::new)?;
        sqlx::query("DELETE FROM daemon_nodes WHERE node = $1")
            .bind(&self.shared.options.node)
            .execute(self.shared.store.pool())
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }

    /// Stops the node's tasks and writes nothing more, as a crashed node would: the other
    /// nodes count its devices as offline once its heartbeat is stale.
    pub fn halt(&self) {
        self.shared.stop.send_replace(true);
    }
}

impl Cluster for PgCluster {
    fn attach(&self, hub: LocalHub) {
        *self
            .shared
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(hub);
    }

    fn connected(&self, device: &DeviceKey) {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        // Fails only once the writer stopped (halted): nothing to write then.
        let _ = self
            .shared
            .writes
            .send(PresenceWrite::Connected(device.clone(), since));
    }

    fn disconnected(&self, device: &DeviceKey) {
        let _ = self
            .shared
            .writes
            .send(PresenceWrite::Disconnected(device.clone()));
    }

    fn connected_elsewhere(&self, device: &DeviceKey) -> bool {
        self.shared.mirror.connected_elsewhere(device)
    }
}

impl Shared {
    fn hub(&self) -> Option<LocalHub> {
        self.hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// A listener on a connection of its own (named, so operators see it in
    /// `pg_stat_activity`), listening on the channel.
    async fn connect_listener(&self) -> Result<PgListener, sqlx::Error> {
        let name = format!("pushway-daemon listener {}", self.options.node);
        let listener =
            listen::connect(&self.store.pool().connect_options(), &name, &[CHANNEL]).await?;
        self.listener_connections.fetch_add(1, Ordering::Relaxed);
        Ok(listener)
    }

    /// After (re)connecting: what happened while no listener was there is read from the tables.
    async fn catch_up(&self) {
        match self.presence_rows().await {
            Ok(rows) => self.mirror.reload(rows),
            Err(error) => tracing::warn!(%error, "daemon cluster: cannot reload presence"),
        }
        if let Some(hub) = self.hub() {
            hub.wake_all();
        }
    }

    async fn presence_rows(&self) -> Result<Vec<(DeviceKey, String, u64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT user_id, device, node, since_ms FROM daemon_presence WHERE scope = $1",
        )
        .bind(self.store.scope())
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (user, device): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            if let Some(key) = DeviceKey::new(&user, &device) {
                out.push((key, row.try_get(2)?, to_u64(row.try_get(3)?)));
            }
        }
        Ok(out)
    }

    fn on_notification(&self, payload: &str) {
        let Some(event) = event::decode(self.store.scope(), payload) else {
            return;
        };
        match event {
            Event::Queued { device, push, prev } => {
                if let Some(hub) = self.hub() {
                    hub.carry(&device, push, prev);
                }
            }
            Event::Pushed(device) => {
                if let Some(hub) = self.hub() {
                    hub.wake(&device);
                }
            }
            Event::WakeAll => {
                if let Some(hub) = self.hub() {
                    hub.wake_all();
                }
            }
            Event::Revoked(device, generation) => {
                if let Some(hub) = self.hub() {
                    hub.revoked(&device, generation);
                }
            }
            event @ (Event::Connected { .. } | Event::Disconnected { .. }) => {
                self.mirror.apply(&event);
            }
        }
    }

    /// Removes this node's presence entries of this scope, telling the other nodes.
    async fn clear_presence(&self) -> Result<(), sqlx::Error> {
        sqlx::query(
            "WITH gone AS (DELETE FROM daemon_presence WHERE scope = $1 AND node = $2
                           RETURNING scope, user_id, device)
             SELECT pg_notify($3, json_build_array('d', scope, user_id || '/' || device, $2::TEXT)::TEXT)
             FROM gone",
        )
        .bind(self.store.scope())
        .bind(&self.options.node)
        .bind(CHANNEL)
        .execute(self.store.pool())
        .await
        .map(drop)
    }

    /// Writes this node's heartbeat and reads which nodes are alive.
    async fn heartbeat(&self) -> Result<(), sqlx::Error> {
        let pool = self.store.pool();
        sqlx::query(
            "INSERT INTO daemon_nodes (node, heartbeat_at) VALUES ($1, now())
             ON CONFLICT (node) DO UPDATE SET heartbeat_at = now()",
        )
        .bind(&self.options.node)
        .execute(pool)
        .await?;
        // The database's clock for both: the nodes' clocks need not agree.
        let live = sqlx::query(
            "SELECT node FROM daemon_nodes
             WHERE heartbeat_at > now() - make_interval(secs => $1::FLOAT8 / 1000)",
        )
        .bind(to_i64(
            u64::try_from(self.options.stale_after.as_millis()).unwrap_or(u64::MAX),
        ))
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
        self.mirror.set_live(live);
        Ok(())
    }

    async fn write(&self, write: &PresenceWrite) -> Result<(), sqlx::Error> {
        let scope = self.store.scope();
        let node = &self.options.node;
        match write {
            PresenceWrite::Connected(device, since) => {
                // An older connect written late (another node's) does not overwrite a newer one.
                sqlx::query(
                    "WITH up AS (
                         INSERT INTO daemon_presence (scope, user_id, device, node, since_ms)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (scope, user_id, device) DO UPDATE
                         SET node = EXCLUDED.node, since_ms = EXCLUDED.since_ms
                         WHERE daemon_presence.since_ms <= EXCLUDED.since_ms
                         RETURNING 1)
                     SELECT pg_notify($6, $7) FROM up WHERE $7 IS NOT NULL",
                )
                .bind(scope)
                .bind(device.user())
                .bind(device.device())
                .bind(node)
                .bind(to_i64(*since))
                .bind(CHANNEL)
                .bind(event::connected(scope, device, node, *since))
                .execute(self.store.pool())
                .await?;
            }
            PresenceWrite::Disconnected(device) => {
                sqlx::query(
                    "WITH gone AS (
                         DELETE FROM daemon_presence
                         WHERE scope = $1 AND user_id = $2 AND device = $3 AND node = $4
                         RETURNING 1)
                     SELECT pg_notify($5, $6) FROM gone WHERE $6 IS NOT NULL",
                )
                .bind(scope)
                .bind(device.user())
                .bind(device.device())
                .bind(node)
                .bind(CHANNEL)
                .bind(event::disconnected(scope, device, node))
                .execute(self.store.pool())
                .await?;
            }
        }
        Ok(())
    }
}

impl Listen for Shared {
    const NAME: &'static str = "daemon cluster";

    async fn connect(&self) -> Result<PgListener, sqlx::Error> {
        self.connect_listener().await
    }

    async fn listening(&self) {
        self.catch_up().await;
    }

    fn notified(&self, notification: &PgNotification) {
        self.on_notification(notification.payload());
    }
}

/// The heartbeat loop.
async fn beat(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let mut every = tokio::time::interval(shared.options.heartbeat);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            _ = every.tick() => {}
        }
        if let Err(error) = shared.heartbeat().await {
            tracing::warn!(%error, "daemon cluster: heartbeat failed");
        }
    }
}

/// Writes the node's connects and disconnects in order, retrying each until it is written.
async fn write_presence(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<PresenceWrite>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let write = tokio::select! {
            () = stopped(&mut stop) => return,
            write = queue.recv() => match write {
                Some(write) => write,
                None => return,
            },
        };
        let mut backoff = shared.options.backoff_min;
        while let Err(error) = shared.write(&write).await {
            tracing::warn!(%error, ?backoff, "daemon cluster: presence write failed; retrying");
            tokio::select! {
                () = stopped(&mut stop) => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(shared.options.backoff_max);
        }
        if shared.stopped() {
            return;
        }
    }
}
