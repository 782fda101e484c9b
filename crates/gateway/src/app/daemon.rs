//! An app's daemon channel: a pushway-daemon [`Hub`] whose queues and token generations live in
//! a SQLite file of the app's own, how long the device tokens it issues live, and where it
//! reports acks that come after a send's outcome (the gateway's writer, which marks a `queued`
//! delivery `delivered`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use pushway_daemon::{DEFAULT_MAX_TOKEN_LIFETIME, DeviceAuth, Hub, SqliteStore};

use crate::config::{Config, ConfigError, DaemonConfig};
use crate::store::{DaemonUpdate, DeliveryState};
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
    /// Where the channel reports what happens to pushes after their send's outcome.
    pub(crate) writer: Option<Writer>,
}

/// The opened queue store of each app with a daemon channel, by app id, and the writer their
/// hubs report acks to.
#[derive(Debug, Clone, Default)]
pub struct DaemonStores {
    stores: BTreeMap<String, SqliteStore>,
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
    pub fn get(&self, app: &str) -> Option<&SqliteStore> {
        self.stores.get(app)
    }

    /// Closes every store, waiting for queries in progress.
    pub async fn close(&self) {
        for store in self.stores.values() {
            store.close().await;
        }
    }
}

/// Where the daemon queues of `app` live: its `queue_path`, or `daemon-<app>.sqlite3` beside the
/// gateway's database. `None` when the app has no daemon channel.
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

/// Opens (creating when needed) the queue store of every app with a daemon channel.
pub async fn open_daemon_stores(config: &Config) -> Result<DaemonStores, ConfigError> {
    let mut stores = DaemonStores::new();
    for id in config.apps.keys() {
        // An invalid id is refused when the apps are built; its file is not made.
        if !super::valid_id(id) {
            continue;
        }
        let Some(path) = daemon_queue_path(config, id) else {
            continue;
        };
        let at = format!("apps.{id}.daemon.queue_path");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| ConfigError::at(&at, format!("{}: {e}", dir.display())))?;
        }
        let store = SqliteStore::open(&path)
            .await
            .map_err(|e| ConfigError::at(&at, format!("{}: {e}", path.display())))?;
        stores.stores.insert(id.clone(), store);
    }
    Ok(stores)
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
    if let Some(store) = stores.get(app) {
        builder = builder.store(store.clone());
    }
    if let Some(writer) = &stores.writer {
        let (app, writer) = (app.to_owned(), writer.clone());
        // Every ack that removes a push is reported, not only late ones: whether the send still
        // waits for it is not known here, and the row's update is idempotent.
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
        writer: stores.writer.clone(),
    })
}
