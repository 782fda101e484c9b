//! pushway's delivery discipline: the layers that keep a push server from losing pushes to
//! retry storms, to one dead vendor starving the others, to vendor QPS limits, and from losing
//! valid tokens to careless clean-up.
//!
//! Each layer wraps an `Arc<dyn PushProvider>` and is itself a
//! [`PushProvider`](pushway_core::PushProvider) (tower's model), so the
//! [`Router`](pushway_core::Router) never knows about them. Each `send` through them still
//! returns exactly one outcome per token.
//!
//! | layer | what it does | when it gives up |
//! |---|---|---|
//! | [`Retry`] | resends only the tokens that got `Retry`, after their `retry_after` or an exponential backoff with jitter; per-token attempt cap; bounded by a shared [`RetryBudget`] (≈ 20% extra load) | cap reached, budget refused (`Retry`/`throttled`), or a `retry_after` longer than it waits out |
//! | [`Hygiene`] | dead tokens to the embedder's [`TokenSink`] exactly once; APNs environment rule; deletions held in a [`Quarantine`] with a [`ConfigAlarm`] (deduplicated per credential) when one request, or a credential's recent requests, come back (nearly) all invalid | — |
//! | [`Bulkhead`] | at most N attempts in flight per provider | no slot within `max_wait` → `Retry`/`throttled` |
//! | [`RateLimit`] | a token bucket per vendor credential ([`RateLimiter`]), shared by every clone and task, or by every node of a cluster through a [`RateSource`] (leased in blocks); waits for its turn | turn further than `max_wait` → `Retry`/`throttled` with `after` |
//! | [`Timeout`] | a deadline per attempt | deadline passed → `Retry`/`timeout` |
//!
//! # Order, outermost first, and why
//!
//! ```text
//! Retry → Hygiene → Bulkhead → RateLimit → Timeout → vendor provider
//! ```
//!
//! - **Retry outermost**: a retry waits out its backoff holding no concurrency slot and no rate,
//!   and every retried attempt goes through the bulkhead, the rate limit and the timeout again.
//!   Retrying happens here only; no other layer (and no provider) resends.
//! - **Hygiene inside Retry**: it sees each attempt's answer, so "one request marked nearly all
//!   of its batch invalid" is judged per request actually sent; `InvalidToken` is never retried,
//!   so each dead token is reported once. It sits outside the bulkhead so that reporting holds
//!   no slot.
//! - **Bulkhead outside RateLimit**: an attempt takes a slot, then waits for its turn, then goes
//!   out at once — so requests leave at the bucket's pace instead of bunching up behind slots.
//!   Both waits are bounded.
//! - **Timeout innermost**: it times the vendor call only, not the waits for a slot or a turn
//!   (those have their own bounds), and it guarantees the bulkhead slot comes back.
//!
//! [`DeliveryBuilder`] assembles this stack from a [`DeliveryConfig`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use pushway_core::testing::{StubProvider, sample_notification};
//! use pushway_core::{DeviceToken, Outcome, PushProvider, Reason, TokenKind};
//! use pushway_delivery::{
//!     DeliveryBuilder, DeliveryConfig, RateLimitConfig, RecordingSink, XIAOMI_MIN_APP_QPS,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
//! # .block_on(async {
//! let xiaomi = Arc::new(StubProvider::new("xiaomi").max_batch_size(1000));
//! // The vendor is busy once for regid-1; regid-2 is dead.
//! xiaomi.script("regid-1", [Outcome::retry("10027"), Outcome::DELIVERED]);
//! xiaomi.outcome_for("regid-2", Outcome::InvalidToken { reason: Reason::new("20301"), since: None });
//!
//! let mut config = DeliveryConfig::default();
//! config.rate_limit = Some(RateLimitConfig::per_second(XIAOMI_MIN_APP_QPS));
//! let sink = Arc::new(RecordingSink::new());
//! let provider = DeliveryBuilder::new(config, sink.clone()).build(xiaomi.clone())?;
//!
//! let tokens = [
//!     DeviceToken::new(TokenKind::Xiaomi, "app", "regid-1"),
//!     DeviceToken::new(TokenKind::Xiaomi, "app", "regid-2"),
//! ];
//! let outcomes = provider.send(&sample_notification(), &tokens).await;
//! assert!(outcomes[0].is_delivered());
//! assert!(outcomes[1].should_drop_token());
//! // Two requests: both tokens, then regid-1 alone. The dead token reached the sink once.
//! assert_eq!(xiaomi.tokens_sent(), ["regid-1", "regid-2", "regid-1"]);
//! assert_eq!(sink.dead().len(), 1);
//! # Ok::<(), pushway_delivery::ConfigError>(())
//! # }).unwrap();
//! ```

mod budget;
mod builder;
mod bulkhead;
mod error;
mod hygiene;
mod jitter;
mod quarantine;
mod rate_lease;
mod rate_limit;
mod retry;
mod sink;
mod timeout;

pub use budget::RetryBudget;
pub use builder::{DeliveryBuilder, DeliveryConfig};
pub use bulkhead::{Bulkhead, ConcurrencyConfig};
pub use error::ConfigError;
pub use hygiene::{
    APNS_BAD_DEVICE_TOKEN, ApnsEnvEvidence, Hygiene, HygieneConfig, MAX_MIN_VERDICTS,
};
pub use quarantine::{MAX_TRACKED_CREDENTIALS, Quarantine};
pub use rate_lease::{
    LEASE_SPAN, Lease, LeaseError, MemorySource, RateSource, SOURCE_BACKOFF, lease_block,
};
pub use rate_limit::{
    RateLimit, RateLimitConfig, RateLimiter, RateLimiters, RateUnit, XIAOMI_MIN_APP_QPS,
};
pub use retry::{Retry, RetryConfig};
pub use sink::{AlarmKind, ConfigAlarm, DeadToken, RecordingSink, TokenSink};
pub use timeout::Timeout;
