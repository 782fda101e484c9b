//! [`HuaweiProvider`]: the thin transport between [`request`](crate::request) and
//! [`classify`](crate::classify).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pushway_core::credential::AuthFailure;
use pushway_core::{DeviceToken, Notification, Outcome, PayloadTooLarge, PushProvider, Reason};
use tokio::sync::Semaphore;

use crate::auth::{Credential, TokenCache};
use crate::builder::HuaweiProviderBuilder;
use crate::classify::{Classified, classify};
use crate::request::{self, MAX_TOKENS, MessageOptions};

/// Sends notifications through Huawei Push Kit (v1 or v2 API), up to 1000 tokens per request.
///
/// One [`send`](PushProvider::send) is one attempt, with one documented exception: when Push Kit
/// refuses the credential (80200001, 80200003, 80200005, or HTTP 401 without a body), the
/// provider fetches a new access token (or signs a new JWT) once and resends once; a second
/// refusal is [`Outcome::Auth`]. Cloning is cheap and clones share the HTTP connections and the
/// cached credential.
#[derive(Clone)]
pub struct HuaweiProvider {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    /// One slot per connection to the push server: a send holds one until its answer is read.
    pub slots: Semaphore,
    pub send_url: String,
    pub auth: TokenCache,
    pub options: MessageOptions,
}

impl fmt::Debug for HuaweiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HuaweiProvider")
            .field("send_url", &self.inner.send_url)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl HuaweiProvider {
    /// A builder with the defaults.
    pub fn builder() -> HuaweiProviderBuilder {
        HuaweiProviderBuilder::default()
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        HuaweiProvider { inner }
    }

    /// The exact body [`send`](PushProvider::send) would post for `notification` and `tokens`
    /// (pure: no I/O). Fails when the message cannot fit Push Kit's 4096 bytes even with its
    /// body shortened.
    pub fn build_request(
        &self,
        notification: &Notification,
        tokens: &[&str],
    ) -> Result<Vec<u8>, PayloadTooLarge> {
        let prepared = request::prepare(notification, &self.inner.options)?;
        Ok(prepared.with_tokens(tokens.iter().copied()))
    }

    /// The URL sends go to.
    pub fn send_url(&self) -> &str {
        &self.inner.send_url
    }

    /// How many credentials were requested from the issuer so far (token endpoint calls, or JWT
    /// signatures), for metrics and tests.
    pub fn credential_fetches(&self) -> u64 {
        self.inner.auth.fetches()
    }

    /// Requests an access token from the token endpoint (or signs a JWT with the service account) now, unless one is cached, and keeps it for the sends: proves the
    /// credential before it is used (a gateway checks a rotated credential this way before it
    /// replaces the old one). The failure names the issuer's refusal, never the secret.
    pub async fn authenticate(&self) -> Result<(), AuthFailure> {
        self.inner.auth.get().await.map(|_| ())
    }

    async fn post(
        &self,
        bearer: &Credential,
        body: Bytes,
    ) -> Result<(u16, Option<String>, Bytes), Outcome> {
        // HTTP/1.1 carries one request per connection at a time, so the pool opens a connection
        // for every request it cannot give an idle one: a slot held until the answer is read
        // bounds the connections a burst opens to `max_connections`.
        let Ok(_slot) = self.inner.slots.acquire().await else {
            // Never: the semaphore is not closed.
            return Err(Outcome::retry(Reason::THROTTLED));
        };
        let response = self
            .inner
            .http
            .post(&self.inner.send_url)
            .bearer_auth(bearer)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json;charset=utf-8",
            )
            .body(body)
            .send()
            .await
            .map_err(transport_outcome)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(transport_outcome)?;
        Ok((status, retry_after, body))
    }
}

/// A request that got no answer: worth retrying (Push Kit de-duplicates nothing, but a send that
/// never reached the server is the common case).
fn transport_outcome(error: reqwest::Error) -> Outcome {
    let code = if error.is_timeout() {
        Reason::TIMEOUT
    } else {
        Reason::CONNECTION
    };
    Outcome::retry(code)
}

#[async_trait]
impl PushProvider for HuaweiProvider {
    fn name(&self) -> &str {
        "huawei"
    }

    fn max_batch_size(&self) -> usize {
        MAX_TOKENS
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        if tokens.is_empty() {
            return Vec::new();
        }
        if tokens.len() > MAX_TOKENS {
            let reason = Reason::new(Reason::PROVIDER_CONTRACT)
                .with_detail(format!("{} tokens, at most {MAX_TOKENS}", tokens.len()));
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
        let strs: Vec<&str> = tokens.iter().map(|t| t.token.as_str()).collect();
        let body = Bytes::from(prepared.with_tokens(strs.iter().copied()));

        let mut refreshed = false;
        loop {
            let bearer = match self.inner.auth.get().await {
                Ok(bearer) => bearer,
                Err(failure) => return vec![failure.outcome(); tokens.len()],
            };
            let (status, retry_after, answer) = match self.post(&bearer, body.clone()).await {
                Ok(answer) => answer,
                Err(outcome) => return vec![outcome; tokens.len()],
            };
            let classified: Classified = classify(status, retry_after.as_deref(), &answer, &strs);
            if classified.wants_new_credential() && !refreshed {
                // The one documented exception to "one attempt": refresh once, resend once.
                tracing::debug!(status, code = ?classified.code, "huawei: credential refused, refreshing once");
                self.inner.auth.invalidate(&bearer);
                refreshed = true;
                continue;
            }
            tracing::debug!(
                status,
                code = ?classified.code,
                request_id = classified.request_id.as_deref().unwrap_or(""),
                tokens = tokens.len(),
                shortened = prepared.shortened,
                message_bytes = prepared.size_without_tokens(),
                "huawei: sent"
            );
            return classified.outcomes;
        }
    }
}
