//! Apps and their credentials: each app's API keys (hashed) and one [`Router`] of its vendor
//! providers, each wrapped in the delivery layers, built from the vendor crates' builders.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use pushway_apns::ApnsProvider;
use pushway_core::{ApnsEnv, ChannelKey, Placeholders, PushProvider, Renderer, Router, TokenKind};
use pushway_delivery::{ApnsEnvEvidence, DeliveryBuilder, DeliveryConfig, TokenSink};
use pushway_huawei::{HuaweiProvider, ServiceAccountKey};
use pushway_xiaomi::XiaomiProvider;

mod daemon;
mod fcm;

use self::daemon::daemon_channel;
pub use self::daemon::{
    DAEMON_CREDENTIAL, DaemonChannel, DaemonStores, daemon_queue_path, open_daemon_stores,
};
use self::fcm::fcm_provider;
use crate::auth::{KeyHash, hash_key, parse_hash};
use crate::config::{AppConfig, Config, ConfigError, PlaceholdersConfig, RenderConfig, secret};
use crate::metrics::{Metrics, Timed};

/// One app as the gateway runs it.
pub struct App {
    /// The app id.
    pub id: String,
    /// Its providers, by channel key (token kind + credential name).
    pub router: Router,
    /// The channels it has credentials for.
    pub channels: HashSet<ChannelKey>,
    /// Its API keys' hashes.
    pub keys: Vec<KeyHash>,
    /// Its daemon channel, when configured.
    pub daemon: Option<DaemonChannel>,
    /// Its renderer (`[apps.<app>.render]`).
    pub renderer: Renderer,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("router", &self.router)
            .field("keys", &self.keys.len())
            .field("daemon", &self.daemon)
            .finish()
    }
}

/// Every app, by id.
pub type Apps = BTreeMap<String, Arc<App>>;

/// Builds every app of `config`; `sink` makes the dead-token sink of one app. Daemon queues are
/// kept in memory (to check a configuration; [`build_apps_with`] to run one).
pub fn build_apps(
    config: &Config,
    sink: &dyn Fn(&str) -> Arc<dyn TokenSink>,
) -> Result<Apps, ConfigError> {
    build_apps_with(config, sink, &DaemonStores::new(), &Metrics::new())
}

/// Builds every app of `config`, each daemon channel over its store in `stores` (opened by
/// [`open_daemon_stores`]; in memory when absent), every provider reporting to `metrics`.
pub fn build_apps_with(
    config: &Config,
    sink: &dyn Fn(&str) -> Arc<dyn TokenSink>,
    stores: &DaemonStores,
    metrics: &Metrics,
) -> Result<Apps, ConfigError> {
    let mut apps = Apps::new();
    for (id, app) in &config.apps {
        if !valid_id(id) {
            return Err(ConfigError::at(
                &format!("apps.{id}"),
                "an app id is 1-64 characters of [A-Za-z0-9_.-]",
            ));
        }
        let sink = sink(id);
        let mut built = build_app(id, app, config, sink.clone(), metrics)?;
        if let Some(daemon) = &app.daemon {
            let at = format!("apps.{id}.daemon");
            let channel = daemon_channel(id, &at, daemon, config, stores)?;
            let key = ChannelKey::new(TokenKind::Daemon, DAEMON_CREDENTIAL);
            let provider = Timed::wrap(metrics, id, &key, Arc::new(channel.hub.provider()));
            let provider = DeliveryBuilder::new(delivery(config), sink)
                .quarantine(metrics.quarantine(id, &key))
                .build(provider)
                .map_err(|e| ConfigError::at(&at, e))?;
            built.channels.insert(key.clone());
            built.router.register(key, provider);
            built.daemon = Some(channel);
        }
        apps.insert(id.clone(), Arc::new(built));
    }
    Ok(apps)
}

/// Whether `id` is usable as an app id (it appears in URL paths).
pub(crate) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn build_app(
    id: &str,
    app: &AppConfig,
    config: &Config,
    sink: Arc<dyn TokenSink>,
    metrics: &Metrics,
) -> Result<App, ConfigError> {
    let prefix = format!("apps.{id}");
    let mut keys = Vec::new();
    for (i, key) in app.api_keys.iter().enumerate() {
        let at = format!("{prefix}.api_keys[{i}]");
        let hash = match (&key.sha256, &key.key, &key.key_file) {
            (Some(hex), None, None) => parse_hash(hex)
                .ok_or_else(|| ConfigError::at(&format!("{at}.sha256"), "not 64 hex digits"))?,
            (None, _, _) => {
                hash_key(secret(&format!("{at}.key"), &key.key, &key.key_file)?.expose())
            }
            _ => return Err(ConfigError::at(&at, "set one of key, key_file, sha256")),
        };
        keys.push(hash);
    }

    let wrap = |at: &str,
                key: &ChannelKey,
                provider: Arc<dyn PushProvider>,
                evidence: Option<ApnsEnvEvidence>| {
        let mut builder = DeliveryBuilder::new(delivery(config), sink.clone())
            .quarantine(metrics.quarantine(id, key));
        if let Some(evidence) = evidence {
            builder = builder.apns_evidence(evidence);
        }
        builder
            .build(Timed::wrap(metrics, id, key, provider))
            .map_err(|e| ConfigError::at(at, e))
    };

    let mut router = Router::new();
    let mut channels = HashSet::new();
    let mut add = |key: ChannelKey, provider: Arc<dyn PushProvider>| {
        channels.insert(key.clone());
        router.register(key, provider);
    };
    for (name, apns) in &app.apns {
        let at = format!("{prefix}.apns.{name}");
        let pem = secret(&format!("{at}.key_pem"), &apns.key_pem, &apns.key_file)?;
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
                .key_pem(pem.expose().as_bytes().to_vec())
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
            let provider = builder.build().map_err(|e| ConfigError::at(&at, e))?;
            let key = ChannelKey::new(kind, name);
            let provider = wrap(&at, &key, Arc::new(provider), Some(evidence.clone()))?;
            add(key, provider);
        }
    }
    for (name, mi) in &app.xiaomi {
        let at = format!("{prefix}.xiaomi.{name}");
        let secret = secret(
            &format!("{at}.app_secret"),
            &mi.app_secret,
            &mi.app_secret_file,
        )?;
        let mut builder = XiaomiProvider::builder()
            .app_secret(secret.expose())
            .package(&mi.package)
            .channel_id(&mi.channel_id)
            .allow_plain_http(mi.danger_allow_plain_http);
        if let Some(url) = &mi.base_url {
            builder = builder.base_url(url);
        }
        if let Some(activity) = &mi.custom_activity {
            builder = builder.custom_activity(activity);
        }
        let provider = builder.build().map_err(|e| ConfigError::at(&at, e))?;
        let key = ChannelKey::new(TokenKind::Xiaomi, name);
        let provider = wrap(&at, &key, Arc::new(provider), None)?;
        add(key, provider);
    }
    for (name, hw) in &app.huawei {
        let at = format!("{prefix}.huawei.{name}");
        let mut builder = HuaweiProvider::builder().allow_plain_http(hw.danger_allow_plain_http);
        builder = match &hw.service_account_file {
            Some(path) => {
                let key = format!("{at}.service_account");
                if hw.client_secret.is_some()
                    || hw.client_secret_file.is_some()
                    || !hw.app_id.is_empty()
                {
                    return Err(ConfigError::at(
                        &format!("{key}_file"),
                        "a service account replaces app_id and client_secret: set one or the other",
                    ));
                }
                let json = secret(&key, &None, &Some(path.clone()))?;
                let account = ServiceAccountKey::from_json(json.expose())
                    .map_err(|e| ConfigError::at(&format!("{key}_file"), e))?;
                builder.service_account(account)
            }
            None => {
                let secret = secret(
                    &format!("{at}.client_secret"),
                    &hw.client_secret,
                    &hw.client_secret_file,
                )?;
                builder.app_id(&hw.app_id).client_secret(secret.expose())
            }
        };
        if let Some(url) = &hw.base_url {
            builder = builder.base_url(url);
        }
        let provider = builder.build().map_err(|e| ConfigError::at(&at, e))?;
        let key = ChannelKey::new(TokenKind::Huawei, name);
        let provider = wrap(&at, &key, Arc::new(provider), None)?;
        add(key, provider);
    }
    for (name, fcm) in &app.fcm {
        let at = format!("{prefix}.fcm.{name}");
        let provider = fcm_provider(&at, fcm)?;
        let key = ChannelKey::new(TokenKind::Fcm, name);
        let provider = wrap(&at, &key, Arc::new(provider), None)?;
        add(key, provider);
    }
    Ok(App {
        id: id.to_owned(),
        router,
        channels,
        keys,
        daemon: None,
        renderer: renderer(&prefix, &app.render)?,
    })
}

/// The delivery layers' settings for every provider.
fn delivery(config: &Config) -> DeliveryConfig {
    let mut d = DeliveryConfig::default();
    d.timeout = Duration::from_secs(config.worker.send_timeout_secs.max(1));
    // The outbox retries durably (run_at + backoff); a second retry layer in memory would
    // multiply attempts and hold leases longer.
    d.retry = None;
    d
}

/// The app's renderer from its `render` section.
fn renderer(prefix: &str, config: &RenderConfig) -> Result<Renderer, ConfigError> {
    let mut renderer = Renderer::new();
    if let Some(brackets) = config.custom_desc_brackets {
        renderer = renderer.custom_desc_brackets(brackets);
    }
    if let Some(package) = &config.android_package {
        renderer = renderer.android_package(package.clone());
    }
    for (locale, table) in &config.placeholders {
        let at = format!("{prefix}.render.placeholders.{locale}");
        if !crate::service::is_locale_tag(locale) {
            return Err(ConfigError::at(&at, "not a locale tag such as en or zh-TW"));
        }
        let table = match table {
            PlaceholdersConfig::Builtin(name) => Placeholders::builtin(name).ok_or_else(|| {
                ConfigError::at(&at, "not a built-in table: \"zh\", \"en\" or \"tim_en\"")
            })?,
            PlaceholdersConfig::Table(table) => table.clone(),
        };
        renderer = renderer.placeholders_for(locale, table);
    }
    Ok(renderer)
}
