//! The store a gateway runs on, chosen by its configuration: Postgres when `[store] url` is
//! set, else the SQLite file at `[store] path`.

use std::sync::Arc;

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{Store, StoreError, WebhookFilter, WebhookStore};
use crate::config::StoreConfig;

/// An open store of either kind.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// The embedded default.
    Sqlite(SqliteStore),
    /// Several nodes on one database.
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens the store `config` names (bringing its schema up to date).
    pub async fn open(config: &StoreConfig) -> Result<AnyStore, StoreError> {
        Ok(match &config.url {
            Some(url) => {
                AnyStore::Postgres(PgStore::open(url.expose(), config.max_connections).await?)
            }
            None => AnyStore::Sqlite(SqliteStore::open(&config.path).await?),
        })
    }

    /// The store, for the service and the workers.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            AnyStore::Sqlite(s) => Arc::new(s.clone()),
            AnyStore::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Its webhook events, for the webhook worker.
    pub fn webhooks(&self) -> Arc<dyn WebhookStore> {
        match self {
            AnyStore::Sqlite(s) => Arc::new(s.clone()),
            AnyStore::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Sets which webhook events the writes keep.
    pub fn set_webhook_filter(&self, filter: WebhookFilter) {
        match self {
            AnyStore::Sqlite(s) => s.set_webhook_filter(filter),
            AnyStore::Postgres(s) => s.set_webhook_filter(filter),
        }
    }

    /// Closes it, waiting for statements in progress.
    pub async fn close(&self) {
        match self {
            AnyStore::Sqlite(s) => s.close().await,
            AnyStore::Postgres(s) => s.close().await,
        }
    }
}
