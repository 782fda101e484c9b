//! An app's daemon channel: a pushway-daemon [`Hub`] whose queues and token generations live in
//! a SQLite file of the app's own (or, on a Postgres store, in that database, the hub one node
//! of a cluster), how long the device tokens it issues live, and where it reports acks that come
//! after a send's outcome (the gateway's writer, which marks a `queued` delivery `delivered`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use pushway_core::ChannelStrategy;
use pushway_daemon::{
    ClusterOptions, DEFAULT_MAX_TOKEN_LIFETIME, DeviceAuth, Hub, PgCluster, SqliteStore,
};

use crate::config::{Config, ConfigError, DaemonConfig};
use crate::store::{AnyStore, DaemonUpdate, DeliveryState};
use crate::worker::{WriteCommand, Writer};

/// The credential name of every daemon device: an app has one daemon channel.
pub const DAEMON_CREDENTIAL: &str = "daemon";

/// The shortest token lifetime accepted: a device must have time to connect.
const MIN_TOKEN_LIFETIME_SECS: u64 = 60;

/// An app's daemon channel as the gateway runs it.
#[derive(Debug, Clone)]
pub struct DaemonChannel {
    /// The hub: its WebSocket endpoint is served on the API's port, its provider is in the
    /// app's router.
    pub hub: Hub,
    /// How long an issued device token is valid.
    pub token_lifetime: Duration,
    /// Which of a recipient's devices the app's messages go to (`[apps.<app>.daemon]
    /// strategy`), decided at accept from the hub's presence.
    pub strategy: ChannelStrategy,
    /// Where the channel reports what happens to pushes after their send's outcome.
    pub(crate) writer: Option<Writer>,
}

/// Where one app's daemon queues live.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DaemonStore {
    /// A SQLite file of the app's own: devices connect to this node.
    Sqlite(SqliteStore),
    /// The gateway's Postgres database (the app id as the scope), shared by every node; this
    /// node's hub runs as one node of the cluster, so a push any node queues reaches the node
    /// the device is connected to.
    Postgres {
        /// The queues.
        store: pushway_daemon::PgStore,
        /// This node's part of the cluster (wake-ups, presence, revocations).
        cluster: PgCluster,
    },
}

/// The opened queue store of each app with a daemon channel, by app id, and the writer their
/// hubs report acks to.
#[derive(Debug, Clone, Default)]
pub struct DaemonStores {
    stores: BTreeMap<String, DaemonStore>,
    writer: Option<Writer>,
}

impl DaemonStores {
    /// No stores: every daemon channel keeps its queues in memory.
    pub fn new() -> Self {
        DaemonStores::default()
    }

    /// Hubs built over these stores report to `writer` when a device acks a push after its
    /// send's outcome was recorded (a `queued` delivery becomes `delivered`), and when a
    /// logout, kick or removal takes pushes out of a queue unsent.
    #[must_use]
    pub fn reporting_to(mut self, writer: Writer) -> Self {
        self.writer = Some(writer);
        self
    }

    /// The store of `app`.
    pub fn get(&self, app: &str) -> Option<&DaemonStore> {
        self.stores.get(app)
    }

    /// Leaves the cluster (this node's devices count as offline at once), then closes every
    /// store, waiting for queries in progress. Call after the hubs closed their connections.
    pub async fn close(&self) {
        // Every cluster first: on Postgres the stores share one pool, closed with the first.
        for store in self.stores.values() {
            if let DaemonStore::Postgres { cluster, .. } = store
                && let Err(error) = cluster.leave().await
            {
                tracing::warn!(%error, "daemon channel: cannot leave the cluster cleanly");
            }
        }
        for store in self.stores.values() {
            match store {
                DaemonStore::Sqlite(store) => store.close().await,
                DaemonStore::Postgres { store, .. } => store.close().await,
            }
        }
    }

    /// Stops every cluster's tasks without writing anything more, as a crashed node would
    /// (the other nodes count this node's devices as offline once its heartbeat is stale).
    pub fn halt(&self) {
        for store in self.stores.values() {
            if let DaemonStore::Postgres { cluster, .. } = store {
                cluster.halt();
            }
        }
    }
}

/// Halts the clusters of `stores` when dropped unless [`disarm`](HaltOnDrop::disarm)ed: a start
/// that fails after the stores were opened leaves no node heartbeating behind.
pub(crate) struct HaltOnDrop(Option<DaemonStores>);

impl HaltOnDrop {
    pub(crate) fn new(stores: &DaemonStores) -> HaltOnDrop {
        HaltOnDrop(Some(stores.clone()))
    }

    /// The start succeeded: the gateway owns the clusters now.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for HaltOnDrop {
    fn drop(&mut self) {
        if let Some(stores) = &self.0 {
            stores.halt();
        }
    }
}

/// Where the daemon queues of `app` live with a SQLite store: its `queue_path`, or
/// `daemon-<app>.sqlite3` beside the gateway's database. `None` when the app has no daemon
/// channel. (On a Postgres store they live in that database and this path is not used.)
pub fn daemon_queue_path(config: &Config, app: &str) -> Option<PathBuf> {
    let daemon = config.apps.get(app)?.daemon.as_ref()?;
    Some(daemon.queue_path.clone().unwrap_or_else(|| {
        let file = format!("daemon-{app}.sqlite3");
        match config.store.path.parent() {
            Some(dir) => dir.join(file),
            None => PathBuf::from(file),
        }
    }))
}

/// Opens (creating when needed) the queue store of every app with a daemon channel: beside the
/// gateway's SQLite `store`, or in its Postgres database (on its pool), each app's hub joining
/// the cluster as node `[cluster] node_id`.
pub async fn open_daemon_stores(
    config: &Config,
    store: &AnyStore,
) -> Result<DaemonStores, ConfigError> {
    let mut stores = DaemonStores::new();
    if matches!(store, AnyStore::Postgres(_)) {
        config.cluster.validate()?;
    }
    for id in config.apps.keys() {
        // An invalid id is refused when the apps are built; its file is not made.
        if !super::valid_id(id) {
            continue;
        }
        let Some(path) = daemon_queue_path(config, id) else {
            continue;
        };
        let opened = match store {
            AnyStore::Postgres(pg) => open_postgres(config, id, pg.pool().clone()).await,
            AnyStore::Sqlite(_) => open_sqlite(id, path).await,
        };
        match opened {
            Ok(opened) => {
                stores.stores.insert(id.clone(), opened);
            }
            Err(error) => {
                // What was opened before is left cleanly: its node entries too.
                stores.close().await;
                return Err(error);
            }
        }
    }
    Ok(stores)
}

async fn open_sqlite(id: &str, path: PathBuf) -> Result<DaemonStore, ConfigError> {
    let at = format!("apps.{id}.daemon.queue_path");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ConfigError::at(&at, format!("{}: {e}", dir.display())))?;
    }
    let store = SqliteStore::open(&path)
        .await
        .map_err(|e| ConfigError::at(&at, format!("{}: {e}", path.display())))?;
    Ok(DaemonStore::Sqlite(store))
}

/// The app's queues in the gateway's database, on its pool: one connection budget per node
/// (`store.max_connections`), plus one listener connection per app for the wake-ups.
async fn open_postgres(
    config: &Config,
    id: &str,
    pool: sqlx::PgPool,
) -> Result<DaemonStore, ConfigError> {
    let at = format!("apps.{id}.daemon");
    // The errors are sqlx's, which never repeat the URL (and its password).
    let store = pushway_daemon::PgStore::with_pool(pool, id)
        .await
        .map_err(|e| ConfigError::at(&at, format!("the daemon queue on Postgres: {e}")))?;
    let cluster = store
        .start_cluster(ClusterOptions::new(&config.cluster.node_id))
        .await
        .map_err(|e| ConfigError::at(&at, format!("joining the daemon cluster: {e}")))?;
    Ok(DaemonStore::Postgres { store, cluster })
}

/// The channel `daemon` of app `app` (at config key `at`, its secret `secret`) describes, over its store in
/// `stores` (memory when absent).
pub(super) fn daemon_channel(
    app: &str,
    at: &str,
    daemon: &DaemonConfig,
    secret: &str,
    config: &Config,
    stores: &DaemonStores,
) -> Result<DaemonChannel, ConfigError> {
    let key = format!("{at}.secret");
    let auth = DeviceAuth::hs256(secret.as_bytes()).map_err(|e| {
        let key = if daemon.secret_file.is_some() {
            format!("{key}_file")
        } else {
            key.clone()
        };
        ConfigError::at(&key, e)
    })?;
    let max = DEFAULT_MAX_TOKEN_LIFETIME.as_secs();
    if !(MIN_TOKEN_LIFETIME_SECS..=max).contains(&daemon.token_lifetime_secs) {
        return Err(ConfigError::at(
            &format!("{at}.token_lifetime_secs"),
            format!("must be {MIN_TOKEN_LIFETIME_SECS} to {max} seconds"),
        ));
    }
    // The send of a push to a connected device waits for its ack: within the worker's deadline
    // of one attempt, or every slow ack would count as a timeout instead of `queued`.
    let send_timeout_ms = config.worker.send_timeout_secs.max(1).saturating_mul(1000);
    if daemon.ack_timeout_ms == 0 || daemon.ack_timeout_ms >= send_timeout_ms {
        return Err(ConfigError::at(
            &format!("{at}.ack_timeout_ms"),
            format!(
                "must be 1 to {} (below worker.send_timeout_secs)",
                send_timeout_ms - 1
            ),
        ));
    }
    if daemon.queue_max_len == 0 {
        return Err(ConfigError::at(
            &format!("{at}.queue_max_len"),
            "must be at least 1",
        ));
    }
    if daemon.queue_ttl_secs == 0 {
        return Err(ConfigError::at(
            &format!("{at}.queue_ttl_secs"),
            "must be at least 1",
        ));
    }
    let mut builder = Hub::builder(auth)
        .ack_timeout(Duration::from_millis(daemon.ack_timeout_ms))
        .queue_max_len(daemon.queue_max_len)
        .queue_ttl(Duration::from_secs(daemon.queue_ttl_secs));
    match stores.get(app) {
        Some(DaemonStore::Sqlite(store)) => builder = builder.store(store.clone()),
        // A rebuilt hub (a rotated secret) takes the cluster's wake-ups over from the old one,
        // whose devices are disconnected.
        Some(DaemonStore::Postgres { store, cluster }) => {
            builder = builder.store(store.clone()).cluster(cluster.clone());
        }
        None => {}
    }
    if let Some(writer) = &stores.writer {
        let (app, writer) = (app.to_owned(), writer.clone());
        // Acks no send waits for any more (late, or on a later connection): the sends that see
        // theirs report `Delivered`, recorded with their outcomes.
        builder = builder.on_acked(move |device, id| {
            writer.send(WriteCommand::Daemon(vec![DaemonUpdate {
                app: app.clone(),
                user: device.user().to_owned(),
                device_id: device.device().to_owned(),
                message_id: id.to_owned(),
                state: DeliveryState::Delivered,
                outcome: "delivered".to_owned(),
                reason: None,
            }]));
        });
    }
    Ok(DaemonChannel {
        hub: builder.build(),
        token_lifetime: Duration::from_secs(daemon.token_lifetime_secs),
        strategy: daemon.strategy,
        writer: stores.writer.clone(),
    })
}
