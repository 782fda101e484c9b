//! A faithful local simulator of the APNs provider API (protocols/apns.md §8).
//!
//! HTTP/2 over TLS (a self-signed certificate made at start, ALPN `h2`, clients that send no ALPN
//! served too) or h2c with prior knowledge. `POST /3/device/<token>` runs the ordered checks of
//! §8.2 (provider token, headers, device token, body), answers like APNs (§8.3: success = HEADERS
//! only with `apns-id`; error = `content-type: application/json`, `apns-id` and one DATA frame of
//! compact JSON, with a millisecond `timestamp` on 410), and records every request with its
//! decoded provider token and connection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pushway_mock::apns::{ApnsSimulator, TestKey};
//! let key = TestKey::generate();
//! let sim = ApnsSimulator::builder()
//!     .tls(false)
//!     .key("TEAM123456", "KEY1234567", key.public_key_pem())
//!     .topic("com.example.app")
//!     .start()
//!     .await?;
//! let jwt = key.provider_token("KEY1234567", "TEAM123456", sim.script().now_ms() / 1000);
//! // POST {sim.base_url()}/3/device/<hex> with `authorization: bearer {jwt}` …
//! # let _ = jwt; Ok(()) }
//! ```
//!
//! Faults (`ApnsScript::add_fault`) — statuses, latency, `REFUSED_STREAM`, dropped connections,
//! GOAWAY with debug data — and the device-token registry can be changed while it runs. The
//! simulator stops when dropped.

mod builder;
mod checks;
mod conn;
mod error;
mod jwt;
mod log;
mod reason;
mod script;
mod server;
mod tap;
mod test_key;

use std::net::SocketAddr;
use std::sync::Arc;

/// Which requests a fault applies to (shared by every simulator of this crate).
pub use crate::fault::Trigger;
pub use builder::ApnsSimulatorBuilder;
pub use checks::{MAX_COLLAPSE_ID, MAX_PAYLOAD, MAX_VOIP_PAYLOAD, PUSH_TYPES};
pub use error::ApnsError;
pub use jwt::{ApnsKey, DecodedJwt, SignatureEncoding};
pub use log::{ApnsOutcome, ApnsRequest, ConnectionBinding};
pub use reason::ApnsReason;
pub use script::{ApnsFault, ApnsScript, GoAway};
pub use test_key::TestKey;

use crate::Recording;
use script::Shared;

/// The APNs environment the simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApnsEnvironment {
    /// `api.sandbox.push.apple.com`: answers carry `apns-unique-id`.
    #[default]
    Development,
    /// `api.push.apple.com`.
    Production,
}

/// A running APNs simulator. Dropping it stops it (the accept loop and every connection).
pub struct ApnsSimulator {
    addr: SocketAddr,
    tls: bool,
    cert_pem: Option<String>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ApnsSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApnsSimulator")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish()
    }
}

impl ApnsSimulator {
    /// A builder with the defaults: `127.0.0.1:0`, TLS, development, 1000 streams, token auth,
    /// `Recording::Last(10_000)`.
    pub fn builder() -> ApnsSimulatorBuilder {
        ApnsSimulatorBuilder::default()
    }

    /// `https://127.0.0.1:PORT` (TLS) or `http://127.0.0.1:PORT` (h2c); requests go to
    /// `{base_url}/3/device/<token>`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM of the self-signed certificate (TLS mode), for clients to trust. It is valid for
    /// `localhost`, `127.0.0.1`, `::1` and APNs's host names.
    pub fn ca_cert_pem(&self) -> Option<String> {
        self.cert_pem.clone()
    }

    /// The kept requests, oldest first.
    pub fn requests(&self) -> Vec<ApnsRequest> {
        self.shared.log.requests()
    }

    /// How many requests arrived in all (kept or not).
    pub fn request_count(&self) -> u64 {
        self.shared.log.total()
    }

    /// Forgets the kept requests and resets the count.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Changes how many requests are kept.
    pub fn set_recording(&self, recording: Recording) {
        self.shared.log.set_mode(recording);
    }

    /// A handle to script the simulator while it runs.
    pub fn script(&self) -> ApnsScript {
        ApnsScript {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for ApnsSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
