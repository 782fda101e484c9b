//! The device client: what an app's background daemon process runs to receive pushes.
//!
//! [`DeviceClient`] keeps one connection up: it connects and authenticates, answers pings,
//! hands each push to the app once (de-duplicated by id, so a push re-sent after a lost ack is
//! not shown twice), acks it, and reconnects with exponential backoff and jitter when the
//! connection drops. It stops on a terminal close (token refused, expired or revoked, replaced
//! by another connection of the same device, or refused because one with a newer token is live). [`Connection`] is one connection, for callers that
//! want to drive the protocol themselves.
//!
//! ```no_run
//! # async fn run() {
//! use pushway_daemon::client::{DeviceClient, Event};
//!
//! let mut device = DeviceClient::builder("ws://127.0.0.1:7700/", "<device JWT>").spawn();
//! while let Some(event) = device.next_event().await {
//!     match event {
//!         Event::Push(push) => println!("{}: {}", push.notification.title, push.notification.body),
//!         Event::Stopped { error } => eprintln!("stopped: {error}"),
//!         _ => {}
//!     }
//! }
//! # }
//! ```

mod connection;
mod dedup;
mod error;

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use connection::{ConnectOptions, Connection, DEFAULT_CONNECT_TIMEOUT, Push};
pub use dedup::{DEFAULT_DEDUP_CAPACITY, RecentIds};
pub use error::ClientError;

/// The default first reconnect delay.
pub const DEFAULT_MIN_BACKOFF: Duration = Duration::from_millis(200);
/// The default longest reconnect delay.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How many events wait for the app before the client stops reading (and acking).
const EVENT_BUFFER: usize = 64;

/// What the client tells the app.
#[derive(Debug)]
#[non_exhaustive]
// Pushes are by far the most frequent event: boxing them would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// Authenticated; pushes follow (queued ones first, in order).
    Connected {
        /// The device id the server authenticated.
        device_id: String,
    },
    /// A push not seen before; it is acked once handed over.
    Push(Push),
    /// The connection failed or dropped; the client reconnects after `retry_in`.
    Disconnected {
        /// Why.
        error: ClientError,
        /// The delay before the next attempt.
        retry_in: Duration,
    },
    /// The client stopped for good (a terminal close); no more events follow.
    Stopped {
        /// Why.
        error: ClientError,
    },
}

/// A running device client. Dropping it stops it.
#[derive(Debug)]
pub struct DeviceClient {
    events: mpsc::Receiver<Event>,
    task: JoinHandle<()>,
}

impl DeviceClient {
    /// A builder for a client of `url` authenticating with `token`.
    pub fn builder(url: impl Into<String>, token: impl Into<String>) -> DeviceClientBuilder {
        DeviceClientBuilder {
            url: url.into(),
            token: token.into(),
            options: ConnectOptions::default(),
            min_backoff: DEFAULT_MIN_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            dedup_capacity: DEFAULT_DEDUP_CAPACITY,
        }
    }

    /// The next event; `None` after [`Event::Stopped`].
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// The next push, skipping other events; `None` once the client has stopped.
    pub async fn next_push(&mut self) -> Option<Push> {
        loop {
            match self.events.recv().await? {
                Event::Push(push) => return Some(push),
                Event::Stopped { .. } => return None,
                _ => {}
            }
        }
    }

    /// Stops the client (its connection is dropped).
    pub fn stop(self) {}
}

impl Drop for DeviceClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Builds a [`DeviceClient`].
#[derive(Clone)]
#[must_use]
pub struct DeviceClientBuilder {
    url: String,
    token: String,
    options: ConnectOptions,
    min_backoff: Duration,
    max_backoff: Duration,
    dedup_capacity: usize,
}

impl std::fmt::Debug for DeviceClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a bearer credential: never printed.
        f.debug_struct("DeviceClientBuilder")
            .field("url", &self.url)
            .field(
                "token",
                &format_args!("<redacted, {} bytes>", self.token.len()),
            )
            .field("options", &self.options)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("dedup_capacity", &self.dedup_capacity)
            .finish()
    }
}

impl DeviceClientBuilder {
    /// The TLS configuration for `wss://` URLs.
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.options.tls = Some(config);
        self
    }

    /// The time for one connect (TCP, TLS, handshake, welcome).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// The first and the longest reconnect delay; each failure doubles it, with jitter.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    /// How many recent push ids are remembered for de-duplication.
    pub fn dedup_capacity(mut self, capacity: usize) -> Self {
        self.dedup_capacity = capacity;
        self
    }

    /// Starts the client on the current tokio runtime.
    pub fn spawn(self) -> DeviceClient {
        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        let task = tokio::spawn(run(self, tx));
        DeviceClient { events, task }
    }
}

async fn run(config: DeviceClientBuilder, events: mpsc::Sender<Event>) {
    let mut seen = RecentIds::new(config.dedup_capacity);
    let mut backoff = config.min_backoff;
    loop {
        let error = match Connection::connect(&config.url, &config.token, &config.options).await {
            Ok(mut connection) => {
                backoff = config.min_backoff;
                let device_id = connection.device_id().to_owned();
                if events.send(Event::Connected { device_id }).await.is_err() {
                    return;
                }
                loop {
                    let push = match connection.next().await {
                        Ok(push) => push,
                        Err(error) => break error,
                    };
                    let id = push.id.clone();
                    if seen.insert(&id) && events.send(Event::Push(push)).await.is_err() {
                        return;
                    }
                    // Duplicates are acked too, so the server stops re-sending them.
                    if let Err(error) = connection.ack(&id).await {
                        break error;
                    }
                }
            }
            Err(error) => error,
        };
        if error.is_terminal() {
            let _ = events.send(Event::Stopped { error }).await;
            return;
        }
        let retry_in = jitter(backoff);
        if events
            .send(Event::Disconnected { error, retry_in })
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(retry_in).await;
        backoff = backoff.saturating_mul(2).min(config.max_backoff);
    }
}

/// A delay between half and all of `backoff`, so devices cut off together do not all
/// reconnect at the same instant.
fn jitter(backoff: Duration) -> Duration {
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
    backoff.mul_f64(fraction)
}
