//! [`ApnsProvider`]: the thin layer between the pure request building
//! ([`crate::request::build_parts`], the parts [`crate::build_request`] also uses), the HTTP/2
//! connection ([`crate::wire`]) and the pure [`classify`].
//!
//! One attempt per token, with one exception the [`PushProvider`] contract allows: after
//! `403 ExpiredProviderToken` the provider token is replaced (once, by one caller) and the send is
//! made again, once, on a new connection — Pushy closes the connection on this reason because
//! APNs then throttles it to one stream and refuses the streams in flight (protocols/apns.md
//! §2.1, pushy issue #476). Nothing else is resent here: refused streams, GOAWAYs, timeouts and
//! lost connections come back as [`Outcome::Retry`] for the retry layer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use pushway_core::{ApnsEnv, DeviceToken, Notification, Outcome, PushProvider, Reason, TokenKind};

use crate::classify::{classify, delivered};
use crate::connection::Conn;
use crate::jwt::{Clock, ProviderToken, TokenCache};
use crate::pool::{ConnectError, Pool};
use crate::reason::ApnsReason;
use crate::request::{FixedHead, RequestParts, RequestTarget, build_parts};
use crate::wire::{Answer, StreamError};

/// Sends notifications to iPhones through APNs. Build it with [`ApnsProvider::builder`].
///
/// Cheap to share (`Arc<dyn PushProvider>` in the router); all clones of the `Arc` share the
/// connections and the provider token.
pub struct ApnsProvider {
    pub(crate) target: RequestTarget,
    /// The HPACK encoding of the fields every request shares, made once.
    pub(crate) fixed: FixedHead,
    pub(crate) environment: ApnsEnv,
    pub(crate) tokens: TokenCache,
    pub(crate) pool: Pool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) request_timeout: Duration,
}

impl fmt::Debug for ApnsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnsProvider")
            .field("authority", &self.target.authority)
            .field("topic", &self.target.topic)
            .field("environment", &self.environment)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl ApnsProvider {
    /// How many provider tokens this provider has signed (the first one, made at build time,
    /// included). For metrics and tests: it grows by one per refresh.
    pub fn provider_tokens_signed(&self) -> u64 {
        self.tokens.minted()
    }

    /// Sends to one device token: build, send (with the one expired-token resend), classify.
    pub async fn send_one(&self, notification: &Notification, device: &DeviceToken) -> Outcome {
        let expected = match self.environment {
            ApnsEnv::Production => TokenKind::ApnsProduction,
            ApnsEnv::Sandbox => TokenKind::ApnsSandbox,
        };
        if device.kind != expected {
            // A sandbox token sent to production answers BadDeviceToken, which reads as a dead
            // token: refuse the mix-up here instead of losing the token.
            return Outcome::Misconfigured {
                reason: Reason::new("apns_environment_mismatch").with_detail(format!(
                    "{} token sent to a {:?} provider",
                    device.kind, self.environment
                )),
            };
        }
        let now = self.clock.now();
        let parts = match build_parts(notification, &device.token, &self.target, now) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(token = %device.redacted(), error = %e, "APNs request not built");
                return e.outcome();
            }
        };
        match tokio::time::timeout(self.request_timeout, self.attempt(&parts)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::retry(Reason::TIMEOUT),
        }
    }

    async fn attempt(&self, parts: &RequestParts) -> Outcome {
        let mut token = match self.tokens.current() {
            Ok(t) => t,
            Err(e) => {
                return Outcome::Auth {
                    reason: Reason::new("provider_token").with_detail(e.to_string()),
                };
            }
        };
        let mut refreshed = false;
        // The same slot for the resend: it was retired, so the resend goes on a new connection.
        let slot = self.pool.pick();
        loop {
            let (conn, answer) = match self.stream(slot, parts, &token).await {
                Ok(pair) => pair,
                Err(outcome) => return outcome,
            };
            let answer = match answer {
                Ok(answer) => answer,
                // One stream's error (REFUSED_STREAM, a reset, a malformed answer) says nothing
                // of the connection, which stays in use; one that ended or received a GOAWAY is
                // no longer `usable()` and the slot reconnects on its own.
                Err(e) => return stream_error(&e),
            };
            let classified = if answer.status == http::StatusCode::OK {
                delivered(answer.apns_id.as_ref())
            } else {
                classify(answer.status, &answer.headers, &answer.body)
            };
            if classified.recycle_connection {
                self.pool.retire(slot, &conn);
            }
            let expired_first =
                classified.reason == Some(ApnsReason::ExpiredProviderToken) && !refreshed;
            if let Outcome::Auth { reason } = &classified.outcome {
                if !expired_first {
                    self.pool.hold_after_auth(slot, reason.code());
                }
            } else {
                self.pool.token_accepted(slot);
            }
            if expired_first {
                // The one resend the contract allows: a new token (made once, whoever asks
                // first), then the same request on a new connection.
                refreshed = true;
                token = match self.tokens.replace_expired(token.generation) {
                    Ok(t) => t,
                    Err(e) => {
                        return Outcome::Auth {
                            reason: Reason::new("provider_token").with_detail(e.to_string()),
                        };
                    }
                };
                continue;
            }
            return classified.outcome;
        }
    }

    /// Opens one stream on the slot's connection and waits for its answer. A request that was
    /// never written (the connection had already received a GOAWAY or died) is tried once on a
    /// fresh connection of the slot: that is choosing a connection, not a resend.
    async fn stream(
        &self,
        slot: usize,
        parts: &RequestParts,
        token: &ProviderToken,
    ) -> Result<(Arc<Conn>, Result<Answer, StreamError>), Outcome> {
        let mut fresh = false;
        loop {
            let conn = match self.pool.get(slot).await {
                Ok(c) => c,
                Err(ConnectError::AuthHeld(reason, left)) => {
                    return Err(Outcome::Auth {
                        reason: Reason::new(reason).with_detail(format!(
                            "not sent: APNs refused the provider token; reconnecting in {left:.1?}"
                        )),
                    });
                }
                Err(e) => {
                    return Err(Outcome::retry(
                        Reason::new(Reason::CONNECTION).with_detail(e.to_string()),
                    ));
                }
            };
            let head = |out: &mut Vec<u8>| parts.encode_head(&self.fixed, &token.block, out);
            let answer = match conn.wire.send(&head, &parts.body) {
                Ok(pending) => pending.answer().await,
                Err(e) => Err(e),
            };
            match answer {
                Err(StreamError::NotSent(why)) if !fresh => {
                    tracing::debug!(conn = conn.id, why = %why, "APNs connection unusable, reconnecting");
                    self.pool.retire(slot, &conn);
                    fresh = true;
                }
                answer => return Ok((conn, answer)),
            }
        }
    }
}

/// A stream that ended without an answer: always `Retry`, never `Delivered`.
fn stream_error(e: &StreamError) -> Outcome {
    match e {
        // REFUSED_STREAM, or above a GOAWAY's last-stream-id, or never written: the server
        // did not process it (RFC 9113 §8.7).
        StreamError::Refused(why) | StreamError::NotSent(why) => {
            Outcome::retry(Reason::new(Reason::NOT_PROCESSED).with_detail(why.clone()))
        }
        // Reset, lost or garbled: maybe processed, unconfirmed, never delivered.
        _ => Outcome::retry(Reason::new(Reason::CONNECTION).with_detail(e.to_string())),
    }
}

#[pushway_core::async_trait]
impl PushProvider for ApnsProvider {
    fn name(&self) -> &str {
        "apns"
    }

    fn max_batch_size(&self) -> usize {
        1
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        match tokens {
            [one] => vec![self.send_one(notification, one).await],
            many => join_all(many.iter().map(|t| self.send_one(notification, t))).await,
        }
    }
}
