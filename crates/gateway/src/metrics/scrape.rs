//! What a scrape reads before rendering: the store's backlog and paused routes, the hygiene
//! layers' quarantines, the daemon hubs' connections. Series that read zero are still set, for
//! every app and route seen so far, so a drained backlog shows 0 rather than a stale value.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use metrics::Label;

use super::{
    DAEMON_CONNECTIONS, Metrics, OUTBOX_DEPTH, OUTBOX_OLDEST_DUE, ROUTE_PAUSED, TOKENS_QUARANTINED,
    channel_label, lock,
};
use crate::app::LiveApps;
use crate::service::Clock;
use crate::store::{Store, StoreError};

/// The outstanding states `pushway_outbox_depth` reports.
const OUTSTANDING: [&str; 3] = ["pending", "retrying", "in_flight"];

/// A route's labels: app, channel, credential.
type Route = (String, &'static str, String);

/// Reads the scrape-time series and renders the registry.
pub(super) struct Scraper {
    pub(super) metrics: Metrics,
    pub(super) store: Arc<dyn Store>,
    pub(super) apps: Arc<LiveApps>,
    pub(super) clock: Arc<dyn Clock>,
    /// Apps and routes reported before, so ones that left the store's answer read 0.
    seen: Mutex<(BTreeSet<String>, BTreeSet<Route>)>,
}

impl Scraper {
    pub(super) fn new(
        metrics: Metrics,
        store: Arc<dyn Store>,
        apps: Arc<LiveApps>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Scraper {
            metrics,
            store,
            apps,
            clock,
            seen: Mutex::new((BTreeSet::new(), BTreeSet::new())),
        }
    }

    /// Reads the store and the in-memory state, then renders everything.
    pub(super) async fn scrape(&self) -> Result<String, StoreError> {
        let now = self.clock.now_ms();
        let stats = self.store.backlog(now).await?;
        let m = &self.metrics;

        let mut paused: BTreeMap<Route, u8> = BTreeMap::new();
        for app in self.apps.load().values() {
            for key in &app.channels {
                let route = (
                    app.id.clone(),
                    channel_label(key.kind),
                    key.credential.clone(),
                );
                paused.insert(route, 0);
            }
        }
        // APNs production and sandbox share a route's labels: paused if either is.
        for (app, kind, credential) in stats.paused {
            paused.insert((app, channel_label(kind), credential), 1);
        }
        let mut seen = lock(&self.seen);
        let (apps, routes) = &mut *seen;
        apps.extend(self.apps.load().keys().cloned());
        apps.extend(stats.depth.iter().map(|(app, _, _)| app.clone()));
        apps.extend(stats.oldest_due.iter().map(|(app, _)| app.clone()));
        for route in routes.iter() {
            paused.entry(route.clone()).or_insert(0);
        }
        routes.extend(paused.keys().cloned());

        for app in apps.iter() {
            for state in OUTSTANDING {
                let n = stats
                    .depth
                    .iter()
                    .find(|(a, s, _)| a == app && s == state)
                    .map_or(0, |(_, _, n)| *n);
                m.gauge(
                    OUTBOX_DEPTH,
                    vec![Label::new("app", app.clone()), Label::new("state", state)],
                )
                .set(n as f64);
            }
            let age_ms = stats
                .oldest_due
                .iter()
                .find(|(a, _)| a == app)
                .map_or(0, |(_, run_at)| now.saturating_sub(*run_at).max(0));
            m.gauge(OUTBOX_OLDEST_DUE, vec![Label::new("app", app.clone())])
                .set(age_ms as f64 / 1000.0);
        }
        drop(seen);
        for ((app, channel, credential), value) in paused {
            m.gauge(ROUTE_PAUSED, route_labels(app, channel, credential))
                .set(f64::from(value));
        }

        let mut held: BTreeMap<Route, usize> = BTreeMap::new();
        for ((app, key), quarantine) in m.quarantines() {
            *held
                .entry((app, channel_label(key.kind), key.credential.clone()))
                .or_default() += quarantine.held_count(&key);
        }
        for ((app, channel, credential), n) in held {
            m.gauge(TOKENS_QUARANTINED, route_labels(app, channel, credential))
                .set(n as f64);
        }

        for app in self.apps.load().values() {
            if let Some(daemon) = &app.daemon {
                m.gauge(DAEMON_CONNECTIONS, vec![Label::new("app", app.id.clone())])
                    .set(daemon.hub.stats().connected as f64);
            }
        }
        Ok(m.render())
    }
}

fn route_labels(app: String, channel: &'static str, credential: String) -> Vec<Label> {
    vec![
        Label::new("app", app),
        Label::from_static_parts("channel", channel),
        Label::new("credential", credential),
    ]
}
