//! [`HuaweiProviderBuilder`]: every setting of a [`HuaweiProvider`], validated once in `build`.

use std::sync::Arc;
use std::time::Duration;

use pushway_core::credential::Secret;
use tokio::sync::Semaphore;

use crate::Error;
use crate::ServiceAccountKey;
use crate::auth::jwt::JwtSource;
use crate::auth::oauth::{OAuthSource, TOKEN_PATH};
use crate::auth::{Source, TokenCache};
use crate::provider::{HuaweiProvider, Inner};
use crate::request::MessageOptions;

/// Huawei's OAuth server (§1a).
pub const DEFAULT_OAUTH_BASE_URL: &str = "https://oauth-login.cloud.huawei.com";
/// Huawei's push server (§0).
pub const DEFAULT_PUSH_BASE_URL: &str = "https://push-api.cloud.huawei.com";
/// The default timeout of every HTTP exchange (token and send).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default most connections to the push server (and so sends in flight) per provider (see
/// the crate docs, "Connections"). 64 matches the delivery stack's default bulkhead.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// The default `android.category`: instant messages (needs Huawei's self-classification right).
pub const DEFAULT_CATEGORY: &str = "IM";

/// `android.notification.importance` (§2.5): the alert level of a service message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Importance {
    /// `"NORMAL"`: an important message, with sound and vibration (the default for IM).
    #[default]
    Normal,
    /// `"LOW"`: delivered silently.
    Low,
}

impl Importance {
    /// The JSON value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Importance::Normal => "NORMAL",
            Importance::Low => "LOW",
        }
    }
}

/// Where a tap on a [`NotifyMode::Custom`](pushway_core::NotifyMode::Custom) notification goes:
/// `click_action` type 1 with the intent URI
/// `intent://<host_and_path>#Intent;scheme=<scheme>;[package=<package>;]launchFlags=0x4000000;S.<key>=<value>;…;end`,
/// one string extra per app-data field (same names as `message.data`, values `Uri.encode`d as
/// Android's `Intent.toUri` does). The app declares a matching intent filter and reads the
/// extras with `getIntent().getStringExtra("conversation_id")`, which works on every EMUI
/// version (`message.data` reaches a tapped app only from notification center 9.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentTarget {
    scheme: String,
    host_and_path: String,
    package: Option<String>,
}

impl Default for IntentTarget {
    /// `intent://open#Intent;scheme=pushway;…`: the app's filter is `pushway://open`.
    fn default() -> Self {
        IntentTarget::new("pushway", "open")
    }
}

impl IntentTarget {
    /// A target `<scheme>://<host_and_path>`, e.g. `("myimpush", "chat/open")`.
    pub fn new(scheme: impl Into<String>, host_and_path: impl Into<String>) -> Self {
        IntentTarget {
            scheme: scheme.into(),
            host_and_path: host_and_path.into(),
            package: None,
        }
    }

    /// Restricts the intent to the app's package (recommended: no other app can catch it).
    #[must_use]
    pub fn package(mut self, package: impl Into<String>) -> Self {
        self.package = Some(package.into());
        self
    }

    fn validate(&self) -> Result<(), Error> {
        let scheme_ok = self
            .scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && self
                .scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        let path_ok =
            !self.host_and_path.is_empty() && !self.host_and_path.contains(['#', ';', ' ']);
        let package_ok = self.package.as_ref().is_none_or(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
        });
        if scheme_ok && path_ok && package_ok {
            Ok(())
        } else {
            Err(Error::config(format!("invalid intent target {self:?}")))
        }
    }

    /// The intent URI carrying `extras` as string extras.
    pub(crate) fn uri<'a>(
        &self,
        extras: impl Iterator<Item = (&'static str, std::borrow::Cow<'a, str>)>,
    ) -> String {
        let mut uri = format!(
            "intent://{}#Intent;scheme={};",
            self.host_and_path, self.scheme
        );
        if let Some(package) = &self.package {
            uri.push_str("package=");
            uri.push_str(package);
            uri.push(';');
        }
        // FLAG_ACTIVITY_CLEAR_TOP, as in Huawei's samples.
        uri.push_str("launchFlags=0x4000000;");
        for (key, value) in extras {
            uri.push_str("S.");
            uri_encode(&mut uri, key);
            uri.push('=');
            uri_encode(&mut uri, &value);
            uri.push(';');
        }
        uri.push_str("end");
        uri
    }
}

/// Android's `Uri.encode`: everything but `A-Za-z0-9_-!.~'()*` is percent-encoded as UTF-8.
fn uri_encode(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"_-!.~'()*".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// Builds a [`HuaweiProvider`]. Set a target (`app_id` for v1 or `project_id` for v2) and one
/// credential (`client_secret`/`oauth_client` or `service_account`); the rest has defaults.
///
/// ```
/// use std::time::Duration;
/// use pushway_huawei::{HuaweiProvider, Importance};
///
/// let provider = HuaweiProvider::builder()
///     .app_id("104567890")
///     .client_secret("s3cret")
///     .importance(Importance::Normal)
///     .badge_class("com.example.im.MainActivity")
///     .timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert!(!format!("{provider:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct HuaweiProviderBuilder {
    app_id: Option<String>,
    project_id: Option<String>,
    oauth: Option<(Option<String>, Secret)>,
    service_account: Option<ServiceAccountKey>,
    oauth_base_url: String,
    push_base_url: String,
    allow_plain_http: bool,
    category: Option<String>,
    importance: Importance,
    badge_class: Option<String>,
    foreground_show: bool,
    intent: IntentTarget,
    timeout: Duration,
    max_connections: usize,
}

impl Default for HuaweiProviderBuilder {
    fn default() -> Self {
        HuaweiProviderBuilder {
            app_id: None,
            project_id: None,
            oauth: None,
            service_account: None,
            oauth_base_url: DEFAULT_OAUTH_BASE_URL.to_owned(),
            push_base_url: DEFAULT_PUSH_BASE_URL.to_owned(),
            allow_plain_http: false,
            category: Some(DEFAULT_CATEGORY.to_owned()),
            importance: Importance::default(),
            badge_class: None,
            foreground_show: false,
            intent: IntentTarget::default(),
            timeout: DEFAULT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl HuaweiProviderBuilder {
    /// Sends through the v1 API, `/v1/<app_id>/messages:send`. The app id is the app's OAuth 2.0
    /// client id (AppGallery Connect → project settings).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// Sends through the v2 API, `/v2/<project_id>/messages:send` (needed for a
    /// service-account key; with one, the project id defaults to the key's).
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// OAuth client credentials whose client id is the app id (the usual v1 setup).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.oauth = Some((None, Secret::new(secret)));
        self
    }

    /// OAuth client credentials with an explicit client id (for v2).
    pub fn oauth_client(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.oauth = Some((Some(client_id.into()), Secret::new(secret)));
        self
    }

    /// Authenticates with self-signed service-account JWTs (PS256) instead of OAuth.
    pub fn service_account(mut self, key: ServiceAccountKey) -> Self {
        self.service_account = Some(key);
        self
    }

    /// The OAuth server (default [`DEFAULT_OAUTH_BASE_URL`]); tokens come from
    /// `<base>/oauth2/v3/token`.
    pub fn oauth_base_url(mut self, url: impl Into<String>) -> Self {
        self.oauth_base_url = url.into();
        self
    }

    /// The push server (default [`DEFAULT_PUSH_BASE_URL`]).
    pub fn push_base_url(mut self, url: impl Into<String>) -> Self {
        self.push_base_url = url.into();
        self
    }

    /// Both base URLs at once (a simulator or proxy serving both).
    pub fn base_url(self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.oauth_base_url(url.clone()).push_base_url(url)
    }

    /// Allows `http://` base URLs, which send secrets and tokens unencrypted: for local
    /// simulators and tests only. Off by default; production hosts require TLS ≥ 1.2.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// `android.category` (default [`DEFAULT_CATEGORY`], `"IM"`; `"VOIP"` for calls).
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Sends no `android.category` (apps without the self-classification right).
    pub fn without_category(mut self) -> Self {
        self.category = None;
        self
    }

    /// `android.notification.importance` (default [`Importance::Normal`]).
    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    /// The launcher activity whose icon shows the badge. Badges are sent only with a class:
    /// Push Kit needs it to find the icon.
    pub fn badge_class(mut self, class: impl Into<String>) -> Self {
        self.badge_class = Some(class.into());
        self
    }

    /// `foreground_show` (default `false`: a foreground IM app shows the message itself).
    pub fn foreground_show(mut self, show: bool) -> Self {
        self.foreground_show = show;
        self
    }

    /// Where a tap on a custom-mode notification goes (default [`IntentTarget::default`]).
    pub fn intent_target(mut self, target: IntentTarget) -> Self {
        self.intent = target;
        self
    }

    /// The timeout of every HTTP exchange, token and send alike (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most connections to the push server, and so the most sends in flight (default
    /// [`DEFAULT_MAX_CONNECTIONS`]); further sends wait for a free one. Must be at least 1.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Validates the settings and creates the provider. No network call is made.
    pub fn build(self) -> Result<HuaweiProvider, Error> {
        let push_base = self.checked_url(&self.push_base_url, "push base URL")?;
        let oauth_base = self.checked_url(&self.oauth_base_url, "OAuth base URL")?;
        if self.timeout.is_zero() {
            return Err(Error::config("timeout must be positive"));
        }
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return Err(Error::config(
                "max_connections must be at least 1 and below 2^61",
            ));
        }
        self.intent.validate()?;
        if self
            .category
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
            || self
                .badge_class
                .as_deref()
                .is_some_and(|c| c.trim().is_empty())
        {
            return Err(Error::config("category and badge class must not be empty"));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            // Per host: the sends' connections, and the token endpoint's (another host in
            // production) kept apart.
            .pool_max_idle_per_host(self.max_connections)
            .user_agent(concat!("pushway-huawei/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::http(e.to_string()))?;

        let project_of_key = self
            .service_account
            .as_ref()
            .map(|k| k.project_id().to_owned());
        let path = match (&self.app_id, &self.project_id, &project_of_key) {
            (Some(_), Some(_), _) => {
                return Err(Error::config(
                    "set either app_id (v1) or project_id (v2), not both",
                ));
            }
            (Some(app), None, _) => format!("/v1/{}/messages:send", id(app, "app_id")?),
            (None, Some(project), key) => {
                if key.as_ref().is_some_and(|k| k != project) {
                    return Err(Error::config(
                        "project_id differs from the service-account key's project_id",
                    ));
                }
                format!("/v2/{}/messages:send", id(project, "project_id")?)
            }
            (None, None, Some(project)) => {
                format!("/v2/{}/messages:send", id(project, "project_id")?)
            }
            (None, None, None) => {
                return Err(Error::config("set app_id (v1) or project_id (v2)"));
            }
        };

        let source: Source = match (self.oauth, &self.service_account) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "set either OAuth credentials or a service account",
                ));
            }
            (None, None) => {
                return Err(Error::config(
                    "set credentials: client_secret, oauth_client or service_account",
                ));
            }
            (None, Some(key)) => Box::new(JwtSource::new(key)?),
            (Some((client_id, secret)), None) => {
                let client_id = match (client_id, &self.app_id) {
                    (Some(client), Some(app)) if client != *app => {
                        // Huawei answers 80200001 to a token of another client on a v1 URL.
                        return Err(Error::config(
                            "on v1 the OAuth client id must be the app id",
                        ));
                    }
                    (Some(client), _) => client,
                    (None, Some(app)) => app.clone(),
                    (None, None) => {
                        return Err(Error::config(
                            "client_secret needs app_id; use oauth_client",
                        ));
                    }
                };
                if secret.expose().is_empty() {
                    return Err(Error::config("the client secret is empty"));
                }
                Box::new(OAuthSource {
                    http: http.clone(),
                    url: format!("{oauth_base}{TOKEN_PATH}"),
                    client_id,
                    secret,
                })
            }
        };
        Ok(HuaweiProvider::from_inner(Arc::new(Inner {
            http,
            slots: Semaphore::new(self.max_connections),
            send_url: format!("{push_base}{path}"),
            auth: TokenCache::new(source),
            options: MessageOptions {
                category: self.category,
                importance: self.importance,
                badge_class: self.badge_class,
                foreground_show: self.foreground_show,
                intent: self.intent,
            },
        })))
    }

    fn checked_url(&self, url: &str, what: &str) -> Result<String, Error> {
        let url = url.trim().trim_end_matches('/');
        let plain = url.starts_with("http://");
        if !(url.starts_with("https://") || plain) || url.len() <= "https://".len() {
            return Err(Error::config(format!(
                "{what} must be an http(s) URL: {url:?}"
            )));
        }
        if plain && !self.allow_plain_http {
            return Err(Error::config(format!(
                "{what} is plain http; call allow_plain_http(true) for a local simulator"
            )));
        }
        Ok(url.to_owned())
    }
}

/// An id placed in a URL path: non-empty, no `/`, `?` or `#`.
fn id<'a>(value: &'a str, what: &str) -> Result<&'a str, Error> {
    if value.is_empty() || value.contains(['/', '?', '#', ' ']) {
        return Err(Error::config(format!("{what} {value:?} is not a valid id")));
    }
    Ok(value)
}
