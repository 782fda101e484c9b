//! pushway's in-house long-connection channel, for Android phones without a vendor push
//! channel: the app's background daemon process keeps one WebSocket connection to a [`Hub`],
//! and the [`DaemonProvider`] pushes over it.
//!
//! | piece | what it is |
//! |---|---|
//! | [`Hub`] | (user, device) → live connection; serves `ws://` or `wss://` ([`Hub::serve`], [`Hub::serve_tls`]), or connections another HTTP server upgraded ([`Hub::serve_upgraded`]) |
//! | [`DeviceKey`] | a user's device: the key of connections, queues and token generations; its address `<user>/<device>` is the device token |
//! | [`DeviceAuth`] | the HS256 JWT a device presents in its `hello`; [`Hub::issue_token`], [`Hub::revoke_device`] |
//! | [`DaemonProvider`] | a [`PushProvider`](pushway_core::PushProvider): `Delivered` when acked in time, else `Queued` |
//! | [`QueueStore`] | per-device store-and-forward queues: [`MemoryStore`], [`SqliteStore`], [`PgStore`] |
//! | [`PgCluster`] | several hubs (nodes) on one Postgres database: a push accepted by any node reaches the device on whichever node it is connected to; presence and revocations cluster-wide |
//! | [`client`] | the device side: connect, authenticate, receive, ack, reconnect, de-duplicate |
//! | [`protocol`] | the frames and close codes (`PROTOCOL.md` in the crate is the prose version) |
//!
//! Every push goes into the device's queue first; a connection sends from the queue in order and
//! an ack removes the push. A push that is not acked in time stays queued and is replayed on the
//! next connection, and the client shows each push id once. Queues are bounded in length
//! (oldest dropped and counted) and in time (TTL). A connection holds at most
//! [`HubBuilder::max_in_flight`] unacked pushes and [`HubBuilder::max_in_flight_bytes`] bytes of
//! them; a device that stops reading (no ack for the write timeout) is closed, and delays nobody
//! else.
//!
//! Secrets — the HS256 secret, device tokens — never appear in `Debug` output or logs. The
//! WebSocket library underneath logs every message whole at TRACE through the `log` facade, and
//! a device's `hello` carries its token, so this crate caps `log` at DEBUG at compile time (its
//! `max_level_debug` feature): in a build that links it, `log`'s TRACE records are compiled out
//! (`tracing`'s are not affected).
//!
//! ```
//! use std::time::Duration;
//! use pushway_core::{DeviceToken, Outcome, PushProvider, TokenKind, testing::sample_notification};
//! use pushway_daemon::{DeviceAuth, Hub, client::DeviceClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let auth = DeviceAuth::hs256(b"an example secret of 32+ bytes!!").unwrap();
//! let hub = Hub::builder(auth).build();
//! let server = hub.bind("127.0.0.1:0").await.unwrap();
//! let provider = hub.provider();
//! let device = DeviceToken::new(TokenKind::Daemon, "daemon", "alice/phone-1");
//!
//! // Offline: the push waits in the device's queue.
//! let outcomes = provider.send(&sample_notification(), &[device]).await;
//! assert_eq!(outcomes, [Outcome::Queued]);
//!
//! // The device connects with a token the server issued, and receives it.
//! let token = hub.issue_token("alice", "phone-1", Duration::from_secs(3600)).await.unwrap();
//! let mut client = DeviceClient::builder(server.url(), token).spawn();
//! let push = client.next_push().await.unwrap();
//! assert_eq!(push.notification.body, "hello");
//! # server.shutdown().await;
//! # }
//! ```

mod auth;
pub mod client;
mod clock;
mod cluster;
mod config;
mod conn;
mod delivery;
mod handshake;
mod hub;
mod hub_builder;
mod key;
mod pending;
pub mod protocol;
mod provider;
mod queue;
mod server;
mod session;
mod store_memory;
mod store_postgres;
mod store_sqlite;

pub use auth::{
    AUDIENCE, AuthError, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LIFETIME, DeviceAuth, DeviceClaims,
    KeyError, MIN_SECRET_BYTES,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cluster::{Cluster, LocalHub};
pub use config::{
    DEFAULT_ACK_TIMEOUT, DEFAULT_AUTH_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_IN_FLIGHT_BYTES, DEFAULT_MAX_UNAUTHENTICATED, DEFAULT_PING_INTERVAL,
    DEFAULT_WRITE_TIMEOUT,
};
pub use delivery::REASON_STORE;
pub use hub::{Hub, HubStats};
pub use hub_builder::HubBuilder;
pub use key::{ADDRESS_SEPARATOR, DeviceKey};
pub use protocol::{CloseReason, MAX_DEVICE_FRAME_BYTES, MAX_PUSH_FRAME_BYTES, PROTOCOL_VERSION};
pub use provider::{
    DaemonProvider, REASON_BAD_DEVICE_ADDRESS, REASON_ID_TOO_LONG, REASON_WRONG_CHANNEL,
};
pub use queue::{
    Appended, DEFAULT_QUEUE_MAX_LEN, DEFAULT_QUEUE_TTL, NewPush, Pending, QueueStore, StoreError,
    StoredPush,
};
pub use server::Server;
pub use store_memory::MemoryStore;
pub use store_postgres::listen as pg_listen;
pub use store_postgres::{ClusterOptions, PgCluster, PgStore};
pub use store_sqlite::SqliteStore;
