//! What the workers and the hygiene sink report: one call per row outcome, one per batch of
//! dead tokens. Each row outcome also gets its trace span (ids only, never the token).

use metrics::Label;
use pushway_core::TokenKind;

use super::{
    ACCEPT_TO_OUTCOME, DEAD_LETTERS, Metrics, PUSHES, RETRIES, ROUTE_AUTH_OK, TOKENS_INVALIDATED,
    channel_label,
};
use crate::store::{Claimed, DeliveryState, OutcomeRecord};

/// Outcomes that passed the vendor's authentication: the vendor judged the token or the
/// payload, so the credential works.
const AUTHENTICATED: [&str; 3] = ["delivered", "invalid_token", "rejected"];

impl Metrics {
    /// A claimed row's outcome after a send: counted, timed, its route's health updated, and
    /// traced as one delivery attempt.
    pub(crate) fn attempt(&self, row: &Claimed, record: &OutcomeRecord, now: i64) {
        self.finished(row, record, now);
        if AUTHENTICATED.contains(&record.outcome.as_str()) {
            let labels = vec![
                Label::new("app", row.app.clone()),
                Label::from_static_parts("channel", channel_label(row.kind)),
                Label::new("credential", row.credential.clone()),
            ];
            // Whole seconds as f64: a Unix time in ms is exact in f64 for ~285,000 years.
            self.gauge(ROUTE_AUTH_OK, labels).set(now as f64 / 1000.0);
        }
        // Under the worker's target, where an operator looks for deliveries.
        let span = tracing::debug_span!(
            target: "pushway_gateway::worker",
            "delivery",
            delivery_id = row.id,
            message_id = %row.message_id,
            app = %row.app,
            channel = channel_label(row.kind),
            attempt = row.attempts,
        );
        span.in_scope(|| {
            tracing::debug!(
                target: "pushway_gateway::worker",
                outcome = %record.outcome,
                reason = record.reason.as_deref().unwrap_or(""),
                state = record.state.as_str(),
                "delivery attempt"
            );
        });
    }

    /// A claimed row finished without a send (expired, unreadable notification).
    pub(crate) fn unsent(&self, row: &Claimed, record: &OutcomeRecord, now: i64) {
        self.finished(row, record, now);
    }

    fn finished(&self, row: &Claimed, record: &OutcomeRecord, now: i64) {
        let channel = channel_label(row.kind);
        let reason = self.reason(record.reason.as_deref());
        let app = || Label::new("app", row.app.clone());
        let channel_l = || Label::from_static_parts("channel", channel);
        let reason_l = || Label::new("reason", reason.clone());
        self.counter(
            PUSHES,
            vec![
                app(),
                channel_l(),
                Label::new("outcome", record.outcome.clone()),
                reason_l(),
            ],
        )
        .increment(1);
        match record.state {
            DeliveryState::Retrying if record.retried => {
                self.counter(RETRIES, vec![app(), channel_l(), reason_l()])
                    .increment(1);
            }
            DeliveryState::Dead => {
                self.counter(DEAD_LETTERS, vec![app(), channel_l(), reason_l()])
                    .increment(1);
            }
            _ => {}
        }
        if matches!(
            record.state,
            DeliveryState::Delivered
                | DeliveryState::Queued
                | DeliveryState::Dead
                | DeliveryState::Failed
        ) {
            let waited = now.saturating_sub(row.accepted_at).max(0);
            self.histogram(ACCEPT_TO_OUTCOME, vec![app(), channel_l()])
                .record(waited as f64 / 1000.0);
        }
    }

    /// Tokens of `app` the hygiene layer handed over for deletion, one per token.
    pub(crate) fn invalidated<'a>(
        &self,
        app: &str,
        tokens: impl IntoIterator<Item = (TokenKind, &'a str)>,
    ) {
        for (kind, reason) in tokens {
            let reason = self.reason(Some(reason));
            self.counter(
                TOKENS_INVALIDATED,
                vec![
                    Label::new("app", app.to_owned()),
                    Label::from_static_parts("channel", channel_label(kind)),
                    Label::new("reason", reason),
                ],
            )
            .increment(1);
        }
    }
}
