//! Prometheus metrics at `GET /metrics` (text format 0.0.4), from the [`metrics`] facade's types
//! and `metrics-exporter-prometheus`'s recorder, rendered by [`metrics_router`]'s route.
//!
//! **One registry per [`Gateway`](crate::Gateway), no global recorder.** The facade's macros
//! write to one recorder per process; a process that runs several gateways (an embedder's tests,
//! ours) would then mix their counts, and the global would be hidden state. Each gateway instead
//! owns a [`Metrics`]: a `PrometheusRecorder` built with `PrometheusBuilder::build_recorder()`
//! (no HTTP listener, no push gateway of the exporter's own), written through the facade's
//! [`Recorder`] trait directly and rendered by its handle on each scrape.
//! Histograms keep each recorded sample (value and time, in the exporter's lock-free bucket)
//! until an upkeep or a render folds them into their buckets; without a scrape that list would
//! grow by one entry per delivery for as long as the gateway runs, so [`Metrics`] folds them
//! itself after every [`DRAIN_EVERY`] samples (no upkeep task, and the memory they hold stays
//! bounded whatever the delivery rate and however rarely Prometheus scrapes).
//!
//! | series | type | labels | what |
//! |---|---|---|---|
//! | `pushway_pushes_total` | counter | app, channel, outcome, reason | outcomes of delivery attempts, and of rows finished unsent (`expired`, `rejected`/`notification_unreadable`) |
//! | `pushway_retries_total` | counter | app, channel, reason | attempts whose retryable failure scheduled the row again |
//! | `pushway_dead_letters_total` | counter | app, channel, reason | rows that became `dead` (invalid token, rejected, attempts exhausted, expired) |
//! | `pushway_tokens_invalidated_total` | counter | app, channel, reason | tokens the hygiene layer handed over for deletion |
//! | `pushway_tokens_quarantined` | gauge | app, channel, credential | deletions the hygiene layer holds now (read on scrape) |
//! | `pushway_vendor_request_duration_seconds` | histogram | app, channel | one provider call (one vendor request; a timed-out one counts its time) |
//! | `pushway_accept_to_outcome_seconds` | histogram | app, channel | from the message's accept to its row's final outcome |
//! | `pushway_outbox_depth` | gauge | app, state | rows `pending`, `retrying`, `in_flight` (read on scrape) |
//! | `pushway_outbox_oldest_due_age_seconds` | gauge | app | how long the oldest due row has waited (0: none due; read on scrape) |
//! | `pushway_route_paused` | gauge | app, channel, credential | 1 while the route is paused after an auth or configuration failure |
//! | `pushway_route_last_auth_success_timestamp_seconds` | gauge | app, channel, credential | Unix time of the route's last answer that passed the vendor's authentication |
//! | `pushway_daemon_connections` | gauge | app | devices connected to the app's daemon channel now |
//!
//! Label values are bounded: `app` and `credential` come from the configuration, `channel` is
//! one of `apns`, `xiaomi`, `huawei`, `fcm`, `daemon`, `outcome` is an
//! [`Outcome`](pushway_core::Outcome) label (or `expired`), `state` an outbox state, and `reason`
//! the outcome's stable reason code, kept only when it is a short code and among the first
//! [`MAX_REASONS`] distinct ones (`other` beyond, `none` without one). No user id, device id,
//! message id or token is ever a label value.
//!
//! `docs/metrics.md` in the repository has the same table with example queries, and the trace
//! spans (`message`, `delivery`) that go with these series.

mod labels;
mod record;
mod route;
mod scrape;
mod timed;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use pushway_core::ChannelKey;
use pushway_delivery::Quarantine;

pub use labels::{MAX_REASONS, channel_label};
pub use route::metrics_router;

pub(crate) use timed::Timed;

/// Outcomes of delivery attempts.
pub const PUSHES: &str = "pushway_pushes_total";
/// Retries scheduled.
pub const RETRIES: &str = "pushway_retries_total";
/// Rows that became dead.
pub const DEAD_LETTERS: &str = "pushway_dead_letters_total";
/// Tokens handed over for deletion.
pub const TOKENS_INVALIDATED: &str = "pushway_tokens_invalidated_total";
/// Deletions held by the hygiene layer.
pub const TOKENS_QUARANTINED: &str = "pushway_tokens_quarantined";
/// One provider call.
pub const VENDOR_LATENCY: &str = "pushway_vendor_request_duration_seconds";
/// Accept to final outcome.
pub const ACCEPT_TO_OUTCOME: &str = "pushway_accept_to_outcome_seconds";
/// Outstanding rows.
pub const OUTBOX_DEPTH: &str = "pushway_outbox_depth";
/// Age of the oldest due row.
pub const OUTBOX_OLDEST_DUE: &str = "pushway_outbox_oldest_due_age_seconds";
/// Paused routes.
pub const ROUTE_PAUSED: &str = "pushway_route_paused";
/// Last authenticated answer of a route.
pub const ROUTE_AUTH_OK: &str = "pushway_route_last_auth_success_timestamp_seconds";
/// Daemon connections.
pub const DAEMON_CONNECTIONS: &str = "pushway_daemon_connections";

/// Histogram buckets in seconds: vendor answers take milliseconds to seconds; accept→outcome
/// also spans retries (minutes).
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0,
];

/// Histogram samples recorded between two folds into their buckets: at most about this many
/// (plus one dispatch's rows) are held, ~24 bytes each in the exporter's bucket.
pub const DRAIN_EVERY: usize = 4096;

static META: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// One gateway's metrics registry; clones share it.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    reasons: labels::Reasons,
    /// The hygiene layers' quarantines, by app and channel, read on scrape.
    quarantines: Mutex<HashMap<(String, ChannelKey), Quarantine>>,
    /// Histogram samples recorded since the last fold into their buckets.
    undrained: AtomicUsize,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// An empty registry with every series described.
    pub fn new() -> Self {
        let recorder = match PrometheusBuilder::new().set_buckets(&BUCKETS) {
            Ok(builder) => builder.build_recorder(),
            // Only an empty bucket list is refused; BUCKETS is not empty.
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        let metrics = Metrics {
            inner: Arc::new(Inner {
                recorder,
                handle,
                reasons: labels::Reasons::default(),
                quarantines: Mutex::new(HashMap::new()),
                undrained: AtomicUsize::new(0),
            }),
        };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        let r = &self.inner.recorder;
        let text = |s: &'static str| SharedString::const_str(s);
        let name = KeyName::from_const_str;
        r.describe_counter(name(PUSHES), None, text("Outcomes of delivery attempts."));
        r.describe_counter(
            name(RETRIES),
            None,
            text("Retries scheduled after a retryable failure."),
        );
        r.describe_counter(
            name(DEAD_LETTERS),
            None,
            text("Deliveries that became dead."),
        );
        r.describe_counter(
            name(TOKENS_INVALIDATED),
            None,
            text("Tokens handed over for deletion."),
        );
        r.describe_gauge(
            name(TOKENS_QUARANTINED),
            None,
            text("Token deletions held by the hygiene layer."),
        );
        r.describe_histogram(
            name(VENDOR_LATENCY),
            Some(Unit::Seconds),
            text("Duration of one vendor request."),
        );
        r.describe_histogram(
            name(ACCEPT_TO_OUTCOME),
            Some(Unit::Seconds),
            text("From a message's accept to a delivery's final outcome."),
        );
        r.describe_gauge(
            name(OUTBOX_DEPTH),
            None,
            text("Outstanding deliveries by state."),
        );
        r.describe_gauge(
            name(OUTBOX_OLDEST_DUE),
            Some(Unit::Seconds),
            text("How long the oldest due delivery has waited."),
        );
        r.describe_gauge(
            name(ROUTE_PAUSED),
            None,
            text("1 while the route is paused."),
        );
        r.describe_gauge(
            name(ROUTE_AUTH_OK),
            Some(Unit::Seconds),
            text("Unix time of the route's last authenticated vendor answer."),
        );
        r.describe_gauge(
            name(DAEMON_CONNECTIONS),
            None,
            text("Devices connected to the daemon channel."),
        );
    }

    /// The whole registry in the Prometheus text format.
    pub fn render(&self) -> String {
        // The render folds every sample recorded so far into its buckets.
        self.inner.undrained.store(0, Ordering::Relaxed);
        self.inner.handle.render()
    }

    /// Counts `n` histogram samples just recorded and, every [`DRAIN_EVERY`] of them, folds
    /// all histograms' samples into their buckets (see the module's documentation).
    pub(crate) fn sampled(&self, n: usize) {
        let undrained = &self.inner.undrained;
        if undrained.fetch_add(n, Ordering::Relaxed).saturating_add(n) >= DRAIN_EVERY
            // Of callers crossing the mark together, the one that takes the count folds.
            && undrained.swap(0, Ordering::Relaxed) >= DRAIN_EVERY
        {
            self.inner.handle.run_upkeep();
        }
    }

    /// Histogram samples recorded and not yet folded into their buckets.
    #[cfg(test)]
    pub(crate) fn undrained(&self) -> usize {
        self.inner.undrained.load(Ordering::Relaxed)
    }

    /// A new quarantine for `app`'s channel `key`, read on scrape (replaces the one registered
    /// before for the same channel, as a rebuilt provider does).
    pub fn quarantine(&self, app: &str, key: &ChannelKey) -> Quarantine {
        let quarantine = Quarantine::new();
        lock(&self.inner.quarantines).insert((app.to_owned(), key.clone()), quarantine.clone());
        quarantine
    }

    /// The bounded label value of a reason code.
    pub(crate) fn reason(&self, code: Option<&str>) -> String {
        self.inner.reasons.label(code)
    }

    pub(crate) fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.inner
            .recorder
            .register_counter(&Key::from_parts(name, labels), &META)
    }

    pub(crate) fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        self.inner
            .recorder
            .register_gauge(&Key::from_parts(name, labels), &META)
    }

    pub(crate) fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.inner
            .recorder
            .register_histogram(&Key::from_parts(name, labels), &META)
    }

    fn quarantines(&self) -> Vec<((String, ChannelKey), Quarantine)> {
        lock(&self.inner.quarantines)
            .iter()
            .map(|(k, q)| (k.clone(), q.clone()))
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
