//! [`FcmProviderBuilder`]: every setting of an [`FcmProvider`], validated once in `build`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use pushway_core::credential::Secret;

use crate::auth::TokenCache;
use crate::auth::account::{GOOGLE_TOKEN_URL, Signer};
use crate::auth::oauth::OAuthSource;
use crate::provider::{FcmProvider, Inner};
use crate::request::MessageOptions;
use crate::transport::{Connector, Transport, tls_connector};
use crate::{Error, ServiceAccountKey};

/// FCM's API host (fcm.md §1).
pub const DEFAULT_API_BASE_URL: &str = "https://fcm.googleapis.com";
/// The default timeout of every HTTP exchange: above the 10 s FCM's internal RPCs use (fcm.md
/// §1), as firebase-admin-node's 15 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// The default connect timeout (TCP and TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP/2 connections per provider by default. FCM serves about 100 concurrent streams per
/// connection (fcm.md §7), so four carry 400 sends at once; more wait for a stream.
pub const DEFAULT_CONNECTIONS: usize = 4;
/// The `click_action` of a [`NotifyMode::Custom`](pushway_core::NotifyMode::Custom)
/// notification unless configured: the app declares an intent filter with this action.
pub const DEFAULT_CLICK_ACTION: &str = "pushway.intent.OPEN_CONVERSATION";

#[derive(Clone)]
enum KeySource {
    Key(ServiceAccountKey),
    Json(Secret),
    File(PathBuf),
}

/// Builds an [`FcmProvider`]. A service account is required; the project id defaults to the
/// key's.
///
/// ```
/// use std::time::Duration;
/// use pushway_fcm::FcmProvider;
///
/// let provider = FcmProvider::builder()
///     // A throwaway test key; in production: .service_account_file("/etc/pushway/fcm.json")
///     .service_account_json(include_str!("../tests/fixtures/test-service-account.json"))
///     .channel_id("im_messages")
///     .click_action("com.example.im.OPEN_CHAT")
///     .default_ttl(Duration::from_secs(86_400))
///     .build()
///     .unwrap();
/// assert_eq!(
///     provider.send_url(),
///     "https://fcm.googleapis.com/v1/projects/demo-project/messages:send"
/// );
/// assert!(!format!("{provider:?}").contains("PRIVATE KEY"));
/// ```
#[derive(Clone)]
#[must_use]
pub struct FcmProviderBuilder {
    project_id: Option<String>,
    key: Option<KeySource>,
    api_base_url: String,
    token_url: Option<String>,
    allow_plain_http: bool,
    root_certs: Vec<Vec<u8>>,
    timeout: Duration,
    connect_timeout: Duration,
    connections: usize,
    options: MessageOptions,
}

impl std::fmt::Debug for FcmProviderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FcmProviderBuilder")
            .field("project_id", &self.project_id)
            .field("api_base_url", &self.api_base_url)
            .field("token_url", &self.token_url)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Default for FcmProviderBuilder {
    fn default() -> Self {
        FcmProviderBuilder {
            project_id: None,
            key: None,
            api_base_url: DEFAULT_API_BASE_URL.to_owned(),
            token_url: None,
            allow_plain_http: false,
            root_certs: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            connections: DEFAULT_CONNECTIONS,
            options: MessageOptions {
                channel_id: None,
                click_action: DEFAULT_CLICK_ACTION.to_owned(),
                default_ttl: None,
            },
        }
    }
}

impl FcmProviderBuilder {
    /// The Firebase project (id or number) of the send URL; default: the key's `project_id`.
    pub fn project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// The service account, already parsed.
    pub fn service_account(mut self, key: ServiceAccountKey) -> Self {
        self.key = Some(KeySource::Key(key));
        self
    }

    /// The service-account key file's JSON, parsed in [`build`](Self::build).
    pub fn service_account_json(mut self, json: impl Into<String>) -> Self {
        self.key = Some(KeySource::Json(Secret::new(json)));
        self
    }

    /// The path of the service-account key file, read in [`build`](Self::build) (blocking).
    pub fn service_account_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.key = Some(KeySource::File(path.into()));
        self
    }

    /// The API server (default [`DEFAULT_API_BASE_URL`]); sends go to
    /// `<base>/v1/projects/<project>/messages:send`.
    pub fn api_base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base_url = url.into();
        self
    }

    /// The token endpoint (a full URL). Default: the key file's `token_uri`, else
    /// `https://oauth2.googleapis.com/token`.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Allows `http://` URLs (HTTP/2 without TLS for sends), which carry the access token and
    /// the assertion unencrypted: for local simulators and tests only. Off by default.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Also trusts this root certificate (PEM), e.g. a TLS simulator's self-signed one.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certs.push(pem.into());
        self
    }

    /// The timeout of every HTTP exchange, token and send alike (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout of opening a connection (default [`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many HTTP/2 connections sends are spread over (default [`DEFAULT_CONNECTIONS`]).
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n;
        self
    }

    /// `android.notification.channel_id`: the notification channel the app created for chat
    /// messages. On Android 8+ the channel, not `sound`, decides how a notification alerts;
    /// without one FCM uses the app manifest's default channel.
    pub fn channel_id(mut self, channel_id: impl Into<String>) -> Self {
        self.options.channel_id = Some(channel_id.into());
        self
    }

    /// The `click_action` of custom-mode notifications (default [`DEFAULT_CLICK_ACTION`]): an
    /// intent-filter action of the activity that opens the chat; the app data arrives as the
    /// intent's extras.
    pub fn click_action(mut self, action: impl Into<String>) -> Self {
        self.options.click_action = action.into();
        self
    }

    /// The `android.ttl` of notifications that carry none (default: none sent, FCM keeps a
    /// message 28 days).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.options.default_ttl = Some(ttl);
        self
    }

    /// Validates the settings and creates the provider. No network call is made.
    pub fn build(self) -> Result<FcmProvider, Error> {
        let key = match &self.key {
            None => return Err(Error::config("set a service account")),
            Some(KeySource::Key(key)) => key.clone(),
            Some(KeySource::Json(json)) => ServiceAccountKey::from_json(json.expose())?,
            Some(KeySource::File(path)) => ServiceAccountKey::from_file(path)?,
        };
        let project = self
            .project_id
            .clone()
            .unwrap_or_else(|| key.project_id().to_owned());
        if project.is_empty() || project.contains(['/', '?', '#', ' ', '%']) {
            return Err(Error::config(format!(
                "project id {project:?} is not valid"
            )));
        }
        let api_base = self.checked_url(&self.api_base_url, "API base URL")?;
        let token_url = self.token_url.as_deref().or(key.token_uri());
        let token_url = self.checked_url(token_url.unwrap_or(GOOGLE_TOKEN_URL), "token URL")?;
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::config("timeouts must be positive"));
        }
        if self.connections == 0 {
            return Err(Error::config("connections must be at least 1"));
        }
        if self.options.click_action.trim().is_empty()
            || self
                .options
                .channel_id
                .as_deref()
                .is_some_and(|c| c.trim().is_empty())
        {
            return Err(Error::config(
                "click action and channel id must not be empty",
            ));
        }
        let mut roots = Vec::new();
        let mut send_roots = Vec::new();
        for pem in &self.root_certs {
            // Parsed here so a wrong file fails the build, not every send.
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::config(format!("root certificate: {e}")))?;
            if certs.is_empty() {
                return Err(Error::config("root certificate: no certificate in the PEM"));
            }
            send_roots.extend(certs);
            roots.extend(
                reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| Error::config(format!("root certificate: {e}")))?,
            );
        }
        let send_url = format!("{api_base}/v1/projects/{project}/messages:send");
        let transport = Transport::new(
            self.connector(&api_base, send_roots)?,
            self.connections,
            &send_url,
            self.timeout,
        )?;
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .retry(reqwest::retry::never())
            .user_agent(concat!("pushway-fcm/", env!("CARGO_PKG_VERSION")))
            .tls_certs_merge(roots)
            .build()
            .map_err(|e| Error::http(e.to_string()))?;
        let source = OAuthSource {
            // reqwest: the token endpoint sees one request an hour and may be HTTP/1.1-only (a
            // proxy), so ALPN negotiation, redirects and reqwest's pool suit it.
            http,
            url: token_url,
            signer: Signer::new(&key)?,
        };
        Ok(FcmProvider::from_inner(Arc::new(Inner {
            transport,
            send_url,
            auth: TokenCache::new(Box::new(source)),
            options: self.options,
        })))
    }

    /// How the send path reaches the API host of `api_base` (a checked URL).
    fn connector(
        &self,
        api_base: &str,
        roots: Vec<CertificateDer<'static>>,
    ) -> Result<Connector, Error> {
        let uri = api_base
            .parse::<http::Uri>()
            .map_err(|e| Error::config(format!("API base URL {api_base:?}: {e}")))?;
        let tls = uri.scheme_str() == Some("https");
        let Some(host) = uri.host() else {
            return Err(Error::config(format!("API base URL {api_base:?}: no host")));
        };
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        // `[::1]` in a URL, `::1` to connect to and to verify.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let tls = if tls {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| Error::config(format!("API host {host:?}: {e}")))?;
            Some((tls_connector(roots)?, name))
        } else {
            None
        };
        Ok(Connector {
            address: if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            },
            tls,
            connect_timeout: self.connect_timeout,
        })
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
