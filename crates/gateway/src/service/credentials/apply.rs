//! A reload planned (every difference built and checked, refusals noted) and what follows a
//! swap: old daemon hubs disconnected, held rows of new or rotated routes made due.

use std::collections::BTreeMap;
use std::sync::Arc;

use pushway_core::TokenKind;
use pushway_daemon::Hub;

use super::{ChangeReport, item};
use crate::app::{
    App, Apps, CredentialKind, Factory, Installed, Resolved, api_keys, build, credential_at,
    credentials_of, valid_id,
};
use crate::auth::KeyHash;
use crate::config::{AppConfig, Config};
use crate::service::{Change, Service};

/// Why a daemon channel cannot be added while running.
pub(super) const DAEMON_NEEDS_RESTART: &str =
    "adding a daemon channel needs a restart (its queue store is opened at start)";

/// The apps a reload would run, and what to do once they do.
pub(super) struct Plan {
    pub(super) apps: Apps,
    /// Routes added or rotated: their held rows become due.
    pub(super) resumed: Vec<(String, TokenKind, String)>,
    /// Hubs of daemon channels rotated or removed: their devices are disconnected.
    pub(super) daemons_replaced: Vec<Hub>,
    changed: bool,
}

impl Plan {
    pub(super) fn is_empty(&self) -> bool {
        !self.changed
    }
}

/// Builds and checks every difference between the running `apps` and `config`'s.
pub(super) async fn plan(
    apps: &Apps,
    config: &Config,
    factory: &Factory,
    report: &mut ChangeReport,
) -> Plan {
    let mut plan = Plan {
        apps: Apps::new(),
        resumed: Vec::new(),
        daemons_replaced: Vec::new(),
        changed: false,
    };
    for (id, section) in &config.apps {
        if !valid_id(id) {
            report.refused(
                id,
                "app".to_owned(),
                "an app id is 1-64 characters of [A-Za-z0-9_.-]",
            );
            continue;
        }
        let current = apps.get(id);
        let next = plan_app(
            id,
            current.map(|a| &**a),
            section,
            factory,
            report,
            &mut plan,
        )
        .await;
        match (current, next) {
            (Some(current), None) => {
                plan.apps.insert(id.clone(), current.clone());
            }
            (current, Some(next)) => {
                if current.is_none() {
                    report.changed(id, "app".to_owned(), Change::Added);
                }
                plan.changed = true;
                plan.apps.insert(id.clone(), Arc::new(next));
            }
            (None, None) => {}
        }
    }
    for (id, app) in apps {
        if !config.apps.contains_key(id) {
            report.changed(id, "app".to_owned(), Change::Removed);
            plan.changed = true;
            if let Some(daemon) = &app.daemon {
                plan.daemons_replaced.push(daemon.hub.clone());
            }
        }
    }
    plan
}

/// The app `id` should become, or `None` when nothing of it changes (or, for a new app,
/// when it cannot be added).
async fn plan_app(
    id: &str,
    current: Option<&App>,
    section: &AppConfig,
    factory: &Factory,
    report: &mut ChangeReport,
    plan: &mut Plan,
) -> Option<App> {
    let mut changed = current.is_none();
    let old_keys = current.map(App::named_keys).unwrap_or_default();
    let keys = match api_keys(id, section) {
        Ok(keys) => {
            changed |= keys != old_keys;
            diff_keys(id, &old_keys, &keys, report);
            keys
        }
        Err(e) => {
            report.refused(id, "api_keys".to_owned(), e);
            old_keys
        }
    };
    let mut credentials = current.map(|a| a.credentials.clone()).unwrap_or_default();
    let wanted = credentials_of(section);
    for (kind, name, config) in wanted.iter().cloned() {
        let what = item(kind, &name);
        let at = credential_at(id, kind, &name);
        let key = (kind, name.clone());
        let resolved = match Resolved::resolve(&at, config) {
            Ok(resolved) => resolved,
            Err(e) => {
                report.refused(id, what, e);
                continue;
            }
        };
        let before = credentials.get(&key);
        if before.is_some_and(|b| b.resolved == resolved) {
            continue;
        }
        if kind == CredentialKind::Daemon && before.is_none() && factory.stores.get(id).is_none() {
            report.refused(id, what, DAEMON_NEEDS_RESTART);
            continue;
        }
        let installed = match build(id, &name, &at, resolved, factory) {
            Ok(installed) => installed,
            Err(e) => {
                report.refused(id, what, e);
                continue;
            }
        };
        if let Err(e) = installed.check(&at).await {
            report.refused(id, what, e);
            continue;
        }
        let change = if before.is_some() {
            Change::Rotated
        } else {
            Change::Added
        };
        note_replaced(before, &mut plan.daemons_replaced);
        resumed(id, &installed, &mut plan.resumed);
        report.changed(id, what, change);
        credentials.insert(key, installed);
        changed = true;
    }
    let gone: Vec<(CredentialKind, String)> = credentials
        .keys()
        .filter(|(kind, name)| !wanted.iter().any(|(k, n, _)| k == kind && n == name))
        .cloned()
        .collect();
    for key in gone {
        note_replaced(
            credentials.remove(&key).as_ref(),
            &mut plan.daemons_replaced,
        );
        report.changed(id, item(key.0, &key.1), Change::Removed);
        changed = true;
    }
    // The render section is applied with the app's other changes (alone, it needs a restart).
    let renderer = match crate::app::renderer(&format!("apps.{id}"), &section.render) {
        Ok(renderer) => renderer,
        Err(e) => {
            report.refused(id, "render".to_owned(), e);
            current.map(|a| a.renderer.clone()).unwrap_or_default()
        }
    };
    changed.then(|| App::assemble(id, keys, credentials).with_renderer(renderer))
}

/// Reports the keys added, rotated (same name, another hash) and removed, by name.
fn diff_keys(
    app: &str,
    old: &[(String, KeyHash)],
    new: &[(String, KeyHash)],
    report: &mut ChangeReport,
) {
    let by_name = |keys: &[(String, KeyHash)]| {
        let mut map: BTreeMap<String, Vec<KeyHash>> = BTreeMap::new();
        for (name, hash) in keys {
            map.entry(name.clone()).or_default().push(*hash);
        }
        map
    };
    let (old, new) = (by_name(old), by_name(new));
    for (name, hashes) in &new {
        let change = match old.get(name) {
            None => Change::Added,
            Some(before) if before == hashes => Change::Unchanged,
            Some(_) => Change::Rotated,
        };
        report.changed(app, format!("api_key/{name}"), change);
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        report.changed(app, format!("api_key/{name}"), Change::Removed);
    }
}

fn note_replaced(before: Option<&Installed>, hubs: &mut Vec<Hub>) {
    if let Some(channel) = before.and_then(|b| b.daemon.as_ref()) {
        hubs.push(channel.hub.clone());
    }
}

fn resumed(app: &str, installed: &Installed, into: &mut Vec<(String, TokenKind, String)>) {
    for (key, _) in &installed.routes {
        into.push((app.to_owned(), key.kind, key.credential.clone()));
    }
}

/// After credential `kind` of `app` was put or removed (`routes`: its new routes): the old
/// daemon hub's devices disconnect, the new routes' held rows become due.
pub(super) async fn after_credential_swap(
    service: &Service,
    old: &Apps,
    app: &str,
    kind: CredentialKind,
    routes: &[(TokenKind, String)],
) {
    let mut hubs = Vec::new();
    if kind == CredentialKind::Daemon
        && let Some(channel) = old.get(app).and_then(|a| a.daemon.as_ref())
    {
        hubs.push(channel.hub.clone());
    }
    let resumed: Vec<(String, TokenKind, String)> = routes
        .iter()
        .map(|(k, c)| (app.to_owned(), *k, c.clone()))
        .collect();
    after_reload(service, old, &resumed, &hubs).await;
}

/// After a swap: disconnects the replaced hubs' devices (they reconnect to the new hub with new
/// tokens) and makes the held rows of `resumed` routes due, waking the workers.
pub(super) async fn after_reload(
    service: &Service,
    _old: &Apps,
    resumed: &[(String, TokenKind, String)],
    hubs: &[Hub],
) {
    for hub in hubs {
        hub.disconnect_all();
    }
    let now = service.clock.now_ms();
    let mut due = 0;
    for (app, kind, credential) in resumed {
        match service
            .store
            .resume_route(app, *kind, credential, now)
            .await
        {
            Ok(n) => due += n,
            // The rows go after their pause instead: late, not lost.
            Err(e) => tracing::error!(error = %e, app = %app, kind = %kind,
                credential = %credential, "resuming a route's held deliveries failed"),
        }
    }
    if due > 0 {
        tracing::info!(
            deliveries = due,
            "held deliveries of changed credentials are due"
        );
    }
    service.wake.notify_one();
}
