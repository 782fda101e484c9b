//! pushway's offline-push gateway: the server IM back ends run beside their message service.
//! They tell it about devices, per-user settings, logins and messages over HTTP (`/v1`); it
//! renders each recipient's notification at accept time, keeps every (message, device) delivery
//! durably in its store, and delivers, retries and cleans up dead tokens through pushway's
//! [`Router`](pushway_core::Router) and delivery layers.
//!
//! | module | what it is |
//! |---|---|
//! | [`config`] | TOML + `PUSHWAY_*` environment, secrets from files |
//! | [`app`] | apps: API keys and one router of vendor providers each, swapped live when they change |
//! | [`api`] | the HTTP API (axum), errors as `application/problem+json` |
//! | [`admin`] | the admin listener: admin API (dead letters…) and console, with the admin key |
//! | [`service`] | accept, status, devices, settings, logins: the logic, no HTTP types |
//! | [`store`] | the [`Store`] trait and its SQLite and Postgres back ends |
//! | [`worker`] | claim due rows under a lease, send, record outcomes (one writer, group commit) |
//! | [`webhook`] | signed delivery webhooks: durable events posted in batches, and [`webhook::verify`] |
//! | [`metrics`] | Prometheus `/metrics`: one registry per gateway |
//! | `simulate` | `--simulate`: the bundled vendor simulators and a demo app (feature `simulate`, default) |
//!
//! [`start`] runs all of it from a [`Config`]; the `pushway` binary
//! (`pushway serve`) is a thin wrapper around it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use pushway_gateway::config::Config;
//!
//! let config = Config::load(Some("pushway.toml".as_ref()))?;
//! let gateway = pushway_gateway::start(config).await?;
//! println!("API on http://{}/v1", gateway.addr());
//! tokio::signal::ctrl_c().await?;
//! gateway.stop(Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod metrics;
pub mod service;
#[cfg(feature = "simulate")]
pub mod simulate;
pub mod store;
pub mod tim;
pub mod webhook;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::api::admin_credentials::ConfigSource;
use crate::config::{Config, ConfigError};
use crate::metrics::{Metrics, metrics_router};
use crate::service::{ChangeError, ChangeReport, Clock, Service, SystemClock};
use crate::store::postgres::ClusterNode;
use crate::store::{AnyStore, Store};
use crate::worker::{GatewaySink, Worker, spawn_writer};

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is not usable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running gateway; dropping it aborts the server and the workers (use
/// [`stop`](Gateway::stop) to stop gracefully).
pub struct Gateway {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    admin: Option<JoinHandle<()>>,
    store: AnyStore,
    stop: watch::Sender<Option<Duration>>,
    server: Option<JoinHandle<()>>,
    worker: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    /// The webhook poster, when an app has a webhook.
    webhooks: Option<JoinHandle<()>>,
    /// The service: the running apps (their daemon hubs are disconnected on stop), and the
    /// changes of credentials and keys while running.
    service: Service,
    /// The daemon channels' queue stores.
    daemon_stores: app::DaemonStores,
    /// On Postgres: this node's outbox listener and its row in the `nodes` registry.
    node: Option<ClusterNode>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("addr", &self.addr).finish()
    }
}

impl Gateway {
    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the admin listener (admin API and console) listens; `None` when it is off
    /// (`[admin] enabled = false`, or no admin key configured).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// On Postgres, this node in the cluster (its id, its outbox listener); `None` on SQLite.
    pub fn cluster_node(&self) -> Option<&ClusterNode> {
        self.node.as_ref()
    }

    /// The service the API runs on: credentials and API keys change through it while the
    /// gateway runs ([`Service::put_credential`], [`Service::reload`], …).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Applies `config`'s apps, credentials and API keys (see [`Service::reload`]).
    pub async fn reload(&self, config: &Config) -> Result<ChangeReport, ChangeError> {
        self.service.reload(config).await
    }

    /// The hubs of the daemon channels running now.
    fn daemon_hubs(&self) -> Vec<pushway_daemon::Hub> {
        self.service
            .apps()
            .load()
            .values()
            .filter_map(|a| a.daemon.as_ref().map(|d| d.hub.clone()))
            .collect()
    }

    /// Stops gracefully: no new connections; requests and deliveries in progress get `grace`
    /// to finish; outcomes given are committed; the leases of deliveries still unanswered are
    /// released (due again at the next start, not only after their lease); the store is closed.
    pub async fn stop(mut self, grace: Duration) {
        self.stop.send_replace(Some(grace));
        // Daemon devices first: their upgraded connections are not the HTTP server's to wait
        // for, and a push waiting for an ack answers `queued` at once (it stays in the queue).
        for hub in self.daemon_hubs() {
            hub.disconnect_all();
        }
        let deadline = tokio::time::Instant::now() + grace;
        if let Some(admin) = self.admin.take() {
            admin.abort();
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout_at(deadline, server).await.is_err() {
                abort.abort();
            }
        }
        if let Some(worker) = self.worker.take() {
            // The worker bounds its own wait by `grace`; this only guards against a hang.
            let abort = worker.abort_handle();
            if tokio::time::timeout(grace + Duration::from_secs(5), worker)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(webhooks) = self.webhooks.take() {
            // It bounds its own wait by `grace`, as the worker does.
            let abort = webhooks.abort_handle();
            if tokio::time::timeout(grace + Duration::from_secs(5), webhooks)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
        // Devices that connected during the grace period.
        for hub in self.daemon_hubs() {
            hub.disconnect_all();
        }
        self.daemon_stores.close().await;
        // Off the registry once its workers are done (their leases released).
        if let Some(node) = self.node.take()
            && let Err(e) = node.leave().await
        {
            tracing::warn!(error = %e, "cluster: could not remove this node from the registry");
        }
        self.store.close().await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Not stopped: the node's daemon clusters stop as a crashed node's would.
        self.daemon_stores.halt();
        for task in [
            &self.server,
            &self.admin,
            &self.worker,
            &self.writer,
            &self.webhooks,
        ]
        .into_iter()
        .flatten()
        {
            task.abort();
        }
    }
}

/// Checks `config` fully without starting anything: every app id, API key, secret file and
/// vendor credential (keys parse, packages, topics and ids are accepted by the vendor crates'
/// builders). Returns one line per app describing its credentials.
pub fn check(config: &Config) -> Result<Vec<String>, ConfigError> {
    let sink =
        || Arc::new(pushway_delivery::RecordingSink::new()) as Arc<dyn pushway_delivery::TokenSink>;
    let apps = app::build_apps(config, &|_: &str| sink())?;
    let hooks = webhook::hooks(config)?;
    config.admin.key_hash()?;
    config.store.validate()?;
    config.cluster.validate()?;
    let mut lines: Vec<String> = apps
        .values()
        .map(|a| {
            let mut channels: Vec<String> = a.channels.iter().map(ToString::to_string).collect();
            channels.sort();
            format!(
                "app {}: {} API key(s), channels: {}",
                a.id,
                a.keys.len(),
                channels.join(", ")
            )
        })
        .collect();
    for (app, hook) in &hooks {
        let events: Vec<&str> = hook.events.iter().map(|t| t.as_str()).collect();
        let format = match &hook.format {
            webhook::Format::Tim(tim) => format!(", format: tim (SdkAppid {})", tim.sdkappid),
            webhook::Format::Pushway => String::new(),
        };
        lines.push(format!(
            "app {app}: webhook to {}, events: {}{format}",
            hook.origin(),
            events.join(", ")
        ));
    }
    Ok(lines)
}

/// Opens the store, builds every app's providers, and starts the workers and the API. The
/// admin API's reload applies `config` again (see [`start_with_source`] to read a file anew).
pub async fn start(config: Config) -> Result<Gateway, StartError> {
    let again = config.clone();
    start_with_source(config, ConfigSource::new(move || Ok(again.clone()))).await
}

/// [`start`], with the admin API's `POST /admin/v1/reload` reading `source` (the file, the
/// environment and the secret files, as SIGHUP does).
pub async fn start_with_source(
    config: Config,
    source: ConfigSource,
) -> Result<Gateway, StartError> {
    let admin_key = config.admin.key_hash()?;
    let path = &config.store.path;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ConfigError::at("store.path", format!("{}: {e}", dir.display())))?;
    }
    let hooks = Arc::new(webhook::hooks(&config)?);
    config.store.validate()?;
    config.cluster.validate()?;
    // Postgres when `[store] url` is set, else the SQLite file.
    let opened = AnyStore::open(&config.store).await?;
    opened.set_webhook_filter(webhook::filter(&hooks));
    let store: Arc<dyn Store> = opened.store();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let (recorded_tx, recorded_rx) = watch::channel(0u64);
    let node_recorded = recorded_tx.clone();
    let (writer, writer_task) = spawn_writer(store.clone(), clock.clone(), recorded_tx);
    let daemon_stores = app::open_daemon_stores(&config, &opened)
        .await?
        .reporting_to(writer.clone());
    let halt_daemon_clusters = app::HaltOnDrop::new(&daemon_stores);
    let metrics = Metrics::new();
    let sink_writer = writer.clone();
    let sink_metrics = metrics.clone();
    let sink = Arc::new(move |id: &str| {
        Arc::new(GatewaySink::new(id, sink_writer.clone()).with_metrics(sink_metrics.clone()))
            as Arc<dyn pushway_delivery::TokenSink>
    });
    let rates = app::RateBuckets::of(&opened);
    let apps = app::build_apps_with(&config, &*sink, &daemon_stores, &metrics, &rates)?;
    let factory =
        app::Factory::new(&config, sink, daemon_stores.clone(), metrics.clone()).with_rates(rates);
    let listed: Vec<(String, Vec<[u8; 32]>)> = apps
        .values()
        .map(|a| (a.id.clone(), a.keys.clone()))
        .collect();
    store.sync_apps(&listed, clock.now_ms()).await?;
    let apps = Arc::new(app::LiveApps::new(apps));

    let wake = Arc::new(Notify::new());
    let node_wake = wake.clone();
    let (stop, stopped) = watch::channel(None::<Duration>);
    let service = Service::new(
        store.clone(),
        apps.clone(),
        clock.clone(),
        config.worker.clone(),
        wake.clone(),
        recorded_rx,
    )
    .with_factory(factory);
    let webhooks = (!hooks.is_empty()).then(|| {
        webhook::WebhookWorker {
            store: opened.webhooks(),
            hooks,
            clock: clock.clone(),
            poll: Duration::from_millis(config.worker.poll_interval_ms.max(1)),
            retention_ms: i64::try_from(config.worker.retention_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            stop: stopped.clone(),
        }
        .spawn()
    });
    let metrics_routes =
        metrics_router(metrics.clone(), store.clone(), apps.clone(), clock.clone());
    // Off: accepted rows are written due (nothing opens the hand-off) for another process.
    let worker = config.worker.enabled.then(|| {
        Worker {
            store: store.clone(),
            apps,
            clock,
            config: config.worker.clone(),
            writer,
            metrics,
            wake,
            handoff: service.handoff.clone(),
            stop: stopped.clone(),
        }
        .spawn()
    });

    let listen = config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: listen,
        source,
    })?;
    // On Postgres, commits on any node wake this node's idle workers (LISTEN/NOTIFY), and the
    // node is listed in the `nodes` registry.
    let node = match &opened {
        AnyStore::Postgres(pg) => {
            let cluster = &config.cluster;
            let joined = pg
                .join_cluster(
                    &cluster.node_id,
                    &addr.to_string(),
                    cluster.heartbeat(),
                    node_wake,
                    node_recorded,
                )
                .await;
            match joined {
                Ok(node) => Some(node),
                Err(e) => {
                    stop.send_replace(Some(Duration::ZERO));
                    return Err(e.into());
                }
            }
        }
        _ => None,
    };
    let admin = match (config.admin.enabled, admin_key) {
        (true, Some(key)) => {
            let router = admin::router(service.clone(), key, &config.admin, source);
            let (addr, task) = serve_admin(config.admin.listen, router).await?;
            (Some(addr), Some(task))
        }
        (true, None) => {
            tracing::warn!(
                "admin listener off: set [admin] key_sha256 or key_file (or enabled = false)"
            );
            (None, None)
        }
        (false, _) => (None, None),
    };
    halt_daemon_clusters.disarm();
    // `/metrics` without a key, like the health checks (see `metrics_router`).
    let router = api::router(service.clone(), &config.server).merge(metrics_routes);
    let mut stopped = stopped;
    let server = tokio::spawn(async move {
        let stopping = async move {
            let _ = stopped.wait_for(Option::is_some).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stopping)
            .await
        {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(Gateway {
        addr,
        admin_addr: admin.0,
        admin: admin.1,
        store: opened,
        stop,
        server: Some(server),
        worker,
        writer: Some(writer_task),
        webhooks,
        service,
        daemon_stores,
        node,
    })
}

/// Binds the admin listener and serves `router` on it until aborted (admin requests are short
/// reads and small writes: nothing there needs a graceful drain).
async fn serve_admin(
    listen: SocketAddr,
    router: axum::Router,
) -> Result<(SocketAddr, JoinHandle<()>), StartError> {
    let bind = |source| StartError::Bind {
        addr: listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "admin HTTP server stopped");
        }
    });
    Ok((addr, task))
}
