//! pushway's Firebase Cloud Messaging channel: sends rendered notifications to Android phones
//! through FCM HTTP v1 (`POST /v1/projects/<project>/messages:send`), one request per token,
//! authenticated by an OAuth 2.0 access token obtained with a service-account key, and maps
//! every FCM answer to pushway's [`Outcome`](pushway_core::Outcome)s.
//!
//! | piece | what it is |
//! |---|---|
//! | [`FcmProvider`] | the [`PushProvider`](pushway_core::PushProvider), built by [`FcmProviderBuilder`] |
//! | [`FcmProvider::build_request`] | the pure request body (protocols/fcm.md §3, DESIGN.md §5) |
//! | [`classify()`] | the pure answer → outcome mapping, with its table |
//! | [`ErrorCode`] | FCM's `errorCode`s, unknown ones kept verbatim |
//! | [`ServiceAccountKey`] | a service-account key file |
//!
//! The access token is cached and replaced 5 minutes before it expires (at most half its
//! lifetime) by exactly one task, however many sends need it; the other sends keep using the
//! valid token, or, when there is none, wait for that one request.
//!
//! # Transport
//!
//! reqwest (hyper, h2, rustls) over HTTP/2 only (ALPN `h2`), on [`DEFAULT_CONNECTIONS`]
//! connections used in turn. Chosen over the APNs crate's own HTTP/2 client side because FCM's
//! needs are ordinary ones: a bearer header, a JSON body of a few hundred bytes, about 100
//! streams per connection which hyper already honours (it assumes 100 until the server's
//! SETTINGS arrive, then follows them). The APNs client exists for CPU per notification at
//! thousands in flight on one connection; whether FCM needs that is to be measured against the
//! simulator (the `fcm` benchmark), not assumed. Two deliberate settings:
//! - reqwest's built-in retry is off: a refused stream or a graceful GOAWAY would otherwise be
//!   resent silently inside the transport. They come back as
//!   [`Outcome::Retry`](pushway_core::Outcome::Retry) with reason
//!   [`not_processed`](pushway_core::Reason::NOT_PROCESSED) for the retry layer, so each `send`
//!   stays one attempt and nothing is ever reported delivered that FCM did not answer 200.
//! - ALPN `h2` only: with ALPN negotiation reqwest's pool cannot tell a new connection will be
//!   HTTP/2 and opens one per request during a burst (129 connections for 500 sends against
//!   the simulator); with `h2` only, concurrent sends wait for the one being opened.
//! - Before a new connection's SETTINGS arrive, hyper allows 100 streams (FCM's figure); a
//!   server allowing fewer refuses the excess, which comes back as `Retry`/`not_processed`
//!   (reqwest offers no setting for the initial stream limit).
//! - No keep-alive PINGs: FCM answers frequent PINGs with GOAWAY `too_many_pings`; idle
//!   connections are dropped after 90 s and reopened lazily.
//!
//! ```
//! use pushway_core::testing::sample_notification;
//! use pushway_fcm::FcmProvider;
//!
//! let provider = FcmProvider::builder()
//!     .service_account_json(include_str!("../tests/fixtures/test-service-account.json"))
//!     .channel_id("im_messages")
//!     .build()
//!     .unwrap();
//! let body = provider.build_request(&sample_notification(), "fGw0qy4TGgk:APA91b-TOKEN").unwrap();
//! let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(json["message"]["android"]["priority"], "HIGH");
//! assert_eq!(json["message"]["android"]["notification"]["tag"], "c2c:alice");
//! assert_eq!(json["message"]["data"]["conversation_id"], "alice");
//! assert_eq!(json["message"]["token"], "fGw0qy4TGgk:APA91b-TOKEN");
//! ```
//!
//! Sending (`no_run`: it needs FCM or a simulator):
//!
//! ```no_run
//! # async fn demo() -> Result<(), pushway_fcm::Error> {
//! use pushway_core::{DeviceToken, PushProvider, TokenKind, testing::sample_notification};
//! use pushway_fcm::FcmProvider;
//!
//! let provider = FcmProvider::builder()
//!     .service_account_file("/etc/pushway/firebase-service-account.json")
//!     .channel_id("im_messages")
//!     .build()?;
//! let tokens = [DeviceToken::new(TokenKind::Fcm, "app", "fGw0qy4TGgk:APA91b-TOKEN")];
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
mod transport;

pub use auth::account::{GOOGLE_TOKEN_URL, SCOPE, ServiceAccountKey};
pub use builder::{
    DEFAULT_API_BASE_URL, DEFAULT_CLICK_ACTION, DEFAULT_CONNECT_TIMEOUT, DEFAULT_CONNECTIONS,
    DEFAULT_TIMEOUT, FcmProviderBuilder,
};
pub use classify::{Classified, QUOTA_RETRY_AFTER, classify, parse_retry_after};
pub use codes::ErrorCode;
pub use error::Error;
pub use provider::{FcmProvider, MAX_BATCH};
pub use request::{MAX_MESSAGE_BYTES, MAX_TTL_SECS};
