//! [`ApnsProviderBuilder`]: everything an [`ApnsProvider`] needs, checked once in `build`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use http::uri::{Authority, Scheme};
use pushway_core::{ApnsEnv, Error};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

use crate::connection::{Connector, KeepAlive, Options};
use crate::jwt::{Clock, DEFAULT_REFRESH, SystemClock, TokenCache};
use crate::pool::Pool;
use crate::provider::ApnsProvider;
use crate::request::FixedHead;
use crate::request::{CollapseId, RequestTarget};

/// The production host (App Store, TestFlight and ad-hoc builds).
pub const PRODUCTION_URL: &str = "https://api.push.apple.com";
/// The sandbox host (development builds). Apple's current name; a2 and aioapns still use the
/// older `api.development.push.apple.com`, which works too.
pub const SANDBOX_URL: &str = "https://api.sandbox.push.apple.com";

/// Builds an [`ApnsProvider`]. Required: [`key_pem`](Self::key_pem), [`key_id`](Self::key_id),
/// [`team_id`](Self::team_id), [`topic`](Self::topic).
///
/// ```no_run
/// # async fn demo() -> Result<(), pushway_core::Error> {
/// use pushway_apns::ApnsProvider;
/// use pushway_core::ApnsEnv;
/// let p8 = std::fs::read("AuthKey_K7Q2M9X4PL.p8").unwrap();
/// let provider = ApnsProvider::builder()
///     .key_pem(p8)
///     .key_id("K7Q2M9X4PL")
///     .team_id("T3AM1D9ZQ8")
///     .topic("com.example.chat")
///     .environment(ApnsEnv::Sandbox)
///     .build()?;
/// # let _ = provider; Ok(()) }
/// ```
#[must_use]
pub struct ApnsProviderBuilder {
    key_pem: Option<Vec<u8>>,
    key_id: Option<String>,
    team_id: Option<String>,
    topic: Option<String>,
    environment: ApnsEnv,
    base_url: Option<String>,
    roots: Vec<Vec<u8>>,
    insecure_h2c: bool,
    request_timeout: Duration,
    connect_timeout: Duration,
    connections: usize,
    keep_alive: Option<KeepAlive>,
    write_hold: Duration,
    collapse_id: CollapseId,
    refresh: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ApnsProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ApnsProviderBuilder")
            .field("key_id", &self.key_id)
            .field("team_id", &self.team_id)
            .field("topic", &self.topic)
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .field("insecure_h2c", &self.insecure_h2c)
            .finish_non_exhaustive()
    }
}

impl Default for ApnsProviderBuilder {
    fn default() -> Self {
        ApnsProviderBuilder {
            key_pem: None,
            key_id: None,
            team_id: None,
            topic: None,
            environment: ApnsEnv::Production,
            base_url: None,
            roots: Vec::new(),
            insecure_h2c: false,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            connections: 1,
            write_hold: crate::wire::DEFAULT_WRITE_HOLD,
            keep_alive: Some(KeepAlive {
                interval: Duration::from_secs(120),
                timeout: Duration::from_secs(20),
            }),
            collapse_id: CollapseId::None,
            refresh: DEFAULT_REFRESH,
            clock: Arc::new(SystemClock),
        }
    }
}

impl ApnsProvider {
    /// A builder with the defaults: production, one connection, 10 s request and connect
    /// timeouts, a keep-alive PING every 2 minutes, no collapse id, token refresh every 50 min.
    pub fn builder() -> ApnsProviderBuilder {
        ApnsProviderBuilder::default()
    }
}

impl ApnsProviderBuilder {
    /// The signing key: the `AuthKey_<KeyID>.p8` file's PEM bytes (PKCS#8, P-256).
    pub fn key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key_pem = Some(pem.into());
        self
    }

    /// The key id (10 characters), sent as the token's `kid`.
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// The team id (10 characters), sent as the token's `iss`.
    pub fn team_id(mut self, team_id: impl Into<String>) -> Self {
        self.team_id = Some(team_id.into());
        self
    }

    /// The topic: the app's bundle id.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// The environment: its host, and the device-token kind accepted (`ApnsProduction` or
    /// `ApnsSandbox`; tokens of the other kind are refused before sending, as `Misconfigured`).
    pub fn environment(mut self, environment: ApnsEnv) -> Self {
        self.environment = environment;
        self
    }

    /// Sends to this base URL instead of the environment's host (a simulator, a proxy):
    /// `https://host[:port]`, or `http://host:port` with [`insecure_h2c`](Self::insecure_h2c).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Also trusts this root certificate (PEM), e.g. a TLS simulator's self-signed one.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.push(pem.into());
        self
    }

    /// Allows an `http://` base URL: HTTP/2 over plain TCP, no TLS, for local simulators only.
    /// Never for APNs: the provider token would travel in clear text.
    pub fn insecure_h2c(mut self, on: bool) -> Self {
        self.insecure_h2c = on;
        self
    }

    /// The time one send may take, connecting included (default 10 s); past it, `Retry(timeout)`.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The time opening a connection may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many long-lived connections to use, round-robin (default 1; at least 1).
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }

    /// Keep-alive PINGs: one every `interval`, the connection replaced if one is not answered
    /// within `timeout` (default every 2 minutes, 20 s). `None` sends none.
    pub fn keep_alive(mut self, every: Option<(Duration, Duration)>) -> Self {
        self.keep_alive = every.map(|(interval, timeout)| KeepAlive { interval, timeout });
        self
    }

    /// The longest a request may wait before being written while 32 or more streams already
    /// await answers on its connection, so that one write (one system call, one TLS record)
    /// carries the requests queued meanwhile (default 1 ms; the timer's granularity is a
    /// millisecond). Zero writes every request at once: for a latency budget tighter than a
    /// millisecond, at some CPU per notification under load.
    pub fn write_hold(mut self, max: Duration) -> Self {
        self.write_hold = max;
        self
    }

    /// Where `apns-collapse-id` comes from (default: none sent). See [`CollapseId`].
    pub fn collapse_id(mut self, source: CollapseId) -> Self {
        self.collapse_id = source;
        self
    }

    /// How long a provider token is used (default 50 minutes). Must be under 60 minutes (APNs
    /// refuses older tokens); under 20 minutes APNs may throttle the updates.
    pub fn token_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh = interval;
        self
    }

    /// The clock for `iat`, token age and `apns-expiration` (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings, parses the key and signs the first token. Connections open on the
    /// first send. Must be called inside a Tokio runtime only when sending.
    pub fn build(self) -> Result<ApnsProvider, Error> {
        let missing = |what: &str| Error::config(format!("APNs provider: {what} is required"));
        let key_pem = self.key_pem.ok_or_else(|| missing("key_pem"))?;
        let key_id = self.key_id.ok_or_else(|| missing("key_id"))?;
        let team_id = self.team_id.ok_or_else(|| missing("team_id"))?;
        let topic = self.topic.ok_or_else(|| missing("topic"))?;
        let topic = HeaderValue::from_str(&topic)
            .map_err(|_| Error::config("APNs provider: the topic is not a valid header value"))?;
        if self.refresh.is_zero() || self.refresh >= Duration::from_secs(3600) {
            return Err(Error::config(
                "APNs provider: token refresh interval must be in (0, 60 min)",
            ));
        }
        let url = self.base_url.as_deref().unwrap_or(match self.environment {
            ApnsEnv::Production => PRODUCTION_URL,
            ApnsEnv::Sandbox => SANDBOX_URL,
        });
        let uri: http::Uri = url
            .parse()
            .map_err(|e| Error::config_from(format!("APNs provider: bad base URL {url:?}"), e))?;
        if (uri.path() != "/" && !uri.path().is_empty()) || uri.query().is_some() {
            return Err(Error::config(
                "APNs provider: the base URL must have no path",
            ));
        }
        let scheme = uri.scheme().cloned().unwrap_or(Scheme::HTTPS);
        let tls = if scheme == Scheme::HTTPS {
            true
        } else if scheme == Scheme::HTTP {
            if !self.insecure_h2c {
                return Err(Error::config(
                    "APNs provider: an http:// base URL needs insecure_h2c(true)",
                ));
            }
            false
        } else {
            return Err(Error::config(
                "APNs provider: the base URL must be https:// or http://",
            ));
        };
        let authority: Authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| Error::config("APNs provider: the base URL has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let tls = if tls {
            Some((tls_connector(&self.roots)?, server_name(&host)?))
        } else {
            None
        };
        let tokens = TokenCache::new(
            &key_pem,
            &key_id,
            &team_id,
            self.clock.clone(),
            self.refresh,
        )
        .map_err(|e| Error::config_from("APNs provider: bad signing key", e))?;
        let connector = Connector {
            host,
            port,
            tls,
            options: Options {
                keep_alive: self.keep_alive,
                write_hold: self.write_hold,
            },
        };
        let target = RequestTarget {
            scheme,
            authority,
            topic,
            collapse_id: self.collapse_id,
        };
        Ok(ApnsProvider {
            fixed: FixedHead::new(&target),
            target,
            environment: self.environment,
            tokens,
            pool: Pool::new(connector, self.connections, self.connect_timeout),
            clock: self.clock,
            request_timeout: self.request_timeout,
        })
    }
}

fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned())
        .map_err(|e| Error::config_from("APNs provider: bad host name", e))
}

/// TLS 1.2+ with ALPN `h2`, the system's roots plus the extra ones.
fn tls_connector(extra: &[Vec<u8>]) -> Result<tokio_rustls::TlsConnector, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    for pem in extra {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert =
                cert.map_err(|e| Error::config_from("APNs provider: bad root certificate PEM", e))?;
            roots
                .add(cert)
                .map_err(|e| Error::config_from("APNs provider: unusable root certificate", e))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::config(
                "APNs provider: no certificate in the root PEM",
            ));
        }
    }
    if roots.is_empty() {
        return Err(Error::config("APNs provider: no trusted root certificates"));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config_from("APNs provider: TLS setup", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
