//! [`FcmSimulatorBuilder`]: how an FCM simulator is configured and started.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::account::{ServiceAccountKey, Verifier};
use super::log::Log;
use super::oauth::AccessTokens;
use super::quota::{Limiter, Quotas};
use super::state::{Registry, State, TOKEN_PATH};
use super::{FcmSimulator, StartError, server};
use crate::fault::FaultRules;
use crate::{Recorder, Recording};

/// Configures and starts an [`FcmSimulator`].
#[derive(Debug)]
#[must_use]
pub struct FcmSimulatorBuilder {
    bind: SocketAddr,
    tls: bool,
    accounts: Vec<ServiceAccountKey>,
    token_expires_in: u64,
    max_concurrent_streams: u32,
    idle_timeout: Option<Duration>,
    goaway_after: u64,
    accept_any_token: bool,
    strict_size: bool,
    quotas: Quotas,
    recording: Recording,
}

impl Default for FcmSimulatorBuilder {
    fn default() -> Self {
        FcmSimulatorBuilder {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: true,
            accounts: Vec::new(),
            token_expires_in: 3599,
            max_concurrent_streams: 100,
            idle_timeout: None,
            goaway_after: 0,
            accept_any_token: true,
            strict_size: false,
            quotas: Quotas::default(),
            recording: Recording::default(),
        }
    }
}

impl FcmSimulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// TLS with a self-signed certificate (default), or `false` for plain TCP (h2c with prior
    /// knowledge, or HTTP/1.1).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Trusts this service account's assertions; repeat for several.
    pub fn service_account(mut self, account: ServiceAccountKey) -> Self {
        self.accounts.push(account);
        self
    }

    /// `expires_in` of issued access tokens, in seconds (default 3599, what Google sends; 0
    /// expires them at once).
    pub fn token_expires_in(mut self, secs: u64) -> Self {
        self.token_expires_in = secs;
        self
    }

    /// `SETTINGS_MAX_CONCURRENT_STREAMS` per connection (default 100, §7).
    pub fn max_concurrent_streams(mut self, n: u32) -> Self {
        self.max_concurrent_streams = n.max(1);
        self
    }

    /// Closes a connection (GOAWAY `NO_ERROR`) once no request was in flight on it for this
    /// long, as FCM closes idle connections (§7). Default: never.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// GOAWAY after `n` requests on each connection (see [`FcmSimulator::set_goaway_after`]).
    pub fn goaway_after(mut self, n: u64) -> Self {
        self.goaway_after = n;
        self
    }

    /// Whether unknown well-formed device tokens are valid (default `true`).
    pub fn accept_any_token(mut self, accept_any: bool) -> Self {
        self.accept_any_token = accept_any;
        self
    }

    /// The strict size rule (see [`FcmSimulator::set_strict_size`]).
    pub fn strict_size(mut self, strict: bool) -> Self {
        self.strict_size = strict;
        self
    }

    /// S12 quotas (default none; [`Quotas::documented`] has FCM's).
    pub fn quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// How many requests to keep (default `Recording::Last(10_000)`; `Off` for benchmarks).
    pub fn recording(mut self, recording: Recording) -> Self {
        self.recording = recording;
        self
    }

    /// Binds and starts serving on the current Tokio runtime.
    pub async fn start(self) -> Result<FcmSimulator, StartError> {
        let verifier = Verifier::new(self.accounts)?;
        let tls = if self.tls { Some(server::tls()?) } else { None };
        let bind = self.bind;
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: bind, source })?;
        let scheme = if self.tls { "https" } else { "http" };
        let state = Arc::new(State {
            verifier,
            access: AccessTokens::new(self.token_expires_in),
            token_url: format!("{scheme}://{addr}{TOKEN_PATH}"),
            registry: RwLock::new(Registry {
                accept_any: self.accept_any_token,
                states: Default::default(),
            }),
            faults: FaultRules::default(),
            oauth_faults: FaultRules::default(),
            log: Log::new(self.recording),
            oauth_log: Recorder::new(self.recording),
            strict_size: AtomicBool::new(self.strict_size),
            quota: Limiter::default(),
            goaway_after: AtomicU64::new(self.goaway_after),
            accepted: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            id_salt: uuid::Uuid::new_v4().as_u64_pair().0,
            peak_streams: AtomicU32::new(0),
            next_connection: AtomicU64::new(0),
        });
        state.quota.set(self.quotas);
        let (acceptor, cert_pem) = match tls {
            Some((acceptor, pem)) => (Some(acceptor), Some(pem)),
            None => (None, None),
        };
        let config = server::ConnConfig {
            max_concurrent_streams: self.max_concurrent_streams,
            idle_timeout: self.idle_timeout,
        };
        let task = tokio::spawn(server::accept_loop(
            listener,
            acceptor,
            Arc::clone(&state),
            config,
        ));
        Ok(FcmSimulator {
            addr,
            tls: self.tls,
            cert_pem,
            state,
            task,
        })
    }
}
