//! Credentials and API keys changed while the gateway runs: added, rotated, removed, one at a
//! time (the admin API) or all at once from a configuration (`reload`, on SIGHUP).
//!
//! Every new credential is built (keys parse, providers accept their settings; an APNs key
//! signs its first token) and, where the vendor has a cheap and safe step for it, proven by a
//! round trip (a Huawei or FCM access-token fetch) before it replaces the old one. A refused one
//! changes nothing: the old one keeps serving, and the reason says why (never the secret). An
//! issuer that cannot be reached (timeout, 5xx) refuses too: the change can be retried; a
//! credential is never swapped in unproven. Xiaomi has no such step (its secret goes with each
//! send), so a Xiaomi secret is only built, not proven.
//!
//! The configuration stays the source of truth: a change made one at a time (the admin API)
//! lasts until the next reload or restart, which put every app back to what the configuration
//! says; write it into the configuration (or its secret files) too.
//!
//! The apps are swapped whole ([`LiveApps`](crate::app::LiveApps)): deliveries in flight finish
//! on the provider they started with, the next claim uses the new one. After an add or a
//! rotation, rows the route held (paused after an `auth`, `misconfigured` or `unroutable`
//! outcome) are due at once.
//!
//! Removing a credential holds its pending rows rather than killing them: their sends find no
//! route (`unroutable`), the route is paused and the rows wait, retried after each pause, until
//! the credential comes back (then they go at once) or their TTL ends (`expired`). A removed
//! app's rows are held the same way (`unknown_app`). Messages accepted after the removal do not
//! make rows for its devices at all (`no_credential`, as for any credential not configured at
//! accept). Removing a daemon channel disconnects its
//! devices; rotating its secret disconnects them too (their tokens were signed with the old one).

mod apply;
mod report;

use pushway_core::TokenKind;

pub use self::report::{Change, ChangeError, ChangeReport, Changed, Refused};

use super::Service;
use crate::app::{
    App, Apps, CredentialConfig, CredentialKind, DAEMON_CREDENTIAL, Resolved, build, credential_at,
    valid_id,
};
use crate::auth::{KeyHash, parse_hash};
use crate::config::Config;

impl Service {
    /// Adds credential `name` of `kind` to `app`, or rotates it: built and checked first; a
    /// refused one leaves the old one serving.
    pub async fn put_credential(
        &self,
        app: &str,
        kind: CredentialKind,
        name: &str,
        config: CredentialConfig,
    ) -> Result<Changed, ChangeError> {
        if config.kind() != kind {
            return Err(ChangeError::invalid(
                "kind",
                format!("a {} section given as {kind}", config.kind()),
            ));
        }
        check_name(kind, name)?;
        let factory = self.factory.as_ref().ok_or(ChangeError::Disabled)?;
        let _changing = self.changing.lock().await;
        let apps = self.apps.load();
        let current = apps.get(app).ok_or(ChangeError::UnknownApp)?;
        let what = item(kind, name);
        let at = credential_at(app, kind, name);
        let refused = |e: &dyn std::fmt::Display| ChangeError::Refused {
            what: what.clone(),
            reason: e.to_string(),
        };
        let resolved = Resolved::resolve(&at, config).map_err(|e| refused(&e))?;
        let key = (kind, name.to_owned());
        let before = current.credentials.get(&key);
        if before.is_some_and(|b| b.resolved == resolved) {
            return Ok(Changed::new(app, what, Change::Unchanged));
        }
        if kind == CredentialKind::Daemon && before.is_none() && factory.stores.get(app).is_none() {
            return Err(refused(&apply::DAEMON_NEEDS_RESTART));
        }
        let installed = build(app, name, &at, resolved, factory).map_err(|e| refused(&e))?;
        installed.check(&at).await.map_err(|e| refused(&e))?;
        let change = if before.is_some() {
            Change::Rotated
        } else {
            Change::Added
        };
        let routes: Vec<(TokenKind, String)> = installed
            .routes
            .iter()
            .map(|(k, _)| (k.kind, k.credential.to_string()))
            .collect();
        let mut credentials = current.credentials.clone();
        credentials.insert(key, installed);
        let next = App::assemble(app, current.named_keys(), credentials)
            .with_renderer(current.renderer.clone());
        let old = self.swap(&apps, next);
        apply::after_credential_swap(self, &old, app, kind, &routes).await;
        tracing::info!(app, credential = %what, change = change.as_str(), "credential changed");
        Ok(Changed::new(app, what, change))
    }

    /// Removes credential `name` of `kind` from `app`; its pending rows are held (see the
    /// module's docs).
    pub async fn remove_credential(
        &self,
        app: &str,
        kind: CredentialKind,
        name: &str,
    ) -> Result<Changed, ChangeError> {
        self.factory.as_ref().ok_or(ChangeError::Disabled)?;
        let _changing = self.changing.lock().await;
        let apps = self.apps.load();
        let current = apps.get(app).ok_or(ChangeError::UnknownApp)?;
        let what = item(kind, name);
        let key = (kind, name.to_owned());
        if !current.credentials.contains_key(&key) {
            return Err(ChangeError::NotConfigured { what });
        }
        let mut credentials = current.credentials.clone();
        credentials.remove(&key);
        let next = App::assemble(app, current.named_keys(), credentials)
            .with_renderer(current.renderer.clone());
        let old = self.swap(&apps, next);
        apply::after_credential_swap(self, &old, app, kind, &[]).await;
        tracing::info!(app, credential = %what, change = "removed", "credential changed");
        Ok(Changed::new(app, what, Change::Removed))
    }

    /// Adds API key `name` of `app` (hex SHA-256 of the key), or replaces the key(s) of that
    /// name. A key that already reaches another app is refused.
    pub async fn put_api_key(
        &self,
        app: &str,
        name: &str,
        sha256: &str,
    ) -> Result<Changed, ChangeError> {
        if !valid_id(name) {
            return Err(ChangeError::invalid(
                "name",
                "a key name is 1-64 characters of [A-Za-z0-9_.-]",
            ));
        }
        let hash = parse_hash(sha256)
            .ok_or_else(|| ChangeError::invalid("sha256", "not 64 hex digits"))?;
        self.factory.as_ref().ok_or(ChangeError::Disabled)?;
        let _changing = self.changing.lock().await;
        let apps = self.apps.load();
        let current = apps.get(app).ok_or(ChangeError::UnknownApp)?;
        let what = format!("api_key/{name}");
        if let Some(other) = owner_elsewhere(&apps, app, &hash) {
            return Err(ChangeError::Refused {
                what,
                reason: format!("this key already reaches app {other:?}"),
            });
        }
        let mut keys = current.named_keys();
        let before: Vec<KeyHash> = keys
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, h)| *h)
            .collect();
        if before == [hash] {
            return Ok(Changed::new(app, what, Change::Unchanged));
        }
        keys.retain(|(n, _)| n != name);
        keys.push((name.to_owned(), hash));
        let change = if before.is_empty() {
            Change::Added
        } else {
            Change::Rotated
        };
        let next = App::assemble(app, keys, current.credentials.clone())
            .with_renderer(current.renderer.clone());
        self.swap(&apps, next);
        self.sync_keys().await?;
        tracing::info!(app, key = name, change = change.as_str(), "API key changed");
        Ok(Changed::new(app, what, change))
    }

    /// Removes API key(s) `name` of `app`: requests with it are `401` from now on.
    pub async fn remove_api_key(&self, app: &str, name: &str) -> Result<Changed, ChangeError> {
        self.factory.as_ref().ok_or(ChangeError::Disabled)?;
        let _changing = self.changing.lock().await;
        let apps = self.apps.load();
        let current = apps.get(app).ok_or(ChangeError::UnknownApp)?;
        let what = format!("api_key/{name}");
        let mut keys = current.named_keys();
        let before = keys.len();
        keys.retain(|(n, _)| n != name);
        if keys.len() == before {
            return Err(ChangeError::NotConfigured { what });
        }
        let next = App::assemble(app, keys, current.credentials.clone())
            .with_renderer(current.renderer.clone());
        self.swap(&apps, next);
        self.sync_keys().await?;
        tracing::info!(app, key = name, change = "removed", "API key changed");
        Ok(Changed::new(app, what, Change::Removed))
    }

    /// Applies `config`'s apps, credentials and API keys: what differs from the running ones
    /// is added, rotated or removed, each new credential checked first; what is refused keeps
    /// its old state. Settings outside `apps` need a restart and are reported so.
    pub async fn reload(&self, config: &Config) -> Result<ChangeReport, ChangeError> {
        let factory = self.factory.as_ref().ok_or(ChangeError::Disabled)?;
        let _changing = self.changing.lock().await;
        let apps = self.apps.load();
        let mut report = ChangeReport::default();
        // Applied at start only: a change is reported, the running ones kept.
        let differs = |now: &dyn std::fmt::Debug, then: &dyn std::fmt::Debug| {
            format!("{now:?}") != format!("{then:?}")
        };
        let was = &factory.config;
        for (section, changed) in [
            ("server", differs(&config.server, &was.server)),
            ("store", differs(&config.store, &was.store)),
            ("worker", differs(&config.worker, &was.worker)),
            ("admin", differs(&config.admin, &was.admin)),
            ("cluster", differs(&config.cluster, &was.cluster)),
        ] {
            if changed {
                report.needs_restart.push(section.to_owned());
            }
        }
        // The webhook poster is built at start from every app's webhook: a changed one (or one
        // added or removed, with its app) is reported, never silently ignored.
        let webhook = |c: &Config, app: &str| c.apps.get(app).and_then(|a| a.webhook.clone());
        let ids: std::collections::BTreeSet<&String> = config
            .apps
            .keys()
            .chain(factory.config.apps.keys())
            .collect();
        for app in ids {
            if webhook(config, app) != webhook(&factory.config, app) {
                report.needs_restart.push(format!("apps.{app}.webhook"));
            }
        }
        let plan = apply::plan(&apps, config, factory, &mut report).await;
        if !plan.is_empty() {
            let old = self.replace_all(plan.apps);
            apply::after_reload(self, &old, &plan.resumed, &plan.daemons_replaced).await;
            self.sync_keys().await?;
        }
        for r in &report.refused {
            tracing::warn!(app = %r.app, item = %r.item, reason = %r.reason,
                "reload: refused; the running one is kept");
        }
        tracing::info!(summary = %report.summary(), "configuration reloaded");
        Ok(report)
    }

    /// Replaces app `next.id` in `apps` (the snapshot read under the change lock).
    fn swap(&self, apps: &Apps, next: App) -> std::sync::Arc<Apps> {
        let mut all = apps.clone();
        all.insert(next.id.clone(), std::sync::Arc::new(next));
        self.apps.replace(all)
    }

    fn replace_all(&self, apps: Apps) -> std::sync::Arc<Apps> {
        self.apps.replace(apps)
    }

    /// Writes every app's keys to the store (its `api_keys` table mirrors the running apps).
    async fn sync_keys(&self) -> Result<(), ChangeError> {
        let listed: Vec<(String, Vec<KeyHash>)> = self
            .apps
            .load()
            .values()
            .map(|a| (a.id.clone(), a.keys.clone()))
            .collect();
        self.store
            .sync_apps(&listed, self.clock.now_ms())
            .await
            .map_err(ChangeError::Store)
    }
}

/// `apns/main`, `daemon`: how reports and logs name a credential.
pub(crate) fn item(kind: CredentialKind, name: &str) -> String {
    match kind {
        CredentialKind::Daemon => DAEMON_CREDENTIAL.to_owned(),
        _ => format!("{kind}/{name}"),
    }
}

fn check_name(kind: CredentialKind, name: &str) -> Result<(), ChangeError> {
    let ok = match kind {
        CredentialKind::Daemon => name == DAEMON_CREDENTIAL,
        _ => valid_id(name),
    };
    if ok {
        Ok(())
    } else if kind == CredentialKind::Daemon {
        Err(ChangeError::invalid(
            "name",
            "the daemon credential is named \"daemon\"",
        ))
    } else {
        Err(ChangeError::invalid(
            "name",
            "a credential name is 1-64 characters of [A-Za-z0-9_.-]",
        ))
    }
}

/// The app other than `app` that `hash` reaches, if any.
fn owner_elsewhere(apps: &Apps, app: &str, hash: &KeyHash) -> Option<String> {
    apps.values()
        .find(|a| a.id != app && a.keys.contains(hash))
        .map(|a| a.id.clone())
}
