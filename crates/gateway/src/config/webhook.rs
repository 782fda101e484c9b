//! One app's signed delivery webhook: where its events are posted, the secret they are signed
//! with, which events it wants, and how failed posts are retried.

use std::path::PathBuf;

use serde::Deserialize;

use super::Secret;

/// `[apps.<app>.webhook]`: with it, the app's delivery events are kept durably and posted to
/// `url` in signed batches (see `docs/webhooks.md`).
///
/// ```toml
/// [apps.chat.webhook]
/// url = "https://im.example.com/pushway/events"
/// secret_file = "/run/secrets/webhook"      # at least 16 bytes
/// # During a rotation, the previous secret too: both signatures are sent.
/// # previous_secret_file = "/run/secrets/webhook.old"
/// events = ["delivered", "dead", "token_invalidated"]   # the default; or add "suppressed"
/// timeout_ms = 5000
/// max_attempts = 12
/// backoff_base_ms = 1000
/// backoff_max_ms = 600000
/// # Tencent IM's push-callback shape instead of pushway's (docs/webhooks.md, "TIM format"):
/// # format = "tim"
/// # tim_sdkappid = 1400000000
/// # tim_token_file = "/run/secrets/tim-callback-token"   # adds TIM's Sign and RequestTime
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Where batches are posted (`http://` or `https://`).
    pub url: String,
    /// The HMAC-SHA256 signing secret (at least 16 bytes).
    pub secret: Option<Secret>,
    /// A file holding the secret.
    pub secret_file: Option<PathBuf>,
    /// The secret being rotated out: while set, each request carries a signature with each.
    pub previous_secret: Option<Secret>,
    /// A file holding the previous secret.
    pub previous_secret_file: Option<PathBuf>,
    /// The event types wanted: `delivered`, `dead`, `token_invalidated`, `suppressed` (default
    /// the first three).
    pub events: Vec<String>,
    /// Deadline of one post, in milliseconds (default 5000).
    pub timeout_ms: u64,
    /// Posts of an event after which it is dead (kept, not posted again; default 12).
    pub max_attempts: u32,
    /// The first retry's backoff in milliseconds, doubled per attempt (default 1000).
    pub backoff_base_ms: u64,
    /// The longest backoff in milliseconds (default 600 000).
    pub backoff_max_ms: u64,
    /// The body's shape: `pushway` (the default) or `tim` (Tencent IM's `Push.OfflinePush`
    /// callback).
    pub format: String,
    /// With `format = "tim"`: the `SdkAppid` put in each request's query (required).
    pub tim_sdkappid: Option<u64>,
    /// With `format = "tim"`: TIM's callback-authentication token; with it, each request's
    /// query carries `Sign` and `RequestTime` as Tencent IM's callbacks do.
    pub tim_token: Option<Secret>,
    /// A file holding the TIM token.
    pub tim_token_file: Option<PathBuf>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: String::new(),
            secret: None,
            secret_file: None,
            previous_secret: None,
            previous_secret_file: None,
            events: ["delivered", "dead", "token_invalidated"]
                .map(str::to_owned)
                .to_vec(),
            timeout_ms: 5_000,
            max_attempts: 12,
            backoff_base_ms: 1_000,
            backoff_max_ms: 600_000,
            format: "pushway".to_owned(),
            tim_sdkappid: None,
            tim_token: None,
            tim_token_file: None,
        }
    }
}

impl WebhookConfig {
    /// A webhook posting to `url` signed with `secret`, every other setting at its default.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: Some(Secret::new(secret)),
            ..WebhookConfig::default()
        }
    }
}
