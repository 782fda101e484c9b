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
//! Sends go over hyper's HTTP/2 client connections (`hyper::client::conn::http2`) over
//! tokio-rustls, ALPN `h2` only (h2c for an `http://` simulator), trusting the system's roots
//! plus the configured ones: [`DEFAULT_CONNECTIONS`] connections used in turn, each opened on
//! first use or after it closed (concurrent sends wait for the one being opened). The send URI
//! and constant headers are prepared once per provider, the bearer header once per token
//! refresh. The access-token request, one an hour, keeps reqwest (redirects, HTTP/1.1 proxies).
//!
//! Why this stack: FCM's needs are ordinary (a bearer header, a JSON body of a few hundred
//! bytes, about 100 streams per connection), so hyper rather than the APNs crate's own HTTP/2
//! client side, which exists for thousands in flight on one connection. Why not reqwest, which
//! the first version used: measured with callgrind against `pushway-mock fcm --recording off`
//! (`fcm_bench`, one connection, 100 in flight, the difference between 6,000 and 1,000 sends),
//! reqwest cost 111,300 instructions per notification, 22,600 of them parsing the same URL three
//! times per request (our call, its redirect layer, the response) and more in its pool and
//! redirect layers; on hyper's connections directly: 67,800 (-39%), about half of it hyper's and
//! h2's own work per request (tasks per request, HPACK, stream state); h2load posting the same
//! body costs 19,600. Settings:
//! - One attempt per send, no retry inside the transport: a refused stream or a stream above a
//!   graceful GOAWAY's last stream id comes back as
//!   [`Outcome::Retry`](pushway_core::Outcome::Retry) with reason
//!   [`not_processed`](pushway_core::Reason::NOT_PROCESSED), a connection lost mid-answer as
//!   `connection`, an answer later than the timeout as `timeout`, for the retry layer; nothing is
//!   reported delivered that FCM did not answer 200. The one exception: a request hyper hands
//!   back unsent because its connection had just closed goes once on a new connection.
//! - The server's stream limit is honoured: sends beyond it wait in hyper's queue for a free
//!   stream (1,000 sends at once on one 100-stream connection: none refused). Before a new
//!   connection's SETTINGS arrive, 100 streams are assumed (FCM's figure); a server allowing
//!   fewer refuses the excess (`Retry`/`not_processed`).
//! - No keep-alive PINGs: FCM answers frequent PINGs with GOAWAY `too_many_pings`; a connection
//!   the server closed (idle, GOAWAY, dropped) is reopened by the next send.
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
