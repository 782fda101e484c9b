//! Configuration: the builder of [`XiaomiProvider`], the regional hosts, and the settings the
//! pure request builder reads.

use std::fmt;
use std::time::Duration;

use pushway_core::Error;
use tokio::sync::Semaphore;

use crate::provider::XiaomiProvider;

/// Default whole-request timeout (connect, send, answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default connect timeout (the official SDK's 3 s).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default most connections (and so requests in flight) per provider: MiPush's
/// endpoints are documented as HTTP/1.1 (one request per connection at a time), so without a
/// bound a burst of sends opens a connection per send. 64 matches the delivery stack's default
/// bulkhead; at a 100 ms round trip it carries about 640 requests a second, above Xiaomi's
/// smallest per-app QPS of 500 (protocols/xiaomi.md §7).
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default receipt types asked for with a callback URL: 1 delivered + 2 clicked + 16 invalid
/// target (protocols/xiaomi.md §9).
pub const DEFAULT_RECEIPT_TYPES: u32 = 19;

/// A Xiaomi API host. A regid belongs to one region and must be sent to that region's host
/// (protocols/xiaomi.md §2); the hyphenated spellings of the official API page are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Region {
    /// Mainland China, `https://api.xmpush.xiaomi.com` (the default).
    #[default]
    Mainland,
    /// The legacy single global host, `https://api.xmpush.global.xiaomi.com`.
    Global,
    /// Russia, `https://ru-api.xmpush.global.xiaomi.com`.
    Russia,
    /// India, `https://idmb-api.xmpush.global.xiaomi.com`.
    India,
    /// The EEA and the UK, `https://fr-api.xmpush.global.xiaomi.com`.
    Europe,
    /// Other countries and regions, `https://sgp-api.xmpush.global.xiaomi.com`.
    Singapore,
}

impl Region {
    /// The base URL of the region's API host.
    pub const fn base_url(self) -> &'static str {
        match self {
            Region::Mainland => "https://api.xmpush.xiaomi.com",
            Region::Global => "https://api.xmpush.global.xiaomi.com",
            Region::Russia => "https://ru-api.xmpush.global.xiaomi.com",
            Region::India => "https://idmb-api.xmpush.global.xiaomi.com",
            Region::Europe => "https://fr-api.xmpush.global.xiaomi.com",
            Region::Singapore => "https://sgp-api.xmpush.global.xiaomi.com",
        }
    }
}

/// The AppSecret: never shown by `Debug`.
#[derive(Clone)]
pub(crate) struct AppSecret(pub(crate) String);

impl fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppSecret(<redacted>)")
    }
}

/// A private-message template (`extra.template_id` + `extra.template_param`), required for
/// private channels under Xiaomi's 2026 rules (protocols/xiaomi.md §6.3).
///
/// Parameter values may use the placeholders `{title}`, `{body}`, `{sender_id}` and
/// `{conversation_id}`, filled from each notification; a filled value is cut to
/// [`TEMPLATE_PARAM_MAX_UTF16`](crate::request::TEMPLATE_PARAM_MAX_UTF16) units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub(crate) id: String,
    pub(crate) params: Vec<(String, String)>,
}

impl Template {
    /// A template with no parameters.
    pub fn new(id: impl Into<String>) -> Template {
        Template {
            id: id.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter; `value` may contain placeholders (see [`Template`]).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Template {
        self.params.push((name.into(), value.into()));
        self
    }
}

/// Everything [`crate::XiaomiProvider::build_request`] needs.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub package: String,
    pub channel_id: String,
    /// `Some("<pkg>/<activity>")` component for NotifyMode::Custom.
    pub custom_component: Option<String>,
    pub template: Option<Template>,
    pub receipt_url: Option<String>,
    pub receipt_types: u32,
    pub misconfigured_min_batch: usize,
    pub misconfigured_streak: u32,
}

/// Configures a [`XiaomiProvider`]. Required: [`app_secret`](Self::app_secret),
/// [`package`](Self::package), [`channel_id`](Self::channel_id).
#[derive(Debug, Clone)]
#[must_use]
pub struct XiaomiProviderBuilder {
    secret: Option<AppSecret>,
    package: Option<String>,
    channel_id: Option<String>,
    region: Region,
    base_url: Option<String>,
    allow_plain_http: bool,
    custom_activity: Option<String>,
    template: Option<Template>,
    receipt_url: Option<String>,
    receipt_types: u32,
    timeout: Duration,
    connect_timeout: Duration,
    max_connections: usize,
    misconfigured_min_batch: usize,
    misconfigured_streak: u32,
}

impl Default for XiaomiProviderBuilder {
    fn default() -> Self {
        XiaomiProviderBuilder {
            secret: None,
            package: None,
            channel_id: None,
            region: Region::Mainland,
            base_url: None,
            allow_plain_http: false,
            custom_activity: None,
            template: None,
            receipt_url: None,
            receipt_types: DEFAULT_RECEIPT_TYPES,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            misconfigured_min_batch: crate::DEFAULT_MISCONFIGURED_MIN_BATCH,
            misconfigured_streak: crate::DEFAULT_MISCONFIGURED_STREAK,
        }
    }
}

impl XiaomiProviderBuilder {
    /// The app's AppSecret, sent as `Authorization: key=<AppSecret>`. Never logged or shown.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(AppSecret(secret.into()));
        self
    }

    /// The Android package name (`restricted_package_name`).
    pub fn package(mut self, package: impl Into<String>) -> Self {
        self.package = Some(package.into());
        self
    }

    /// The notification channel registered on the Xiaomi platform for IM messages
    /// (`extra.channel_id`; a private-message channel).
    pub fn channel_id(mut self, channel_id: impl Into<String>) -> Self {
        self.channel_id = Some(channel_id.into());
        self
    }

    /// The regional host (default [`Region::Mainland`]); [`base_url`](Self::base_url) wins.
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Any compatible endpoint (a proxy, a VIP host, a simulator) instead of the region's host.
    /// Must be `https://` unless [`allow_plain_http`](Self::allow_plain_http) is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Allows an `http://` base URL, for simulators and tests. The AppSecret then travels in
    /// clear text: never use it with the real service.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// The activity a [`NotifyMode::Custom`](pushway_core::NotifyMode::Custom) tap opens, with
    /// the app data as string extras: a class name, either relative to the package
    /// (`.ui.ChatActivity`) or fully qualified. Without it, Custom notifications are not sent
    /// (outcome `Rejected`, reason `custom_activity_missing`).
    pub fn custom_activity(mut self, activity: impl Into<String>) -> Self {
        self.custom_activity = Some(activity.into());
        self
    }

    /// A private-message template for every notification.
    pub fn template(mut self, template: Template) -> Self {
        self.template = Some(template);
        self
    }

    /// Asks Xiaomi to post receipts to this HTTPS URL (`extra.callback`), tagged with the
    /// message id (`extra.callback.param`); see [`crate::receipt`].
    pub fn receipt_callback(mut self, url: impl Into<String>) -> Self {
        self.receipt_url = Some(url.into());
        self
    }

    /// The receipt types asked for, a bit mask (`extra.callback.type`; default
    /// [`DEFAULT_RECEIPT_TYPES`]). Keep 16 (invalid target): it replaces the retired feedback API.
    pub fn receipt_types(mut self, mask: u32) -> Self {
        self.receipt_types = mask;
        self
    }

    /// The whole-request timeout (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connect timeout (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The most connections to the API host, and so the most requests in flight (default
    /// [`DEFAULT_MAX_CONNECTIONS`]); further sends wait for a free one. Must be at least 1.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// The misconfiguration safeguard (see the crate docs): a whole batch of at least
    /// `min_batch` regids refused as invalid, or `streak` whole-batch refusals in a row with no
    /// success in between, give `Misconfigured` instead of `InvalidToken`. Defaults
    /// [`DEFAULT_MISCONFIGURED_MIN_BATCH`](crate::DEFAULT_MISCONFIGURED_MIN_BATCH) and
    /// [`DEFAULT_MISCONFIGURED_STREAK`](crate::DEFAULT_MISCONFIGURED_STREAK).
    pub fn misconfiguration_safeguard(mut self, min_batch: usize, streak: u32) -> Self {
        self.misconfigured_min_batch = min_batch.max(1);
        self.misconfigured_streak = streak.max(1);
        self
    }

    /// Checks the settings and builds the provider (with its HTTP client).
    pub fn build(self) -> Result<XiaomiProvider, Error> {
        let required = |value: Option<String>, what: &str| {
            value
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Error::config(format!("xiaomi: {what} is required")))
        };
        let secret = required(self.secret.map(|s| s.0), "app_secret")?;
        let package = required(self.package, "package")?;
        let channel_id = required(self.channel_id, "channel_id")?;
        if secret.chars().any(|c| c.is_control()) {
            return Err(Error::config(
                "xiaomi: app_secret contains control characters",
            ));
        }
        let base_url = self
            .base_url
            .unwrap_or_else(|| self.region.base_url().to_owned());
        let base_url = base_url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| Error::config_from("xiaomi: invalid base_url", e))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_plain_http => {}
            "http" => {
                return Err(Error::config(
                    "xiaomi: plain-HTTP base_url refused; use allow_plain_http(true) for a simulator",
                ));
            }
            _ => return Err(Error::config("xiaomi: base_url must be https")),
        }
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return Err(Error::config(
                "xiaomi: max_connections must be at least 1 and below 2^61",
            ));
        }
        let custom_component = self.custom_activity.map(|activity| {
            // Android's component form `<package>/<class>`; `.X` is relative to the package.
            format!("{package}/{activity}")
        });
        let config = Config {
            package,
            channel_id,
            custom_component,
            template: self.template,
            receipt_url: self.receipt_url,
            receipt_types: self.receipt_types,
            misconfigured_min_batch: self.misconfigured_min_batch,
            misconfigured_streak: self.misconfigured_streak,
        };
        XiaomiProvider::new(
            config,
            &base_url,
            AppSecret(secret),
            self.timeout,
            self.connect_timeout,
            self.max_connections,
        )
    }
}
