//! A simulator of Xiaomi MiPush's send-to-regids API.
//!
//! It serves `POST /v3/message/regid` and `POST /v2/message/regid` over plain HTTP/1.1, decodes the
//! form body exactly as the real server does (`+` is a space, `%XX` escapes are exact), and
//! answers with the bodies of protocols/xiaomi.md §10.4 (see `fixtures/xiaomi/`). The retired
//! invalid-regid feedback endpoint is deliberately absent.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pushway_mock::xiaomi::StartError> {
//! use pushway_mock::Recording;
//! use pushway_mock::fault::Trigger;
//! use pushway_mock::xiaomi::{XiaomiFault, XiaomiSimulator};
//!
//! let sim = XiaomiSimulator::builder()
//!     .app_secret("TESTSECRET0123456789==")
//!     .package("com.example.chat")
//!     .require_channel_id(true)
//!     .recording(Recording::Last(100))
//!     .start()
//!     .await?;
//! sim.unregister(["ab+cd/ef=="]); // now reported in data.bad_regids
//! sim.inject(Trigger::ratio(1, 10), XiaomiFault::Status(503));
//! let url = format!("{}/v3/message/regid", sim.base_url());
//! # let _ = url;
//! # Ok(())
//! # }
//! ```

mod fault;
mod handler;
mod response;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub use self::fault::XiaomiFault;
pub use self::handler::MAX_REGIDS;
pub use crate::http_server::StartError;

use self::handler::State;
use crate::fault::{FaultRules, Trigger};
use crate::http_server::{ServerHandle, serve};
use crate::record::{RecordedRequest, Recorder, Recording};
use crate::tokens::TokenBook;

/// A running Xiaomi simulator; it stops when dropped.
#[derive(Debug)]
pub struct XiaomiSimulator {
    state: Arc<State>,
    server: ServerHandle,
}

/// Configures and starts a [`XiaomiSimulator`].
#[derive(Debug)]
#[must_use]
pub struct XiaomiSimulatorBuilder {
    bind: SocketAddr,
    secrets: Vec<String>,
    packages: Vec<String>,
    require_channel_id: bool,
    accept_any_regid: bool,
    regids: Vec<String>,
    daily_quota: Option<u64>,
    recording: Recording,
}

impl XiaomiSimulator {
    /// A builder with the defaults: `127.0.0.1:0`, any AppSecret, any package, any well-formed
    /// regid, no channel required, no quota, the default recording bound.
    pub fn builder() -> XiaomiSimulatorBuilder {
        XiaomiSimulatorBuilder {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            secrets: Vec::new(),
            packages: Vec::new(),
            require_channel_id: false,
            accept_any_regid: true,
            regids: Vec::new(),
            daily_quota: None,
            recording: Recording::default(),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<addr>`: the base URL to give a Xiaomi client in place of
    /// `https://api.xmpush.xiaomi.com`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The kept requests, oldest first ([`RecordedRequest::form`] decodes their bodies).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.requests()
    }

    /// How many requests arrived in all, kept or not.
    pub fn request_count(&self) -> u64 {
        self.state.recorder.total()
    }

    /// TCP connections accepted so far (HTTP/1.1 keep-alive: one carries one request at a
    /// time, so a client's burst shows here as the connections it opened).
    pub fn connection_count(&self) -> u64 {
        self.server.connection_count()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state.recorder.clear();
    }

    /// Changes what is recorded from now on.
    pub fn set_recording(&self, recording: Recording) {
        self.state.recorder.set_mode(recording);
    }

    /// Regids accepted so far in successful sends (what `data.day_acked` reports).
    pub fn acked(&self) -> u64 {
        self.state.acked.load(Ordering::Relaxed)
    }

    /// Marks regids as registered (valid again if they were unregistered).
    pub fn register<I, S>(&self, regids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state
            .tokens
            .register(regids.into_iter().map(Into::into));
    }

    /// Marks regids as unregistered: from now on they are reported in `data.bad_regids`.
    pub fn unregister<I, S>(&self, regids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state
            .tokens
            .unregister(regids.into_iter().map(Into::into));
    }

    /// Whether any well-formed regid that was not unregistered counts as valid (`true`), or only
    /// registered ones (`false`).
    pub fn set_accept_any_regid(&self, accept_any: bool) {
        self.state.tokens.set_accept_any(accept_any);
    }

    /// Whether a send without `extra.channel_id` gets 27001.
    pub fn set_require_channel_id(&self, require: bool) {
        self.state
            .require_channel_id
            .store(require, Ordering::Relaxed);
    }

    /// Adds a fault rule; rules apply in the order they were added (see [`crate::fault`]).
    pub fn inject(&self, trigger: Trigger, fault: XiaomiFault) {
        self.state.faults.push(trigger, fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }
}

impl XiaomiSimulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// An AppSecret to accept in `Authorization: key=<AppSecret>`; call again to accept several.
    /// With none configured any non-empty secret is accepted.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// A `restricted_package_name` to accept; call again to accept several. A send naming no
    /// accepted package gets 20301 "No valid targets!", as Xiaomi answers. With none configured
    /// any package is accepted.
    pub fn package(mut self, package: impl Into<String>) -> Self {
        self.packages.push(package.into());
        self
    }

    /// Whether a send without `extra.channel_id` gets 27001 (default `false`).
    pub fn require_channel_id(mut self, require: bool) -> Self {
        self.require_channel_id = require;
        self
    }

    /// Whether any well-formed regid counts as valid (default `true`), or only registered ones.
    pub fn accept_any_regid(mut self, accept_any: bool) -> Self {
        self.accept_any_regid = accept_any;
        self
    }

    /// Regids registered from the start.
    pub fn regids<I, S>(mut self, regids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.regids.extend(regids.into_iter().map(Into::into));
        self
    }

    /// A daily quota of accepted targets: once reached, sends get 200001, and successes report
    /// `day_acked`/`day_quota` (default: no quota, fields absent).
    pub fn daily_quota(mut self, quota: u64) -> Self {
        self.daily_quota = Some(quota);
        self
    }

    /// How many requests to keep (default [`Recording::default`]; `Off` for benchmarks).
    pub fn recording(mut self, recording: Recording) -> Self {
        self.recording = recording;
        self
    }

    /// Binds the socket and starts serving on the current Tokio runtime.
    pub async fn start(self) -> Result<XiaomiSimulator, StartError> {
        let state = Arc::new(State {
            secrets: self.secrets,
            packages: self.packages,
            require_channel_id: AtomicBool::new(self.require_channel_id),
            daily_quota: self.daily_quota,
            tokens: TokenBook::new(self.accept_any_regid, self.regids),
            faults: FaultRules::default(),
            recorder: Recorder::new(self.recording),
            seq: AtomicU64::new(0),
            acked: AtomicU64::new(0),
        });
        let server = serve(self.bind, Arc::clone(&state)).await?;
        Ok(XiaomiSimulator { state, server })
    }
}
