//! pushway's offline-push gateway: the server IM back ends run beside their message service.
//! They tell it about devices, per-user settings, logins and messages over HTTP (`/v1`); it
//! renders each recipient's notification at accept time, keeps every (message, device) delivery
//! durably in its store, and delivers, retries and cleans up dead tokens through pushway's
//! [`Router`](pushway_core::Router) and delivery layers.
//!
//! | module | what it is |
//! |---|---|
//! | [`config`] | TOML + `PUSHWAY_*` environment, secrets from files |
//! | [`app`] | apps: API keys and one router of vendor providers each |
//! | [`api`] | the HTTP API (axum), errors as `application/problem+json` |
//! | [`service`] | accept, status, devices, settings, logins: the logic, no HTTP types |
//! | [`store`] | the [`Store`](store::Store) trait and its SQLite back end |
//! | [`worker`] | claim due rows under a lease, send, record outcomes (one writer, group commit) |
//! | [`simulate`] | `--simulate`: the bundled vendor simulators and a demo app |
//!
//! [`start`] runs all of it from a [`Config`](config::Config).

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod service;
pub mod simulate;
pub mod store;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::service::{Clock, Service, SystemClock};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
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

/// A running gateway; dropping it stops the server and the workers.
pub struct Gateway {
    addr: SocketAddr,
    store: SqliteStore,
    tasks: Vec<JoinHandle<()>>,
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

    /// Stops the server and workers and closes the store. Rows in flight keep their lease and
    /// are claimed again after it expires (graceful release is not implemented yet).
    pub async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        self.store.close().await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for task in &self.tasks {
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
    Ok(apps
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
        .collect())
}

/// Opens the store, builds every app's providers, and starts the workers and the API.
pub async fn start(config: Config) -> Result<Gateway, StartError> {
    let path = &config.store.path;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| ConfigError::at("store.path", format!("{}: {e}", dir.display())))?;
    }
    let sqlite = SqliteStore::open(path).await?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    let (recorded_tx, recorded_rx) = watch::channel(0u64);
    let (writer, writer_task) = spawn_writer(store.clone(), clock.clone(), recorded_tx);
    let apps = app::build_apps(&config, &|id: &str| {
        Arc::new(GatewaySink::new(id, writer.clone())) as Arc<dyn pushway_delivery::TokenSink>
    })?;
    let listed: Vec<(String, Vec<[u8; 32]>)> = apps
        .values()
        .map(|a| (a.id.clone(), a.keys.clone()))
        .collect();
    store.sync_apps(&listed, clock.now_ms()).await?;
    let keys = store.api_keys().await?;
    let apps = Arc::new(apps);

    let wake = Arc::new(Notify::new());
    let service = Service::new(
        store.clone(),
        apps.clone(),
        clock.clone(),
        config.worker.clone(),
        wake.clone(),
        recorded_rx,
    );
    let worker = Worker {
        store: store.clone(),
        apps,
        clock,
        config: config.worker.clone(),
        writer,
        wake,
    }
    .spawn();

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
    let router = api::router(service, keys, &config.server);
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(Gateway {
        addr,
        store: sqlite,
        tasks: vec![server, worker, writer_task],
    })
}
