//! A simulator of Firebase Cloud Messaging HTTP v1 and Google's OAuth token endpoint
//! (protocols/fcm.md §8).
//!
//! One address serves `POST /token` (the JWT-bearer grant of a service account: the RS256
//! assertion is verified against the trusted accounts' public keys, §2) and
//! `POST /v1/projects/{project}/messages:send` (bearer check, then the body checks in the order
//! of §8's checklist, the device-token registry, `validate_only`), over TLS with a self-signed
//! certificate (ALPN `h2` and `http/1.1`) or plain TCP (h2c with prior knowledge, or HTTP/1.1).
//! Answers are Google's pretty-printed JSON with `content-type: application/json;
//! charset=UTF-8`; errors use the `google.rpc.Status` envelope with the FcmError detail (§5).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pushway_mock::fcm::StartError> {
//! use pushway_mock::fault::Trigger;
//! use pushway_mock::fcm::{FcmFault, FcmSimulator, TestServiceAccount, TokenState};
//!
//! let account = TestServiceAccount::new();
//! let sim = FcmSimulator::builder().service_account(account.key()).start().await?;
//! // The key file a client under test reads: its `token_uri` points at the simulator.
//! let key_file = account.key_file_json_with_token_uri(&sim.token_url());
//! sim.set_token_state("dead-token", TokenState::Unregistered);
//! sim.inject(Trigger::Times(1), FcmFault::QuotaExceeded { retry_after: Some(30) });
//! # let _ = key_file; Ok(())
//! # }
//! ```
//!
//! # HTTP/2
//!
//! The server advertises `SETTINGS_MAX_CONCURRENT_STREAMS` 100 (§7; configurable), and h2
//! refuses streams above it with `REFUSED_STREAM`. [`FcmFault::GoAway`] and
//! [`FcmSimulatorBuilder::goaway_after`] start a graceful shutdown (GOAWAY `NO_ERROR`) after
//! answering a request; requests that still arrive on that connection are refused with
//! `REFUSED_STREAM`, so they were not processed and are not recorded as accepted.
//!
//! # `:scheme: https:` (firebase-admin-node's HTTP/2 `sendEach`)
//!
//! firebase-admin-node's HTTP/2 path sends the pseudo-header `:scheme` as `https:` (Node's
//! `URL.protocol`, colon included). hyper never sees such a request: the `h2` crate (0.4) parses
//! `:scheme` into `http::uri::Scheme`, which rejects the `:`, and treats the request as
//! malformed — it resets that stream with `RST_STREAM(PROTOCOL_ERROR)` and keeps the
//! connection (after `max_local_error_reset_streams`, 1024 by default, it ends the connection
//! with GOAWAY `ENHANCE_YOUR_CALM`). **The simulator does not accept it.** Accepting it would
//! mean rewriting HPACK-compressed header blocks under `h2` (a second HTTP/2 implementation in
//! the simulator's hot path) or a fork of `h2`; RFC 9113 §8.3.1 requires `:scheme` to be a URI
//! scheme, which `https:` is not; and what the simulator exists for — checking pushway's client,
//! which sends `https` — does not need it. Independent checks with that SDK use its HTTP/1.1
//! path instead (`send()`, or `sendEach` after `enableLegacyHttpTransport()`), which the
//! simulator serves with the same checks. The test `node_style_scheme_is_reset_with_protocol_error`
//! pins this behaviour. Checked with firebase-admin-node 13.10.0 against `pushway-mock fcm`:
//! `send()` (token request and send through its `httpAgent`) and `sendEach` after
//! `enableLegacyHttpTransport()` are answered 200, `send(…, dryRun)` gets `fake_message_id`, an
//! unregistered token `messaging/registration-token-not-registered`; HTTP/2 `sendEach` fails each
//! message with `app/network-error` "Stream closed with error code NGHTTP2_PROTOCOL_ERROR".
//!
//! The simulator stops when dropped.

mod account;
mod builder;
mod fault;
mod log;
mod node;
mod oauth;
mod quota;
mod response;
mod schema;
mod server;
mod state;
mod test_account;
mod validate;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

pub use self::account::{
    DecodedAssertion, GOOGLE_TOKEN_URL, LEGACY_TOKEN_URL, MAX_ASSERTION_SECS, SCOPE_CLOUD_PLATFORM,
    SCOPE_FIREBASE_MESSAGING, ServiceAccountKey,
};
pub use self::builder::FcmSimulatorBuilder;
pub use self::fault::FcmFault;
pub use self::log::{FcmOutcome, FcmRequest};
pub use self::oauth::JWT_BEARER_GRANT;
pub use self::quota::Quotas;
pub use self::response::JSON_UTF8;
pub use self::state::TOKEN_PATH;
pub use self::test_account::TestServiceAccount;
pub use self::validate::{MAX_PAYLOAD_BYTES, MAX_TTL_SECS};
pub use crate::fault::Trigger;
pub use crate::http_server::StartError;

use self::state::{Registry, State};
use crate::{RecordedRequest, Recording};

/// What the registry says about a device token (S11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenState {
    /// Accepted.
    Valid,
    /// An iOS (APNs-backed) token, accepted; data-only messages to it with `apns-priority` 10
    /// get 400 `INVALID_ARGUMENT` (S9, \[F8\]; the text is our model).
    Ios,
    /// 400 "The registration token is not a valid FCM registration token".
    Invalid,
    /// 404 `UNREGISTERED` (app uninstalled, token expired).
    Unregistered,
    /// 403 `SENDER_ID_MISMATCH` (a token of another project).
    OtherProject,
    /// 400 "APNs device token is disabled." + ApnsError 410 (an iOS token dead at APNs).
    ApnsUnregistered,
    /// 401 `THIRD_PARTY_AUTH_ERROR` (the project's APNs key is missing or invalid).
    ThirdPartyAuthError,
}

/// A running FCM simulator; it stops when dropped.
#[derive(Debug)]
pub struct FcmSimulator {
    addr: SocketAddr,
    tls: bool,
    cert_pem: Option<String>,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FcmSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FcmSimulator {
    /// A builder with the defaults: `127.0.0.1:0`, TLS, no trusted account (add one with
    /// [`FcmSimulatorBuilder::service_account`]), access tokens valid 3599 s, 100 streams per
    /// connection, any well-formed device token valid, data-only size rule, no quotas,
    /// `Recording::Last(10_000)`.
    pub fn builder() -> FcmSimulatorBuilder {
        FcmSimulatorBuilder::default()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` (TLS) or `http://127.0.0.1:PORT`: in place of
    /// `https://fcm.googleapis.com`; sends go to `{base_url}/v1/projects/{p}/messages:send`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// `{base_url}/token`: the `token_uri` for a key file (in place of
    /// `https://oauth2.googleapis.com/token`).
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base_url())
    }

    /// `{base_url}/v1/projects/{project}/messages:send`.
    pub fn send_url(&self, project: &str) -> String {
        format!("{}/v1/projects/{project}/messages:send", self.base_url())
    }

    /// The self-signed certificate (PEM) in TLS mode, for clients to trust; valid for
    /// `localhost`, `127.0.0.1`, `::1`, `fcm.googleapis.com` and `oauth2.googleapis.com`.
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// The kept requests of the send side (every path but `/token`), oldest first.
    pub fn requests(&self) -> Vec<FcmRequest> {
        self.state.log.entries()
    }

    /// The kept requests that were accepted (200, not `validate_only`), oldest first.
    pub fn accepted(&self) -> Vec<FcmRequest> {
        let mut kept = self.state.log.entries();
        kept.retain(FcmRequest::accepted);
        kept
    }

    /// Requests that reached the send side in all (kept or not).
    pub fn request_count(&self) -> u64 {
        self.state.log.total()
    }

    /// Messages accepted in all (200, not `validate_only`), kept or not.
    pub fn accepted_count(&self) -> u64 {
        self.state.accepted.load(Ordering::Relaxed)
    }

    /// The kept token endpoint requests, oldest first.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.state.oauth_log.requests()
    }

    /// The assertions of the kept token requests, decoded (header and claims as JSON; `Null`
    /// where a part does not decode), oldest first: what a client's JWT looked like.
    pub fn token_assertions(&self) -> Vec<DecodedAssertion> {
        self.token_requests()
            .iter()
            .filter_map(|r| r.form_value("assertion"))
            .map(|jwt| account::decode_assertion(&jwt))
            .collect()
    }

    /// Requests to the token endpoint in all.
    pub fn token_request_count(&self) -> u64 {
        self.state.oauth_log.total()
    }

    /// Access tokens issued so far.
    pub fn issued_tokens(&self) -> u64 {
        self.state.access.issued_count()
    }

    /// The most requests in flight at once on one connection so far.
    pub fn peak_concurrent_streams(&self) -> u32 {
        self.state.peak_streams.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> u64 {
        self.state.next_connection.load(Ordering::Relaxed)
    }

    /// Forgets the kept requests (both endpoints) and resets the counts.
    pub fn clear_requests(&self) {
        self.state.log.clear();
        self.state.oauth_log.clear();
    }

    /// Changes how many requests are kept from now on (both endpoints).
    pub fn set_recording(&self, recording: Recording) {
        self.state.log.set_mode(recording);
        self.state.oauth_log.set_mode(recording);
    }

    /// Expires every access token issued so far: sends with them get the 401 of §5.
    pub fn expire_tokens(&self) {
        self.state.access.expire_all();
    }

    /// The `expires_in` (seconds) of access tokens issued from now on; 0 expires them at once.
    pub fn set_token_expires_in(&self, secs: u64) {
        self.state.access.set_lifetime(secs);
    }

    /// Sets what the registry answers for `token`.
    pub fn set_token_state(&self, token: impl Into<String>, state: TokenState) {
        self.registry().states.insert(token.into(), state);
    }

    /// Whether unknown well-formed tokens are valid (`true`, the default) or get 400
    /// "not a valid FCM registration token".
    pub fn set_accept_any_token(&self, accept_any: bool) {
        self.registry().accept_any = accept_any;
    }

    fn registry(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.state
            .registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// S10: `true` counts the whole serialized message minus the target against the 4096
    /// bytes; `false` (default) only the effective `data` keys and values.
    pub fn set_strict_size(&self, strict: bool) {
        self.state.strict_size.store(strict, Ordering::Relaxed);
    }

    /// S12: the quotas from now on (every window starts afresh); `Quotas::default()` is none.
    /// Over a quota a send gets 429 `QUOTA_EXCEEDED`.
    pub fn set_quotas(&self, quotas: Quotas) {
        self.state.quota.set(quotas);
    }

    /// GOAWAY after `n` requests on each connection (`None`: never). The `n`-th is answered.
    pub fn set_goaway_after(&self, n: Option<u64>) {
        self.state
            .goaway_after
            .store(n.unwrap_or(0), Ordering::Relaxed);
    }

    /// Adds a fault rule for `messages:send` (see [`crate::fault`]): latencies add up, the first
    /// other matching fault answers.
    pub fn inject(&self, trigger: Trigger, fault: FcmFault) {
        self.state.faults.push(trigger, fault);
    }

    /// Adds a fault rule for the token endpoint: `Internal` and `Unavailable` answer 500/503
    /// with an OAuth error body, `Raw`, `Latency` and `DropConnection` as on send.
    pub fn inject_oauth(&self, trigger: Trigger, fault: FcmFault) {
        self.state.oauth_faults.push(trigger, fault);
    }

    /// Removes every fault rule of both endpoints.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
        self.state.oauth_faults.clear();
    }
}
