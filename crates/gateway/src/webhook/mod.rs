//! Signed delivery webhooks: each app with a `[apps.<app>.webhook]` section gets its delivery
//! events (delivered, dead, token invalidated, optionally suppressed) posted to its URL in
//! signed batches, durably and at least once (see `docs/webhooks.md` for the receiver's side).
//!
//! | part | where |
//! |---|---|
//! | events, written in the transaction of what caused them | `store::sqlite` (`webhooks.rs`) |
//! | the poster: claim ≤ 100 due events per app under a lease, one signed POST, retry with backoff | [`WebhookWorker`] |
//! | signing, and [`verify`] for receivers | `sign.rs` |
//! | `format = "tim"`: Tencent IM's `Push.OfflinePush` callback shape, built when a batch is posted | `tim.rs` |
//!
//! The worker is its own task with its own HTTP client and a bound on posts in flight: a slow
//! or failing receiver delays only its own app's events, never a push.

mod sign;
mod tim;
mod worker;

use std::collections::BTreeMap;
use std::time::Duration;

pub use sign::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, TOLERANCE_SECS, VerifyError, sign, signature_header, verify,
};
pub use tim::{
    CALLBACK_COMMAND, ERR_DEAD, ERR_SUPPRESSED, ERR_TOKEN_INVALIDATED, Format, MAX_TOKEN_BYTES,
    TimFormat, tim_sign,
};
pub use worker::{MAX_BATCH, WebhookWorker};

use crate::config::{Config, ConfigError, Secret, WebhookConfig, secret};
use crate::store::{EventType, WebhookFilter};

/// The shortest signing secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// One app's webhook, validated.
#[derive(Debug, Clone)]
pub struct Hook {
    /// Where batches are posted.
    pub url: reqwest::Url,
    /// The current secret, then the one being rotated out.
    pub secrets: Vec<Secret>,
    /// The event types posted.
    pub events: Vec<EventType>,
    /// Deadline of one post.
    pub timeout: Duration,
    /// Posts of an event after which it is dead.
    pub max_attempts: u32,
    /// The first retry's backoff, doubled per attempt.
    pub backoff_base_ms: u64,
    /// The longest backoff.
    pub backoff_max_ms: u64,
    /// The body's shape.
    pub format: Format,
}

impl Hook {
    /// The backoff after the `attempts`-th failed post: the base doubled per attempt, capped.
    pub fn backoff_ms(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(30);
        let ms = self
            .backoff_base_ms
            .saturating_mul(1u64 << doublings)
            .min(self.backoff_max_ms);
        i64::try_from(ms).unwrap_or(i64::MAX)
    }

    /// The URL without credentials, path or query: safe to log and print.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }
}

/// Every configured webhook, by app id.
pub type Hooks = BTreeMap<String, Hook>;

/// Validates and reads every app's webhook section; errors name the exact key.
pub fn hooks(config: &Config) -> Result<Hooks, ConfigError> {
    let mut hooks = Hooks::new();
    for (app, section) in &config.apps {
        if let Some(webhook) = &section.webhook {
            hooks.insert(app.clone(), hook(&format!("apps.{app}.webhook"), webhook)?);
        }
    }
    Ok(hooks)
}

/// The (app, type) pairs the store keeps events for.
pub fn filter(hooks: &Hooks) -> WebhookFilter {
    let mut filter = WebhookFilter::default();
    for (app, hook) in hooks {
        filter.add(app, hook.events.iter().copied());
    }
    filter
}

fn hook(at: &str, c: &WebhookConfig) -> Result<Hook, ConfigError> {
    let url = reqwest::Url::parse(&c.url).map_err(|e| ConfigError::at(&format!("{at}.url"), e))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::at(
            &format!("{at}.url"),
            "an http:// or https:// URL with a host is required",
        ));
    }
    let mut secrets = vec![checked(
        &format!("{at}.secret"),
        secret(&format!("{at}.secret"), &c.secret, &c.secret_file)?,
        c.secret_file.is_some(),
    )?];
    if c.previous_secret.is_some() || c.previous_secret_file.is_some() {
        let key = format!("{at}.previous_secret");
        let previous = secret(&key, &c.previous_secret, &c.previous_secret_file)?;
        secrets.push(checked(&key, previous, c.previous_secret_file.is_some())?);
    }
    if c.events.is_empty() {
        return Err(ConfigError::at(
            &format!("{at}.events"),
            "list at least one event type",
        ));
    }
    let mut events = Vec::with_capacity(c.events.len());
    for (i, label) in c.events.iter().enumerate() {
        let t = EventType::parse(label).ok_or_else(|| {
            ConfigError::at(
                &format!("{at}.events[{i}]"),
                format!(
                    "unknown event type {label:?}; one of delivered, dead, token_invalidated, suppressed"
                ),
            )
        })?;
        if !events.contains(&t) {
            events.push(t);
        }
    }
    for (key, value) in [
        ("timeout_ms", c.timeout_ms),
        ("max_attempts", u64::from(c.max_attempts)),
        ("backoff_base_ms", c.backoff_base_ms),
    ] {
        if value == 0 {
            return Err(ConfigError::at(
                &format!("{at}.{key}"),
                "must be at least 1",
            ));
        }
    }
    if c.backoff_max_ms < c.backoff_base_ms {
        return Err(ConfigError::at(
            &format!("{at}.backoff_max_ms"),
            "must be at least backoff_base_ms",
        ));
    }
    let format = tim::format(at, c)?;
    Ok(Hook {
        format,
        url,
        secrets,
        events,
        timeout: Duration::from_millis(c.timeout_ms),
        max_attempts: c.max_attempts,
        backoff_base_ms: c.backoff_base_ms,
        backoff_max_ms: c.backoff_max_ms,
    })
}

/// `secret` when long enough; the error names the key that was set (`…_file` for a file).
fn checked(key: &str, secret: Secret, from_file: bool) -> Result<Secret, ConfigError> {
    if secret.expose().len() < MIN_SECRET_BYTES {
        let key = if from_file {
            format!("{key}_file")
        } else {
            key.to_owned()
        };
        return Err(ConfigError::at(
            &key,
            format!("a signing secret is at least {MIN_SECRET_BYTES} bytes"),
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppConfig;

    fn config_with(webhook: WebhookConfig) -> Config {
        let app = AppConfig {
            webhook: Some(webhook),
            ..AppConfig::default()
        };
        let mut config = Config::default();
        config.apps.insert("chat".to_owned(), app);
        config
    }

    fn error(webhook: WebhookConfig) -> String {
        match hooks(&config_with(webhook)) {
            Ok(_) => "accepted".to_owned(),
            Err(e) => e.to_string(),
        }
    }

    const SECRET: &str = "0123456789abcdef";

    #[test]
    fn a_valid_section_keeps_the_default_events() {
        let hooks = hooks(&config_with(WebhookConfig::new(
            "https://user:pw@im.example.com:8443/hook?t=1",
            SECRET,
        )))
        .expect("valid");
        let hook = &hooks["chat"];
        assert_eq!(
            hook.events,
            [
                EventType::Delivered,
                EventType::Dead,
                EventType::TokenInvalidated
            ]
        );
        assert_eq!(hook.origin(), "https://im.example.com:8443");
        assert_eq!(hook.backoff_ms(1), 1000);
        assert_eq!(hook.backoff_ms(3), 4000);
        assert_eq!(hook.backoff_ms(40), 600_000);
        let filter = filter(&hooks);
        assert!(filter.wants("chat", EventType::Dead));
        assert!(!filter.wants("chat", EventType::Suppressed));
        assert!(!filter.wants("other", EventType::Dead));
    }

    #[test]
    fn each_invalid_setting_is_named_by_its_key() {
        let at = "apps.chat.webhook";
        let e = error(WebhookConfig::new("ftp://example.com/x", SECRET));
        assert_eq!(
            e,
            format!("{at}.url: an http:// or https:// URL with a host is required")
        );
        let e = error(WebhookConfig::new("not a url", SECRET));
        assert!(e.starts_with(&format!("{at}.url: ")), "{e}");
        let e = error(WebhookConfig::new("https://example.com", "short-secret"));
        assert_eq!(
            e,
            format!("{at}.secret: a signing secret is at least 16 bytes")
        );
        let mut c = WebhookConfig::new("https://example.com", SECRET);
        c.secret = None;
        assert_eq!(
            error(c),
            format!("{at}.secret: secret or secret_file is required")
        );
        let mut c = WebhookConfig::new("https://example.com", SECRET);
        c.events = vec!["delivered".into(), "opened".into()];
        assert_eq!(
            error(c),
            format!(
                "{at}.events[1]: unknown event type \"opened\"; one of delivered, dead, token_invalidated, suppressed"
            )
        );
        let mut c = WebhookConfig::new("https://example.com", SECRET);
        c.events.clear();
        assert_eq!(
            error(c),
            format!("{at}.events: list at least one event type")
        );
        let mut c = WebhookConfig::new("https://example.com", SECRET);
        c.max_attempts = 0;
        assert_eq!(error(c), format!("{at}.max_attempts: must be at least 1"));
        let mut c = WebhookConfig::new("https://example.com", SECRET);
        c.backoff_max_ms = 10;
        assert_eq!(
            error(c),
            format!("{at}.backoff_max_ms: must be at least backoff_base_ms")
        );
        let mut c = WebhookConfig::new("https://example.com", SECRET);
        c.previous_secret = Some(Secret::new("old"));
        assert_eq!(
            error(c),
            format!("{at}.previous_secret: a signing secret is at least 16 bytes")
        );
    }

    #[test]
    fn a_short_secret_in_a_file_names_the_file_key_and_never_the_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("webhook");
        std::fs::write(&path, "tiny-secret\n").expect("write");
        let mut c = WebhookConfig::new("https://example.com", SECRET);
        c.secret = None;
        c.secret_file = Some(path);
        let e = error(c);
        assert_eq!(
            e,
            "apps.chat.webhook.secret_file: a signing secret is at least 16 bytes"
        );
        let debug = format!(
            "{:?}",
            config_with(WebhookConfig::new("https://e.com", SECRET))
        );
        assert!(!debug.contains(SECRET), "{debug}");
    }
}
