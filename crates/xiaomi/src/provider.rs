//! The transport: one `POST` per batch between the pure request builder and the pure
//! classifier.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use pushway_core::{DeviceToken, Error, Notification, Outcome, PushProvider, Reason, async_trait};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use crate::classify::{Safeguard, Verdict, classify};
use crate::config::{AppSecret, Config, XiaomiProviderBuilder};
use crate::request::{self, MALFORMED_REGID, NotBuilt, XiaomiRequest};

/// Most regids in one request (official SDK doc text, protocols/xiaomi.md §4.1).
pub const MAX_BATCH_SIZE: usize = 1000;

/// Sends notifications to Xiaomi phones through MiPush's `/v3/message/regid`, up to
/// [`MAX_BATCH_SIZE`] regids per request. Built by [`XiaomiProvider::builder`].
///
/// One `send` is exactly one HTTP request (or none, when the notification cannot be sent);
/// it never retries. `Debug` never shows the AppSecret.
pub struct XiaomiProvider {
    config: Config,
    client: reqwest::Client,
    url: String,
    authorization: HeaderValue,
    /// One slot per connection: a request holds one until its answer is read.
    slots: Semaphore,
    /// Whole-batch refusals in a row with no success in between (the safeguard's streak).
    refusals: AtomicU32,
}

impl fmt::Debug for XiaomiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XiaomiProvider")
            .field("url", &self.url)
            .field("package", &self.config.package)
            .field("channel_id", &self.config.channel_id)
            .field("app_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl XiaomiProvider {
    /// A builder with the defaults (mainland host, 10 s timeout, 3 s connect timeout).
    pub fn builder() -> XiaomiProviderBuilder {
        XiaomiProviderBuilder::default()
    }

    pub(crate) fn new(
        config: Config,
        base_url: &str,
        secret: AppSecret,
        timeout: Duration,
        connect_timeout: Duration,
        max_connections: usize,
    ) -> Result<XiaomiProvider, Error> {
        let mut authorization = HeaderValue::from_str(&format!("key={}", secret.0))
            .map_err(|e| Error::config_from("xiaomi: app_secret is not a valid header value", e))?;
        authorization.set_sensitive(true);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(max_connections)
            .build()
            .map_err(|e| Error::config_from("xiaomi: cannot build the HTTP client", e))?;
        Ok(XiaomiProvider {
            config,
            client,
            url: format!("{base_url}{}", request::PATH),
            authorization,
            slots: Semaphore::new(max_connections),
            refusals: AtomicU32::new(0),
        })
    }

    /// The request `send` would make for `notification` to `regids` (pure; the transport adds
    /// `Authorization`), or the outcome every regid gets when it cannot be sent.
    pub fn build_request(
        &self,
        notification: &Notification,
        regids: &[&str],
    ) -> Result<XiaomiRequest, Outcome> {
        request::build(&self.config, notification, regids).map_err(|e| match e {
            NotBuilt::Outcome(outcome) => outcome,
            NotBuilt::MalformedRegid => malformed_outcome(),
        })
    }

    /// The safeguard in force for the next answer.
    fn safeguard(&self) -> Safeguard {
        Safeguard {
            min_batch: self.config.misconfigured_min_batch,
            config_suspected: self.refusals.load(Ordering::Relaxed)
                >= self.config.misconfigured_streak,
        }
    }

    /// Updates the streak of whole-batch refusals from one verdict and its outcomes.
    fn track(&self, verdict: &Verdict, outcomes: &[Outcome]) {
        let refused = !outcomes.is_empty()
            && outcomes.iter().all(|o| {
                matches!(
                    o,
                    Outcome::InvalidToken { .. } | Outcome::Misconfigured { .. }
                )
            });
        match verdict {
            Verdict::AllInvalid { .. } => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Accepted { .. } if refused => {
                self.refusals.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Accepted { .. } => self.refusals.store(0, Ordering::Relaxed),
            _ => {}
        }
    }

    async fn post(&self, body: String, regids: &[&str]) -> Vec<Outcome> {
        // HTTP/1.1 carries one request per connection at a time, so the pool opens a connection
        // for every request it cannot give an idle one: a slot held until the answer is read
        // bounds the connections a burst opens to `max_connections`.
        let Ok(_slot) = self.slots.acquire().await else {
            // Never: the semaphore is not closed.
            return vec![Outcome::retry(Reason::THROTTLED); regids.len()];
        };
        let response = self
            .client
            .post(&self.url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static(request::CONTENT_TYPE),
            )
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => return vec![transport_failure(&error); regids.len()],
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return vec![transport_failure(&error); regids.len()],
        };
        let verdict = classify(status, &headers, &body);
        let outcomes = verdict.outcomes(regids, self.safeguard());
        self.track(&verdict, &outcomes);
        // Configuration faults need an operator; the rest is routine and left to metrics.
        match outcomes.first() {
            Some(outcome @ (Outcome::Misconfigured { .. } | Outcome::Auth { .. })) => {
                tracing::warn!(provider = "xiaomi", status, %outcome, tokens = regids.len(), "configuration fault");
            }
            Some(outcome) if !outcome.is_delivered() => {
                tracing::debug!(provider = "xiaomi", status, %outcome, tokens = regids.len(), "batch not delivered");
            }
            _ => {}
        }
        outcomes
    }
}

/// A request that got no answer: a timeout or a connection problem; retryable. The detail
/// leaves the URL out (it is configuration, not news).
fn transport_failure(error: &reqwest::Error) -> Outcome {
    let code = if error.is_timeout() {
        Reason::TIMEOUT
    } else {
        Reason::CONNECTION
    };
    let mut detail = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if !detail.is_empty() {
            detail.push_str(": ");
        }
        detail.push_str(&e.to_string());
        source = e.source();
    }
    let detail = detail.replace(
        &format!(" for url ({})", error.url().map_or("", |u| u.as_str())),
        "",
    );
    Outcome::retry(Reason::new(code).with_detail(detail))
}

/// Regids that cannot be sent: empty, or containing the list separator `,`.
fn malformed(regid: &str) -> bool {
    regid.is_empty() || regid.contains(',')
}

fn malformed_outcome() -> Outcome {
    Outcome::rejected(Reason::new(MALFORMED_REGID).with_detail("empty or contains ','"))
}

impl XiaomiProvider {
    /// The rare path: sends the well-formed regids, and gives the malformed ones `Rejected` in
    /// their places.
    async fn send_well_formed(
        &self,
        notification: &Notification,
        tokens: &[DeviceToken],
    ) -> Vec<Outcome> {
        let regids: Vec<&str> = tokens
            .iter()
            .map(|t| t.token.as_str())
            .filter(|r| !malformed(r))
            .collect();
        let sent = if regids.is_empty() {
            Vec::new()
        } else {
            match self.build_request(notification, &regids) {
                Ok(request) => self.post(request.into_body(), &regids).await,
                Err(outcome) => vec![outcome; regids.len()],
            }
        };
        let mut sent = sent.into_iter();
        tokens
            .iter()
            .map(|t| {
                if malformed(&t.token) {
                    malformed_outcome()
                } else {
                    sent.next().unwrap_or_else(|| {
                        Outcome::rejected(Reason::new(Reason::PROVIDER_CONTRACT))
                    })
                }
            })
            .collect()
    }
}

#[async_trait]
impl PushProvider for XiaomiProvider {
    fn name(&self) -> &str {
        "xiaomi"
    }

    fn max_batch_size(&self) -> usize {
        MAX_BATCH_SIZE
    }

    async fn send(&self, notification: &Notification, tokens: &[DeviceToken]) -> Vec<Outcome> {
        if tokens.is_empty() {
            return Vec::new();
        }
        if tokens.len() > MAX_BATCH_SIZE {
            let reason = Reason::new(Reason::PROVIDER_CONTRACT).with_detail(format!(
                "{} tokens in one batch, at most {MAX_BATCH_SIZE}",
                tokens.len()
            ));
            return vec![Outcome::rejected(reason); tokens.len()];
        }
        let regids: Vec<&str> = tokens.iter().map(|t| t.token.as_str()).collect();
        match request::build(&self.config, notification, &regids) {
            Ok(request) => self.post(request.into_body(), &regids).await,
            Err(NotBuilt::Outcome(outcome)) => vec![outcome; tokens.len()],
            Err(NotBuilt::MalformedRegid) => self.send_well_formed(notification, tokens).await,
        }
    }
}
