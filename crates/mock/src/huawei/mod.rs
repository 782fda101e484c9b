//! A simulator of Huawei Push Kit's v1/v2 send API and its OAuth token endpoint.
//!
//! One base URL serves `POST /oauth2/v3/token` (and the legacy `/oauth2/v2/token`) and
//! `POST /v1/<appId>/messages:send` / `POST /v2/<projectId>/messages:send` over plain
//! HTTP/1.1, so a client's OAuth and push base URLs can both point at it. Bodies follow
//! protocols/huawei.md §1a, §3 and §6 (see `fixtures/huawei/`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pushway_mock::huawei::StartError> {
//! use pushway_mock::fault::Trigger;
//! use pushway_mock::huawei::{ErrorStatus, HuaweiFault, HuaweiSimulator, IllegalTokensShape};
//!
//! let sim = HuaweiSimulator::builder()
//!     .app_id("104567890")
//!     .client_secret("secret")
//!     .token_expires_in(3600)
//!     .error_status(ErrorStatus::AlwaysOk) // auth errors with HTTP 200 instead of 401
//!     .illegal_tokens_shape(IllegalTokensShape::CamelCase { reason: "tokenFormatError".into() })
//!     .start()
//!     .await?;
//! sim.unregister(["IQAAAACy0bbbTOKEN-B"]);
//! sim.inject(Trigger::ratio(1, 100), HuaweiFault::FlowControl);
//! sim.expire_tokens(); // the next send with an old token gets 80200003
//! # Ok(())
//! # }
//! ```

mod fault;
mod jwt;
mod oauth;
mod response;
mod send;
mod state;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

pub use self::fault::HuaweiFault;
pub use self::jwt::{JWT_AUDIENCE, ServiceAccount};
pub use self::send::{MAX_MESSAGE_BYTES, MAX_TOKENS};
pub use crate::http_server::StartError;

use self::jwt::Verifier;
use self::oauth::{AccessTokens, Client};
use self::state::State;
use crate::fault::{FaultRules, Trigger};
use crate::http_server::{ServerHandle, serve};
use crate::record::{RecordedRequest, Recorder, Recording};
use crate::tokens::TokenBook;

/// Which HTTP status goes with a result code. Huawei does not document it for v1/v2
/// (protocols/huawei.md §3.2), so both plausible behaviours are available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorStatus {
    /// The v3 status table: 401 for 80200001/80200003/80200005, 400 for parameter errors
    /// (80100001, 80100003, 80300008, 80300010), 500 for 81000001; 200 for 80000000, 80100000
    /// and 80300007 (F8).
    #[default]
    Documented,
    /// HTTP 200 for every result code; the body's `code` tells the error.
    AlwaysOk,
}

/// The shape of the per-token detail in `msg` of 80100000 / 80300007 (§3.4). Which one a v1/v2
/// server sends is not settled, so a client must parse both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IllegalTokensShape {
    /// `{"success":N,"failure":M,"illegal_tokens":[…]}` (v1/v2, F6); an all-invalid 80300007 then
    /// has the plain text `msg` "All the tokens are invalid" (F8).
    #[default]
    SnakeCase,
    /// `{"failure":M,"illegalTokens":{"<reason>":[…]}}` (v3 shape, also reported on v1/v2;
    /// F12, F12b), for both 80100000 and 80300007.
    CamelCase {
        /// The reason key, e.g. `tokenFormatError` or `noRight`.
        reason: String,
    },
}

/// A running Huawei simulator; it stops when dropped.
#[derive(Debug)]
pub struct HuaweiSimulator {
    state: Arc<State>,
    server: ServerHandle,
}

/// Configures and starts a [`HuaweiSimulator`].
#[derive(Debug)]
#[must_use]
pub struct HuaweiSimulatorBuilder {
    bind: SocketAddr,
    client: Client,
    project_id: Option<String>,
    token_expires_in: u64,
    service_account: Option<ServiceAccount>,
    error_status: ErrorStatus,
    shape: IllegalTokensShape,
    accept_any_token: bool,
    tokens: Vec<String>,
    recording: Recording,
}

impl HuaweiSimulator {
    /// A builder with the defaults: `127.0.0.1:0`, any numeric client id with any secret, no v2
    /// project, tokens valid 3600 s, no service account, [`ErrorStatus::Documented`],
    /// [`IllegalTokensShape::SnakeCase`], any well-formed device token valid.
    pub fn builder() -> HuaweiSimulatorBuilder {
        HuaweiSimulatorBuilder {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            client: Client::default(),
            project_id: None,
            token_expires_in: 3600,
            service_account: None,
            error_status: ErrorStatus::default(),
            shape: IllegalTokensShape::default(),
            accept_any_token: true,
            tokens: Vec::new(),
            recording: Recording::default(),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<addr>`: both the OAuth base URL (in place of `https://oauth-login.cloud.huawei.com`)
    /// and the push base URL (in place of `https://push-api.cloud.huawei.com`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The kept requests (token and send), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.requests()
    }

    /// How many requests arrived in all, kept or not.
    pub fn request_count(&self) -> u64 {
        self.state.recorder.total()
    }

    /// TCP connections accepted so far, token and send alike (HTTP/1.1 keep-alive: one carries
    /// one request at a time, so a client's burst shows here as the connections it opened).
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

    /// Device tokens sends were accepted for (validation-only sends excluded).
    pub fn delivered(&self) -> u64 {
        self.state.delivered.load(Ordering::Relaxed)
    }

    /// Access tokens issued so far.
    pub fn issued_tokens(&self) -> u64 {
        self.state.access.issued_count()
    }

    /// Expires every access token issued so far: sends using them get 80200003.
    pub fn expire_tokens(&self) {
        self.state.access.expire_all();
    }

    /// The `expires_in` (seconds) of access tokens issued from now on; 0 makes them expire at once.
    pub fn set_token_expires_in(&self, secs: u64) {
        self.state.access.set_lifetime(secs);
    }

    /// Marks device tokens as registered (valid again if they were unregistered).
    pub fn register<I, S>(&self, tokens: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state
            .tokens
            .register(tokens.into_iter().map(Into::into));
    }

    /// Marks device tokens as unregistered: sends report them as illegal from now on.
    pub fn unregister<I, S>(&self, tokens: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.state
            .tokens
            .unregister(tokens.into_iter().map(Into::into));
    }

    /// Whether any well-formed device token that was not unregistered is valid (`true`), or
    /// only registered ones (`false`).
    pub fn set_accept_any_token(&self, accept_any: bool) {
        self.state.tokens.set_accept_any(accept_any);
    }

    /// Which HTTP status goes with result codes from now on.
    pub fn set_error_status(&self, status: ErrorStatus) {
        self.state
            .always_ok
            .store(status == ErrorStatus::AlwaysOk, Ordering::Relaxed);
    }

    /// The shape of the illegal-token detail from now on.
    pub fn set_illegal_tokens_shape(&self, shape: IllegalTokensShape) {
        *self
            .state
            .shape
            .write()
            .unwrap_or_else(PoisonError::into_inner) = shape;
    }

    /// The client secret the token endpoint accepts from now on (`None`: any non-empty one), as
    /// when an operator resets it in AppGallery Connect: access tokens already issued stay
    /// valid until they expire.
    pub fn set_client_secret(&self, secret: Option<String>) {
        self.state
            .client
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .secret = secret;
    }

    /// Adds a fault rule for `messages:send` requests (see [`crate::fault`]).
    pub fn inject(&self, trigger: Trigger, fault: HuaweiFault) {
        self.state.faults.push(trigger, fault);
    }

    /// Adds a fault rule for the OAuth token endpoint (token triggers never match there).
    pub fn inject_oauth(&self, trigger: Trigger, fault: HuaweiFault) {
        self.state.oauth_faults.push(trigger, fault);
    }

    /// Removes every fault rule, of both endpoints.
    pub fn clear_faults(&self) {
        self.state.faults.clear();
        self.state.oauth_faults.clear();
    }
}

impl HuaweiSimulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// The app's OAuth client id (the v1 URL's appId). Other ids get 1101/20003 from the token
    /// endpoint. Without it any id matching `^[0-9]{1,64}$` is accepted.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.client.id = Some(app_id.into());
        self
    }

    /// The client secret; another one gets HTTP 400 `{"error":1101,"sub_error":12304,…}`.
    /// Without it any non-empty secret is accepted.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client.secret = Some(secret.into());
        self
    }

    /// The project id v2 URLs accept with an OAuth access token (without it, v2 accepts only a
    /// service-account JWT of its project).
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The `expires_in` of issued access tokens, in seconds (default 3600; 0 expires at once).
    pub fn token_expires_in(mut self, secs: u64) -> Self {
        self.token_expires_in = secs;
        self
    }

    /// Accept service-account JWTs (PS256) signed by this account's key, on v2 URLs of its
    /// project and on v1 URLs.
    pub fn service_account(mut self, account: ServiceAccount) -> Self {
        self.service_account = Some(account);
        self
    }

    /// Which HTTP status goes with result codes (default [`ErrorStatus::Documented`]).
    pub fn error_status(mut self, status: ErrorStatus) -> Self {
        self.error_status = status;
        self
    }

    /// The shape of the illegal-token detail (default [`IllegalTokensShape::SnakeCase`]).
    pub fn illegal_tokens_shape(mut self, shape: IllegalTokensShape) -> Self {
        self.shape = shape;
        self
    }

    /// Whether any well-formed device token counts as valid (default `true`), or only
    /// registered ones.
    pub fn accept_any_token(mut self, accept_any: bool) -> Self {
        self.accept_any_token = accept_any;
        self
    }

    /// Device tokens registered from the start.
    pub fn tokens<I, S>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tokens.extend(tokens.into_iter().map(Into::into));
        self
    }

    /// How many requests to keep (default [`Recording::default`]; `Off` for benchmarks).
    pub fn recording(mut self, recording: Recording) -> Self {
        self.recording = recording;
        self
    }

    /// Binds the socket and starts serving on the current Tokio runtime.
    pub async fn start(self) -> Result<HuaweiSimulator, StartError> {
        let jwt = self.service_account.map(Verifier::new).transpose()?;
        let state = Arc::new(State {
            client: RwLock::new(self.client),
            project_id: self.project_id,
            access: AccessTokens::new(self.token_expires_in),
            jwt,
            always_ok: AtomicBool::new(self.error_status == ErrorStatus::AlwaysOk),
            shape: RwLock::new(self.shape),
            tokens: TokenBook::new(self.accept_any_token, self.tokens),
            faults: FaultRules::default(),
            oauth_faults: FaultRules::default(),
            recorder: Recorder::new(self.recording),
            seq: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        });
        let server = serve(self.bind, Arc::clone(&state)).await?;
        Ok(HuaweiSimulator { state, server })
    }
}
