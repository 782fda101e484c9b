//! One app's daemon channel (pushway's own WebSocket push channel): the secret its device
//! tokens are signed with, how long they live, and the hub's queue limits.

use std::path::PathBuf;

use pushway_core::ChannelStrategy;
use serde::Deserialize;

use super::Secret;

/// `[apps.<app>.daemon]`: with it, the gateway runs a daemon hub for the app, serves its
/// WebSocket endpoint (`GET /v1/apps/<app>/daemon`) and issues its devices' tokens.
///
/// ```toml
/// [apps.chat.daemon]
/// secret_file = "/run/secrets/daemon"   # HS256, at least 32 bytes
/// token_lifetime_secs = 604800          # 7 days (at most 30 days)
/// strategy = "daemon_first"             # or "all_devices" (the default)
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct DaemonConfig {
    /// The HS256 secret device tokens are signed with (at least 32 bytes).
    pub secret: Option<Secret>,
    /// A file holding the secret.
    pub secret_file: Option<PathBuf>,
    /// How long an issued device token is valid, in seconds (default 7 days, at most 30 days).
    pub token_lifetime_secs: u64,
    /// How long a connected device has to ack a push before it counts as queued, in
    /// milliseconds (default 5000; below `worker.send_timeout_secs`).
    pub ack_timeout_ms: u64,
    /// The most pushes queued per offline device; beyond it the oldest are dropped (default
    /// 1000).
    pub queue_max_len: usize,
    /// The longest a push stays queued, in seconds (default 7 days); a message's own shorter TTL
    /// wins.
    pub queue_ttl_secs: u64,
    /// The SQLite file of the app's queues and token generations (default
    /// `daemon-<app>.sqlite3` beside `store.path`). Not used on a Postgres store: the queues are
    /// in its database, shared by every node.
    pub queue_path: Option<PathBuf>,
    /// Which of a recipient's devices a message goes to: `all_devices` (the default: every
    /// logged-in device), or `daemon_first` (decided when the message is accepted, from the
    /// hub's presence, cluster-wide on Postgres): a daemon device connected now gets it and the
    /// recipient's other devices are left out (`daemon_live`); with none connected the vendor
    /// devices get it and the daemon devices are left out (`vendor_preferred`), unless the
    /// recipient has no vendor device, when the daemon devices get it (queued while offline).
    /// Changed by a reload or the admin API, the channel is rebuilt as for a rotated secret:
    /// connected devices reconnect.
    pub strategy: ChannelStrategy,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            secret: None,
            secret_file: None,
            token_lifetime_secs: 7 * 86_400,
            ack_timeout_ms: 5_000,
            queue_max_len: pushway_daemon::DEFAULT_QUEUE_MAX_LEN,
            queue_ttl_secs: pushway_daemon::DEFAULT_QUEUE_TTL.as_secs(),
            queue_path: None,
            strategy: ChannelStrategy::AllDevices,
        }
    }
}

impl DaemonConfig {
    /// A channel signing its tokens with `secret`, every other setting at its default.
    pub fn with_secret(secret: impl Into<String>) -> Self {
        DaemonConfig {
            secret: Some(Secret::new(secret)),
            ..DaemonConfig::default()
        }
    }
}
