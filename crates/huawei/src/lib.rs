//! pushway's Huawei Push Kit channel: sends rendered notifications to Huawei (HMS) phones through
//! the v1 (`/v1/<appId>/messages:send`) or v2 (`/v2/<projectId>/messages:send`) API, up to 1000
//! tokens per request, authenticated by an OAuth 2.0 access token or a service-account JWT, and
//! maps every answer to pushway's [`Outcome`](pushway_core::Outcome)s.
//!
//! | piece | what it is |
//! |---|---|
//! | [`HuaweiProvider`] | the [`PushProvider`](pushway_core::PushProvider), built by [`HuaweiProviderBuilder`] |
//! | [`HuaweiProvider::build_request`] | the pure request body (protocols/huawei.md §2, DESIGN.md §5) |
//! | [`classify()`] | the pure answer → outcome mapping, with its table and caveats |
//! | [`ResultCode`] | Push Kit's result codes, unknown ones kept verbatim |
//! | [`ServiceAccountKey`] | a service-account key file for JWT auth |
//!
//! Credentials are cached and replaced ahead of expiry (access tokens 300 s, JWTs 60 s before,
//! at most half their lifetime) by exactly one task, however many sends need them; the other
//! sends keep using the valid credential or wait for that one fetch.
//!
//! # Connections
//!
//! The protocol notes (protocols/huawei.md) show Push Kit's exchanges as HTTP/1.1 over TLS ≥ 1.2
//! and document no HTTP/2, so HTTP/2 is not forced: a host or proxy that speaks only HTTP/1.1
//! keeps working. Over HTTP/1.1 a connection carries one request at a time, and the pool opens a
//! connection for every send it has no idle one for: a burst of 500 sends opened 129 against the
//! simulator. Each provider therefore lets at most
//! [`max_connections`](HuaweiProviderBuilder::max_connections) sends
//! ([`DEFAULT_MAX_CONNECTIONS`], 64) be in flight and keeps at most as many idle connections per
//! host; further sends wait for a free one (each request is bounded by the timeout, so the wait
//! is too). The same burst then opens exactly that many. On a multi-threaded runtime a
//! connection still being handed back to the pool when the next send starts can make the pool
//! open one more; idle ones beyond the bound are closed. The token endpoint, another host in
//! production and called about once an hour, takes no slot.
//!
//! ```
//! use pushway_core::testing::sample_notification;
//! use pushway_huawei::HuaweiProvider;
//!
//! let provider = HuaweiProvider::builder()
//!     .app_id("104567890")
//!     .client_secret("secret")
//!     .build()
//!     .unwrap();
//! let body = provider.build_request(&sample_notification(), &["IQAAAACy0aaaTOKEN-A"]).unwrap();
//! let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(json["message"]["android"]["category"], "IM");
//! assert_eq!(json["message"]["android"]["notification"]["click_action"]["type"], 3);
//! assert_eq!(json["message"]["token"][0], "IQAAAACy0aaaTOKEN-A");
//! ```
//!
//! Sending (`no_run`: it needs Huawei or a simulator):
//!
//! ```no_run
//! # async fn demo() -> Result<(), pushway_huawei::Error> {
//! use pushway_core::{DeviceToken, PushProvider, TokenKind, testing::sample_notification};
//! use pushway_huawei::HuaweiProvider;
//!
//! let provider = HuaweiProvider::builder().app_id("104567890").client_secret("secret").build()?;
//! let tokens = [DeviceToken::new(TokenKind::Huawei, "app", "IQAAAACy0aaaTOKEN-A")];
//! let outcomes = provider.send(&sample_notification(), &tokens).await;
//! assert_eq!(outcomes.len(), 1);
//! # Ok(())
//! # }
//! ```

mod auth;
mod builder;
mod classify;
mod codes;
mod error;
mod provider;
mod request;

pub use auth::jwt::{JWT_AUDIENCE, ServiceAccountKey};
pub use builder::{
    DEFAULT_CATEGORY, DEFAULT_MAX_CONNECTIONS, DEFAULT_OAUTH_BASE_URL, DEFAULT_PUSH_BASE_URL,
    DEFAULT_TIMEOUT, HuaweiProviderBuilder, Importance, IntentTarget,
};
pub use classify::{Classified, MISCONFIGURED_BATCH, classify};
pub use codes::ResultCode;
pub use error::Error;
pub use provider::HuaweiProvider;
pub use request::{MAX_MESSAGE_BYTES, MAX_TOKENS, MAX_TTL_SECS};
