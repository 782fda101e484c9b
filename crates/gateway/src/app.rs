//! Apps and their credentials: each app's API keys (hashed) and one [`Router`] of its vendor
//! providers, each wrapped in the delivery layers, built from the vendor crates' builders.
//!
//! The running apps are a [`LiveApps`]: each credential and API key can be added, rotated or
//! removed while the gateway runs (see [`Service::put_credential`](crate::service::Service::put_credential)).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use pushway_core::{ChannelKey, Placeholders, Renderer, Router};
use pushway_delivery::{DeliveryConfig, TokenSink};

mod credential;
mod daemon;
mod fcm;
mod live;
mod rate;

pub use self::credential::{CredentialConfig, CredentialKind};
pub(crate) use self::credential::{Installed, Resolved, build, credentials_of};
pub(crate) use self::daemon::HaltOnDrop;
pub use self::daemon::{
    DAEMON_CREDENTIAL, DaemonChannel, DaemonStore, DaemonStores, daemon_queue_path,
    open_daemon_stores,
};
pub use self::live::LiveApps;
pub use self::rate::RateBuckets;
use crate::auth::{KeyHash, hash_key, parse_hash};
use crate::config::{AppConfig, Config, ConfigError, PlaceholdersConfig, RenderConfig, secret};
use crate::metrics::Metrics;

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
    /// The names of its API keys, in the order of `keys`.
    pub(crate) key_names: Vec<String>,
    /// Its credentials as built, by kind and name.
    pub(crate) credentials: BTreeMap<(CredentialKind, String), Installed>,
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

impl App {
    /// The app `id` with these named keys and credentials: its router, channels and daemon
    /// channel follow from the credentials.
    pub(crate) fn assemble(
        id: &str,
        keys: Vec<(String, KeyHash)>,
        credentials: BTreeMap<(CredentialKind, String), Installed>,
    ) -> App {
        let mut router = Router::new();
        let mut channels = HashSet::new();
        let mut daemon = None;
        for installed in credentials.values() {
            for (key, provider) in &installed.routes {
                channels.insert(key.clone());
                router.register(key.clone(), provider.clone());
            }
            if let Some(channel) = &installed.daemon {
                daemon = Some(channel.clone());
            }
        }
        let (key_names, keys) = keys.into_iter().unzip();
        App {
            id: id.to_owned(),
            router,
            channels,
            keys,
            daemon,
            renderer: Renderer::new(),
            key_names,
            credentials,
        }
    }

    /// The same app rendering with `renderer`.
    pub(crate) fn with_renderer(mut self, renderer: Renderer) -> App {
        self.renderer = renderer;
        self
    }

    /// Its API keys with their names.
    pub(crate) fn named_keys(&self) -> Vec<(String, KeyHash)> {
        self.key_names
            .iter()
            .cloned()
            .zip(self.keys.iter().copied())
            .collect()
    }
}

/// Every app, by id.
pub type Apps = BTreeMap<String, Arc<App>>;

/// Makes the dead-token sink of one app (by id).
pub type SinkFactory = Arc<dyn Fn(&str) -> Arc<dyn TokenSink> + Send + Sync>;

/// What building a credential needs besides its own section: the delivery and worker settings,
/// the dead-token sink of each app, the daemon queue stores opened at start.
#[derive(Clone)]
pub struct Factory {
    /// The configuration's server and worker settings (its apps are not read).
    pub(crate) config: Config,
    /// Makes the dead-token sink of one app.
    pub(crate) sink: SinkFactory,
    /// The daemon queue stores, by app.
    pub(crate) stores: DaemonStores,
    /// Where every provider reports its requests (and the hygiene layer its quarantine).
    pub(crate) metrics: Metrics,
    /// Where the credentials' rate limits keep their buckets.
    pub(crate) rates: RateBuckets,
}

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factory").finish_non_exhaustive()
    }
}

impl Factory {
    /// Builds credentials with `config`'s settings, `sink` making each app's dead-token sink,
    /// daemon channels over `stores`, every provider reporting to `metrics`.
    pub fn new(
        config: &Config,
        sink: SinkFactory,
        stores: DaemonStores,
        metrics: Metrics,
    ) -> Factory {
        let mut config = config.clone();
        // Credentials come from each call, never from here: no secret is kept twice.
        config.apps.clear();
        Factory {
            config,
            sink,
            stores,
            metrics,
            rates: RateBuckets::local(),
        }
    }

    /// Keeps the credentials' rate-limit buckets in `rates` (in this process by default).
    #[must_use]
    pub fn with_rates(mut self, rates: RateBuckets) -> Factory {
        self.rates = rates;
        self
    }
}

/// Builds every app of `config`; `sink` makes the dead-token sink of one app. Daemon queues are
/// kept in memory (to check a configuration; [`build_apps_with`] to run one).
pub fn build_apps(
    config: &Config,
    sink: &dyn Fn(&str) -> Arc<dyn TokenSink>,
) -> Result<Apps, ConfigError> {
    build_apps_with(
        config,
        sink,
        &DaemonStores::new(),
        &Metrics::new(),
        &RateBuckets::local(),
    )
}

/// Builds every app of `config`, each daemon channel over its store in `stores` (opened by
/// [`open_daemon_stores`]; in memory when absent), every provider reporting to `metrics`, the
/// rate limits' buckets in `rates`.
pub fn build_apps_with(
    config: &Config,
    sink: &dyn Fn(&str) -> Arc<dyn TokenSink>,
    stores: &DaemonStores,
    metrics: &Metrics,
    rates: &RateBuckets,
) -> Result<Apps, ConfigError> {
    // One sink per app, made here: `sink` need not be `Send + Sync`.
    let mut sinks = BTreeMap::new();
    for id in config.apps.keys() {
        sinks.insert(id.clone(), sink(id));
    }
    let sinks = Arc::new(sinks);
    let fallback: Arc<dyn TokenSink> = Arc::new(pushway_delivery::RecordingSink::new());
    let factory = Factory::new(
        config,
        Arc::new(move |id: &str| sinks.get(id).cloned().unwrap_or_else(|| fallback.clone())),
        stores.clone(),
        metrics.clone(),
    )
    .with_rates(rates.clone());
    let mut apps = Apps::new();
    for (id, app) in &config.apps {
        apps.insert(id.clone(), Arc::new(build_app(id, app, &factory)?));
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

/// Builds app `id` from its section, every credential or none.
pub(crate) fn build_app(id: &str, app: &AppConfig, factory: &Factory) -> Result<App, ConfigError> {
    if !valid_id(id) {
        return Err(ConfigError::at(
            &format!("apps.{id}"),
            "an app id is 1-64 characters of [A-Za-z0-9_.-]",
        ));
    }
    let keys = api_keys(id, app)?;
    let mut credentials = BTreeMap::new();
    for (kind, name, config) in credentials_of(app) {
        let at = credential_at(id, kind, &name);
        let resolved = Resolved::resolve(&at, config)?;
        let installed = build(id, &name, &at, resolved, factory)?;
        credentials.insert((kind, name), installed);
    }
    let renderer = renderer(&format!("apps.{id}"), &app.render)?;
    Ok(App::assemble(id, keys, credentials).with_renderer(renderer))
}

/// The configuration key of a credential: `apps.<app>.<kind>.<name>` (`apps.<app>.daemon`).
pub(crate) fn credential_at(app: &str, kind: CredentialKind, name: &str) -> String {
    match kind {
        CredentialKind::Daemon => format!("apps.{app}.daemon"),
        _ => format!("apps.{app}.{kind}.{name}"),
    }
}

/// The named key hashes of `app`'s section.
pub(crate) fn api_keys(id: &str, app: &AppConfig) -> Result<Vec<(String, KeyHash)>, ConfigError> {
    let mut keys = Vec::new();
    for (i, key) in app.api_keys.iter().enumerate() {
        let at = format!("apps.{id}.api_keys[{i}]");
        let hash = match (&key.sha256, &key.key, &key.key_file) {
            (Some(hex), None, None) => parse_hash(hex)
                .ok_or_else(|| ConfigError::at(&format!("{at}.sha256"), "not 64 hex digits"))?,
            (None, _, _) => {
                hash_key(secret(&format!("{at}.key"), &key.key, &key.key_file)?.expose())
            }
            _ => return Err(ConfigError::at(&at, "set one of key, key_file, sha256")),
        };
        keys.push((key.name.clone(), hash));
    }
    Ok(keys)
}

/// The delivery layers' settings for every provider.
pub(crate) fn delivery(config: &Config) -> DeliveryConfig {
    let mut d = DeliveryConfig::default();
    d.timeout = Duration::from_secs(config.worker.send_timeout_secs.max(1));
    // The outbox retries durably (run_at + backoff); a second retry layer in memory would
    // multiply attempts and hold leases longer.
    d.retry = None;
    d
}

/// The app's renderer from its `render` section.
pub(crate) fn renderer(prefix: &str, config: &RenderConfig) -> Result<Renderer, ConfigError> {
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
