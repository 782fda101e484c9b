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
    /// The outcomes of a dispatch's rows after its send (`records[i]` is `rows[i]`'s): counted,
    /// timed, their routes' health updated, and each traced as one delivery attempt. Rows alike
    /// (same app, route and outcome: most of a dispatch, whose rows interleave the channels of
    /// its recipients' devices) are counted with one registry lookup per kind of them, not three
    /// per row.
    pub(crate) fn attempts(&self, rows: &[Claimed], records: &[OutcomeRecord], now: i64) {
        // (the first row and record of a kind, the kind's rows); a dispatch has a few kinds.
        let mut kinds: Vec<(usize, Vec<&Claimed>)> = Vec::new();
        for (i, (row, record)) in rows.iter().zip(records).enumerate() {
            match kinds
                .iter_mut()
                .find(|(first, _)| alike(&rows[*first], &records[*first], row, record))
            {
                Some((_, alike)) => alike.push(row),
                None => kinds.push((i, vec![row])),
            }
        }
        for (first, alike) in &kinds {
            let (row, record) = (&rows[*first], &records[*first]);
            self.finished(alike, record, now);
            if AUTHENTICATED.contains(&record.outcome.as_str()) {
                let labels = vec![
                    Label::new("app", row.app.clone()),
                    Label::from_static_parts("channel", channel_label(row.kind)),
                    Label::new("credential", row.credential.clone()),
                ];
                // Whole seconds as f64: a Unix time in ms is exact in f64 for ~285,000 years.
                self.gauge(ROUTE_AUTH_OK, labels).set(now as f64 / 1000.0);
            }
        }
        for (row, record) in rows.iter().zip(records) {
            trace_attempt(row, record);
        }
    }

    /// A claimed row finished without a send (expired, unreadable notification).
    pub(crate) fn unsent(&self, row: &Claimed, record: &OutcomeRecord, now: i64) {
        self.finished(&[row], record, now);
    }

    /// Rows alike that all got `record`'s outcome (`rows` is not empty).
    fn finished(&self, rows: &[&Claimed], record: &OutcomeRecord, now: i64) {
        let Some(row) = rows.first() else {
            return;
        };
        let n = rows.len() as u64;
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
        .increment(n);
        match record.state {
            DeliveryState::Retrying if record.retried => {
                self.counter(RETRIES, vec![app(), channel_l(), reason_l()])
                    .increment(n);
            }
            DeliveryState::Dead => {
                self.counter(DEAD_LETTERS, vec![app(), channel_l(), reason_l()])
                    .increment(n);
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
            let histogram = self.histogram(ACCEPT_TO_OUTCOME, vec![app(), channel_l()]);
            for row in rows {
                let waited = now.saturating_sub(row.accepted_at).max(0);
                histogram.record(waited as f64 / 1000.0);
            }
            self.sampled(rows.len());
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

/// Whether two rows' outcomes count under the same series.
fn alike(a: &Claimed, ra: &OutcomeRecord, b: &Claimed, rb: &OutcomeRecord) -> bool {
    a.app == b.app
        && a.kind == b.kind
        && a.credential == b.credential
        && ra.outcome == rb.outcome
        && ra.reason == rb.reason
        && ra.state == rb.state
        && ra.retried == rb.retried
}

/// One delivery attempt's trace span (ids only, never the token), under the worker's target,
/// where an operator looks for deliveries.
fn trace_attempt(row: &Claimed, record: &OutcomeRecord) {
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
