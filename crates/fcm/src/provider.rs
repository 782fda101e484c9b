//! [`FcmProvider`]: the thin transport between [`request`](crate::request) and
//! [`classify`](crate::classify()).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pushway_core::credential::AuthFailure;
use pushway_core::{DeviceToken, Notification, Outcome, PayloadTooLarge, PushProvider, Reason};

use crate::auth::{Credential, TokenCache};
use crate::builder::FcmProviderBuilder;
use crate::classify::classify;
use crate::request::{self, MessageOptions, Prepared};
use crate::transport::Transport;

/// Most tokens one [`send`](PushProvider::send) takes: FCM has no multi-token request, so a
/// batch is that many concurrent single sends (the Admin SDKs' `sendEach` cap).
pub const MAX_BATCH: usize = 500;

/// Sends notifications through FCM HTTP v1, one request per token, concurrently over a few
/// HTTP/2 connections.
///
/// One [`send`](PushProvider::send) is one attempt per token, with one documented exception:
/// when FCM refuses the access token (401 without an `FcmError` detail), the provider fetches a
/// new one once and resends once; a second refusal is [`Outcome::Auth`]. Cloning is cheap and
/// clones share the connections and the cached access token.
#[derive(Clone)]
pub struct FcmProvider {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub transport: Transport,
    pub send_url: String,
    pub auth: TokenCache,
    pub options: MessageOptions,
}

impl fmt::Debug for FcmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmProvider")
            .field("send_url", &self.inner.send_url)
            .field("connections", &self.inner.transport.connections())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl FcmProvider {
    /// A builder with the defaults.
    pub fn builder() -> FcmProviderBuilder {
        FcmProviderBuilder::default()
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        FcmProvider { inner }
    }

    /// The exact body [`send`](PushProvider::send) would post for `notification` to `token`
    /// (pure: no I/O). Fails when the message cannot fit FCM's 4096 bytes even with its body
    /// shortened.
    pub fn build_request(
        &self,
        notification: &Notification,
        token: &str,
    ) -> Result<Vec<u8>, PayloadTooLarge> {
        Ok(request::prepare(notification, &self.inner.options)?.with_token(token))
    }

    /// The URL sends go to.
    pub fn send_url(&self) -> &str {
        &self.inner.send_url
    }

    /// How many access tokens were requested from the token endpoint so far, for metrics and
    /// tests.
    pub fn token_requests(&self) -> u64 {
        self.inner.auth.fetches()
    }

    /// Requests an access token from the token endpoint now, unless one is cached, and keeps it for the sends: proves the
    /// credential before it is used (a gateway checks a rotated credential this way before it
    /// replaces the old one). The failure names the issuer's refusal, never the secret.
    pub async fn authenticate(&self) -> Result<(), AuthFailure> {
        self.inner.auth.get().await.map(|_| ())
    }

    async fn post(&self, bearer: &Credential, body: Bytes) -> Result<Answer, Outcome> {
        let answer = self.inner.transport.post(bearer, body).await?;
        let classified = classify(answer.status, answer.retry_after, &answer.body);
        Ok(Answer {
            status: answer.status,
            classified,
        })
    }

    /// One token: post, and on a refused access token refresh once and resend once.
    async fn send_one(&self, prepared: &Prepared, token: &DeviceToken) -> Outcome {
        let body = Bytes::from(prepared.with_token(&token.token));
        let mut refreshed = false;
        loop {
            let bearer = match self.inner.auth.get().await {
                Ok(bearer) => bearer,
                Err(failure) => return failure.outcome(),
            };
            let answer = match self.post(&bearer, body.clone()).await {
                Ok(answer) => answer,
                Err(outcome) => {
                    tracing::debug!(token = %token.redacted(), %outcome, "fcm: no answer");
                    return outcome;
                }
            };
            let classified = answer.classified;
            if classified.wants_new_credential() && !refreshed {
                // The one documented exception to "one attempt": refresh once, resend once.
                tracing::debug!("fcm: access token refused, refreshing once");
                self.inner.auth.invalidate(&bearer);
                refreshed = true;
                continue;
            }
            tracing::debug!(
                status = answer.status,
                code = ?classified.code,
                outcome = %classified.outcome,
                token = %token.redacted(),
                "fcm: sent"
            );
            return classified.outcome;
        }
    }
}

/// An answer: its HTTP status and what it means.
struct Answer {
    status: u16,
    classified: crate::Classified,
}

#[async_trait]
impl PushProvider for FcmProvider {
    fn name(&self) -> &str {
        "fcm"
    }

    fn max_batch_size(&self) -> usize {
        MAX_BATCH
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        if tokens.is_empty() {
            return Vec::new();
        }
        if tokens.len() > MAX_BATCH {
            let reason = Reason::new(Reason::PROVIDER_CONTRACT)
                .with_detail(format!("{} tokens, at most {MAX_BATCH}", tokens.len()));
            return vec![Outcome::rejected(reason); tokens.len()];
        }
        let prepared = match request::prepare(notification, &self.inner.options) {
            Ok(prepared) => prepared,
            Err(too_large) => {
                let reason =
                    Reason::new(Reason::PAYLOAD_TOO_LARGE).with_detail(too_large.to_string());
                return vec![Outcome::rejected(reason); tokens.len()];
            }
        };
        if prepared.shortened {
            tracing::debug!(
                message_bytes = prepared.message_bytes,
                "fcm: body shortened to fit"
            );
        }
        let sends = tokens.iter().map(|token| self.send_one(&prepared, token));
        futures_util::future::join_all(sends).await
    }
}
