//! One vendor credential of an app: its configuration with the secret resolved (read from its
//! `*_file` when given), built into the providers of its channels, and checked before it serves.
//!
//! The resolved secret is part of what a credential *is*: a reload that finds the same
//! configuration but another key in `key_file` rotates the credential.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use pushway_apns::ApnsProvider;
use pushway_core::{ApnsEnv, ChannelKey, PushProvider, TokenKind};
use pushway_delivery::{ApnsEnvEvidence, DeliveryBuilder};
use pushway_fcm::FcmProvider;
use pushway_huawei::{HuaweiProvider, ServiceAccountKey};
use pushway_xiaomi::XiaomiProvider;
use serde::Serialize;

use super::daemon::{DAEMON_CREDENTIAL, DaemonChannel, daemon_channel};
use super::fcm::fcm_provider;
use super::{Factory, delivery};
use crate::config::{
    ApnsConfig, AppConfig, ConfigError, DaemonConfig, FcmConfig, HuaweiConfig, RateConfig, Secret,
    XiaomiConfig, secret,
};
use crate::metrics::Timed;

/// The kinds of vendor credential an app has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An APNs token-auth key (serves both environments).
    Apns,
    /// A Xiaomi MiPush AppSecret.
    Xiaomi,
    /// A Huawei Push Kit OAuth client or service account.
    Huawei,
    /// An FCM service account.
    Fcm,
    /// The daemon channel's token secret (one per app, named `daemon`).
    Daemon,
}

impl CredentialKind {
    /// Every kind.
    pub const ALL: [CredentialKind; 5] = [
        CredentialKind::Apns,
        CredentialKind::Xiaomi,
        CredentialKind::Huawei,
        CredentialKind::Fcm,
        CredentialKind::Daemon,
    ];

    /// Its name in configuration keys and admin paths (`apns`, `xiaomi`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Apns => "apns",
            CredentialKind::Xiaomi => "xiaomi",
            CredentialKind::Huawei => "huawei",
            CredentialKind::Fcm => "fcm",
            CredentialKind::Daemon => "daemon",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<CredentialKind> {
        CredentialKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One credential's configuration, as in `[apps.<app>.<kind>.<name>]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CredentialConfig {
    /// `[apps.<app>.apns.<name>]`.
    Apns(ApnsConfig),
    /// `[apps.<app>.xiaomi.<name>]`.
    Xiaomi(XiaomiConfig),
    /// `[apps.<app>.huawei.<name>]`.
    Huawei(HuaweiConfig),
    /// `[apps.<app>.fcm.<name>]`.
    Fcm(FcmConfig),
    /// `[apps.<app>.daemon]`.
    Daemon(DaemonConfig),
}

impl CredentialConfig {
    /// Its kind.
    pub fn kind(&self) -> CredentialKind {
        match self {
            CredentialConfig::Apns(_) => CredentialKind::Apns,
            CredentialConfig::Xiaomi(_) => CredentialKind::Xiaomi,
            CredentialConfig::Huawei(_) => CredentialKind::Huawei,
            CredentialConfig::Fcm(_) => CredentialKind::Fcm,
            CredentialConfig::Daemon(_) => CredentialKind::Daemon,
        }
    }

    /// Its `rate_limit`, if it has one (the daemon channel has none: it is pushway's own).
    pub fn rate_limit(&self) -> Option<&RateConfig> {
        match self {
            CredentialConfig::Apns(c) => c.rate_limit.as_ref(),
            CredentialConfig::Xiaomi(c) => c.rate_limit.as_ref(),
            CredentialConfig::Huawei(c) => c.rate_limit.as_ref(),
            CredentialConfig::Fcm(c) => c.rate_limit.as_ref(),
            CredentialConfig::Daemon(_) => None,
        }
    }

    /// A credential of `kind` from its JSON form (the TOML section's keys), unknown keys
    /// refused. Errors name the field, never a value.
    pub fn from_json(
        kind: CredentialKind,
        value: serde_json::Value,
    ) -> Result<CredentialConfig, String> {
        fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                // "invalid type: string \"…\"" would quote the value, maybe a secret: only
                // messages that name fields are passed on.
                if message.starts_with("unknown field") || message.starts_with("missing field") {
                    format!("{path}: {message}")
                } else {
                    format!("{path}: invalid value (not shown)")
                }
            })
        }
        Ok(match kind {
            CredentialKind::Apns => CredentialConfig::Apns(parse(value)?),
            CredentialKind::Xiaomi => CredentialConfig::Xiaomi(parse(value)?),
            CredentialKind::Huawei => CredentialConfig::Huawei(parse(value)?),
            CredentialKind::Fcm => CredentialConfig::Fcm(parse(value)?),
            CredentialKind::Daemon => CredentialConfig::Daemon(parse(value)?),
        })
    }
}

/// Every credential of `app`, by kind and name, in configuration order.
pub(crate) fn credentials_of(app: &AppConfig) -> Vec<(CredentialKind, String, CredentialConfig)> {
    let mut all = Vec::new();
    for (name, c) in &app.apns {
        all.push((
            CredentialKind::Apns,
            name.clone(),
            CredentialConfig::Apns(c.clone()),
        ));
    }
    for (name, c) in &app.xiaomi {
        let config = CredentialConfig::Xiaomi(c.clone());
        all.push((CredentialKind::Xiaomi, name.clone(), config));
    }
    for (name, c) in &app.huawei {
        let config = CredentialConfig::Huawei(c.clone());
        all.push((CredentialKind::Huawei, name.clone(), config));
    }
    for (name, c) in &app.fcm {
        all.push((
            CredentialKind::Fcm,
            name.clone(),
            CredentialConfig::Fcm(c.clone()),
        ));
    }
    if let Some(d) = &app.daemon {
        let config = CredentialConfig::Daemon(d.clone());
        all.push((CredentialKind::Daemon, DAEMON_CREDENTIAL.to_owned(), config));
    }
    all
}

/// A credential's configuration and its secret as read: two of them are the same credential
/// exactly when their settings and secrets are equal, wherever the secret came from (inline or
/// which file).
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) config: CredentialConfig,
    secret: Secret,
}

impl PartialEq for Resolved {
    fn eq(&self, other: &Resolved) -> bool {
        self.secret == other.secret && settings(&self.config) == settings(&other.config)
    }
}

/// `config` without where its secret comes from (a Huawei service account stays marked as
/// one: it is another API).
fn settings(config: &CredentialConfig) -> CredentialConfig {
    let mut c = config.clone();
    match &mut c {
        CredentialConfig::Apns(a) => (a.key_pem, a.key_file) = (None, None),
        CredentialConfig::Xiaomi(x) => (x.app_secret, x.app_secret_file) = (None, None),
        CredentialConfig::Huawei(h) => {
            (h.client_secret, h.client_secret_file) = (None, None);
            h.service_account_file = h.service_account_file.as_ref().map(|_| PathBuf::new());
        }
        CredentialConfig::Fcm(f) => (f.service_account, f.service_account_file) = (None, None),
        CredentialConfig::Daemon(d) => (d.secret, d.secret_file) = (None, None),
    }
    c
}

impl Resolved {
    /// Reads the secret of `config` (at config key `at`, `apps.<app>.<kind>.<name>`).
    // Files are read blocking: a few KB, at start-up and on an operator's reload only.
    pub(crate) fn resolve(at: &str, config: CredentialConfig) -> Result<Resolved, ConfigError> {
        let secret = match &config {
            CredentialConfig::Apns(c) => secret(&format!("{at}.key_pem"), &c.key_pem, &c.key_file)?,
            CredentialConfig::Xiaomi(c) => secret(
                &format!("{at}.app_secret"),
                &c.app_secret,
                &c.app_secret_file,
            )?,
            CredentialConfig::Huawei(c) => match &c.service_account_file {
                Some(path) => {
                    let key = format!("{at}.service_account");
                    if c.client_secret.is_some()
                        || c.client_secret_file.is_some()
                        || !c.app_id.is_empty()
                    {
                        return Err(ConfigError::at(
                            &format!("{key}_file"),
                            "a service account replaces app_id and client_secret: set one or the other",
                        ));
                    }
                    secret(&key, &None, &Some(path.clone()))?
                }
                None => secret(
                    &format!("{at}.client_secret"),
                    &c.client_secret,
                    &c.client_secret_file,
                )?,
            },
            CredentialConfig::Fcm(c) => secret(
                &format!("{at}.service_account"),
                &c.service_account,
                &c.service_account_file,
            )?,
            CredentialConfig::Daemon(c) => {
                secret(&format!("{at}.secret"), &c.secret, &c.secret_file)?
            }
        };
        Ok(Resolved { config, secret })
    }
}

/// A credential built: the providers of its channels (in the delivery layers), and what
/// proves it to its vendor.
#[derive(Clone)]
pub(crate) struct Installed {
    pub(crate) resolved: Resolved,
    pub(crate) routes: Vec<(ChannelKey, Arc<dyn PushProvider>)>,
    pub(crate) daemon: Option<DaemonChannel>,
    check: Check,
}

/// The round trip that proves a credential before it serves, where one is cheap and safe.
#[derive(Clone)]
enum Check {
    /// Building proved it (APNs: the key parsed and signed a token; Xiaomi: nothing to ask
    /// without sending; daemon: the secret is a usable HS256 key).
    Built,
    /// Huawei: an access token (or a signed JWT).
    Huawei(HuaweiProvider),
    /// FCM: an access token.
    Fcm(FcmProvider),
}

impl Installed {
    /// Asks the vendor to accept the credential (a token fetch), where it has such a step.
    /// The token fetched stays cached for the first sends.
    pub(crate) async fn check(&self, at: &str) -> Result<(), ConfigError> {
        let failure = match &self.check {
            Check::Built => return Ok(()),
            Check::Huawei(p) => p.authenticate().await.err(),
            Check::Fcm(p) => p.authenticate().await.err(),
        };
        match failure {
            None => Ok(()),
            // The issuer's refusal or why it could not be asked: codes and details, no secret.
            Some(failure) => Err(ConfigError::at(
                at,
                format!("the vendor did not accept it: {}", failure.outcome()),
            )),
        }
    }
}

/// Builds credential `name` of app `app` from `resolved` (errors at `at`).
pub(crate) fn build(
    app: &str,
    name: &str,
    at: &str,
    resolved: Resolved,
    factory: &Factory,
) -> Result<Installed, ConfigError> {
    let sink = (factory.sink)(app);
    let metrics = &factory.metrics;
    let kind = resolved.config.kind();
    // One bucket per credential: both APNs environments draw from it.
    let limiter = std::cell::OnceCell::new();
    let wrap = |key: ChannelKey,
                provider: Arc<dyn PushProvider>,
                evidence: Option<ApnsEnvEvidence>| {
        let mut builder = DeliveryBuilder::new(delivery(&factory.config), sink.clone())
            .quarantine(metrics.quarantine(app, &key));
        if let Some(evidence) = evidence {
            builder = builder.apns_evidence(evidence);
        }
        if let Some(rate) = resolved.config.rate_limit() {
            if limiter.get().is_none() {
                let made =
                    factory
                        .rates
                        .limiter(app, kind, name, at, rate, provider.max_batch_size())?;
                let _ = limiter.set(made);
            }
            if let Some(limiter) = limiter.get() {
                builder = builder.rate_limiter(limiter.clone());
            }
        }
        let provider = builder
            .build(Timed::wrap(metrics, app, &key, provider))
            .map_err(|e| ConfigError::at(at, e))?;
        Ok::<_, ConfigError>((key, provider))
    };
    let secret = resolved.secret.expose();
    let mut routes = Vec::new();
    let mut check = Check::Built;
    let mut daemon = None;
    match &resolved.config {
        CredentialConfig::Apns(apns) => {
            let evidence = ApnsEnvEvidence::new();
            for (env, kind, url) in [
                (
                    ApnsEnv::Production,
                    TokenKind::ApnsProduction,
                    &apns.production_url,
                ),
                (ApnsEnv::Sandbox, TokenKind::ApnsSandbox, &apns.sandbox_url),
            ] {
                let mut builder = ApnsProvider::builder()
                    .key_pem(secret.as_bytes().to_vec())
                    .key_id(&apns.key_id)
                    .team_id(&apns.team_id)
                    .topic(&apns.topic)
                    .environment(env);
                if let Some(url) = url {
                    builder = builder.base_url(url);
                }
                if let Some(ca) = &apns.ca_cert_pem {
                    builder = builder.add_root_certificate_pem(ca.as_bytes().to_vec());
                }
                // Parses the key and signs the first provider token.
                let provider = builder.build().map_err(|e| ConfigError::at(at, e))?;
                routes.push(wrap(
                    ChannelKey::new(kind, name),
                    Arc::new(provider),
                    Some(evidence.clone()),
                )?);
            }
        }
        CredentialConfig::Xiaomi(mi) => {
            let mut builder = XiaomiProvider::builder()
                .app_secret(secret)
                .package(&mi.package)
                .channel_id(&mi.channel_id)
                .allow_plain_http(mi.danger_allow_plain_http);
            if let Some(url) = &mi.base_url {
                builder = builder.base_url(url);
            }
            if let Some(activity) = &mi.custom_activity {
                builder = builder.custom_activity(activity);
            }
            let provider = builder.build().map_err(|e| ConfigError::at(at, e))?;
            routes.push(wrap(
                ChannelKey::new(TokenKind::Xiaomi, name),
                Arc::new(provider),
                None,
            )?);
        }
        CredentialConfig::Huawei(hw) => {
            let mut builder =
                HuaweiProvider::builder().allow_plain_http(hw.danger_allow_plain_http);
            builder = if hw.service_account_file.is_some() {
                let account = ServiceAccountKey::from_json(secret)
                    .map_err(|e| ConfigError::at(&format!("{at}.service_account_file"), e))?;
                builder.service_account(account)
            } else {
                builder.app_id(&hw.app_id).client_secret(secret)
            };
            if let Some(url) = &hw.base_url {
                builder = builder.base_url(url);
            }
            let provider = builder.build().map_err(|e| ConfigError::at(at, e))?;
            check = Check::Huawei(provider.clone());
            routes.push(wrap(
                ChannelKey::new(TokenKind::Huawei, name),
                Arc::new(provider),
                None,
            )?);
        }
        CredentialConfig::Fcm(fcm) => {
            let provider = fcm_provider(at, fcm, secret)?;
            check = Check::Fcm(provider.clone());
            routes.push(wrap(
                ChannelKey::new(TokenKind::Fcm, name),
                Arc::new(provider),
                None,
            )?);
        }
        CredentialConfig::Daemon(d) => {
            let channel = daemon_channel(app, at, d, secret, &factory.config, &factory.stores)?;
            routes.push(wrap(
                ChannelKey::new(TokenKind::Daemon, DAEMON_CREDENTIAL),
                Arc::new(channel.hub.provider()),
                None,
            )?);
            daemon = Some(channel);
        }
    }
    Ok(Installed {
        resolved,
        routes,
        daemon,
        check,
    })
}
