//! [`ApnsProvider`]: the thin transport between the pure [`build_request`] and the pure
//! [`classify`].
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

use bytes::Bytes;
use futures_util::future::join_all;
use h2::client::ResponseFuture;
use h2::{RecvStream, SendStream};
use http::Response;
use pushway_core::{ApnsEnv, DeviceToken, Notification, Outcome, PushProvider, Reason, TokenKind};

use crate::classify::classify;
use crate::jwt::{Clock, ProviderToken, TokenCache};
use crate::pool::Pool;
use crate::reason::ApnsReason;
use crate::request::{ApnsRequest, BuildError, RequestTarget, build_request};

/// Sends notifications to iPhones through APNs. Build it with [`ApnsProvider::builder`].
///
/// Cheap to share (`Arc<dyn PushProvider>` in the router); all clones of the `Arc` share the
/// connections and the provider token.
pub struct ApnsProvider {
    pub(crate) target: RequestTarget,
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

/// How one stream ended, before classification.
enum StreamEnd {
    Answered(Response<()>, Bytes),
    /// The request never left: the connection was already unusable.
    NotSent(h2::Error),
    Failed(h2::Error),
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
        let request = match build_request(notification, &device.token, &self.target, now) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(token = %device.redacted(), error = %e, "APNs request not built");
                return e.outcome();
            }
        };
        // A resend (rare) rebuilds the same request rather than every send keeping a copy.
        let rebuild = || build_request(notification, &device.token, &self.target, now);
        match tokio::time::timeout(self.request_timeout, self.attempt(Some(request), &rebuild))
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => Outcome::retry(Reason::TIMEOUT),
        }
    }

    /// `request`: the first attempt's request; a resend rebuilds it.
    async fn attempt(
        &self,
        mut request: Option<ApnsRequest>,
        rebuild: &(dyn Fn() -> Result<ApnsRequest, BuildError> + Sync),
    ) -> Outcome {
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
            let (conn, end) = match self.stream(slot, &mut request, rebuild, &token).await {
                Ok(pair) => pair,
                Err(outcome) => return outcome,
            };
            let (response, body) = match end {
                StreamEnd::Answered(response, body) => (response, body),
                StreamEnd::NotSent(e) | StreamEnd::Failed(e) => {
                    self.pool.retire(slot, &conn);
                    return stream_error(&e);
                }
            };
            let classified = classify(response.status(), response.headers(), &body);
            if classified.recycle_connection {
                self.pool.retire(slot, &conn);
            }
            if classified.reason == Some(ApnsReason::ExpiredProviderToken) && !refreshed {
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

    /// Opens one stream on the slot's connection and waits for its answer. A request refused
    /// before anything was written (the connection had already received a GOAWAY or died) is
    /// tried once on a fresh connection of the slot: that is choosing a connection, not a resend.
    ///
    /// `request` is taken (by reference, like the request the exchange starts synchronously, so
    /// the send future does not carry a copy of each per await level: it is in flight by the
    /// thousand).
    async fn stream(
        &self,
        slot: usize,
        request: &mut Option<ApnsRequest>,
        rebuild: &(dyn Fn() -> Result<ApnsRequest, BuildError> + Sync),
        token: &ProviderToken,
    ) -> Result<(Arc<crate::connection::Conn>, StreamEnd), Outcome> {
        let mut fresh = false;
        loop {
            let conn = match self.pool.get(slot).await {
                Ok(c) => c,
                Err(e) => {
                    return Err(Outcome::retry(
                        Reason::new(Reason::CONNECTION).with_detail(e.to_string()),
                    ));
                }
            };
            let request = match request.take() {
                Some(r) => r,
                None => rebuild().map_err(|e| e.outcome())?,
            };
            let (mut http, body) = request.into_http();
            http.headers_mut()
                .insert(http::header::AUTHORIZATION, token.header.clone());
            // Nothing here waits (`h2` queues the headers and body): opened here rather than
            // in `answer`, so `answer`'s future does not carry the request.
            let opened = conn.sender().send_request(http, false);
            let end = match opened {
                Err(e) => StreamEnd::NotSent(e),
                // The body is at most 4 KiB: `h2` buffers it and sends it as flow control allows.
                Ok((response, mut stream)) => match stream.send_data(body, true) {
                    Err(e) => StreamEnd::Failed(e),
                    Ok(()) => answer(response, stream).await,
                },
            };
            match end {
                StreamEnd::NotSent(e) if !fresh => {
                    tracing::debug!(conn = conn.id, error = %e, "APNs connection unusable, reconnecting");
                    self.pool.retire(slot, &conn);
                    fresh = true;
                }
                end => return Ok((conn, end)),
            }
        }
    }
}

/// Waits for the answer of a stream just opened; its send half is kept until then.
async fn answer(response: ResponseFuture, _stream: SendStream<Bytes>) -> StreamEnd {
    let response = match response.await {
        Ok(r) => r,
        Err(e) => return StreamEnd::Failed(e),
    };
    let (parts, recv) = response.into_parts();
    match read_body(recv).await {
        Ok(body) => StreamEnd::Answered(Response::from_parts(parts, ()), body),
        Err(e) => StreamEnd::Failed(e),
    }
}

/// Reads an error body (success has none), which may come in several DATA frames.
async fn read_body(mut recv: RecvStream) -> Result<Bytes, h2::Error> {
    if recv.is_end_stream() {
        return Ok(Bytes::new());
    }
    let mut first: Option<Bytes> = None;
    let mut more: Vec<u8> = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        // Error bodies are tiny; stop keeping bytes past 64 KiB of a misbehaving server.
        match &first {
            None if more.is_empty() => first = Some(chunk),
            _ if more.len() < 64 * 1024 => {
                if let Some(f) = first.take() {
                    more.extend_from_slice(&f);
                }
                more.extend_from_slice(&chunk);
            }
            _ => {}
        }
    }
    Ok(match first {
        Some(f) if more.is_empty() => f,
        _ => Bytes::from(more),
    })
}

/// A stream that ended without an answer: always `Retry`, never `Delivered`.
fn stream_error(e: &h2::Error) -> Outcome {
    if e.reason() == Some(h2::Reason::REFUSED_STREAM) && !e.is_go_away() {
        // RST_STREAM REFUSED_STREAM: the server did not process it (RFC 9113 §8.7).
        return Outcome::retry(Reason::new(Reason::NOT_PROCESSED).with_detail("REFUSED_STREAM"));
    }
    if e.is_go_away() && e.is_remote() {
        // `h2` gives this error both to streams above the GOAWAY's last-stream-id (not
        // processed) and to unanswered streams at or below it when the connection then closes
        // (maybe processed) — and does not expose the last-stream-id. So it stays "connection":
        // unconfirmed, retryable, never delivered.
        return Outcome::retry(Reason::new(Reason::CONNECTION).with_detail(format!("GOAWAY: {e}")));
    }
    Outcome::retry(Reason::new(Reason::CONNECTION).with_detail(e.to_string()))
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
