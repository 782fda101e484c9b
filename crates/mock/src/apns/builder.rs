//! [`ApnsSimulatorBuilder`]: how an APNs simulator is configured and started.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::conn::ConnConfig;
use super::error::ApnsError;
use super::jwt::ApnsKey;
use super::log::RequestLog;
use super::reason::ApnsReason;
use super::script::{Options, Shared, State};
use super::{ApnsEnvironment, ApnsSimulator, server};
use crate::Recording;

/// Configures an [`ApnsSimulator`]; [`start`](ApnsSimulatorBuilder::start) binds and runs it.
#[must_use]
#[derive(Debug)]
pub struct ApnsSimulatorBuilder {
    bind: SocketAddr,
    tls: bool,
    keys: Vec<Result<ApnsKey, ApnsError>>,
    max_concurrent_streams: u32,
    token_start: bool,
    reject_penalty: bool,
    recording: Recording,
    opts: Options,
}

impl Default for ApnsSimulatorBuilder {
    fn default() -> Self {
        ApnsSimulatorBuilder {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: true,
            keys: Vec::new(),
            max_concurrent_streams: 1000,
            token_start: false,
            reject_penalty: false,
            recording: Recording::default(),
            opts: Options {
                environment: ApnsEnvironment::Development,
                topics: Vec::new(),
                require_provider_token: true,
                max_token_age: 3600,
                token_update_window: 20 * 60,
                strict_token_update_clock: false,
                bad_environment_reason: ApnsReason::BadEnvironmentKeyInToken,
                standard_base64: false,
                strict_registry: false,
                strict_background_priority: false,
            },
        }
    }
}

impl ApnsSimulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// TLS with a self-signed certificate (default), or `false` for h2c with prior knowledge.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Accepts provider tokens signed by this key. `pem` is the P-256 public key (`BEGIN PUBLIC
    /// KEY`) or the PKCS#8 private key Apple issues (`BEGIN PRIVATE KEY`, the `.p8` file; only its
    /// public half is kept). A bad PEM makes [`start`](Self::start) fail.
    pub fn key(mut self, team_id: &str, key_id: &str, pem: &str) -> Self {
        self.keys.push(ApnsKey::from_pem(team_id, key_id, pem));
        self
    }

    /// Accepts provider tokens of a key built with [`ApnsKey`] (environment- or topic-scoped keys,
    /// related keys).
    pub fn apns_key(mut self, key: ApnsKey) -> Self {
        self.keys.push(Ok(key));
        self
    }

    /// Adds a topic (bundle ID) of the team. Topics with a push-type suffix of that bundle ID
    /// (`.voip`, `.complication`, …) are allowed too; other topics get `403 InvalidProviderToken`.
    /// With no topic configured, every topic is allowed.
    pub fn topic(mut self, topic: &str) -> Self {
        self.opts.topics.push(topic.to_owned());
        self
    }

    /// The environment played (default development, whose answers carry `apns-unique-id`).
    pub fn environment(mut self, environment: ApnsEnvironment) -> Self {
        self.opts.environment = environment;
        self
    }

    /// `SETTINGS_MAX_CONCURRENT_STREAMS` advertised on every connection (default 1000, as observed
    /// in 2021). Streams over the advertised limit are reset with `REFUSED_STREAM`.
    pub fn max_concurrent_streams(mut self, n: u32) -> Self {
        self.max_concurrent_streams = n.max(1);
        self
    }

    /// "Token start": advertise one stream until a request with a valid token succeeds, then raise
    /// the limit with a new SETTINGS frame, as APNs does on token connections
    /// (protocols/apns.md §2.1, source \[A1\]).
    pub fn token_start(mut self, on: bool) -> Self {
        self.token_start = on;
        self
    }

    /// The observed penalty (§4): after a rejected push (4xx) the connection advertises one stream
    /// with a new SETTINGS frame, and the full limit again after an accepted push. Streams opened
    /// over the advertised limit are refused with `REFUSED_STREAM`.
    pub fn reject_penalty(mut self, on: bool) -> Self {
        self.reject_penalty = on;
        self
    }

    /// How many requests to keep (`Recording::Off` for benchmarks).
    pub fn recording(mut self, recording: Recording) -> Self {
        self.recording = recording;
        self
    }

    /// Provider tokens whose `iat` is older than this get `ExpiredProviderToken` (default one hour;
    /// see also [`ApnsScript::advance_clock`](super::ApnsScript::advance_clock)).
    pub fn max_token_age(mut self, age: Duration) -> Self {
        self.opts.max_token_age = age.as_secs() as i64;
        self
    }

    /// A new token on a connection less than this after its previous token change gets
    /// `TooManyProviderTokenUpdates` (default 20 minutes).
    pub fn token_update_window(mut self, window: Duration) -> Self {
        self.opts.token_update_window = window.as_secs() as i64;
        self
    }

    /// The stricter reading (b) of §2.1: the token-update window also runs from the connection's
    /// first token, so even the first change on a connection can be refused.
    pub fn strict_token_update_clock(mut self, on: bool) -> Self {
        self.opts.strict_token_update_clock = on;
        self
    }

    /// Also accept JWT parts in standard base64 (`+`, `/`, padding), as a2 sends them. APNs seems
    /// to accept them (a2 is in production use) but documents nothing; off by default.
    pub fn accept_standard_base64(mut self, on: bool) -> Self {
        self.opts.standard_base64 = on;
        self
    }

    /// `false` plays a certificate connection without checking a certificate: no provider token is
    /// required, `apns-topic` may be omitted when exactly one topic is configured, and a topic
    /// outside the configured ones gets `400 BadTopic`.
    pub fn require_provider_token(mut self, on: bool) -> Self {
        self.opts.require_provider_token = on;
        self
    }

    /// Binds and starts the simulator on the current Tokio runtime.
    pub async fn start(self) -> Result<ApnsSimulator, ApnsError> {
        let mut keys = HashMap::new();
        for key in self.keys {
            let key = key?;
            keys.insert(key.key_id.clone(), key);
        }
        let tls = if self.tls { Some(server::tls()?) } else { None };
        let listener = tokio::net::TcpListener::bind(self.bind)
            .await
            .map_err(ApnsError::Bind)?;
        let addr = listener.local_addr().map_err(ApnsError::Bind)?;
        let state = State {
            opts: self.opts,
            keys,
            tokens: HashMap::new(),
            goaway_after: None,
            token_rate: None,
        };
        let shared = Arc::new(Shared::new(state, RequestLog::new(self.recording)));
        let config = Arc::new(ConnConfig {
            max_concurrent_streams: self.max_concurrent_streams,
            token_start: self.token_start,
            reject_penalty: self.reject_penalty,
        });
        let (acceptor, cert_pem) = match tls {
            Some(t) => (Some(t.acceptor), Some(t.cert_pem)),
            None => (None, None),
        };
        let task = tokio::spawn(server::accept_loop(
            listener,
            acceptor,
            shared.clone(),
            config,
        ));
        Ok(ApnsSimulator {
            addr,
            tls: self.tls,
            cert_pem,
            shared,
            task,
        })
    }
}
