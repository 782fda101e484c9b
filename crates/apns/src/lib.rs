//! pushway's APNs channel: HTTP/2 with token (JWT) authentication, Apple's payload, and every
//! APNs reason mapped to pushway's [`Outcome`](pushway_core::Outcome)s.
//!
//! | piece | what it is |
//! |---|---|
//! | [`ApnsProvider`] | the [`PushProvider`](pushway_core::PushProvider), built by [`ApnsProvider::builder`] |
//! | [`build_request`] | pure: notification + device token → path, `apns-*` headers, JSON body |
//! | [`build_payload`] | pure: the JSON payload, shortened to 4096 bytes |
//! | [`classify()`] | pure: status, headers, body → [`Outcome`](pushway_core::Outcome) |
//! | [`ApnsReason`] | APNs's reason strings, with `Unknown` for new ones |
//! | [`Clock`] | where time comes from (tests move it by hand) |
//!
//! The transport is pushway's own HTTP/2 client side over long-lived connections (see the
//! `wire` module for why not `h2`): the HPACK fields that never change (method, authority,
//! topic, push type, priority) and the provider token are encoded once; one stream per
//! notification; the server's stream limit and flow control honoured; keep-alive PINGs;
//! reconnect on GOAWAY or loss. Under load (32 or more streams awaiting answers on a
//! connection) a request may wait up to about a millisecond so that one write carries many;
//! after APNs refuses the provider token, a connection slot waits (1 s, doubling to 60 s)
//! before reconnecting, and sends meanwhile come back as `Auth` without a request. Sends cut off by a dying connection come back as `Retry`, never as delivered. The only
//! resend inside the provider is the one after `403 ExpiredProviderToken` (see [`ApnsProvider`]).
//!
//! ```no_run
//! # async fn demo(notification: pushway_core::Notification) -> Result<(), pushway_core::Error> {
//! use pushway_apns::ApnsProvider;
//! use pushway_core::{DeviceToken, PushProvider, TokenKind};
//! let provider = ApnsProvider::builder()
//!     .key_pem(std::fs::read("AuthKey_K7Q2M9X4PL.p8").unwrap())
//!     .key_id("K7Q2M9X4PL")
//!     .team_id("T3AM1D9ZQ8")
//!     .topic("com.example.chat")
//!     .build()?;
//! let token = DeviceToken::new(TokenKind::ApnsProduction, "chat", "4a1f8c3e…");
//! let outcomes = provider.send(&notification, &[token]).await;
//! println!("{}", outcomes[0]);
//! # Ok(()) }
//! ```

mod builder;
pub mod classify;
mod connection;
mod hpack;
pub mod jwt;
pub mod payload;
mod pool;
mod provider;
pub mod reason;
pub mod request;
mod wire;

pub use builder::{ApnsProviderBuilder, PRODUCTION_URL, SANDBOX_URL};
pub use classify::{Classified, classify};
pub use jwt::{Clock, DEFAULT_REFRESH, SystemClock};
pub use payload::{MAX_PAYLOAD, Payload, build_payload};
pub use provider::ApnsProvider;
pub use reason::ApnsReason;
pub use request::{
    ApnsRequest, BuildError, CollapseId, MAX_COLLAPSE_ID, RequestTarget, build_request,
};
